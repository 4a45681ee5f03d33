"""Scaling paths (issue 24): sparse input never densified, explicit inverses checked on
the problem, Newton steps by conjugate gradients, the multinomial Hessian's structure.

Every value is compared with an independent reference: dense NumPy algebra on the
densified (small) problem, or a tightly converged scikit-learn fit.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge

from skrif import InfluenceEstimator
from skrif._core.newton import NewtonSteps
from skrif._linalg import inverse as inverse_module
from skrif._linalg.cg import block_pcg, pcg
from skrif._linalg.design import AugmentedDesign
from skrif._linalg.inverse import pair_quadratic
from skrif._removal.block import BlockCurvature, _block_hessian, _softmax_roots
from skrif._removal.dual import DualCurvature
from skrif._removal.iterative import IterativeCurvature
from skrif._removal.rank_one import PrimalCurvature
from skrif.exceptions import LeverageEstimateWarning, SetInteractionWarning

from .conftest import change_vector, exact_refit, keep_mask, theta


def sparse_rows(n, p, nnz_row, seed=0):
    """CSR with ``nnz_row`` nonzeros per row (exponential values), unsorted indices."""
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, p, size=(n, nnz_row))
    data = rng.exponential(1.0, n * nnz_row)
    X = sp.csr_matrix((data, (np.repeat(np.arange(n), nnz_row), cols.ravel())), shape=(n, p))
    X.sum_duplicates()
    return X


def reference_quadratic(X, d, lam_w, lam_b, fit_intercept):
    """``x̃_iᵀ H⁻¹ x̃_i`` from the dense inverse of the augmented Hessian."""
    Xt = X.toarray() if sp.issparse(X) else np.asarray(X)
    if fit_intercept:
        Xt = np.hstack([Xt, np.ones((Xt.shape[0], 1))])
    pen = np.full(Xt.shape[1], lam_w)
    if fit_intercept:
        pen[-1] = lam_b
    H = Xt.T @ (d[:, None] * Xt) + np.diag(pen)
    return np.einsum("ij,ij->i", Xt @ np.linalg.inv(H), Xt)


@pytest.mark.parametrize("fit_intercept, lam_b", [(True, 0.0), (True, 0.5), (False, 0.0)])
def test_sparse_leverages_from_explicit_inverse_match_dense(fit_intercept, lam_b):
    X = sparse_rows(400, 60, 4, seed=1)
    d = np.random.default_rng(2).uniform(0.05, 0.3, 400)
    curv = PrimalCurvature(AugmentedDesign(X, fit_intercept), d, 0.7, lam_b)
    got = curv.self_quadratic()
    assert curv.inverse_check.strategy == "inverse"
    assert curv.inverse_check.max_rel_error <= 1e-10
    ref = reference_quadratic(X, d, 0.7, lam_b, fit_intercept)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    np.testing.assert_allclose(curv.leverages, d * ref, rtol=1e-10, atol=1e-14)


def test_failed_inverse_check_falls_back_to_solves(monkeypatch):
    monkeypatch.setattr(inverse_module, "INVERSE_RTOL", -1.0)  # every check fails
    X = sparse_rows(300, 50, 4, seed=3)
    d = np.random.default_rng(4).uniform(0.05, 0.3, 300)
    curv = PrimalCurvature(AugmentedDesign(X, True), d, 1.0, 0.0)
    got = curv.self_quadratic()
    assert curv.inverse_check.strategy == "solve"
    assert "disagreed" in curv.inverse_check.reason
    np.testing.assert_allclose(got, reference_quadratic(X, d, 1.0, 0.0, True), rtol=1e-10)


def test_pair_quadratic_heavy_rows_and_unsorted_indices():
    rng = np.random.default_rng(5)
    X = sparse_rows(50, 40, 6, seed=6).tolil()
    X[7, :] = rng.uniform(size=40)  # a dense row goes through the heavy path
    X = X.tocsr()
    # Scramble each row's index order (same matrix).
    for i in range(X.shape[0]):
        a, b = X.indptr[i], X.indptr[i + 1]
        order = a + rng.permutation(b - a)
        X.indices[a:b], X.data[a:b] = X.indices[order].copy(), X.data[order].copy()
    A = rng.standard_normal((40, 40))
    S = A @ A.T
    ref = np.einsum("ij,jk,ik->i", X.toarray(), S, X.toarray())
    np.testing.assert_allclose(pair_quadratic(X, S, budget=100), ref, rtol=1e-12)


@pytest.mark.parametrize("border", [True, False])
def test_dual_leverages_match_dense(border):
    X = sparse_rows(120, 300, 8, seed=7)
    d = np.random.default_rng(8).uniform(0.05, 0.3, 120)
    lam_b = 0.0 if border else 0.4
    curv = DualCurvature(AugmentedDesign(X, True), d, 0.9, lam_b)
    ref = d * reference_quadratic(X, d, 0.9, lam_b, True)
    np.testing.assert_allclose(curv.one_minus_leverage, 1.0 - ref, rtol=1e-9)


def test_sparse_fit_and_queries_stay_far_below_the_dense_size():
    """Memory O(nnz + n²) in the dual form (plus the blocks an output needs): the
    dense X would be 96 MB."""
    rng = np.random.default_rng(9)
    X = sparse_rows(400, 30000, 20, seed=10)
    y = (rng.uniform(size=400) < 0.5).astype(int)
    dense_bytes = X.shape[0] * X.shape[1] * 8
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the default fit is polished
            est = InfluenceEstimator(LogisticRegression(C=10.0)).fit(X, y)
        est.self_influence()
        est.influence([0, 1, 2], method="newton")
        est.influence([0, 1, 2], method="refit")
        est.cv_predict(cv=3)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        # Scores for 20 evaluation rows: (p̃, 20) blocks are the output's own size.
        est.influence_scores(X[:20], y[:20], target="loss")
        scores_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < dense_bytes / 6, f"peak {peak / 2**20:.0f} MB"
    assert scores_peak < dense_bytes / 4, f"scores peak {scores_peak / 2**20:.0f} MB"


def test_sparse_primal_ridge_rif_is_exact_loo():
    """Sparse primal with the explicit inverse: RIF of Ridge equals the exact refit
    (closed form on the densified data)."""
    X = sparse_rows(600, 80, 5, seed=11)
    rng = np.random.default_rng(12)
    y = X @ rng.standard_normal(80) + rng.standard_normal(600)
    est = InfluenceEstimator(Ridge(alpha=2.0, tol=1e-12)).fit(X, y)
    assert est._removal.curvature.inverse_check.strategy == "inverse"
    Xt = np.hstack([X.toarray(), np.ones((600, 1))])
    penalty = np.diag(np.r_[np.full(80, 2.0), 0.0])

    def ridge(keep):
        A = Xt[keep]
        return np.linalg.solve(A.T @ A + penalty, A.T @ y[keep])

    full = ridge(np.ones(600, dtype=bool))
    for i in (0, 17, 311):
        got = change_vector(est.influence([i], method="rif"))
        np.testing.assert_allclose(got, ridge(keep_mask(600, [i])) - full, rtol=1e-8, atol=1e-11)


def test_conjugate_gradients_match_solves():
    rng = np.random.default_rng(13)
    A = rng.standard_normal((30, 30))
    S = A @ A.T + 0.1 * np.eye(30)
    B = rng.standard_normal((30, 4))
    ref = np.linalg.solve(S, B)
    one = pcg(lambda v: S @ v, B, lambda r: r / np.diag(S)[:, None], rtol=1e-13, maxiter=200)
    assert one.converged
    np.testing.assert_allclose(one.x, ref, rtol=1e-8, atol=1e-10)
    many = block_pcg(lambda V: S @ V, B, rtol=1e-13, maxiter=200)
    assert np.all(many.converged)
    np.testing.assert_allclose(many.x, ref, rtol=1e-8, atol=1e-10)
    stalled = pcg(lambda v: S @ v, B, maxiter=2)
    assert not stalled.converged and stalled.n_iter == 2


def test_matrix_free_polish_reaches_the_optimum_with_one_factorization():
    """Sparse, wide enough that factoring costs 300+ products: the gap and the polish
    are solved by diagonal-preconditioned CG, and the fit factors only at the end."""
    X = sparse_rows(2000, 800, 5, seed=14)
    rng = np.random.default_rng(15)
    y = (X @ rng.standard_normal(800) + rng.logistic(size=2000) > 0).astype(int)
    model = LogisticRegression(C=1.0, tol=1e-2)
    calls = []
    original = NewtonSteps._factor

    def counting(self, d2):
        calls.append(1)
        return original(self, d2)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(NewtonSteps, "_factor", counting)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = InfluenceEstimator(model).fit(X, y)
    assert est.n_polish_steps_ > 0 and not calls
    tight = exact_refit(model, X, y, None, np.ones(2000, dtype=bool))
    np.testing.assert_allclose(theta(est.estimator_), theta(tight), rtol=1e-7, atol=1e-9)


def test_refit_preconditioned_by_full_factor_matches_sklearn():
    X = sparse_rows(800, 60, 5, seed=16)
    rng = np.random.default_rng(17)
    y = rng.poisson(np.exp(0.1 * (X @ rng.standard_normal(60))))
    est = InfluenceEstimator(PoissonRegressor(alpha=0.01, solver="newton-cholesky", tol=1e-12))
    est.fit(X, y)
    rows = [3, 9, 27, 81]
    ref = PoissonRegressor(alpha=0.01, solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(
        X[keep_mask(800, rows)], y[keep_mask(800, rows)]
    )
    got = change_vector(est.influence(rows, method="refit")) + theta(est.estimator_)
    np.testing.assert_allclose(got, theta(ref), rtol=1e-9, atol=1e-11)


def multinomial_blocks(n, K, seed):
    rng = np.random.default_rng(seed)
    P = softmax(3.0 * rng.standard_normal((n, K)), axis=1)
    P[0] = softmax(np.array([60.0, -60.0] + [0.0] * (K - 2)))  # near-certain row
    w = rng.uniform(0.0, 2.0, n)
    w[1] = 0.0
    return w[:, None, None] * (P[:, :, None] * np.eye(K) - P[:, :, None] * P[:, None, :])


def test_softmax_structure_forms_the_same_hessian():
    rng = np.random.default_rng(18)
    X = rng.standard_normal((300, 6)) * [1, 10, 1e3, 1, 1, 1] + 50.0
    A = multinomial_blocks(300, 4, seed=19)
    assert _softmax_roots(A) is not None
    shift = X.mean(axis=0)
    R = np.hstack([X - shift, np.ones((300, 1))])
    ref = np.einsum("ikl,ia,ib->kalb", A, R, R).reshape(28, 28)
    got = _block_hessian(AugmentedDesign(X, True), A, shift)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    A[5, 0, 1] += 1e-6  # not a softmax curvature any more: the generic path
    A[5, 1, 0] += 1e-6
    assert _softmax_roots(A) is None
    ref = np.einsum("ikl,ia,ib->kalb", A, R, R).reshape(28, 28)
    got = _block_hessian(AugmentedDesign(X, True), A, shift)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


def test_multinomial_row_blocks_from_explicit_inverse_match_pseudo_inverse():
    rng = np.random.default_rng(20)
    n, p, K = 400, 5, 3
    X = rng.standard_normal((n, p))
    A = multinomial_blocks(n, K, seed=21)
    curv = BlockCurvature(AugmentedDesign(X, True), A, 0.5, 0.0)
    M = curv._M
    assert curv.inverse_check.strategy == "inverse"
    # skrif's pseudo-inverse lives in the centred coordinates (rows [x_i − x̄, 1]).
    Xt = np.hstack([X - X.mean(axis=0), np.ones((n, 1))])
    H = np.einsum("ikl,ia,ib->kalb", A, Xt, Xt).reshape(K * (p + 1), K * (p + 1))
    H += np.diag(np.tile(np.r_[np.full(p, 0.5), 0.0], K))
    Hplus = np.linalg.pinv(H, rcond=1e-12, hermitian=True)
    V = np.einsum("kl,ia->ikal", np.eye(K), Xt).reshape(n, K * (p + 1), K)
    ref = np.einsum("iak,ab,ibl->ikl", V, Hplus, V)
    np.testing.assert_allclose(M, ref, rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def iterative_pair():
    X = sparse_rows(800, 500, 6, seed=22)
    rng = np.random.default_rng(23)
    y = (X @ rng.standard_normal(500) + rng.logistic(size=800) > 0).astype(int)
    model = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=LeverageEstimateWarning)
        iterative = InfluenceEstimator(model, solver="iterative").fit(X, y)
    direct = InfluenceEstimator(model, solver="direct").fit(X, y)
    return X, y, iterative, direct


def test_iterative_solver_requested_rows_are_exact(iterative_pair):
    X, y, it, direct = iterative_pair
    assert it.solver_ == "iterative" and direct.solver_ == "direct"
    assert isinstance(it._removal.curvature, IterativeCurvature)
    rows = [3, 5, 8, 400]
    for method in ("if", "rif", "newton", "refit"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=SetInteractionWarning)  # "if" is off
            got, ref = it.influence(rows, method=method), direct.influence(rows, method=method)
        np.testing.assert_allclose(got.coef, ref.coef, rtol=1e-7, atol=1e-9 * np.abs(ref.coef).max())
    # The refit against scikit-learn itself.
    keep = keep_mask(800, rows)
    sk = exact_refit(it.estimator_, X, y, None, keep)
    got = change_vector(it.influence(rows, method="refit")) + theta(it.estimator_)
    np.testing.assert_allclose(got, theta(sk), rtol=1e-7, atol=1e-9)


def test_iterative_leverage_estimates_and_their_bounds(iterative_pair):
    _, _, it, direct = iterative_pair
    h, exact = it.leverages_, direct.leverages_
    low, high = it.leverage_bounds_.T
    assert np.all(low <= h + 1e-15) and np.all(h <= high + 1e-15)
    inside = (low <= exact) & (exact <= high)
    refined = low == high
    # Refined rows are exact; the others' 95% intervals cover the exact leverage
    # (χ² distribution of the Gaussian sketch) for about 95% of the rows.
    np.testing.assert_allclose(h[refined], exact[refined], rtol=1e-7)
    assert inside[~refined].mean() > 0.9
    assert np.median(np.abs(h - exact) / exact) < 0.15


def test_iterative_solver_refuses_unsupported_models():
    X = np.random.default_rng(24).standard_normal((60, 4))
    y = np.arange(60) % 3
    with pytest.raises(ValueError, match="solver='iterative' supports"):
        InfluenceEstimator(LogisticRegression(), solver="iterative").fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        InfluenceEstimator(LogisticRegression(), solver="cg").fit(X, y % 2)
    est = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-12))
    assert est.fit(X, y % 2).solver_ == "direct"


def test_n_jobs_runs_in_process_when_workers_do_not_pay():
    from skrif.validation import validate_influence

    rng = np.random.default_rng(25)
    X = rng.standard_normal((120, 4))
    y = X @ np.ones(4) + rng.standard_normal(120)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    out = validate_influence(est, X[:20], y[:20], n_sets=4, n_jobs=2, random_state=0)
    single = validate_influence(est, X[:20], y[:20], n_sets=4, random_state=0)
    assert out.jobs and "ran in this process" in out.jobs[-1]
    assert single.jobs == []
    np.testing.assert_array_equal(
        np.asarray(out.results["actual"]), np.asarray(single.results["actual"])
    )


def test_auto_solver_goes_iterative_past_a_dense_factor():
    from types import SimpleNamespace

    from skrif._removal import choose_solver

    huge = SimpleNamespace(n_samples=200_000, n_params=200_001)
    small = SimpleNamespace(n_samples=20_000, n_params=5_001)
    assert choose_solver("auto", "rank_one", huge, 1.0) == "iterative"
    assert choose_solver("auto", "rank_one", small, 1.0) == "direct"
    # Kinds (or unpenalised models) the matrix-free path does not support stay direct.
    assert choose_solver("auto", "block", huge, 1.0) == "direct"
    assert choose_solver("auto", "rank_one", huge, 0.0) == "direct"
    with pytest.raises(ValueError, match="penalty"):
        choose_solver("iterative", "rank_one", small, 0.0)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_influence_scores_fast_path_matches_removal_effect_and_keeps_X(fit_intercept):
    rng = np.random.default_rng(26)
    X = rng.standard_normal((150, 5))
    y = (X[:, 0] + rng.logistic(size=150) > 0).astype(int)
    X_before = X.copy()
    model = LogisticRegression(fit_intercept=fit_intercept, solver="newton-cholesky", tol=1e-12)
    est = InfluenceEstimator(model).fit(X, y)
    scores = est.influence_scores(X[:7], y[:7], target="loss")
    np.testing.assert_array_equal(X, X_before)
    for i in (0, 42):
        one = est.removal_effect([i], X[:7], y[:7], target="loss", linearized=True)
        np.testing.assert_allclose(scores[i], one, rtol=1e-10, atol=1e-14)
