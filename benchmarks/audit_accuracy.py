"""Accuracy of the auditing extras against independent ground truth.

Run: ``.venv/bin/python benchmarks/audit_accuracy.py`` (about a minute). Prints

* leave-one-out predictions: Ridge vs ``RidgeCV(store_cv_results=True)`` and brute-force
  refits (max abs difference); logistic (p > n), multinomial and Poisson: median
  relative error of RIF's and IF's leave-one-out change against brute-force refits;
* ``removal_to_flip``: on seeded tiny problems, how often the refit-verified greedy set
  has the size of the true minimal flipping set (exhaustive search over all sets of
  up to 3 rows), for a logistic prediction and a Ridge coefficient sign;
* reweighting by a fraction: max abs error of RIF (one row), group Newton and refit
  against Ridge refits with the weights multiplied by ``1 − t``.
"""

import itertools
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge, RidgeCV

from skrif import InfluenceEstimator


def logistic():
    return LogisticRegression(solver="newton-cholesky", tol=1e-12)


def brute_loo(model, X, y, method):
    rows = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        rows.append(getattr(model.fit(X[keep], y[keep]), method)(X[i : i + 1])[0])
    return np.array(rows)


def loo_section():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 20))
    y = X @ rng.normal(size=20) + rng.normal(size=200)
    est = InfluenceEstimator(Ridge(alpha=2.0)).fit(X, y)
    loo = est.loo_predict()
    cv = RidgeCV(alphas=[2.0], store_cv_results=True, scoring="r2").fit(X, y)
    brute = brute_loo(Ridge(alpha=2.0, solver="cholesky"), X, y, "predict")
    print(f"Ridge LOO (n=200, p=20): max |skrif - RidgeCV| = "
          f"{np.abs(loo - cv.cv_results_[:, 0]).max():.1e}, max |skrif - refits| = "
          f"{np.abs(loo - brute).max():.1e}")

    def report(name, est, model, X, y, target, method_name, base):
        truth = brute_loo(model, X, y, method_name)
        for method in ("rif", "if"):
            loo = est.loo_predict(target=target, method=method)
            err = np.abs(loo - truth).reshape(len(y), -1).sum(1)
            scale = np.abs(truth - base).reshape(len(y), -1).sum(1)
            print(f"{name} LOO {method}: median relative error {np.median(err / scale):.3f}")

    X = rng.normal(size=(60, 120))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    est = InfluenceEstimator(logistic()).fit(X, y)
    report("logistic (n=60, p=120) logit", est, logistic(), X, y, "decision_function",
           "decision_function", est.decision_function(X))
    X = rng.normal(size=(60, 10))
    y = rng.integers(0, 3, size=60)
    est = InfluenceEstimator(logistic()).fit(X, y)
    report("multinomial (n=60, p=10, K=3) proba", est, logistic(), X, y, "predict_proba",
           "predict_proba", est.predict_proba(X))
    counts = rng.poisson(np.exp(0.5 * X[:, 0]))
    model = PoissonRegressor(alpha=0.05, solver="newton-cholesky", tol=1e-12)
    est = InfluenceEstimator(model).fit(X, counts)
    report("Poisson (n=60, p=10) mean", est, model, X, counts, "predict", "predict",
           est.predict(X))


def minimal_size(value, n, k_max=3):
    z0 = value(np.arange(n))
    for k in range(1, k_max + 1):
        for S in itertools.combinations(range(n), k):
            keep = np.setdiff1d(np.arange(n), S)
            try:
                z = value(keep)
            except ValueError:
                continue
            if np.sign(z) != np.sign(z0):
                return k
    return None


def flip_section(n_seeds=30):
    for name in ("logistic prediction", "Ridge coefficient sign"):
        counts = {"same size": 0, "larger": 0, "not flipped": 0, "minimal > 3": 0}
        for seed in range(n_seeds):
            rng = np.random.default_rng(seed)
            if name == "logistic prediction":
                n = 14
                X = rng.normal(size=(n, 2))
                y = (X[:, 0] + 0.7 * rng.normal(size=n) > 0).astype(int)
                x = np.array([[0.15 * rng.normal(), rng.normal()]])
                est = InfluenceEstimator(logistic()).fit(X, y)
                k = minimal_size(
                    lambda keep: logistic().fit(X[keep], y[keep]).decision_function(x)[0], n
                )
                result = est.removal_to_flip(x)
            else:
                rng = np.random.default_rng(100 + seed)
                n = 15
                X = rng.normal(size=(n, 3))
                y = X @ [1.0, 0.15, -1.0] + rng.normal(size=n)
                est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
                k = minimal_size(
                    lambda keep: Ridge(alpha=1.0, solver="cholesky").fit(X[keep], y[keep]).coef_[1],
                    n,
                )
                result = est.removal_to_flip(coef=1)
            if k is None:
                counts["minimal > 3"] += 1
            elif not result.flipped:
                counts["not flipped"] += 1
            elif len(result.rows) == k:
                counts["same size"] += 1
            else:
                counts["larger"] += 1
        print(f"removal_to_flip, {name}, {n_seeds} seeds vs exhaustive search: {counts}")


def fraction_section():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 8))
    y = X @ rng.normal(size=8) + rng.normal(size=100)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    base = np.r_[est.estimator_.coef_, est.estimator_.intercept_]
    worst = {"rif": 0.0, "newton": 0.0, "refit": 0.0}
    for t in (0.9, 0.5, 0.1, -0.5, -3.0):
        for rows, methods in (([7], ("rif", "newton", "refit")), ([1, 5, 50, 60], ("newton", "refit"))):
            w = np.ones(100)
            w[rows] *= 1 - t
            ref = Ridge(alpha=1.0, solver="cholesky").fit(X, y, sample_weight=w)
            truth = np.r_[ref.coef_, ref.intercept_] - base
            for method in methods:
                c = est.influence(rows, method=method, fraction=t)
                err = np.abs(np.r_[c.coef, c.intercept] - truth).max()
                worst[method] = max(worst[method], err)
    print("reweighting (Ridge, t in {0.9, 0.5, 0.1, -0.5, -3}): max abs error",
          {k: f"{v:.1e}" for k, v in worst.items()})


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    loo_section()
    flip_section()
    fraction_section()
