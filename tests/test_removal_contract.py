"""Contract tests of the removal-Hessian protocol (skrif._removal), for every kind.

Every Hessian kind × {primal, dual} × {intercept, none} × {weights, none} ×
{dense, sparse} is checked against a dense reference computed directly (NumPy
dense Hessian, per-row Hessians and gradients, ``np.linalg.solve`` / ``pinv``),
least squares against exact scikit-learn refits, and near-interpolating ridge
(1 − h down to ~1e-7) against an SVD brute force and ``RidgeCV``.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg as sla
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge, RidgeCV

from skrif import InfluenceEstimator
from skrif._removal.leverage import LEVERAGE_TOL
from skrif.exceptions import HighLeverageWarning, OptimalityWarning

from .conftest import change_vector, make_removal_case

FAMILIES = {"ridge": "rank_one", "logistic": "rank_one", "multinomial": "block",
            "poisson": "penalty_share", "sgd": "penalty_share"}
N = 14


def _fit(est, X, y, w):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimalityWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return InfluenceEstimator(est).fit(X, y, sample_weight=w)


def _state(est):
    """(problem, theta, d1, hessian) of a fitted InfluenceEstimator."""
    rm = est._removal
    return rm.problem, rm.theta, rm.d1, rm.curvature


class DenseReference:
    """Dense H, per-row Hessians H_i(t) and gradients g_i(t), flattened class-major."""

    def __init__(self, problem, theta, d1):
        obj = problem.objective
        self.kind = obj.hessian_kind
        self.Xt = problem.design.rows(slice(None))
        n, pt = self.Xt.shape
        q = theta.shape[0]
        self.q, self.pt = q, pt
        _, d2 = problem.row_derivatives(theta)
        pen = problem.penalty
        self.d1 = d1
        self.obj = obj
        if self.kind == "block":
            self.Hrow = [np.kron(d2[i], np.outer(x, x)) for i, x in enumerate(self.Xt)]
            self.H = sum(self.Hrow) + np.kron(np.eye(q), np.diag(pen))
            self.grow = [np.kron(d1[i], x) for i, x in enumerate(self.Xt)]
            self.P = None
        else:
            self.d = d2
            self.H = self.Xt.T @ (d2[:, None] * self.Xt) + np.diag(pen)
            eps = np.zeros(n)
            if obj.hessian_kind == "penalty_share":
                eps = obj.penalty_share_coef * problem.shares
            self.eps = eps
            P = np.ones(pt)
            if obj.fit_intercept:
                P[-1] = 0.0
            self.P = np.diag(P)
            wt = theta.copy()
            if obj.fit_intercept:
                wt[:, -1] = 0.0
            self.wt = wt

    def part(self, i, t):
        """(H_i, g_i) of the removed part of row i under reweighting by 1 − t."""
        if self.kind == "block":
            return t * self.Hrow[i], t * self.grow[i]
        rho = self.obj.removed_share(t) if self.kind == "penalty_share" else 0.0
        x = self.Xt[i]
        Hi = t * self.d[i] * np.outer(x, x) + rho * self.eps[i] * self.P
        gi = t * self.d1[i][:, None] * x[None, :] + rho * self.eps[i] * self.wt  # (q, p̃)
        return Hi, gi.T  # gradient columns (p̃, q)

    def _solve(self, A, g):
        if self.kind == "block":
            return np.linalg.pinv(A, rcond=1e-13, hermitian=True) @ g
        return np.linalg.solve(A, g)

    def _shape(self, v):
        return v.reshape(self.q, self.pt) if self.kind == "block" else v.T

    def step(self, T, method, t=1.0):
        parts = [self.part(i, t) for i in T]
        G = sum(g for _, g in parts)
        if method == "if":
            return self._shape(self._solve(self.H, G))
        if method == "rif":
            return sum(self._shape(self._solve(self.H - Hi, gi)) for Hi, gi in parts)
        return self._shape(self._solve(self.H - sum(Hi for Hi, _ in parts), G))


CASES = [
    (fam, mode, fi, weighted, sparse)
    for fam in FAMILIES
    for mode in ("primal", "dual")
    for fi in (True, False)
    for weighted in (False, True)
    for sparse in (False, True)
]


def _case_id(c):
    return "-".join([c[0], c[1], "icpt" if c[2] else "noicpt", "w" if c[3] else "now",
                     "sparse" if c[4] else "dense"])


@pytest.fixture(scope="module", params=CASES, ids=[_case_id(c) for c in CASES])
def fitted(request):
    fam, mode, fi, weighted, sparse = request.param
    p = 5 if mode == "primal" else 24
    if fam == "multinomial" and mode == "primal":
        p = 3
    est, X, y, w = make_removal_case(fam, n=N, p=p, fit_intercept=fi, weighted=weighted,
                                     sparse=sparse, seed=3)
    ie = _fit(est, X, y, w)
    problem, theta, d1, hess = _state(ie)
    return request.param, ie, X, y, w, problem, theta, d1, hess, DenseReference(problem, theta, d1)


def _close(a, b, rtol):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(np.abs(b).max(), 1e-300)
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


def test_kind_and_form(fitted):
    (fam, mode, fi, weighted, sparse), ie, X, *_, hess, ref = fitted
    assert hess.kind == FAMILIES[fam]
    if mode == "dual" and not (fam == "poisson" and weighted):
        # p̃ > n and a penalty on every coefficient: no p̃ × p̃ matrix is formed.
        assert type(hess).__name__.startswith(("Dual", "UniformShare"))


@pytest.mark.parametrize("method", ["if", "rif"])
def test_row_steps_and_self_change_match_dense(fitted, method):
    case, ie, X, y, w, problem, theta, d1, hess, ref = fitted
    rows = np.arange(N)
    steps = hess.row_steps(rows, d1, theta, method)
    assert steps.shape == (N,) + theta.shape
    for i in rows:
        _close(steps[i], ref.step([i], method), 1e-8)
    own = hess.self_change(d1, theta, method)
    expected = np.einsum("ip,iqp->iq", ref.Xt, steps)
    _close(own, expected, 1e-8)
    G = np.random.default_rng(0).standard_normal((theta.shape[1], 3))
    eff = hess.row_effects(G, d1, theta, method)
    _close(eff, steps @ G, 1e-8)


# Additive answers for sets are compared with the dense reference on purpose; the
# SetInteractionWarning they raise is tested in test_groups.py.
@pytest.mark.filterwarnings("ignore::skrif.exceptions.SetInteractionWarning")
def test_set_change_matches_dense(fitted):
    case, ie, X, y, w, problem, theta, d1, hess, ref = fitted
    T = np.array([1, 4, 9])
    for method in ("if", "rif", "newton"):
        for fraction in (1.0, 0.5, -0.5):
            got = hess.set_change(T, d1, theta, method, fraction)
            _close(got, ref.step(T, method, fraction), 1e-8)
        # The estimator's public path gives the same numbers.
        change = ie.influence(T, method=method, fraction=0.5)
        _close(change_vector(change, case[2]),
               _flat_like(change, hess.set_change(T, d1, theta, method, 0.5), case[2]), 1e-12)


def _flat_like(change, delta, fit_intercept):
    coef = delta[:, : delta.shape[1] - int(fit_intercept)]
    out = [coef.ravel()]
    if fit_intercept:
        out.append(delta[:, -1].ravel())
    return np.concatenate(out)


def test_rif_sum_of_row_steps(fitted):
    case, ie, X, y, w, problem, theta, d1, hess, ref = fitted
    T = np.array([0, 2, 3, 11])
    _close(hess.set_change(T, d1, theta, "rif"),
           hess.row_steps(T, d1, theta, "rif").sum(axis=0), 1e-10)


def test_solve_and_leverage_match_dense(fitted):
    case, ie, X, y, w, problem, theta, d1, hess, ref = fitted
    rng = np.random.default_rng(1)
    if ref.kind == "block":
        G = np.stack([np.kron(d1[i], ref.Xt[i]) for i in (0, 5)], axis=1)
        _close(hess.solve(G), np.linalg.pinv(ref.H, rcond=1e-13, hermitian=True) @ G, 1e-8)
        return
    G = rng.standard_normal((ref.pt, 2))
    _close(hess.solve(G), np.linalg.solve(ref.H, G), 1e-8)
    one_minus = np.empty(N)
    for i in range(N):
        Hi, _ = ref.part(i, 1.0)
        x = ref.Xt[i]
        # 1 − h_i = 1 − d_i x̃ᵀ (H − ε_i P)⁻¹ x̃ (the row's own share removed first).
        one_minus[i] = 1.0 - ref.d[i] * x @ np.linalg.solve(ref.H - ref.eps[i] * ref.P, x)
    np.testing.assert_allclose(hess.one_minus_leverage, one_minus, rtol=1e-8, atol=1e-12)


def test_inverse_diagonal_matches_dense(fitted):
    """``diag(H⁻¹)`` of every kind (the factor's own form for the primal rank-one
    kind, solves with the identity otherwise) against numpy's inverse of the dense H."""
    case, *_, hess, ref = fitted
    expected = np.diag(np.linalg.pinv(ref.H, rcond=1e-13, hermitian=True))
    got = hess.inverse_diagonal()
    assert got.shape == (ref.H.shape[0],)
    if ref.kind == "block" and case[2]:
        # Multinomial intercepts are determined only up to a common shift: the kind's
        # generalized inverse fixes that parametrization differently from the
        # Moore-Penrose one, which changes only the intercepts' entries.
        coef = np.ones(expected.shape, dtype=bool).reshape(-1, ref.pt)
        coef[:, -1] = False
        got, expected = got[coef.ravel()], expected[coef.ravel()]
    np.testing.assert_allclose(got, expected, rtol=1e-8)


@pytest.mark.parametrize("mode, fi, weighted, sparse", [c[1:] for c in CASES if c[0] == "ridge"])
def test_ridge_newton_equals_exact_refit(mode, fi, weighted, sparse):
    """Least squares: the group Newton step (and RIF for one row) is the exact refit."""
    p = 5 if mode == "primal" else 24
    est, X, y, w = make_removal_case("ridge", n=N, p=p, fit_intercept=fi, weighted=weighted,
                                     sparse=sparse, seed=3)
    ie = _fit(est, X, y, w)
    Xd = X.toarray() if sparse else X
    full = Ridge(alpha=1.0, fit_intercept=fi, solver="cholesky").fit(Xd, y, sample_weight=w)
    for T in ([6], [0, 7, 8]):
        keep = np.setdiff1d(np.arange(N), T)
        refit = Ridge(alpha=1.0, fit_intercept=fi, solver="cholesky").fit(
            Xd[keep], y[keep], sample_weight=None if w is None else w[keep])
        true = np.append(refit.coef_ - full.coef_, refit.intercept_ - full.intercept_) if fi \
            else refit.coef_ - full.coef_
        for method in ("newton",) + (("rif",) if len(T) == 1 else ()):
            got = change_vector(ie.influence(T, method=method), fi)
            np.testing.assert_allclose(got, true, rtol=0, atol=1e-10 * np.abs(true).max())


# -- near-interpolating ridge: 1 − h down to ~1e-7 ------------------------------


def _svd_truth(X, y, s, alpha, fit_intercept):
    """1 − h_i and leave-one-out residuals from the SVD of the weighted (centred) data.

    ``I − Ĥ = Q U diag(α/(σ² + α)) Uᵀ Qᵀ`` with Q an orthonormal basis of the
    complement of ``√s`` (intercept) or the identity: sums of positive terms.
    """
    root = np.sqrt(s)
    if fit_intercept:
        xbar = s @ X / s.sum()
        Xw = root[:, None] * (X - xbar)
        Q = sla.null_space(root[None, :])  # n × (n − 1)
    else:
        Xw = root[:, None] * X
        Q = np.eye(X.shape[0])
    U, sig, _ = np.linalg.svd(Q.T @ Xw, full_matrices=True)
    shrink = np.full(U.shape[0], 1.0)
    shrink[: sig.size] = alpha / (sig**2 + alpha)
    QU = Q @ U
    one_minus = (QU**2) @ shrink
    resid = (QU @ (shrink * (QU.T @ (root * y)))) / root  # y − ŷ
    return one_minus, resid / one_minus


def _svd_ridge(X, y, s, alpha, fit_intercept):
    root = np.sqrt(s)
    if fit_intercept:
        xbar, ybar = s @ X / s.sum(), s @ y / s.sum()
        U, sig, Vt = np.linalg.svd(root[:, None] * (X - xbar), full_matrices=False)
        coef = Vt.T @ ((sig / (sig**2 + alpha)) * (U.T @ (root * (y - ybar))))
        return np.append(coef, ybar - xbar @ coef)
    U, sig, Vt = np.linalg.svd(root[:, None] * X, full_matrices=False)
    return Vt.T @ ((sig / (sig**2 + alpha)) * (U.T @ (root * y)))


NEAR = [(mode, fi, weighted, sparse) for mode in ("primal", "dual") for fi in (True, False)
        for weighted in (False, True) for sparse in (False, True)]


@pytest.mark.parametrize("mode, fit_intercept, weighted, sparse", NEAR)
def test_near_interpolating_ridge(mode, fit_intercept, weighted, sparse):
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    n, p, alpha = (12, 12 - int(fit_intercept), 1e-7) if mode == "primal" else (10, 50, 1e-5)
    X = rng.standard_normal((n, p))
    if sparse:
        X[rng.uniform(size=X.shape) > 0.6] = 0.0
    y = X @ rng.standard_normal(p) * 10 + rng.standard_normal(n)
    s = rng.uniform(0.5, 2.0, size=n) if weighted else np.ones(n)
    Xfit = sp.csr_matrix(X) if sparse else X
    one_minus_true, loo_resid_true = _svd_truth(X, y, s, alpha, fit_intercept)
    ridge = Ridge(alpha=alpha, fit_intercept=fit_intercept)
    if one_minus_true.min() <= LEVERAGE_TOL:  # below what is computed: NaN with a warning
        with pytest.warns(HighLeverageWarning, match="leverage 1"):
            est = _fit(ridge, Xfit, y, s if weighted else None)
    else:
        est = _fit(ridge, Xfit, y, s if weighted else None)
    assert one_minus_true.min() < 1e-5  # genuinely near interpolation
    problem, theta, d1, hess = _state(est)
    one_minus = hess.one_minus_leverage
    np.testing.assert_allclose(one_minus, one_minus_true, rtol=1e-8)
    # The public path: residuals y − X̃θ̂ at the fitted θ̂.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows at 1 − h ≤ LEVERAGE_TOL are NaN, with a warning
        resid = y - est.loo_predict()
    ok = one_minus_true > LEVERAGE_TOL
    err = np.max(np.abs(resid - loo_resid_true)[ok] / np.abs(loo_resid_true[ok]))
    assert err < 1e-4
    # The protocol's cancellation-free residuals (least squares): r / (1 − h).
    r = hess.exact_residuals(problem.Y, problem.linear_predictor(theta))[:, 0]
    exact_err = np.max(np.abs(r / one_minus - loo_resid_true) / np.abs(loo_resid_true))
    dual = type(hess).__name__ == "DualCurvature"
    assert exact_err < (3e-10 if dual else 1e-5)
    if not weighted:
        cv = RidgeCV(alphas=[alpha], store_cv_results=True, fit_intercept=fit_intercept).fit(X, y)
        cv_err = np.max(np.abs(np.sqrt(np.ravel(cv.cv_results_)) - np.abs(loo_resid_true))
                        / np.abs(loo_resid_true))
        if dual:  # as accurate as RidgeCV's GCV (its eigen mode), within a factor 3
            assert exact_err <= max(3 * cv_err, 1e-13)
    full = _svd_ridge(X, y, s, alpha, fit_intercept)
    for i in np.argsort(one_minus_true)[:3]:
        if one_minus_true[i] <= LEVERAGE_TOL:
            with pytest.warns(HighLeverageWarning):
                est.influence([i], method="rif")
            continue
        keep = np.setdiff1d(np.arange(n), [i])
        true = _svd_ridge(X[keep], y[keep], s[keep], alpha, fit_intercept) - full
        got = change_vector(est.influence([i], method="newton"), fit_intercept)
        np.testing.assert_allclose(got, true, rtol=0, atol=1e-6 * np.abs(true).max())


def test_penalty_share_one_minus_near_one():
    """Mean-form GLM at 1 − h ≈ 2e-9: 1 − h_j = 1 − d_j x̃ᵀ(H − ε_jP)⁻¹x̃ against the
    same quantity in 40-digit arithmetic (mpmath) on the same H."""
    mpmath = pytest.importorskip("mpmath")
    from sklearn.linear_model import PoissonRegressor

    mpmath.mp.dps = 40
    rng = np.random.default_rng(0)
    n, p = 10, 9
    X = rng.standard_normal((n, p))
    y = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float) + 0.5
    # 1 − h ≈ 2e-9 is above LEVERAGE_TOL: computed (no leverage-one warning).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = _fit(PoissonRegressor(alpha=1e-9, tol=1e-12, max_iter=10000), X, y, None)
    assert not any(issubclass(w.category, HighLeverageWarning) for w in caught)
    problem, theta, d1, hess = _state(est)
    _, d2 = problem.row_derivatives(theta)
    Xt = problem.design.rows(slice(None))
    eps = problem.objective.penalty_share_coef * problem.shares
    mp = lambda v: mpmath.mpf(float(v))  # noqa: E731
    H = mpmath.matrix(p + 1, p + 1)
    for a in range(p + 1):
        for b in range(p + 1):
            H[a, b] = mpmath.fsum(mp(d2[i]) * mp(Xt[i, a]) * mp(Xt[i, b]) for i in range(n))
        H[a, a] += mp(problem.penalty[a])
    truth = np.empty(n)
    for j in range(n):
        A = H.copy()
        for a in range(p):
            A[a, a] -= mp(eps[j])
        x = mpmath.matrix([mp(v) for v in Xt[j]])
        truth[j] = float(1 - mp(d2[j]) * (x.T * mpmath.lu_solve(A, x))[0])
    assert truth.min() < 1e-8
    np.testing.assert_allclose(hess.one_minus_leverage, truth, rtol=1e-8)
