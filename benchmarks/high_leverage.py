"""Accuracy of skrif at leverage close to 1 (issue 10, item 3): a before/after table.

Ground truth is independent of skrif:

* ``Ridge(alpha=1e-5)`` on ``make_regression(n_samples=10, n_features=50,
  random_state=0)`` (scikit-learn's RidgeCV test configuration): leverages and
  leave-one-out / leave-set-out parameters by exact refits in 50-digit arithmetic
  (mpmath: the normal equations of the augmented system solved in extended
  precision), and ``RidgeCV(alphas=[1e-5], store_cv_results=True)`` for comparison.
* ``n=100, p=1000, alpha=1e-4`` standard normal data: single-row ``newton`` against an
  exact float64 refit through the SVD of the (centred) kept rows.

Run (1 BLAS thread)::

    PYTHONPATH=. python benchmarks/high_leverage.py
"""

import warnings

import mpmath
import numpy as np
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge, RidgeCV
from threadpoolctl import threadpool_limits

from skrif import InfluenceEstimator

mpmath.mp.dps = 50


def _flat(change, fit_intercept):
    coef = np.ravel(change.coef)
    return np.concatenate([coef, np.ravel(change.intercept)]) if fit_intercept else coef


def _mp_ridge(X, y, alpha, fit_intercept, keep):
    """Exact ridge parameters (coef, intercept last) on rows ``keep``, 50 digits."""
    Xk = X[keep]
    yk = y[keep]
    n, p = Xk.shape
    cols = p + int(fit_intercept)
    A = mpmath.matrix(n, cols)
    for i in range(n):
        for j in range(p):
            A[i, j] = mpmath.mpf(float(Xk[i, j]))
        if fit_intercept:
            A[i, p] = 1
    H = A.T * A
    for j in range(p):
        H[j, j] += mpmath.mpf(alpha)
    b = A.T * mpmath.matrix([mpmath.mpf(float(v)) for v in yk])
    return mpmath.lu_solve(H, b), A, H


def _mp_leverage_complement(X, alpha, fit_intercept):
    """``1 − h_i`` in 50 digits (``h_i = x̃_iᵀ H⁻¹ x̃_i``, ``H = X̃ᵀX̃ + Λ``)."""
    n, p = X.shape
    _, A, H = _mp_ridge(X, np.zeros(n), alpha, fit_intercept, np.arange(n))
    Hinv = mpmath.inverse(H)
    out = []
    for i in range(n):
        row = A[i, :]
        out.append(1 - (row * Hinv * row.T)[0, 0])
    return np.array([float(v) for v in out])


def small_case(fit_intercept):
    X, y = make_regression(n_samples=10, n_features=50, random_state=0)
    alpha = 1e-5
    n = X.shape[0]
    est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=fit_intercept)).fit(X, y)
    full, _, _ = _mp_ridge(X, y, alpha, fit_intercept, np.arange(n))
    full_np = np.array([float(v) for v in full])
    one_minus_true = _mp_leverage_complement(X, alpha, fit_intercept)
    one_minus = 1.0 - est.leverages_
    err_h = np.max(np.abs(one_minus - one_minus_true) / one_minus_true)

    # Exact leave-one-out predictions and parameters (50 digits).
    loo_true = np.empty(n)
    deltas = []
    for i in range(n):
        keep = np.setdiff1d(np.arange(n), [i])
        th, _, _ = _mp_ridge(X, y, alpha, fit_intercept, keep)
        z = sum(mpmath.mpf(float(X[i, j])) * th[j] for j in range(X.shape[1]))
        if fit_intercept:
            z += th[X.shape[1]]
        loo_true[i] = float(z)
        deltas.append(np.array([float(th[j] - full[j]) for j in range(len(full))]))
    resid_true = y - loo_true
    loo = est.loo_predict()
    err_loo = np.max(np.abs((y - loo) - resid_true) / np.abs(resid_true))
    # The protocol's cancellation-free least-squares residuals (where available).
    hess = est._removal.curvature
    err_exact = np.nan
    if hasattr(hess, "exact_residuals"):
        rm = est._removal
        r = hess.exact_residuals(rm.problem.Y, rm.problem.linear_predictor(rm.theta))[:, 0]
        err_exact = np.max(np.abs(r / hess.one_minus_leverage - resid_true) / np.abs(resid_true))
    cv = RidgeCV(alphas=[alpha], store_cv_results=True, fit_intercept=fit_intercept).fit(X, y)
    resid_cv = np.sqrt(np.ravel(cv.cv_results_))
    err_cv = np.max(np.abs(resid_cv - np.abs(resid_true)) / np.abs(resid_true))

    err_newton = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n):
            d = _flat(est.influence([i], method="newton"), fit_intercept)
            err_newton = max(err_newton, np.linalg.norm(d - deltas[i]) / np.linalg.norm(deltas[i]))
    # The same through the protocol with d1 = −d (y − z) from the exact residuals.
    err_newton_exact = np.nan
    if hasattr(hess, "exact_residuals"):
        d1 = -hess.d[:, None] * hess.exact_residuals(
            est._removal.problem.Y, est._removal.problem.linear_predictor(est._removal.theta))
        err_newton_exact = 0.0
        for i in range(n):
            d = hess.set_change(np.array([i]), d1, est._removal.theta, "newton")[0]
            d = d if fit_intercept else d
            err_newton_exact = max(err_newton_exact,
                                   np.linalg.norm(d - deltas[i]) / np.linalg.norm(deltas[i]))
    err_set = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for T in ([0, 1], [2, 5, 7], [3, 4, 8, 9]):
            keep = np.setdiff1d(np.arange(n), T)
            th, _, _ = _mp_ridge(X, y, alpha, fit_intercept, keep)
            true = np.array([float(v) for v in th]) - full_np
            d = _flat(est.influence(T, method="newton"), fit_intercept)
            err_set = max(err_set, np.linalg.norm(d - true) / np.linalg.norm(true))
    return {
        "min(1-h)": one_minus_true.min(),
        "1-leverages_": err_h,
        "loo_predict": err_loo,
        "loo, exact residuals": err_exact,
        "RidgeCV (same metric)": err_cv,
        "newton, rows": err_newton,
        "newton, rows, exact d1": err_newton_exact,
        "newton, sets": err_set,
    }


def _svd_ridge(X, y, alpha, fit_intercept):
    if fit_intercept:
        xbar, ybar = X.mean(axis=0), y.mean()
        U, s, Vt = np.linalg.svd(X - xbar, full_matrices=False)
        w = Vt.T @ ((s / (s**2 + alpha)) * (U.T @ (y - ybar)))
        return np.append(w, ybar - xbar @ w)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    return Vt.T @ ((s / (s**2 + alpha)) * (U.T @ y))


def wide_case(fit_intercept, n_rows=8):
    rng = np.random.default_rng(0)
    n, p, alpha = 100, 1000, 1e-4
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=fit_intercept)).fit(X, y)
    full = _svd_ridge(X, y, alpha, fit_intercept)
    rows = np.argsort(est.leverages_)[::-1][:n_rows]
    err = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in rows:
            keep = np.setdiff1d(np.arange(n), [i])
            true = _svd_ridge(X[keep], y[keep], alpha, fit_intercept) - full
            d = _flat(est.influence([i], method="newton"), fit_intercept)
            err = max(err, np.linalg.norm(d - true) / np.linalg.norm(true))
    return {"min(1-h)": 1 - est.leverages_.max(), "newton, rows": err}


def main():
    with threadpool_limits(1):
        print("Ridge(alpha=1e-5), make_regression(10, 50, random_state=0): max relative error")
        for fi in (True, False):
            res = small_case(fi)
            print(f"  fit_intercept={fi}")
            for k, v in res.items():
                print(f"    {k:24s} {v:.2e}")
        print("Ridge(alpha=1e-4), n=100, p=1000 standard normal: newton (single rows) vs SVD refit")
        for fi in (True, False):
            res = wide_case(fi)
            print(f"  fit_intercept={fi}: min(1-h)={res['min(1-h)']:.2e}  "
                  f"newton rel. error={res['newton, rows']:.2e}")


if __name__ == "__main__":
    main()
