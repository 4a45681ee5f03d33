"""Accuracy of IF / RIF / the group Newton step for the issue-23 families, on real data.

For each family and data set: removals of single rows and of random sets of 1%, 2%
and 5% of the rows; each answer is compared with skrif's exact refit (itself checked
against scikit-learn's refits in tests/test_models_l1.py and
tests/test_models_kernel_ridge.py). Reported per family:

* the largest relative error ``‖Δ − Δ_refit‖ / ‖Δ_refit‖`` of each method, over all
  removals and over those whose refit keeps the active set (the support of an L1
  model; the rows' pieces of the squared-hinge SVMs and HuberRegressor — margin set,
  ε-tube, inliers; KernelRidge has none);
* the share of removals whose refit changed the active set, and how many of them skrif
  flagged (``RemovalModel.changing_rows`` for single rows, ``support_changes`` /
  ``crossing_rows`` of the group step for sets), plus flags on removals that did not
  change it. For HuberRegressor ``Δ`` includes the change of ``scale_``.

Removals whose exact change is below 1e-9 of ‖θ̂‖ (nothing moves) are skipped.

Data (bundled, offline): scikit-learn's diabetes (442 × 10, regression) and breast
cancer (569 × 30, binary), statsmodels' ``fair`` (6,366 × 8: ``affairs`` as the
regression target, ``affairs > 0`` as the binary one; KernelRidge on its first 1,000
rows). Columns standardized.

Run::

    PYTHONPATH=. python benchmarks/families_accuracy.py > benchmarks/results/families_accuracy.txt
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression
from sklearn.linear_model import HuberRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC, LinearSVR
from threadpoolctl import threadpool_limits

from skrif import InfluenceEstimator

METHODS = ("if", "rif", "newton")


def _fair():
    import statsmodels.api as sm

    data = sm.datasets.fair.load_pandas().data
    X = data.drop(columns="affairs").to_numpy(float)
    return StandardScaler().fit_transform(X), data["affairs"].to_numpy(float)


def datasets():
    Xd, yd = load_diabetes(return_X_y=True)
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xf, yf = _fair()
    return {
        "diabetes": (StandardScaler().fit_transform(Xd), (yd - yd.mean()) / yd.std()),
        "breast_cancer": (StandardScaler().fit_transform(Xb), yb),
        "fair": (Xf, yf),
        "fair_binary": (Xf, (yf > 0).astype(int)),
        "fair_1000": (Xf[:1000], yf[:1000]),
    }


CASES = [
    ("Lasso(alpha=0.02)", lambda: Lasso(alpha=0.02, tol=1e-12, max_iter=10**6), ("diabetes", "fair")),
    (
        "ElasticNet(alpha=0.02, l1_ratio=0.5)",
        lambda: ElasticNet(alpha=0.02, l1_ratio=0.5, tol=1e-12, max_iter=10**6),
        ("diabetes", "fair"),
    ),
    (
        "LogisticRegression(l1_ratio=1, C=0.1, liblinear)",
        lambda: LogisticRegression(l1_ratio=1.0, C=0.1, solver="liblinear", tol=1e-12, max_iter=10**6),
        ("breast_cancer", "fair_binary"),
    ),
    (
        "LogisticRegression(l1_ratio=0.5, C=0.1, saga)",
        lambda: LogisticRegression(l1_ratio=0.5, C=0.1, solver="saga", tol=1e-10, max_iter=10**6),
        ("breast_cancer", "fair_binary"),
    ),
    ("KernelRidge(rbf, gamma=0.1, alpha=1)", lambda: KernelRidge(kernel="rbf", gamma=0.1, alpha=1.0), ("diabetes", "fair_1000")),
    (
        "LinearSVC(squared_hinge, C=0.1)",
        lambda: LinearSVC(C=0.1, dual=True, tol=1e-10, max_iter=10**5, random_state=0),
        ("breast_cancer", "fair_binary"),
    ),
    (
        "LinearSVR(squared_epsilon_insensitive, C=0.1, epsilon=0.5)",
        lambda: LinearSVR(loss="squared_epsilon_insensitive", C=0.1, epsilon=0.5, dual=True,
                          tol=1e-10, max_iter=10**5, random_state=0),
        ("diabetes", "fair"),
    ),
    (
        "HuberRegressor(alpha=1e-3)",
        lambda: HuberRegressor(alpha=1e-3, tol=1e-12, max_iter=10_000),
        ("diabetes", "fair"),
    ),
]


def _active(rm, theta):
    """The active set at ``theta``: the L1 support, the rows' pieces, or None."""
    kind = rm.objective.problem_kind
    if kind == "l1":
        return theta != 0
    if kind in ("piecewise", "scale"):
        Z = rm.linear_predictor(theta)
        scale = (theta[0, -1],) if kind == "scale" else ()
        return rm.objective.piece_boundaries(rm.Y, Z, *scale)[0] > 0
    return None


def _removals(n, rng, n_rows=60, n_sets=8):
    rows = rng.choice(n, min(n, n_rows), replace=False)
    singles = [np.array([i]) for i in rows]
    sets = [rng.choice(n, max(2, int(round(f * n))), replace=False) for f in (0.01, 0.02, 0.05) for _ in range(n_sets)]
    return singles, sets


def run_case(make, X, y, rng):
    est = InfluenceEstimator(make()).fit(X, y)
    rm = est._fitted_removal()
    theta = rm.theta
    active = _active(rm, theta)
    flags = rm.changing_rows("rif")
    singles, sets = _removals(len(y), rng)
    stats = {"single": [], "set": []}
    for kind, removals in (("single", singles), ("set", sets)):
        for idx in removals:
            truth = rm.parameter_change(idx, "refit")
            if np.linalg.norm(truth) <= 1e-9 * np.linalg.norm(theta):
                continue
            changed = False
            if active is not None:
                moved = _active(rm, theta + truth) != active
                if rm.objective.problem_kind != "l1":  # rows' pieces: the kept rows count
                    moved[idx] = False
                changed = bool(np.any(moved))
            errors = {}
            for method in METHODS:
                delta = rm.parameter_change(idx, method)
                errors[method] = float(np.linalg.norm(delta - truth) / np.linalg.norm(truth))
                if method == "newton":
                    flagged = bool(flags[idx[0]]) if kind == "single" else bool(
                        rm.support_changes(idx, delta) or rm.crossing_rows(idx, delta).size
                    )
            stats[kind].append((errors, changed, flagged))
    return est, stats


def summarize(stats):
    lines = []
    for kind in ("single", "set"):
        rows = stats[kind]
        if not rows:
            continue
        changed = np.array([c for _, c, _ in rows])
        flagged = np.array([f for _, _, f in rows])
        parts = []
        for method in METHODS:
            err = np.array([e[method] for e, _, _ in rows])
            kept = err[~changed]
            parts.append(
                f"{method}: max {err.max():.1e}, max with active set kept "
                f"{kept.max() if kept.size else float('nan'):.1e}"
            )
        lines.append(
            f"  {kind:6s} ({len(rows)} removals) " + "; ".join(parts)
            + f"\n         active set changed {changed.sum()}/{len(rows)} ({changed.mean():.0%}), "
            f"flagged {np.sum(changed & flagged)}/{changed.sum()}, "
            f"flagged without a change {np.sum(~changed & flagged)}"
        )
    return "\n".join(lines)


def main():
    data = datasets()
    rng = np.random.default_rng(0)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make, sets in CASES:
            for dname in sets:
                X, y = data[dname]
                t = time.perf_counter()
                est, stats = run_case(make, X, y, rng)
                rm = est._fitted_removal()
                support = int(np.sum(rm.theta != 0))
                pieces = ""
                if rm.objective.problem_kind in ("piecewise", "scale"):
                    flat = int(np.sum(rm.curvature_coefficients == 0))
                    pieces = f"; rows without curvature (outside the margin set / outliers) {flat}"
                print(f"{name} on {dname} ({X.shape[0]} x {X.shape[1]}; non-zero parameters "
                      f"{support}{pieces}; optimality gap of the wrapped fit "
                      f"{est.optimality_gap_:.1e}; {time.perf_counter() - t:.1f} s)")
                print(summarize(stats))


if __name__ == "__main__":
    main()
