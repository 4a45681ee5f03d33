"""The performance paths (symmetric updates, in-place factorizations, lazy leverages,
row products that do not densify) against dense references computed independently."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from skrif._linalg.centered import CenteredDesign
from skrif._linalg.design import AugmentedDesign
from skrif._removal.dual import factor_curvature


def _data(seed, n, p, sparse):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * (rng.uniform(size=(n, p)) < 0.5) + rng.normal(size=p)
    d = rng.uniform(0.0, 2.0, size=n)
    d[rng.uniform(size=n) < 0.15] = 0.0
    return X, (sp.csr_matrix(X) if sparse else X), d


def _reference(X, d, lam_w, lam_b, fit_intercept):
    Xt = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X
    pen = np.full(Xt.shape[1], lam_w)
    if fit_intercept:
        pen[-1] = lam_b
    H = Xt.T @ (d[:, None] * Xt) + np.diag(pen)
    quad = np.einsum("ij,ji->i", Xt, np.linalg.solve(H, Xt.T))
    return quad


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(3, 20),
    st.integers(1, 30),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["primal", "dual"]),
)
def test_self_quadratic_and_lazy_leverages(seed, n, p, fit_intercept, pen_b, sparse, mode):
    X, Xs, d = _data(seed, n, p, sparse)
    if fit_intercept and not pen_b and d.sum() == 0:
        return
    lam_b = 0.7 if pen_b else 0.0
    curv = factor_curvature(AugmentedDesign(Xs, fit_intercept), d, 1.3, lam_b, mode=mode)
    quad = _reference(X, d, 1.3, lam_b, fit_intercept)
    np.testing.assert_allclose(curv.self_quadratic(), quad, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(curv.one_minus_leverage, 1.0 - d * quad, rtol=1e-7, atol=1e-9)
    # Cached, and assignable (subclasses may set it).
    assert curv.one_minus_leverage is curv.one_minus_leverage
    curv.one_minus_leverage = np.zeros(n)
    assert np.all(curv.leverages == 1.0)


@pytest.mark.parametrize("n, p", [(40, 7), (300, 60)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_gram_symmetric_update(n, p, fit_intercept):
    rng = np.random.default_rng(n + p)
    X = rng.normal(size=(n, p)) + 5.0
    X_before = X.copy()
    d = rng.uniform(size=n)
    design = AugmentedDesign(X, fit_intercept)
    Xt = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    G = design.weighted_gram(d)
    np.testing.assert_allclose(G, Xt.T @ (d[:, None] * Xt), rtol=1e-12, atol=1e-10)
    assert np.array_equal(G, G.T)
    shift = (d @ X) / d.sum()
    Gc = CenteredDesign(X, shift).weighted_gram(d)
    Xc = X - shift
    np.testing.assert_allclose(Gc, Xc.T @ (d[:, None] * Xc), rtol=1e-12, atol=1e-10)
    assert np.array_equal(Gc, Gc.T)
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_row_products_and_kernel_rows(sparse, fit_intercept):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 12)) * (rng.uniform(size=(30, 12)) < 0.4)
    Xt = np.hstack([X, np.ones((30, 1))]) if fit_intercept else X
    design = AugmentedDesign(sp.csr_matrix(X) if sparse else X, fit_intercept)
    idx = np.array([4, 0, 17])
    V = rng.normal(size=(design.n_params, 2))
    R = rng.normal(size=(3, 2))
    np.testing.assert_allclose(design.rows_matvec(idx, V), Xt[idx] @ V)
    np.testing.assert_allclose(design.rows_rmatvec(idx, R), Xt[idx].T @ R)
    pen = np.full(design.n_params, 2.0)
    if fit_intercept:
        pen[-1] = 4.0
    K = Xt @ (Xt.T / pen[:, None])
    np.testing.assert_allclose(design.kernel(0.5, 0.25 if fit_intercept else 0), K)
    np.testing.assert_allclose(design.kernel_rows(idx, 0.5, 0.25 if fit_intercept else 0), K[idx])


@pytest.mark.parametrize("sparse", [False, True])
def test_centered_kernel_rows_match_kernel(sparse):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(25, 9)) * (rng.uniform(size=(25, 9)) < 0.5) + 3.0
    shift = rng.normal(size=9)
    design = CenteredDesign(sp.csr_matrix(X) if sparse else X, shift)
    Xc = X - shift
    K = Xc @ Xc.T * 0.5
    idx = np.array([3, 24, 0])
    np.testing.assert_allclose(design.kernel(0.5), K, atol=1e-10)
    np.testing.assert_allclose(design.kernel_rows(idx, 0.5), K[idx], atol=1e-10)
