"""Whole-pipeline removal: error of the "fixed" and "refit" semantics against refits.

For three real tables, every answer of ``InfluenceEstimator(pipeline,
preprocessing=...)`` is compared with ``clone(pipeline).fit(X_kept, y_kept)``
(tight solver) on the change of the test rows' decision values (predictions for
regressors): relative error ``‖predicted − actual‖ / ‖actual‖``, median over the
rows or sets of each kind. Also the equality figures of CV-selected models and
TransformedTargetRegressor.

Run (about a minute on a quiet machine; needs ``palmerpenguins``; writes
benchmarks/results/pipelines.md and .json)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pipelines.py
"""

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    LogisticRegression, LogisticRegressionCV, Ridge, RidgeClassifier, RidgeClassifierCV, RidgeCV,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's skrif
from skrif import InfluenceEstimator  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TIGHT = dict(solver="newton-cholesky", tol=1e-12, max_iter=1000)


def rel(a, b):
    return float(np.linalg.norm(np.ravel(a) - np.ravel(b)) / np.linalg.norm(np.ravel(b)))


def rows_of(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


def output(model, X):
    return model.decision_function(X) if hasattr(model, "decision_function") else model.predict(X)


def breast_cancer(C):
    X, y = load_breast_cancer(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))  # the issue's split
    tr, te = perm[:300], perm[300:]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=C, **TIGHT))
    return f"breast cancer, StandardScaler + LogisticRegression(C={C:g})", pipe, X[tr], y[tr], X[te]


def penguins(kind):
    from palmerpenguins import load_penguins

    df = load_penguins().drop(columns=["year"])
    df = df[df.body_mass_g.notna()].reset_index(drop=True)
    num = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    cat = ["species", "island", "sex"]  # sex has 9 missing values
    ct = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat),
    ])
    perm = np.random.default_rng(0).permutation(len(df))
    tr, te = perm[:220], perm[220:]
    X = df[num + cat]
    mass = df.body_mass_g.to_numpy() / 1000
    if kind == "logistic":
        y = (mass > np.median(mass)).astype(int)
        pipe = make_pipeline(ct, LogisticRegression(C=0.05, **TIGHT))
        name = "penguins (categorical, missing), heavy vs light, LogisticRegression(C=0.05)"
    else:
        y = mass
        pipe = make_pipeline(ct, Ridge(alpha=1.0))
        name = "penguins (categorical, missing), body mass, Ridge(alpha=1)"
    return name, pipe, X.iloc[tr], y[tr], X.iloc[te]


def diabetes():
    X, y = load_diabetes(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))
    tr, te = perm[:300], perm[300:]
    pipe = make_pipeline(StandardScaler(), PolynomialFeatures(2), StandardScaler(), Ridge(alpha=10.0))
    return "diabetes, StandardScaler + PolynomialFeatures(2) + StandardScaler + Ridge(10)", pipe, X[tr], y[tr] / 100, X[te]


def sets_for(est, n, rng):
    h = est.leverages_
    top = np.argsort(h)[::-1]
    singles = {"top-leverage rows": [[int(i)] for i in top[:5]],
               "random rows": [[int(i)] for i in rng.choice(n, 5, replace=False)]}
    sets = {f"random {pct}% sets": [rng.choice(n, max(2, round(pct / 100 * n)), replace=False)
                                   for _ in range(4)] for pct in (1, 2, 5)}
    sets["top-leverage 2% set"] = [top[: max(2, round(0.02 * n))]]
    return singles, sets


def measure(name, pipe, Xtr, ytr, Xte):
    rng = np.random.default_rng(1)
    n = len(ytr)
    fitted = {s: InfluenceEstimator(pipe, preprocessing=s).fit(Xtr, ytr) for s in ("fixed", "refit")}
    base = output(fitted["refit"], Xte)
    singles, sets = sets_for(fitted["fixed"], n, rng)
    table = {}
    for kind, groups in list(singles.items()) + list(sets.items()):
        methods = ("if", "rif", "newton") if kind in singles else ("if", "rif", "newton")
        errs = {(s, m): [] for s in fitted for m in methods}
        for T in groups:
            keep = np.setdiff1d(np.arange(n), T)
            actual = output(clone(pipe).fit(rows_of(Xtr, keep), ytr[keep]), Xte) - base
            for s, est in fitted.items():
                for m in methods:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        pred = est.removal_effect(T, Xte, method=m)
                    errs[(s, m)].append(rel(pred, actual))
        table[kind] = {f"{s}/{m}": float(np.median(v)) for (s, m), v in errs.items()}
    return table


def issue_figures():
    """The issue's measurement: exact refits with the preprocessing held fixed vs
    refitting the pipeline (breast cancer, 300 rows, StandardScaler +
    LogisticRegression(C=1)): the highest-leverage row, 15 random rows, one random
    row (the issue's draws: ``default_rng(0)`` for the split and the sets)."""
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(y))
    tr, te = perm[:300], perm[300:]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, **TIGHT))
    fixed = InfluenceEstimator(pipe, preprocessing="fixed").fit(X[tr], y[tr])
    whole = InfluenceEstimator(pipe).fit(X[tr], y[tr])
    sets = {"highest-leverage row": [int(np.argmax(fixed.leverages_))],
            "15 random rows": list(rng.choice(300, 15, replace=False)),
            "1 random row": [int(rng.integers(300))]}
    base = whole.decision_function(X[te])
    out = {}
    for name, T in sets.items():
        keep = np.setdiff1d(np.arange(300), T)
        actual = clone(pipe).fit(X[tr][keep], y[tr][keep]).decision_function(X[te]) - base
        out[name] = {s: rel(est.removal_effect(T, X[te], method="refit"), actual)
                     for s, est in (("fixed", fixed), ("refit", whole))}
    return out


def cv_equality():
    out = {}
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:300]
    y = y[:300]
    yr = X @ np.linspace(-1, 1, X.shape[1]) + np.random.default_rng(0).normal(size=300)
    Xi, yi = load_iris(return_X_y=True)
    cases = [
        ("RidgeCV", RidgeCV(alphas=np.logspace(-2, 3, 12)), lambda m: Ridge(alpha=m.alpha_), X, yr),
        ("RidgeClassifierCV", RidgeClassifierCV(alphas=np.logspace(-2, 3, 12)),
         lambda m: RidgeClassifier(alpha=m.alpha_), Xi, yi),
        ("LogisticRegressionCV", LogisticRegressionCV(Cs=6, l1_ratios=(0.0,), scoring="neg_log_loss", use_legacy_attributes=False, **TIGHT),
         lambda m: LogisticRegression(C=float(np.ravel(m.C_)[0]), **TIGHT), X, y),
    ]
    for name, cv, plain, Xc, yc in cases:
        a = InfluenceEstimator(cv).fit(Xc, yc)
        b = InfluenceEstimator(plain(a.estimator_)).fit(Xc, yc)
        idx = [0, 5, 17]
        worst = 0.0
        for m in ("if", "rif", "newton", "refit"):
            da, db = a.influence(idx, method=m), b.influence(idx, method=m)
            worst = max(worst, rel(da.coef, db.coef))
        sa, sb = a.influence_scores(Xc[:20]), b.influence_scores(Xc[:20])
        worst = max(worst, rel(sa, sb))
        out[name] = worst
    return out


def ttr_equality():
    X, y = load_diabetes(return_X_y=True)
    ttr = TransformedTargetRegressor(Ridge(alpha=0.1), func=np.log, inverse_func=np.exp)
    est = InfluenceEstimator(ttr).fit(X[:300], y[:300])
    res = {}
    for T in ([3], [1, 8, 40, 41]):
        keep = np.setdiff1d(np.arange(300), T)
        ref = clone(ttr).fit(X[:300][keep], y[:300][keep])
        actual = ref.predict(X[300:]) - est.predict(X[300:])
        for m in ("refit", "newton", "rif"):
            res[f"|T|={len(T)} {m}"] = rel(est.removal_effect(T, X[300:], target="predict", method=m), actual)
    return res


def main():
    RESULTS.mkdir(exist_ok=True)
    started = time.perf_counter()
    report = {"tables": {}}
    for build in (lambda: breast_cancer(1.0), lambda: breast_cancer(0.01), lambda: penguins("logistic"),
                  lambda: penguins("ridge"), diabetes):
        name, pipe, Xtr, ytr, Xte = build()
        report["tables"][name] = measure(name, pipe, Xtr, ytr, Xte)
        print(name, file=sys.stderr)
    report["issue"] = issue_figures()
    report["cv_equality"] = cv_equality()
    report["ttr"] = ttr_equality()
    report["seconds"] = time.perf_counter() - started
    (RESULTS / "pipelines.json").write_text(json.dumps(report, indent=2))
    lines = ["# Whole-pipeline removal: fixed vs refit semantics against pipeline refits", "",
             "Median relative error of the change of test decision values (predictions for "
             "regressors) against `clone(pipeline).fit(X_kept, y_kept)`.", ""]
    for name, table in report["tables"].items():
        lines += [f"## {name}", "", "| removal | " + " | ".join(next(iter(table.values()))) + " |",
                  "|---|" + "---|" * len(next(iter(table.values())))]
        for kind, row in table.items():
            lines.append(f"| {kind} | " + " | ".join(f"{v:.2g}" for v in row.values()) + " |")
        lines.append("")
    lines += ["## The issue's figures: method='refit' with the preprocessing fixed vs whole pipeline", "",
              "Relative error against refitting the pipeline (breast cancer, StandardScaler + "
              "LogisticRegression(C=1), 300 rows, the issue's draws).", ""]
    lines += [f"- {k}: fixed {v['fixed']:.2%}, whole pipeline {v['refit']:.1e}" for k, v in report["issue"].items()]
    lines += ["", "## CV-selected models vs the plain model at the selected value (max relative difference)", ""]
    lines += [f"- {k}: {v:.2g}" for k, v in report["cv_equality"].items()]
    lines += ["", "## TransformedTargetRegressor(Ridge, log/exp): error of predict effects vs refits", ""]
    lines += [f"- {k}: {v:.2g}" for k, v in report["ttr"].items()]
    (RESULTS / "pipelines.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
