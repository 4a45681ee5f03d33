"""How often is the greedy significance/sign audit minimal? And how far is the
certificate from the greedy set?

Run: ``.venv/bin/python benchmarks/amip_minimality.py`` (a few minutes, 1 BLAS thread).

1. Greedy vs exhaustive search. Seeded problems with n = 12, 14, 16 rows and two
   features (plus intercept); for OLS (HC1, "significance" and "sign") and logistic
   regression (nonrobust, "significance"), the exact minimal flipping set is found by
   refitting *statsmodels* on every set of up to ``K_MAX`` rows; the greedy set
   (``removal_to_flip(..., max_fraction=None)``) is verified independently by a
   statsmodels refit. Logistic regression uses n = 24, 30 and sets of up to 3 rows
   (smaller samples are rarely significant without separation). Reports the rate at
   which the greedy size equals the optimum, is larger, or fails to flip although a
   set within ``K_MAX`` exists.
2. Certificate gap. OLS sign audits at n = 200..5000: the greedy (verified) size
   next to the Woodbury lower bound (no set smaller than it can flip the sign).
"""

import itertools
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import statsmodels.api as sm
from sklearn.linear_model import LinearRegression, LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's skrif
from skrif import InfluenceEstimator  # noqa: E402

K_MAX = 4


def sm_fit(family, X, y, cov_type):
    Xc = np.column_stack([X, np.ones(len(X))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "gaussian":
            return sm.OLS(y, Xc).fit(cov_type=cov_type)
        return sm.GLM(y, Xc, family=sm.families.Binomial()).fit(cov_type=cov_type, tol=1e-12)


def flipped(conclusion, r, b0):
    if conclusion == "sign":
        return np.sign(r.params[0]) != np.sign(b0)
    return r.pvalues[0] >= 0.05


def exhaustive(family, X, y, cov_type, conclusion, b0, k_max):
    n = len(y)
    for k in range(1, k_max + 1):
        for S in itertools.combinations(range(n), k):
            keep = np.setdiff1d(np.arange(n), S)
            yk = y[keep]
            if family == "binomial" and (yk.min() == yk.max()):
                continue
            try:
                r = sm_fit(family, X[keep], yk, cov_type)
            except Exception:  # noqa: BLE001 - singular / perfectly separated subsets
                continue
            if family == "binomial" and not np.all(np.isfinite(r.bse)):
                continue
            if flipped(conclusion, r, b0):
                return k
    return None


def make(family, n, seed, beta):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    if family == "gaussian":
        y = X @ [beta, 0.3] + rng.normal(size=n)
        model = LinearRegression()
    else:
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(beta * X[:, 0] + 0.3)))).astype(int)
        model = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12)
    return X, y, model


def minimality(family, cov_type, conclusion, sizes, seeds, beta, k_max=K_MAX):
    counts = {"equal": 0, "larger": 0, "missed": 0, "none within K": 0, "skipped": 0}
    gaps = []
    for n in sizes:
        for seed in seeds:
            X, y, model = make(family, n, seed, beta)
            full = sm_fit(family, X, y, cov_type)
            if conclusion == "significance" and full.pvalues[0] >= 0.05:
                counts["skipped"] += 1
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est = InfluenceEstimator(model).fit(X, y)
            except ValueError:
                counts["skipped"] += 1
                continue
            res = est.removal_to_flip(coef=0, conclusion=conclusion, cov_type=cov_type,
                                      max_fraction=None, max_refits=60)
            k_opt = exhaustive(family, X, y, cov_type, conclusion, full.params[0], k_max)
            if res.flipped:
                keep = np.setdiff1d(np.arange(n), res.rows)
                assert flipped(conclusion, sm_fit(family, X[keep], y[keep], cov_type),
                               full.params[0]), "greedy set not verified by statsmodels"
            if k_opt is None:
                counts["none within K"] += 1
            elif not res.flipped:
                counts["missed"] += 1
            elif res.n_removed == k_opt:
                counts["equal"] += 1
            else:
                counts["larger"] += 1
                gaps.append(res.n_removed - k_opt)
    decided = counts["equal"] + counts["larger"] + counts["missed"]
    rate = counts["equal"] / decided if decided else float("nan")
    print(f"{family:9s} {cov_type:9s} {conclusion:13s} n={sizes}, K={k_max}: {counts}; "
          f"greedy minimal in {counts['equal']}/{decided} = {rate:.0%}"
          + (f"; excess sizes {sorted(gaps)}" if gaps else ""))


def certificate_gap():
    print("\nOLS sign audits: greedy verified size vs Woodbury lower bound")
    for n, beta in [(200, 0.15), (1000, 0.08), (5000, 0.04), (5000, 0.02)]:
        rng = np.random.default_rng(n)
        X = rng.normal(size=(n, 3))
        y = X @ [beta, 0.5, -0.5] + rng.normal(size=n)
        est = InfluenceEstimator(LinearRegression()).fit(X, y)
        t0 = time.perf_counter()
        res = est.removal_to_flip(coef=0, max_fraction=0.2, max_refits=40)
        dt = time.perf_counter() - t0
        c = res.certificate
        print(f"  n={n:5d} beta={beta}: greedy {res.n_removed if res.flipped else 'not flipped'}"
              f" rows, lower bound {c.lower_bound} ({c.method}); {dt:.2f} s")


if __name__ == "__main__":
    with threadpool_limits(1):
        seeds = range(8)
        minimality("gaussian", "HC1", "significance", [12, 14, 16], seeds, beta=1.0)
        minimality("gaussian", "nonrobust", "significance", [12, 14, 16], seeds, beta=1.0)
        minimality("gaussian", "nonrobust", "sign", [12, 14, 16], seeds, beta=0.4)
        minimality("binomial", "nonrobust", "significance", [24, 30], range(12), beta=1.6,
                   k_max=3)
        certificate_gap()
