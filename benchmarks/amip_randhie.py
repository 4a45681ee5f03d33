"""Robustness audit of the RAND Health Insurance Experiment (ships with statsmodels).

Run: ``.venv/bin/python benchmarks/amip_randhie.py`` (about a minute, 1 BLAS thread).

Outcome ``mdvis`` (doctor visits, n = 20,190 person-years), main effect ``lncoins``
(log coinsurance rate) with the dataset's eight controls. For Poisson regression
(robust HC0 errors, the usual choice for count data) and OLS (HC1), how many
person-years must be dropped to flip the sign of the main effect, its significance
(α = 0.05), or both (significant with the opposite sign) — each set verified here by
an independent statsmodels refit on the kept rows. Then the same audit by clusters
(consecutive rows with identical covariates: the dataset's person-years of one
person's insurance plan and health status, our proxy for a person; the dataset has
no id column). Finally, on a small subsample, the greedy set next to the exhaustive
optimum, and the whole OLS AMIP summary. Timings: wall-clock and process CPU time
(the CPU time is robust to a shared machine), one BLAS thread.
"""

import itertools
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import statsmodels.api as sm
from sklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegressor
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's skrif
from skrif import InfluenceEstimator  # noqa: E402


def load():
    data = sm.datasets.randhie.load_pandas()
    return data.exog, data.endog.to_numpy(dtype=float)


def sm_fit(kind, X, y, cov_type, groups=None):
    Xc = np.column_stack([np.asarray(X, dtype=float), np.ones(len(y))])
    kw = {"cov_type": cov_type}
    if groups is not None:
        kw["cov_kwds"] = {"groups": groups}
    if kind == "ols":
        return sm.OLS(y, Xc).fit(**kw)
    family = sm.families.Binomial() if kind == "logit" else sm.families.Poisson()
    return sm.GLM(y, Xc, family=family).fit(tol=1e-13, maxiter=100, **kw)


def model(kind):
    if kind == "ols":
        return LinearRegression()
    if kind == "logit":
        return LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=300)
    return PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12, max_iter=300)


def person_proxy(X):
    """Consecutive rows with identical covariates share a label."""
    values = np.asarray(X, dtype=float)
    change = np.any(values[1:] != values[:-1], axis=1)
    return np.concatenate([[0], np.cumsum(change)])


def audit(kind, X, y, cov_type, groups=None, unit="rows"):
    t0 = time.perf_counter()
    est = InfluenceEstimator(model(kind)).fit(X, y)
    t_fit = time.perf_counter() - t0
    full = sm_fit(kind, X, y, cov_type, groups)
    outcome = "any visit (mdvis > 0)" if kind == "logit" else "mdvis"
    print(f"\n{kind.upper()} {outcome} ~ lncoins + 8 controls, n={len(y)}, cov_type={cov_type}"
          f"{'' if groups is None else f', {len(np.unique(groups))} clusters'}, removing {unit}"
          f" (fit + factorization {t_fit:.2f} s)")
    print(f"  full data: lncoins = {full.params[0]:.4f}, se = {full.bse[0]:.4f}, "
          f"p = {full.pvalues[0]:.2g}")
    for conclusion in ("sign", "significance", "opposite_significance"):
        t0, c0 = time.perf_counter(), time.process_time()
        r = est.removal_to_flip(coef="lncoins", conclusion=conclusion, cov_type=cov_type,
                                groups=groups, unit=unit, max_refits=60)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        keep = np.setdiff1d(np.arange(len(y)), r.rows)
        ref = sm_fit(kind, X.iloc[keep], y[keep], cov_type,
                     None if groups is None else groups[keep])
        ok = (abs(ref.params[0] - r.estimate) <= 1e-6 * abs(ref.params[0])
              and abs(ref.bse[0] - r.se) <= 1e-6 * ref.bse[0])
        what = "rows" if unit == "rows" else "clusters"
        size = (f"{r.n_removed} {what} ({r.fraction:.2%})" if r.flipped
                else f"not within {r.cap} {what}")
        print(f"  {conclusion:22s} {size:28s} after: {r.estimate:+.4f} (se {r.se:.4f}, "
              f"p {r.p_value:.3g}); statsmodels refit agrees: {ok}; "
              f"{r.n_refits} refits, {dt:.2f} s wall / {dc:.2f} s CPU"
              + (f"; certificate: {r.certificate.method} >= {r.certificate.lower_bound}"
                 if r.certificate is not None and r.certificate.lower_bound is not None else ""))


def subsample_exhaustive(X, y, n=40, k_max=3):
    """OLS (nonrobust) on the first seeded subsample of n rows where lncoins is
    significant; exhaustive search over all sets of at most k_max rows."""
    rng = np.random.default_rng(0)
    for attempt in range(200):
        idx = rng.choice(len(y), size=n, replace=False)
        Xs, ys = X.iloc[idx].reset_index(drop=True), y[idx]
        if np.linalg.matrix_rank(np.column_stack([Xs, np.ones(n)])) < Xs.shape[1] + 1:
            continue
        full = sm_fit("ols", Xs, ys, "nonrobust")
        if full.pvalues[0] < 0.05:
            break
    print(f"\nSubsample of {n} rows (seeded draw #{attempt}, the first with lncoins significant, "
          f"p = {full.pvalues[0]:.3g}), OLS nonrobust:")
    est = InfluenceEstimator(LinearRegression()).fit(Xs, ys)
    for conclusion in ("sign", "significance"):
        r = est.removal_to_flip(coef="lncoins", conclusion=conclusion, max_fraction=None,
                                max_refits=60)
        b0 = full.params[0]
        best = None
        for k in range(1, k_max + 1):
            for S in itertools.combinations(range(n), k):
                keep = np.setdiff1d(np.arange(n), S)
                Xk = np.column_stack([Xs.to_numpy()[keep], np.ones(n - k)])
                if np.linalg.matrix_rank(Xk) < Xk.shape[1]:
                    continue
                res = sm.OLS(ys[keep], Xk).fit()
                hit = (np.sign(res.params[0]) != np.sign(b0)) if conclusion == "sign" else (
                    res.pvalues[0] >= 0.05)
                if hit:
                    best = k
                    break
            if best is not None:
                break
        opt = best if best is not None else f"> {k_max}"
        print(f"  {conclusion:13s} greedy: {r.n_removed if r.flipped else 'not flipped'} rows;"
              f" exhaustive optimum: {opt}; certificate: {r.certificate.method} "
              f"lower bound {r.certificate.lower_bound}")


if __name__ == "__main__":
    warnings.simplefilter("ignore")  # statsmodels' notes on var_weights etc.
    with threadpool_limits(1):
        X, y = load()
        audit("poisson", X, y, "HC0")
        audit("ols", X, y, "HC1")
        audit("logit", X, (y > 0).astype(float), "HC0")
        groups = person_proxy(X)
        audit("poisson", X, y, "cluster", groups=groups)
        audit("poisson", X, y, "cluster", groups=groups, unit="groups")
        subsample_exhaustive(X, y)
        t0, c0 = time.perf_counter(), time.process_time()
        summary = InfluenceEstimator(model("ols")).fit(X, y).amip_summary(cov_type="HC1")
        print(f"\nOLS amip_summary over all 9 coefficients x 3 conclusions, n={len(y)}: "
              f"{time.perf_counter() - t0:.1f} s wall / {time.process_time() - c0:.1f} s CPU"
              f"\n{summary}")
