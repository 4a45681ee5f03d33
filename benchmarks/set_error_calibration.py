"""Calibration of the additive methods' error estimate (issue 11).

Run: ``.venv/bin/python benchmarks/set_error_calibration.py`` (from the repository
root). For real data sets that ship offline, fits an InfluenceEstimator, runs
:func:`skrif.validation.validate_influence` (row sets with the paper's strategies;
and group sets where the data have a natural grouping) and reports, per data set
and additive method, the rank correlation between the estimated error
(``|additive − NS| / |NS|``) and the actual error against exact refits, and the
warning's hit rate (sets with actual error > 30% that warn) and false-alarm rate
(sets with actual error < 5% that warn) at the threshold skrif uses
(``skrif._core.set_error.SET_INTERACTION_THRESHOLD``). It also prints the group example
of the guide (statsmodels ``fair``: removing one occupation).
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's skrif

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skrif import InfluenceEstimator
from skrif._core.set_error import SET_INTERACTION_THRESHOLD
from skrif.datasets import default_model, load_breast_cancer_quadratic
from skrif.validation import interaction_calibration, validate_influence


def fair():
    d = sm.datasets.fair.load_pandas().data
    num = d[["age", "yrs_married", "children"]]
    num = (num - num.mean()) / num.std()
    occ = pd.get_dummies(d.occupation.astype(int), prefix="occ").astype(float)
    X = pd.concat([num, occ], axis=1).to_numpy()
    y = (d.affairs > 0).astype(int).to_numpy()
    return X, y, d.occupation.to_numpy()


def anes96():
    d = sm.datasets.anes96.load_pandas().data
    y = (d.vote == 1).astype(int).to_numpy()
    num = d[["logpopul", "TVnews", "age", "educ", "income"]]
    num = (num - num.mean()) / num.std()
    pid = pd.get_dummies(d.PID.astype(int), prefix="pid").astype(float)
    return pd.concat([num, pid], axis=1).to_numpy(), y, d.PID.to_numpy()


def randhie():
    d = sm.datasets.randhie.load_pandas().data.iloc[:4000]
    y = d.mdvis.to_numpy()
    X = d.drop(columns="mdvis")
    return ((X - X.mean()) / X.std()).to_numpy(), y, None


def cases():
    bc = load_breast_cancer_quadratic()
    yield "bundled (breast cancer deg-2, 300x495)", default_model(), bc.X_train, bc.y_train, bc.X_test, bc.y_test, None
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    yield "breast cancer (30 raw)", LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12), Xtr, ytr, Xte, yte, None
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    yield "diabetes (Ridge)", Ridge(alpha=0.01), Xtr, ytr, Xte, yte, None
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    yield "wine (multinomial)", LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12), Xtr, ytr, Xte, yte, None
    X, y, g = fair()
    Xtr, Xte, ytr, yte, gtr, _ = train_test_split(X, y, g, test_size=0.25, random_state=0)
    yield "fair (occupation one-hot)", LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12), Xtr, ytr, Xte, yte, gtr
    X, y, g = anes96()
    Xtr, Xte, ytr, yte, gtr, _ = train_test_split(X, y, g, test_size=0.25, random_state=0)
    yield "anes96 (party-id one-hot)", LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12), Xtr, ytr, Xte, yte, gtr
    X, y, _ = randhie()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    yield "randhie 4000 (Poisson)", PoissonRegressor(alpha=1e-4, solver="newton-cholesky", tol=1e-12), Xtr, ytr, Xte, yte, None


def group_example():
    X, y, g = fair()
    est = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-12)).fit(X, y)
    rows = np.flatnonzero(g == 1.0)
    j = 3  # the student column (occupation 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rif = est.influence(rows, method="rif")
    out = {m: est.influence(rows, method=m).coef[0, j] for m in ("if", "newton", "refit")}
    print(f"fair, remove the {rows.size} students (max row leverage {est.leverages_[rows].max():.3f}):")
    print(f"  change of the student coefficient: IF {out['if']:.4f}, RIF {rif.coef[0, j]:.4f}, "
          f"NS {out['newton']:.4f}, refit {out['refit']:.4f}")
    print(f"  RIF error {abs(rif.coef[0, j] - out['refit']) / abs(out['refit']):.1%}, "
          f"NS error {abs(out['newton'] - out['refit']) / abs(out['refit']):.2%}; estimate: {rif.error_estimate}; "
          f"warned: {any(w.category.__name__ == 'SetInteractionWarning' for w in caught)}")


def main():
    print(f"threshold {SET_INTERACTION_THRESHOLD}")
    group_example()
    rows = []
    for name, model, Xtr, ytr, Xte, yte, gtr in cases():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = InfluenceEstimator(model).fit(Xtr, ytr)
            runs = [("rows", None)] + ([("groups", gtr)] if gtr is not None else [])
            for unit, groups in runs:
                strategies = ("random", "top_score") if groups is not None else ("random", "feature", "distance", "top_score")
                out = validate_influence(est, Xte, yte, n_sets=40, random_state=0, as_frame=False,
                                         groups=groups, strategies=strategies,
                                         max_fraction=0.05 if groups is None else 0.4)
                for method, c in interaction_calibration(out["results"]).items():
                    rows.append((name, unit, method, c))
    print("\n| data | units | method | sets×targets | Spearman(est, err) | err>30% | hit rate | err<5% | false alarms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, unit, method, c in rows:
        print(f"| {name} | {unit} | {method.upper()} | {c['n_sets']} | {c['spearman']:.3f} | {c['n_high']} | "
              f"{c['hit_rate']:.2f} | {c['n_low']} | {c['false_alarm_rate']:.3f} |")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
