"""The shared linear-algebra layer (skrif._linalg) and scale-invariant rank decisions.

Includes the regressions of issue 17 item A: a column scaled ×1e7 (or ×1e6) next to
unit-scale columns is not a singular Hessian; attributions match independent
closed-form / Newton refits computed in column-scaled coordinates.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from skrif import InfluenceEstimator
from skrif._linalg.factor import SPDFactor, shift_null_space
from skrif._linalg.woodbury import capacitance_coefficients, check_capacitance
from skrif.exceptions import (
    NotPositiveDefiniteError,
    OptimalityWarning,
    SingularHessianWarning,
)

from .conftest import scaled_multinomial_case


def _spd(p, seed=0):
    A = np.random.default_rng(seed).standard_normal((3 * p, p))
    return A.T @ A


@pytest.mark.parametrize("scale", [1.0, 1e7, 1e-7])
def test_rank_is_scale_invariant(scale):
    S = _spd(4)
    D = np.diag([scale, 1.0, 1.0, 1.0])
    Ss = D @ S @ D
    f = SPDFactor(Ss.copy())
    assert f.rank == 4 and not f.singular and f.chol is not None
    G = np.eye(4)
    np.testing.assert_allclose(f.solve(G), np.linalg.inv(Ss), rtol=1e-8)


@pytest.mark.parametrize("scale", [1.0, 1e7])
def test_true_singularity_found_at_any_scale(scale):
    A = np.random.default_rng(1).standard_normal((20, 3))
    A = np.hstack([A, A[:, :1]])  # duplicated column: rank 3
    A[:, 1] *= scale
    S = A.T @ A
    f = SPDFactor(S.copy())
    assert f.rank == 3 and f.singular
    # The pseudo-inverse still solves consistent systems: S x = g for g in range(S).
    g = S @ np.array([1.0, 2.0, -1.0, 0.5])
    np.testing.assert_allclose(S @ f.solve(g), g, rtol=1e-8, atol=1e-8 * np.abs(g).max())


def test_penalised_is_never_singular():
    # Eigenvalues 1e14 apart, but every coefficient carries a penalty.
    S = np.diag([1e14, 1.0, 1e-3])
    S[np.diag_indices(3)] += 1e-4
    f = SPDFactor(S.copy(), penalised=True)
    assert f.rank == 3 and not f.singular


def test_not_psd_is_refused():
    S = np.diag([1.0, -1.0, 2.0])
    with pytest.raises(NotPositiveDefiniteError, match="not positive semi-definite"):
        SPDFactor(S, check_psd=True)


def test_capacitance_check_and_coefficients():
    with pytest.raises(NotPositiveDefiniteError, match="do not determine every parameter"):
        check_capacitance(np.array([[1.0, 1.0], [1.0, 1.0]]))
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 5))
    H = _spd(5) + np.eye(5)
    M = X @ np.linalg.solve(H, X.T)
    d = np.array([0.5, 0.0, 2.0])  # a row without curvature included
    root = np.sqrt(d)
    coeffs = rng.standard_normal((3, 2))
    for t in (1.0, 0.5, -1.0):
        C = np.eye(3) - t * root[:, None] * M * root[None, :]
        got = capacitance_coefficients(C, root, M, coeffs, t)
        want = np.linalg.solve(np.eye(3) - t * d[:, None] * M, coeffs)
        np.testing.assert_allclose(got, want, rtol=1e-12)


# -- issue 17 A: scale mistaken for singularity ---------------------------------


def _scaled_data(scale, seed=0, n=40):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    X[:, 0] *= scale
    y = X @ np.array([1.0 / scale, 1.0, -2.0]) + 0.5 * rng.standard_normal(n)
    return X, y


def _closed_form_ls(X, y, alpha):
    """Least squares / ridge with an unpenalised intercept, solved in column-scaled
    coordinates (β_j = s_j w_j) so the ×1e7 column costs no digits."""
    s = X.std(axis=0)
    Xc = (X - X.mean(axis=0)) / s
    A = Xc.T @ Xc + alpha * np.diag(1.0 / s**2)
    beta = np.linalg.solve(A, Xc.T @ (y - y.mean()))
    w = beta / s
    return np.append(w, y.mean() - X.mean(axis=0) @ w)


def _newton_logistic(X, y, C, iters=100):
    """Binary L2 logistic regression by Newton's method in column-scaled coordinates."""
    s = X.std(axis=0)
    Z = np.hstack([X / s, np.ones((len(y), 1))])
    pen = np.append(1.0 / s**2, 0.0)  # ½‖w‖² = ½ Σ (β_j / s_j)²
    b = np.zeros(Z.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-Z @ b))
        g = C * Z.T @ (p - y) + pen * b
        H = C * (Z.T * (p * (1 - p))) @ Z + np.diag(pen)
        step = np.linalg.solve(H, g)
        b -= step
        if np.linalg.norm(step) < 1e-15 * max(1.0, np.linalg.norm(b)):
            break
    return np.append(b[:-1] / s, b[-1])


def _fit_quiet(model, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=OptimalityWarning)
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        est = InfluenceEstimator(model).fit(X, y)
    assert not [w for w in caught if issubclass(w.category, SingularHessianWarning)]
    return est


def _vec(change):
    return np.append(np.ravel(change.coef), np.ravel(change.intercept))


@pytest.mark.parametrize("model, scale", [(Ridge(alpha=1.0), 1e7), (LinearRegression(), 1e6),
                                          (LinearRegression(), 1e7)])
def test_scaled_column_least_squares(model, scale):
    X, y = _scaled_data(scale)
    est = _fit_quiet(model, X, y)
    assert est.hessian_rank_ == 4
    alpha = getattr(model, "alpha", 0.0)
    full = _closed_form_ls(X, y, alpha)
    for i in (3, 17):
        keep = np.arange(len(y)) != i
        true = _closed_form_ls(X[keep], y[keep], alpha) - full
        for method in ("rif", "newton", "refit"):
            got = _vec(est.influence([i], method=method))
            np.testing.assert_allclose(got, true, rtol=1e-7, atol=0)


def test_scaled_column_logistic():
    X, y = _scaled_data(1e7)
    y = (y > 0).astype(int)
    est = _fit_quiet(LogisticRegression(C=1.0, max_iter=2000), X, y)
    assert est.hessian_rank_ == 4
    full = _newton_logistic(X, y, 1.0)
    fitted = np.append(est.estimator_.coef_.ravel(), est.estimator_.intercept_)
    np.testing.assert_allclose(fitted, full, rtol=1e-8)
    i = 3
    keep = np.arange(len(y)) != i
    true = _newton_logistic(X[keep], y[keep], 1.0) - full
    np.testing.assert_allclose(_vec(est.influence([i], method="refit")), true, rtol=1e-7)


def test_null_space_shift_keeps_the_rank_scale_invariant():
    # Multinomial-like H (K = 3 classes × 3 coefficients) whose null space is the
    # class-sum direction of every coefficient; one coefficient's coordinates ×1e7.
    K, p = 3, 3
    rng = np.random.default_rng(2)
    C = np.eye(K) - 1.0 / K  # null vector 1_K
    A = rng.standard_normal((40, p))
    H = np.kron(C, A.T @ A)  # class-major coordinates (k, j)
    N = np.zeros((K, p, p))
    N[:, np.arange(p), np.arange(p)] = 1.0 / np.sqrt(K)
    N = N.reshape(K * p, p)
    D = np.diag(np.tile([1e7, 1.0, 1.0], K))
    for M in (H, D @ H @ D):
        f = SPDFactor(shift_null_space(M, N))
        assert f.rank == K * p and f.chol is not None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_unpenalised_multinomial_column_scale_is_not_singularity():
    # Issue 17 A for the block (multinomial) kind: one shared null-space shift used
    # to dwarf unit-scale coefficients next to a ×1e7 column (rank 2 of 10, warned).
    Xs, y, model, truth = scaled_multinomial_case()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingularHessianWarning)
        est = InfluenceEstimator(model).fit(Xs, y)
        assert est.hessian_rank_ == 10  # 3 classes × 5 parameters − 5 null directions
        removed = np.arange(5)
        got = est.influence(removed, method="refit")
        newton = est.influence(removed, method="newton")
    np.testing.assert_allclose(got.coef, truth, rtol=1e-6, atol=1e-9 * np.abs(truth).max())
    # The group Newton step is a good approximation at any column scale (2% here).
    assert np.abs(newton.coef - truth).max() <= 0.05 * np.abs(truth).max()
