"""Leave-one-group-out, cv_predict and large sets from one fit, against refits (issue 27).

Times skrif's answers next to scikit-learn's refit-based equivalents measured in the
same run (``cross_val_predict`` with the same splitter), and checks that the numbers
agree. Cases (synthetic stand-ins of the tables in the issue):

* ``wage``: Ridge, 3,000 rows, 10 features, 5 groups of 200–970 rows
  (ISLR Wage by ``education``), leave-one-group-out;
* ``hmda``: LogisticRegression, 2,380 rows, 12 features, 6 groups (HMDA by
  ``chist``), leave-one-group-out (``method="auto"`` picks exact refits);
* ``ols-cv``: LinearRegression, n rows × 50 features, ``cv_predict(cv=10)``;
* ``level``: Ridge with 5 parameters, a 4,096-row one-hot level removed
  (``influence(rows, method="newton")`` and the RIF answer with its estimate);
* ``logo-2000``: Ridge, 5 groups of 2,000 rows, leave-one-group-out.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/group_cost.py [--n-ols 20000 40000 200000]

Peak memory is measured with tracemalloc (numpy allocations) per case.
"""

import argparse
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import KFold, LeaveOneGroupOut, cross_val_predict

from skrif import InfluenceEstimator


def timed(func):
    tracemalloc.start()
    start = time.perf_counter()
    out = func()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def report(name, ours, theirs, diff):
    (_, t_ours, m_ours), (_, t_theirs, m_theirs) = ours, theirs
    print(f"{name:<22} skrif {t_ours:8.3f} s {m_ours:8.1f} MB | scikit-learn {t_theirs:8.3f} s "
          f"{m_theirs:8.1f} MB | ratio {t_ours / t_theirs:6.2f} | max |diff| {diff:.1e}", flush=True)


def ridge_logo(name, sizes, p, seed, shift):
    """Ridge leave-one-group-out against cross_val_predict(LeaveOneGroupOut())."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    X = rng.normal(size=(groups.size, p)) + shift * groups[:, None]
    y = X @ rng.normal(size=p) + rng.normal(size=groups.size)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    ours = timed(lambda: est.loo_predict(groups=groups))
    theirs = timed(lambda: cross_val_predict(Ridge(alpha=1.0), X, y, groups=groups,
                                             cv=LeaveOneGroupOut()))
    report(name, ours, theirs, np.max(np.abs(ours[0] - theirs[0])))


def hmda():
    rng = np.random.default_rng(1)
    n = 2380
    groups = rng.integers(0, 6, n)
    X = rng.normal(size=(n, 12))
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.4 * groups + rng.logistic(size=n) > 1.5).astype(int)
    model = LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000)
    est = InfluenceEstimator(model).fit(X, y)
    ours = timed(lambda: est.loo_predict(groups=groups, target="predict_proba")[:, 1])
    theirs = timed(lambda: cross_val_predict(model, X, y, groups=groups, cv=LeaveOneGroupOut(),
                                             method="predict_proba")[:, 1])
    report("hmda (logistic, LOGO)", ours, theirs, np.max(np.abs(ours[0] - theirs[0])))


def ols_cv(n):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(n, 50))
    y = X @ rng.normal(size=50) + rng.normal(size=n)
    est = InfluenceEstimator(LinearRegression()).fit(X, y)
    ours = timed(lambda: est.cv_predict(cv=10))
    theirs = timed(lambda: cross_val_predict(LinearRegression(), X, y, cv=KFold(10)))
    report(f"ols cv=10 n={n}", ours, theirs, np.max(np.abs(ours[0] - theirs[0])))


def level():
    rng = np.random.default_rng(3)
    n, k = 12000, 4096
    lev = np.zeros(n)
    lev[:k] = 1.0
    X = np.column_stack([rng.normal(size=(n, 3)), lev])
    y = X @ [1.0, 2.0, 3.0, 2.0] + rng.normal(size=n)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    rows = np.arange(k)
    ours = timed(lambda: est.influence(rows, method="newton"))
    keep = np.ones(n, bool)
    keep[rows] = False
    theirs = timed(lambda: Ridge(alpha=1.0, solver="cholesky").fit(X[keep], y[keep]))
    full = Ridge(alpha=1.0, solver="cholesky").fit(X, y)
    diff = np.max(np.abs(ours[0].coef - (theirs[0].coef_ - full.coef_)))
    report("level 4096 rows (NS)", ours, theirs, diff)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rif = timed(lambda: est.influence(rows))
    print(f"{'':<22} RIF with its estimate {rif[1]:.3f} s: {rif[0].error_estimate} "
          f"({len(caught)} warning)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ols", type=int, nargs="*", default=[20000, 40000])
    args = parser.parse_args()
    ridge_logo("wage (Ridge, LOGO)", [268, 971, 650, 685, 426], 10, 0, 0.3)
    hmda()
    level()
    ridge_logo("logo 5 x 2000 (Ridge)", [2000] * 5, 5, 4, 0.0)
    for n in args.n_ols:
        ols_cv(n)


if __name__ == "__main__":
    main()
