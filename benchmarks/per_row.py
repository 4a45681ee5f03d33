"""Per-row primitives for every model family: timing table (issue 10, item 4).

Times ``self_influence``, ``influence_scores`` (50 evaluation rows), ``loo_predict``
and ``most_influential`` (a score-based ranking) on models with the same number of
rows and of parameters, and prints each family's time relative to binary
``LogisticRegression`` measured in the same run (1 BLAS thread). The goal is a ratio
within 3× for every family.

Run::

    PYTHONPATH=. python benchmarks/per_row.py [--n 2000] [--p 30] [--repeats 3] [--protocol] [--first]

``--protocol`` times the removal-Hessian protocol primitives directly (what the
fitted removal state calls for these methods): ``self_change`` (self_influence,
loo_predict), ``row_effects`` with the 50 evaluation rows (influence_scores) and
with one target gradient (most_influential's scores).

``--first`` adds, per family, the time of the *first* ``loo_predict`` after ``fit``
(best of the repeats, each after a fresh fit),
which includes the check of which single-row removals change the active set (an L1
support, a margin set, the Huber threshold; computed once and cached), and how many
rows it flags.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import (
    ElasticNet,
    GammaRegressor,
    HuberRegressor,
    Lasso,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    SGDClassifier,
    SGDRegressor,
    TweedieRegressor,
)
from sklearn.svm import LinearSVC, LinearSVR
from threadpoolctl import threadpool_limits

from skrif import InfluenceEstimator


def _data(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    z = X @ rng.standard_normal(p)
    return X, z, rng


def _models(n, p):
    """(name, estimator, X, y): the same n and parameter count p + 1 (K (p' + 1) multinomial)."""
    X, z, rng = _data(n, p)
    binary = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)
    counts = rng.poisson(np.exp(0.5 * z))
    positive = rng.gamma(2.0, np.exp(0.3 * z) / 2.0)
    K = 3
    p_multi = (p + 1) // K - 1
    Xm = X[:, :p_multi]
    labels = np.argmax(Xm @ rng.standard_normal((p_multi, K)) + rng.gumbel(size=(n, K)), axis=1)
    return [
        ("LogisticRegression (binary)", LogisticRegression(C=1.0, tol=1e-10), X, binary),
        ("Ridge", Ridge(alpha=1.0), X, z + rng.standard_normal(n)),
        ("PoissonRegressor", PoissonRegressor(alpha=1e-3, tol=1e-10), X, counts),
        ("GammaRegressor", GammaRegressor(alpha=1e-3, tol=1e-10), X, positive),
        ("TweedieRegressor(1.5)", TweedieRegressor(power=1.5, alpha=1e-3, tol=1e-10), X, counts),
        ("SGDRegressor", SGDRegressor(alpha=1e-3, random_state=0), X, z),
        ("SGDClassifier (log)", SGDClassifier(loss="log_loss", alpha=1e-3, random_state=0), X, binary),
        (f"LogisticRegression (K={K}, p={p_multi})", LogisticRegression(C=1.0, tol=1e-10), Xm, labels),
        # Issue 23's families: p + 1 parameters before the L1 term selects a support;
        # KernelRidge has one dual coefficient per row (n parameters).
        ("Lasso", Lasso(alpha=0.01, tol=1e-12, max_iter=10**6), X, z + rng.standard_normal(n)),
        ("ElasticNet", ElasticNet(alpha=0.01, l1_ratio=0.5, tol=1e-12, max_iter=10**6), X, z + rng.standard_normal(n)),
        ("LogisticRegression (L1, liblinear)",
         LogisticRegression(l1_ratio=1.0, C=1.0, solver="liblinear", tol=1e-12, max_iter=10**6), X, binary),
        ("KernelRidge (rbf; n parameters)", KernelRidge(alpha=1.0, kernel="rbf"), X, z + rng.standard_normal(n)),
        # The piecewise-quadratic families (issue 23): liblinear's SVMs, and Huber with
        # its scale (p + 2 parameters) on heavy-tailed noise.
        ("LinearSVC (squared hinge)",
         LinearSVC(C=1.0, dual=True, tol=1e-10, max_iter=10**5, random_state=0), X, binary),
        ("LinearSVR (squared eps-insensitive)",
         LinearSVR(loss="squared_epsilon_insensitive", C=1.0, epsilon=0.5, dual=True, tol=1e-10,
                   max_iter=10**5, random_state=0), X, z + rng.standard_normal(n)),
        ("HuberRegressor (+ scale)", HuberRegressor(alpha=1e-3, tol=1e-12, max_iter=10_000),
         X, z + rng.standard_t(2, size=n)),
    ]


def _best(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _state(est):
    """(theta, d1, hessian) of a fitted InfluenceEstimator (old or new fitted state)."""
    rm = getattr(est, "_removal", None)
    if rm is not None and hasattr(rm, "hessian"):
        return rm.theta, rm.d1, rm.hessian
    return est._theta, est._d1, est._curvature


def _protocol_ops():
    def rows_t(X, fit_intercept):
        Xt = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X
        return Xt.T

    def self_change(est, X, y):
        theta, d1, h = _state(est)
        return h.self_change(d1, theta, "rif")

    def scores(est, X, y):
        theta, d1, h = _state(est)
        return h.row_effects(rows_t(X[:50], est._problem.design.fit_intercept), d1, theta, "rif")

    def ranking(est, X, y):
        theta, d1, h = _state(est)
        G = rows_t(X[:50], est._problem.design.fit_intercept).sum(axis=1, keepdims=True)
        return h.row_effects(G, d1, theta, "rif")

    return {
        "self_influence": self_change,
        "influence_scores": scores,
        "loo_predict": self_change,
        "most_influential": ranking,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--p", type=int, default=29)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--protocol", action="store_true")
    parser.add_argument("--first", action="store_true")
    args = parser.parse_args()
    ops = _protocol_ops() if args.protocol else {
        "self_influence": lambda est, X, y: est.self_influence(),
        "influence_scores": lambda est, X, y: est.influence_scores(X[:50]),
        "loo_predict": lambda est, X, y: est.loo_predict(),
        "most_influential": lambda est, X, y: est.most_influential(X[:50], y[:50], k=5),
    }
    rows, first = [], []
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model, X, y in _models(args.n, args.p):
            est = InfluenceEstimator(model).fit(X, y)
            if args.first:  # best of the repeats, each on a fresh fit
                seconds = np.inf
                for _ in range(args.repeats):
                    fresh = InfluenceEstimator(model).fit(X, y)
                    t = time.perf_counter()
                    fresh.loo_predict()
                    seconds = min(seconds, time.perf_counter() - t)
                first.append((name, seconds, int(fresh._fitted_removal().changing_rows("rif").sum())))
            times = {op: _best(lambda: fn(est, X, y), args.repeats) for op, fn in ops.items()}
            rows.append((name, times))
    base = rows[0][1]
    what = "protocol primitives" if args.protocol else "public methods"
    print(f"n={args.n}, parameters={args.p + 1}; {what}; seconds (ratio to binary logistic), 1 thread")
    header = f"{'family':38s}" + "".join(f"{op:>26s}" for op in ops)
    print(header)
    for name, times in rows:
        cells = "".join(f"{times[op]:>17.4f} ({times[op] / base[op]:5.1f}x)" for op in ops)
        print(f"{name:38s}{cells}")
    for name, seconds, flagged in first:
        print(f"{name:38s} first loo_predict (incl. active-set flags) {seconds:.4f} s "
              f"({seconds / first[0][1]:.1f}x); flagged rows {flagged}")


if __name__ == "__main__":
    main()
