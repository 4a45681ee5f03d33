"""Accuracy of skrif's parameter changes against independent ground truth.

Run: ``.venv/bin/python benchmarks/core_accuracy.py``. Prints, over seeded random
problems (p < n and p > n, with/without intercept and weights), the worst relative
error ``‖Δ_skrif − Δ_true‖ / ‖Δ_true‖`` of

* Ridge RIF (one row) and group Newton (5 rows) vs exact scikit-learn refits
  (``solver="cholesky"``);
* logistic RIF vs one Newton step on the leave-one-out objective written out in numpy;
* unpenalised logistic RIF vs statsmodels ``GLMInfluence.d_params``;
* logistic IF, RIF, group Newton and refit vs scikit-learn newton-cholesky refits
  (tol=1e-14) on an overparameterized planted-logistic problem (p > n).
"""

import warnings

import numpy as np
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression, Ridge

from skrif import InfluenceEstimator


def flat(coef, intercept):
    return np.concatenate([np.ravel(coef), np.ravel(intercept)])


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def ridge_errors(n_problems=40):
    worst = {"rif": 0.0, "newton": 0.0}
    for seed in range(n_problems):
        rng = np.random.default_rng(seed)
        n, p = int(rng.integers(10, 60)), int(rng.integers(2, 90))
        fi = bool(seed % 2)
        X = rng.normal(size=(n, p)) + rng.normal(size=p)
        y = X @ rng.normal(size=p) + rng.normal(size=n) + 1.0
        s = rng.uniform(0.3, 3, size=n) if seed % 3 else None
        alpha = float(10 ** rng.uniform(-2, 1))
        est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=fi)).fit(X, y, sample_weight=s)
        full = flat(est.estimator_.coef_, est.estimator_.intercept_)
        for method, T in (("rif", rng.choice(n, 1)), ("newton", rng.choice(n, 5, replace=False))):
            keep = np.ones(n, bool)
            keep[T] = False
            ref = Ridge(alpha=alpha, fit_intercept=fi, solver="cholesky").fit(
                X[keep], y[keep], sample_weight=None if s is None else s[keep]
            )
            change = est.influence(T, method=method)
            worst[method] = max(
                worst[method],
                rel(flat(change.coef, change.intercept), flat(ref.coef_, ref.intercept_) - full),
            )
    return worst


def logistic_newton_step_error(n_problems=20):
    worst = 0.0
    for seed in range(n_problems):
        rng = np.random.default_rng(seed)
        n, p = int(rng.integers(30, 80)), int(rng.integers(2, 120))
        X = rng.normal(size=(n, p))
        y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
        C = float(10 ** rng.uniform(-1, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = InfluenceEstimator(LogisticRegression(C=C)).fit(X, y)
        th = flat(est.estimator_.coef_, est.estimator_.intercept_)
        Z = np.hstack([X, np.ones((n, 1))])
        for i in rng.choice(n, 3, replace=False):
            keep = np.arange(n) != i
            prob = 1 / (1 + np.exp(-(Z[keep] @ th)))
            pen = np.r_[np.ones(p), 0.0]
            grad = C * Z[keep].T @ (prob - y[keep]) + pen * th
            hess = C * Z[keep].T @ ((prob * (1 - prob))[:, None] * Z[keep]) + np.diag(pen)
            step = -np.linalg.solve(hess, grad)
            change = est.influence([i])
            worst = max(worst, rel(flat(change.coef, change.intercept), step))
    return worst


def statsmodels_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X @ rng.normal(size=5) + rng.normal(size=300) > 0).astype(int)
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    est = InfluenceEstimator(model).fit(X, y)
    d = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-14)
    d = d.get_influence().d_params
    expected = -np.hstack([d[:, 1:], d[:, :1]])
    ours = np.array([flat(c.coef, c.intercept) for c in (est.influence([i]) for i in range(300))])
    return float(np.max(np.abs(ours - expected)) / np.max(np.abs(expected)))


def overparameterized_logistic():
    rng = np.random.default_rng(1)
    n, p = 200, 400
    s = np.arange(1, p + 1) ** -0.5
    s *= 10 / np.linalg.norm(s)
    X = rng.normal(size=(n, p)) * s
    w = rng.normal(size=p) * s
    w *= 6 / np.std(X @ w)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ w + 0.3)))).astype(int)
    model = LogisticRegression(C=1 / (0.022 * n), solver="newton-cholesky", tol=1e-12, max_iter=500)
    est = InfluenceEstimator(model).fit(X, y)
    full = flat(est.estimator_.coef_, est.estimator_.intercept_)
    errors = {m: [] for m in ("if", "rif", "newton", "refit")}
    for size in (1, 2, 5, 10):
        for _ in range(3):
            T = rng.choice(n, size, replace=False)
            keep = np.ones(n, bool)
            keep[T] = False
            ref = LogisticRegression(
                C=model.C, solver="newton-cholesky", tol=1e-14, max_iter=1000
            ).fit(X[keep], y[keep])
            true = flat(ref.coef_, ref.intercept_) - full
            for m in errors:
                c = est.influence(T, method=m)
                errors[m].append(rel(flat(c.coef, c.intercept), true))
    return {m: (float(np.median(v)), float(np.max(v))) for m, v in errors.items()}


def main():
    ridge = ridge_errors()
    print("| check | worst relative error |")
    print("|---|---|")
    print(f"| Ridge RIF (1 row) vs exact refit, 40 problems incl. p > n | {ridge['rif']:.1e} |")
    print(f"| Ridge group Newton (5 rows) vs exact refit | {ridge['newton']:.1e} |")
    print(f"| Logistic RIF vs one exact Newton step (numpy), 60 rows | {logistic_newton_step_error():.1e} |")
    print(f"| Unpenalised logistic RIF vs statsmodels d_params, 300 rows | {statsmodels_error():.1e} |")
    print("\nOverparameterized logistic (n=200, p=400, λ=0.022 on the mean loss), vs sklearn refits:")
    print("| method | median rel. error | max rel. error |")
    print("|---|---|---|")
    for m, (med, mx) in overparameterized_logistic().items():
        print(f"| {m} | {med:.2g} | {mx:.2g} |")


if __name__ == "__main__":
    main()
