"""Multinomial LogisticRegression (K ≥ 3): coupled per-row Hessian blocks.

Independent ground truths: the leave-one-out objective
``C Σ_{i≠j} s_i [logsumexp(z_i) − z_{i,y_i}] + ½‖W‖²`` (MODELS.md) differentiated here
with its full (K p̃) × (K p̃) Hessian and solved with a pseudo-inverse (the intercept
null space), and scikit-learn ``newton-cholesky`` refits at tol=1e-14.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from skrif import InfluenceEstimator
from skrif.exceptions import OptimalityWarning

# These tests check additive (IF/RIF) answers for sets on purpose; the
# SetInteractionWarning such answers raise is tested in test_groups.py.
ADDITIVE_SETS = "ignore::skrif.exceptions.SetInteractionWarning"


def _data(n=60, p=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    logits = X @ rng.normal(size=(p, K))
    y = np.array([rng.choice(K, p=q) for q in softmax(logits, axis=1)])
    y[:K] = np.arange(K)
    sw = rng.uniform(0.5, 2.0, size=n)
    return X, np.array(list("abcdef"))[y], sw


def _model(C=1.0, fit_intercept=True, **kw):
    return LogisticRegression(
        C=C, fit_intercept=fit_intercept, solver="newton-cholesky", tol=1e-12, **kw
    )


def _theta(model):
    coef = model.coef_
    if not model.fit_intercept:
        return coef.copy()
    return np.hstack([coef, model.intercept_[:, None]])


def _loo_newton_step(model, X, y, sw, j, C):
    """One Newton step on J_{-j} from θ̂, with the pseudo-inverse of its Hessian."""
    fit_intercept = model.fit_intercept
    Xt = np.hstack([X, np.ones((len(y), 1))]) if fit_intercept else X
    theta = _theta(model)
    K, pt = theta.shape
    P = softmax(Xt @ theta.T, axis=1)
    Y = (y[:, None] == model.classes_[None, :]).astype(float)
    s = sw * (np.arange(len(y)) != j)
    scale, lam = (1.0, 0.0) if np.isinf(C) else (C, 1.0)
    pen = np.full(pt, lam)
    if fit_intercept:
        pen[-1] = 0.0
    grad = scale * ((s[:, None] * (P - Y)).T @ Xt) + pen * theta  # (K, pt)
    H = np.zeros((K * pt, K * pt))
    for i in range(len(y)):
        A = scale * s[i] * (np.diag(P[i]) - np.outer(P[i], P[i]))
        H += np.kron(A, np.outer(Xt[i], Xt[i]))
    H += np.diag(np.tile(pen, K))
    return -(np.linalg.pinv(H, rcond=1e-10, hermitian=True) @ grad.ravel()).reshape(K, pt)


def _flat(change, fit_intercept):
    if not fit_intercept:
        return change.coef
    return np.hstack([change.coef, np.asarray(change.intercept)[:, None]])


@pytest.mark.parametrize("K", [3, 4])
@pytest.mark.parametrize("C", [0.5, np.inf])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_rif_is_one_newton_step_on_leave_one_out(K, C, fit_intercept):
    X, y, sw = _data(K=K)
    est = InfluenceEstimator(_model(C, fit_intercept)).fit(X, y, sample_weight=sw)
    for j in [0, 9, 33]:
        change = est.influence([j])
        assert change.coef.shape == (K, X.shape[1])
        assert np.shape(change.intercept) == (K,)
        step = _loo_newton_step(est.estimator_, X, y, sw, j, C)
        got = _flat(change, fit_intercept)
        np.testing.assert_allclose(got, step, rtol=1e-8, atol=1e-10 * np.abs(step).max())
        # The one-row group Newton step is the same step.
        newton = _flat(est.influence([j], method="newton"), fit_intercept)
        np.testing.assert_allclose(newton, step, rtol=1e-8, atol=1e-10 * np.abs(step).max())


@pytest.mark.filterwarnings(ADDITIVE_SETS)
@pytest.mark.parametrize("C", [1.0, np.inf])
def test_refit_matches_sklearn_symmetric_solution(C):
    X, y, sw = _data(n=70)
    est = InfluenceEstimator(_model(C)).fit(X, y, sample_weight=sw)
    rows = [4, 10, 50]
    keep = np.setdiff1d(np.arange(len(y)), rows)
    ref = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    ref.fit(X[keep], y[keep], sample_weight=sw[keep])
    exact = _theta(ref) - _theta(est.estimator_)
    refit = _flat(est.influence(rows, method="refit"), True)
    np.testing.assert_allclose(refit, exact, atol=1e-9)
    for method in ("if", "rif", "newton"):
        change = est.influence(rows, method=method)
        # Symmetric parametrization: the changes sum to zero over classes.
        np.testing.assert_allclose(change.coef.sum(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(np.sum(change.intercept), 0.0, atol=1e-12)
        err = np.linalg.norm(_flat(change, True) - exact) / np.linalg.norm(exact)
        assert err < 0.3, (method, err)


def test_default_lbfgs_is_polished_and_weight_zero_equals_removal():
    X, y, sw = _data()
    with pytest.warns(OptimalityWarning, match="polished"):
        est = InfluenceEstimator(LogisticRegression()).fit(X, y)
    sw0 = np.ones(len(y))
    sw0[6] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zero = InfluenceEstimator(LogisticRegression()).fit(X, y, sample_weight=sw0)
    # Ground truth: scikit-learn's own tight fits, with row 6 dropped and with weight 0.
    full = LogisticRegression(solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(_theta(est.estimator_), _theta(full), atol=1e-9)
    ref = LogisticRegression(solver="newton-cholesky", tol=1e-14, max_iter=1000)
    ref.fit(X, y, sample_weight=sw0)
    dropped = LogisticRegression(solver="newton-cholesky", tol=1e-14, max_iter=1000)
    dropped.fit(np.delete(X, 6, axis=0), np.delete(y, 6))
    np.testing.assert_allclose(_theta(ref), _theta(dropped), atol=1e-9)
    removed = _theta(est.estimator_) + _flat(est.influence([6], method="refit"), True)
    np.testing.assert_allclose(removed, _theta(ref), atol=1e-9)
    np.testing.assert_allclose(_theta(zero.estimator_), _theta(ref), atol=1e-9)


def test_rif_closer_than_if_overparameterized():
    X, y, _ = _data(n=40, p=25, K=3, seed=2)
    est = InfluenceEstimator(_model(C=1.0)).fit(X, y)
    for j in range(6):
        exact = _flat(est.influence([j], method="refit"), True)
        rif_err = np.linalg.norm(_flat(est.influence([j]), True) - exact)
        if_err = np.linalg.norm(_flat(est.influence([j], method="if"), True) - exact)
        assert rif_err < if_err


def test_class_weight_dict_and_removing_a_whole_class():
    X, y, _ = _data()
    est = InfluenceEstimator(_model(class_weight={"a": 3.0})).fit(X, y)
    keep = np.arange(len(y)) != 3
    ref = LogisticRegression(class_weight={"a": 3.0}, solver="newton-cholesky", tol=1e-14)
    ref.fit(X[keep], y[keep])
    exact = _theta(ref) - _theta(est.estimator_)
    np.testing.assert_allclose(
        _flat(est.influence([3], method="refit"), True), exact, atol=1e-9
    )
    with pytest.raises(ValueError, match="no training row of class"):
        est.influence(np.flatnonzero(y == "b"))


def test_leverages_and_classifier_interface():
    X, y, _ = _data()
    est = InfluenceEstimator(_model()).fit(X, y)
    assert est.leverages_.shape == (len(y),)
    assert np.all((est.leverages_ >= 0) & (est.leverages_ <= 1))
    assert np.all(est.rescale_factors_ >= 1)
    np.testing.assert_allclose(est.predict_proba(X), est.estimator_.predict_proba(X))


_PROPERTY_EST = {}


def _property_estimator():
    if not _PROPERTY_EST:
        X, y, sw = _data(n=50, p=3, K=4, seed=5)
        _PROPERTY_EST["est"] = InfluenceEstimator(_model(C=2.0)).fit(X, y, sample_weight=sw)
    return _PROPERTY_EST["est"]


@pytest.mark.filterwarnings(ADDITIVE_SETS)
@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.integers(0, 49), min_size=1, max_size=6, unique=True))
def test_property_rif_additive_and_symmetric(rows):
    est = _property_estimator()
    change = est.influence(rows)
    singles = [est.influence([r]) for r in rows]
    np.testing.assert_allclose(change.coef, sum(c.coef for c in singles), atol=1e-12)
    np.testing.assert_allclose(change.intercept, sum(c.intercept for c in singles), atol=1e-12)
    np.testing.assert_allclose(change.coef.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sum(change.intercept), 0.0, atol=1e-12)


def test_sparse_input_gives_the_dense_answers():
    X, y, sw = _data()
    X[np.abs(X) < 0.7] = 0.0
    dense = InfluenceEstimator(_model()).fit(X, y, sample_weight=sw)
    sparse = InfluenceEstimator(_model()).fit(sp.csr_matrix(X), y, sample_weight=sw)
    for method in ("if", "rif", "newton", "refit"):
        np.testing.assert_allclose(
            sparse.influence([1, 4], method=method).coef,
            dense.influence([1, 4], method=method).coef,
            atol=1e-12,
        )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_dual_form_matches_primal_and_newton_step(fit_intercept, sparse):
    # p̃ > n: the dual (nK × nK) form is used; it must give the primal answers.
    from skrif._removal.block import BlockCurvature, DualBlockCurvature

    X, y, sw = _data(n=30, p=45, K=3, seed=4)
    Xin = sp.csr_matrix(X) if sparse else X
    est = InfluenceEstimator(_model(C=0.7, fit_intercept=fit_intercept)).fit(
        Xin, y, sample_weight=sw
    )
    rm = est._removal
    dual = rm.curvature
    assert isinstance(dual, DualBlockCurvature)
    primal = BlockCurvature(dual.design, dual.A, 1.0, 0.0)
    np.testing.assert_allclose(dual.one_minus_leverage, primal.one_minus_leverage, atol=1e-12)
    rows = np.array([2, 9, 17])
    for method in ("if", "rif", "newton"):
        got = dual.set_change(rows, rm.d1, rm.theta, method)
        want = primal.set_change(rows, rm.d1, rm.theta, method)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())
    for j in [0, 11]:
        step = _loo_newton_step(est.estimator_, X, y, sw, j, 0.7)
        got = _flat(est.influence([j]), fit_intercept)
        np.testing.assert_allclose(got, step, rtol=1e-8, atol=1e-10 * np.abs(step).max())


@pytest.mark.filterwarnings("ignore")  # scikit-learn's own solver struggles here
@pytest.mark.parametrize("shape", [(80, 4), (30, 45)], ids=["primal", "dual"])
def test_large_column_means_lose_no_digits(shape):
    # Shifting every column by 1e3 leaves the coefficient changes unchanged and moves
    # the intercept changes by −1e3 Σ_j Δw_kj (translation equivariance); the shifted
    # problem is singular to working precision in raw coordinates.
    n, p = shape
    X, y, sw = _data(n=n, p=p, seed=3)
    base = InfluenceEstimator(_model()).fit(X, y, sample_weight=sw)
    shifted = InfluenceEstimator(_model()).fit(X + 1e3, y, sample_weight=sw)
    for method in ("rif", "newton"):
        want = base.influence([3, 4], method=method)
        got = shifted.influence([3, 4], method=method)
        scale = np.abs(want.coef).max()
        np.testing.assert_allclose(got.coef, want.coef, atol=1e-9 * scale)
        np.testing.assert_allclose(
            got.intercept, want.intercept - 1e3 * want.coef.sum(axis=1), atol=1e-5 * scale
        )
