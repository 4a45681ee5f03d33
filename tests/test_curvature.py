"""The factored Hessian: primal = dual = a dense reference; Woodbury = refactoring."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from skrif._linalg.design import AugmentedDesign
from skrif._removal.dual import factor_curvature
from skrif.exceptions import NotPositiveDefiniteError


def dense_reference(X, d, lam_w, lam_b, fit_intercept):
    Xt = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X
    pen = np.full(Xt.shape[1], lam_w)
    if fit_intercept:
        pen[-1] = lam_b
    H = Xt.T @ (d[:, None] * Xt) + np.diag(pen)
    lev = d * np.einsum("ij,ji->i", Xt, np.linalg.solve(H, Xt.T))
    return Xt, H, lev


def problem(seed, n, p, fit_intercept, penalised_intercept, sparse):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * (rng.uniform(size=(n, p)) < 0.6)
    d = rng.uniform(0.0, 2.0, size=n)
    d[rng.uniform(size=n) < 0.1] = 0.0  # rows without curvature are legal
    lam_w = float(rng.uniform(0.1, 3.0))
    lam_b = float(rng.uniform(0.1, 3.0)) if penalised_intercept else 0.0
    Xs = sp.csr_matrix(X) if sparse else X
    return X, Xs, d, lam_w, lam_b


shapes = st.tuples(
    st.integers(0, 10_000),  # seed
    st.integers(4, 25),  # n
    st.integers(1, 40),  # p
    st.booleans(),  # fit_intercept
    st.booleans(),  # penalised intercept
    st.booleans(),  # sparse
)


@settings(max_examples=40, deadline=None)
@given(shapes, st.sampled_from(["primal", "dual"]))
def test_solve_and_leverages_match_dense_reference(args, mode):
    seed, n, p, fi, pen_b, sparse = args
    X, Xs, d, lam_w, lam_b = problem(seed, n, p, fi, pen_b, sparse)
    Xt, H, lev = dense_reference(X, d, lam_w, lam_b, fi)
    if fi and not pen_b and d.sum() == 0:
        return  # intercept undetermined: covered separately
    curv = factor_curvature(AugmentedDesign(Xs, fi), d, lam_w, lam_b, mode=mode)
    G = np.random.default_rng(seed + 1).normal(size=(Xt.shape[1], 3))
    np.testing.assert_allclose(curv.solve(G), np.linalg.solve(H, G), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(curv.leverages, lev, rtol=1e-8, atol=1e-10)
    idx = np.arange(0, n, 3)
    np.testing.assert_allclose(
        curv.inner(idx), Xt[idx] @ np.linalg.solve(H, Xt[idx].T), rtol=1e-8, atol=1e-10
    )
    assert np.all(curv.leverages >= -1e-12) and np.all(curv.leverages <= 1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(shapes, st.sampled_from(["primal", "dual"]), st.integers(1, 4))
def test_woodbury_leave_T_out_equals_refactoring(args, mode, k):
    seed, n, p, fi, pen_b, sparse = args
    X, Xs, d, lam_w, lam_b = problem(seed, n, p, fi, pen_b, sparse)
    if fi and not pen_b and d.sum() == 0:
        return
    Xt, H, _ = dense_reference(X, d, lam_w, lam_b, fi)
    idx = np.random.default_rng(seed).choice(n, size=min(k, n - 1), replace=False)
    H_minus = H - Xt[idx].T @ (d[idx, None] * Xt[idx])
    curv = factor_curvature(AugmentedDesign(Xs, fi), d, lam_w, lam_b, mode=mode)
    R = np.random.default_rng(seed + 2).normal(size=(Xt.shape[1], 2))
    if np.linalg.eigvalsh(H_minus).min() <= 1e-9 * np.abs(H).max():
        with pytest.raises(NotPositiveDefiniteError):
            curv.solve_without(idx, R)
        return
    np.testing.assert_allclose(
        curv.solve_without(idx, R), np.linalg.solve(H_minus, R), rtol=1e-7, atol=1e-9
    )


def test_auto_mode_uses_dual_when_wide_and_penalised(rng):
    X = rng.normal(size=(10, 30))
    d = np.ones(10)
    assert type(factor_curvature(AugmentedDesign(X, True), d, 1.0, 0.0)).__name__ == "DualCurvature"
    assert type(factor_curvature(AugmentedDesign(X, True), d, 0.0, 0.0)).__name__ == "PrimalCurvature"
    assert type(factor_curvature(AugmentedDesign(X.T, True), np.ones(30), 1.0, 0.0)).__name__ == (
        "PrimalCurvature"
    )


def test_singular_hessian_uses_pseudo_inverse(rng):
    X = rng.normal(size=(20, 3))
    X = np.hstack([X, X[:, :1]])  # duplicated column: rank 3 of 4 (+ intercept)
    d = np.full(20, 2.0)
    curv = factor_curvature(AugmentedDesign(X, True), d, 0.0, 0.0)
    Xt = np.hstack([X, np.ones((20, 1))])
    H = Xt.T @ (d[:, None] * Xt)
    assert curv.singular and curv.rank == 4
    G = Xt.T @ rng.normal(size=(20, 2))  # in the range of H
    np.testing.assert_allclose(curv.solve(G), np.linalg.pinv(H) @ G, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(
        curv.leverages, d * np.einsum("ij,ji->i", Xt, np.linalg.pinv(H) @ Xt.T), atol=1e-10
    )


def test_design_products_never_form_augmented_matrix(rng):
    X = sp.random(50, 8, density=0.3, format="csr", random_state=0)
    design = AugmentedDesign(X, True)
    Xt = np.hstack([X.toarray(), np.ones((50, 1))])
    V = rng.normal(size=(9, 2))
    R = rng.normal(size=(50, 2))
    d = rng.uniform(size=50)
    np.testing.assert_allclose(design.matvec(V), Xt @ V)
    np.testing.assert_allclose(design.rmatvec(R), Xt.T @ R)
    np.testing.assert_allclose(design.weighted_gram(d), Xt.T @ (d[:, None] * Xt))
    np.testing.assert_allclose(design.rows([3, 7]), Xt[[3, 7]])
    assert sp.issparse(design.X)


def _svd_ridge(X, y, alpha):
    """Ridge without intercept by the SVD of X (independent of skrif)."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    return Vt.T @ ((s / (s**2 + alpha)) * (U.T @ y))


def test_dual_group_step_near_leverage_one_against_svd_refits():
    # p ≫ n with a tiny penalty: leverages within 1e-7 of 1. The group step's
    # capacitance is inverted there (≈ 1/(1 − h)), so the set's inner products must
    # come from the exact capacitance, not from kernel rows (those left 6e-9).
    import warnings

    from sklearn.linear_model import Ridge

    from skrif import InfluenceEstimator

    rng = np.random.default_rng(0)
    n, p, alpha = 100, 1000, 1e-4
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=False)).fit(X, y)
    assert est._fitted_removal().curvature.form == "dual"
    assert 1 - est.leverages_.max() < 1e-7
    full = _svd_ridge(X, y, alpha)
    top = np.argsort(est.leverages_)[::-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rows in ([top[0]], [top[1]], list(top[:3])):
            keep = np.setdiff1d(np.arange(n), rows)
            true = _svd_ridge(X[keep], y[keep], alpha) - full
            got = est.influence(rows, method="newton").coef.ravel()
            assert np.linalg.norm(got - true) <= 1e-11 * np.linalg.norm(true), rows
