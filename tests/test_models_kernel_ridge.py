"""KernelRidge in the dual: every removal answer is exact (it is least squares).

Ground truth: scikit-learn's own KernelRidge refitted without the removed rows (a
Cholesky solve of the kept rows' system), compared on ``dual_coef_`` (the removed
rows' coefficients are 0) and on predictions.
"""

import warnings

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import rbf_kernel

from skrif import InfluenceEstimator
from skrif.exceptions import NotPositiveDefiniteError, UnsupportedModelError


def _data(n=40, p=4, seed=0, q=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    Y = np.column_stack([np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.normal(size=n) for _ in range(q)])
    Y[:, 1:] += X[:, 2:3]
    return X, (Y[:, 0] if q == 1 else Y), rng.uniform(0.5, 2.0, n)


def _refit_dual(model, X, y, idx, sample_weight=None, fraction=1.0):
    """scikit-learn's dual_coef_ without rows ``idx`` (zeros there), minus the full fit."""
    n = len(X)
    w = np.ones(n) if sample_weight is None else sample_weight.copy()
    full = KernelRidge(**model.get_params()).fit(X, y, sample_weight=sample_weight)
    w[idx] *= 1.0 - fraction
    keep = w > 0
    part = KernelRidge(**model.get_params()).fit(X[keep], y[keep], sample_weight=w[keep])
    out = np.zeros_like(full.dual_coef_)
    out[keep] = part.dual_coef_
    return out - full.dual_coef_, part, keep


KERNELS = [
    dict(kernel="linear", alpha=0.5),
    dict(kernel="poly", degree=2, alpha=0.5),
    dict(kernel="rbf", gamma=0.3, alpha=0.1),
    dict(kernel="laplacian", gamma=0.2, alpha=0.1),
    dict(kernel="cosine", alpha=0.05),
    dict(kernel="sigmoid", gamma=0.01, coef0=0.1, alpha=1.0),  # positive definite here
    dict(kernel=lambda a, b: np.exp(-np.abs(a - b).sum()), alpha=0.3),
]


@pytest.mark.parametrize("params", KERNELS, ids=lambda p: p["kernel"] if isinstance(p["kernel"], str) else "callable")
def test_every_method_is_the_exact_refit(params):
    X, y, s = _data()
    model = KernelRidge(**params)
    est = InfluenceEstimator(model).fit(X, y, sample_weight=s)
    for idx in ([3], [0, 5, 17, 30]):
        truth, *_ = _refit_dual(model, X, y, idx, s)
        methods = ("rif", "newton", "refit") if len(idx) == 1 else ("newton", "refit")
        for method in methods:
            got = est.influence(idx, method=method).coef
            assert np.linalg.norm(got - truth) <= 1e-8 * np.linalg.norm(truth), method
            assert np.all(np.abs(got[idx] + est.estimator_.dual_coef_[idx]) <= 1e-9 * np.abs(truth).max())


def test_multi_output_reweighting_and_evaluation_rows():
    X, Y, s = _data(q=2, seed=1)
    model = KernelRidge(kernel="rbf", gamma=0.3, alpha=0.2)
    est = InfluenceEstimator(model).fit(X, Y)
    truth, part, _ = _refit_dual(model, X, Y, [4, 9], fraction=0.5)
    got = est.influence([4, 9], method="newton", fraction=0.5).coef
    np.testing.assert_allclose(got, truth, rtol=0, atol=1e-9 * np.abs(truth).max())
    # Effects on predictions at new rows, one training row at a time (RIF exact).
    X_eval = X[:6] + 0.05
    scores = est.influence_scores(X_eval, target="predict")  # (n, m, q)
    for i in (2, 11):
        _, part, _ = _refit_dual(model, X, Y, [i])
        change = part.predict(X_eval) - est.estimator_.predict(X_eval)
        np.testing.assert_allclose(scores[i], change, rtol=1e-8, atol=1e-10 * np.abs(change).max())


def test_loo_predictions_match_brute_force_and_the_leverage_identity():
    X, y, s = _data(n=30, seed=2)
    model = KernelRidge(kernel="laplacian", gamma=0.5, alpha=1e-3)  # leverages near 1
    est = InfluenceEstimator(model).fit(X, y)
    assert est.leverages_.max() > 0.9
    loo = est.loo_predict()
    brute = np.array([_refit_dual(model, X, y, [i])[1].predict(X[i : i + 1])[0] for i in range(30)])
    np.testing.assert_allclose(loo, brute, rtol=1e-8, atol=1e-8 * np.abs(brute).max())
    # The closed form y_i − r_i / (1 − h_i), with 1 − h_i = λ [(K + λI)⁻¹]_ii.
    K = model.fit(X, y)._get_kernel(X)
    one_minus = 1e-3 * np.diag(np.linalg.inv(K + 1e-3 * np.eye(30)))
    np.testing.assert_allclose(est.leverages_, 1 - one_minus, rtol=1e-9, atol=1e-12)


def test_precomputed_kernel():
    X, y, _ = _data(seed=3)
    K = rbf_kernel(X, gamma=0.4)
    model = KernelRidge(kernel="precomputed", alpha=0.2)
    est = InfluenceEstimator(model).fit(K, y)
    truth = _refit_dual(KernelRidge(kernel="rbf", gamma=0.4, alpha=0.2), X, y, [7])[0]
    got = est.influence([7]).coef
    np.testing.assert_allclose(got, truth, rtol=0, atol=1e-9 * np.abs(truth).max())
    scores = est.influence_scores(rbf_kernel(X[:3] + 0.1, X, gamma=0.4), target="predict")
    assert scores.shape == (40, 3)


def test_refusals():
    X, y, _ = _data()
    with pytest.raises(UnsupportedModelError, match="alpha=0"):
        InfluenceEstimator(KernelRidge(alpha=0)).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="per-target alpha"):
        InfluenceEstimator(KernelRidge(alpha=np.array([1.0, 2.0]))).fit(X, np.column_stack([y, y]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scikit-learn's own lstsq fallback
        with pytest.raises(NotPositiveDefiniteError, match="saddle point"):
            InfluenceEstimator(KernelRidge(kernel="sigmoid", gamma=0.5, coef0=1.0, alpha=0.01)).fit(X, y)
    with pytest.raises(ValueError, match="dual coefficients"):
        InfluenceEstimator(KernelRidge()).fit(X, y).diagnostics()


@pytest.mark.parametrize("method", ["jackknife+", "cv+"])
def test_prediction_intervals_use_exact_leave_out_models(method):
    X, y, _ = _data(n=30, seed=4)
    model = KernelRidge(kernel="rbf", gamma=0.3, alpha=0.3)
    est = InfluenceEstimator(model).fit(X, y)
    X_new = X[:2] + 0.1
    got = est.predict_interval(X_new, alpha=0.2, method=method, cv=3 if method == "cv+" else None)
    # The same intervals from scikit-learn refits without each row (fold).
    folds = [np.array([i]) for i in range(30)] if method == "jackknife+" else np.array_split(np.arange(30), 3)
    scores, preds = np.empty(30), np.empty((30, 2))
    for rows in folds:
        _, part, _ = _refit_dual(model, X, y, rows)
        scores[rows] = np.abs(y[rows] - part.predict(X[rows]))
        preds[rows] = part.predict(X_new)
    k = int(np.ceil((1 - 0.2) * 31))
    lower = -np.sort(-(preds - scores[:, None]), axis=0)[k - 1]
    upper = np.sort(preds + scores[:, None], axis=0)[k - 1]
    np.testing.assert_allclose(got, np.column_stack([lower, upper]), rtol=1e-8)
