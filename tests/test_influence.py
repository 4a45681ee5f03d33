"""IF / RIF / group Newton / refit against independent ground truth.

Ground truth here is never skrif's own formula: exact scikit-learn refits at tight
tolerance, RidgeCV's closed-form leave-one-out identity, a Newton step written out
in the test with numpy, or statsmodels.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from skrif import InfluenceEstimator
from skrif.exceptions import HighLeverageWarning, SingularHessianWarning

from .conftest import change_vector, exact_refit, keep_mask, planted_logistic, theta

# These tests check additive (IF/RIF) answers for sets on purpose; the
# SetInteractionWarning such answers raise is tested in test_groups.py.
ADDITIVE_SETS = "ignore::skrif.exceptions.SetInteractionWarning"


def _regression(seed, n, p, n_targets=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + rng.normal(size=p)  # non-centred columns
    W = rng.normal(size=(p, n_targets))
    Y = X @ W + 2.0 + rng.normal(size=(n, n_targets))
    y = Y[:, 0] if n_targets == 1 else Y
    s = rng.uniform(0.3, 3.0, size=n)
    return X, y, s


def _assert_close(actual, expected, rtol, scale):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


ridge_cases = st.tuples(
    st.integers(0, 100_000),  # seed
    st.integers(6, 30),  # n
    st.integers(1, 45),  # p: p > n included (dual form)
    st.booleans(),  # fit_intercept
    st.booleans(),  # weights
    st.floats(0.05, 20.0),  # alpha
)


@settings(max_examples=40, deadline=None)
@given(ridge_cases)
def test_ridge_rif_is_exact_leave_one_out(case):
    """RIF_i equals the exact leave-one-out change: refit and RidgeCV's closed form."""
    seed, n, p, fi, weighted, alpha = case
    X, y, s = _regression(seed, n, p)
    s = s if weighted else None
    ridge = Ridge(alpha=alpha, fit_intercept=fi)
    est = InfluenceEstimator(ridge).fit(X, y, sample_weight=s)
    full = exact_refit(ridge, X, y, s, np.ones(n, bool))
    scale = np.abs(theta(full)).max()
    _assert_close(theta(est.estimator_), theta(full), 1e-9, scale)

    # Closed form (RidgeCV's identity) in the augmented space, computed here.
    Z = np.hstack([X, np.ones((n, 1))]) if fi else X
    sw = np.ones(n) if s is None else s
    A = Z.T @ (sw[:, None] * Z) + np.diag([alpha] * p + [0.0] * fi)
    h = sw * np.einsum("ij,ji->i", Z, np.linalg.solve(A, Z.T))
    y_hat = Z @ theta(full)
    loo_pred = y - (y - y_hat) / (1 - h)
    _assert_close(est.leverages_, h, 1e-8, 1.0)

    for i in np.random.default_rng(seed).choice(n, size=min(n, 4), replace=False):
        delta = change_vector(est.influence([i]), fi)
        refit = exact_refit(ridge, X, y, s, keep_mask(n, [i]))
        _assert_close(delta, theta(refit) - theta(full), 1e-8, scale)
        _assert_close(y_hat[i] + Z[i] @ delta, loo_pred[i], 1e-8, np.abs(y).max())


@pytest.mark.filterwarnings(ADDITIVE_SETS)
@settings(max_examples=30, deadline=None)
@given(ridge_cases, st.integers(2, 5))
def test_ridge_group_newton_is_exact_and_rif_is_additive(case, k):
    seed, n, p, fi, weighted, alpha = case
    X, y, s = _regression(seed, n, p)
    s = s if weighted else None
    ridge = Ridge(alpha=alpha, fit_intercept=fi)
    est = InfluenceEstimator(ridge).fit(X, y, sample_weight=s)
    T = np.random.default_rng(seed + 1).choice(n, size=min(k, n - 2), replace=False)
    full = exact_refit(ridge, X, y, s, np.ones(n, bool))
    true = theta(exact_refit(ridge, X, y, s, keep_mask(n, T))) - theta(full)
    scale = np.abs(theta(full)).max()
    _assert_close(change_vector(est.influence(T, method="newton"), fi), true, 1e-8, scale)
    _assert_close(change_vector(est.influence(T, method="refit"), fi), true, 1e-8, scale)
    for method in ("if", "rif"):
        singles = sum(change_vector(est.influence([i], method=method), fi) for i in T)
        _assert_close(change_vector(est.influence(T, method=method), fi), singles, 1e-10, scale)


def test_group_newton_is_not_additive(rng):
    X, y, _ = _regression(3, 20, 15)
    est = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y)
    T = [0, 1, 2, 3]
    group = change_vector(est.influence(T, method="newton"))
    singles = sum(change_vector(est.influence([i], method="newton")) for i in T)
    assert np.linalg.norm(group - singles) > 1e-3 * np.linalg.norm(group)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_ridge_sparse_and_multi_target(sparse, n_targets):
    X, y, s = _regression(7, 40, 12, n_targets)
    ridge = Ridge(alpha=1.5, tol=1e-12)  # sparse_cg converged: no polish needed
    Xs = sp.csr_matrix(X * (np.abs(X) > 0.8)) if sparse else X
    Xd = Xs.toarray() if sparse else X
    est = InfluenceEstimator(ridge).fit(Xs, y, sample_weight=s)
    full = exact_refit(ridge, Xd, y, s, np.ones(40, bool))
    assert est.influence([5]).coef.shape == full.coef_.shape
    assert np.shape(est.influence([5]).intercept) == np.shape(full.intercept_)
    for T in ([5], [1, 8, 30]):
        refit = exact_refit(ridge, Xd, y, s, keep_mask(40, T))
        method = "rif" if len(T) == 1 else "newton"
        change = est.influence(T, method=method)
        scale = np.abs(full.coef_).max()
        _assert_close(change.coef, refit.coef_ - full.coef_, 1e-8, scale)
        _assert_close(change.intercept, refit.intercept_ - full.intercept_, 1e-8, scale)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 100_000), st.integers(8, 40), st.integers(1, 6), st.booleans(), st.booleans()
)
def test_linear_regression_rif_and_newton_are_exact(seed, n, p, fi, weighted):
    assume(n >= p + 4)
    X, y, s = _regression(seed, n, p)
    s = s if weighted else None
    lr = LinearRegression(fit_intercept=fi)
    est = InfluenceEstimator(lr).fit(X, y, sample_weight=s)
    full = exact_refit(lr, X, y, s, np.ones(n, bool))
    scale = np.abs(theta(full)).max()
    rng = np.random.default_rng(seed)
    for i in rng.choice(n, size=3, replace=False):
        refit = exact_refit(lr, X, y, s, keep_mask(n, [i]))
        _assert_close(change_vector(est.influence([i]), fi), theta(refit) - theta(full), 1e-8, scale)
    T = rng.choice(n, size=2, replace=False)
    refit = exact_refit(lr, X, y, s, keep_mask(n, T))
    _assert_close(
        change_vector(est.influence(T, method="newton"), fi), theta(refit) - theta(full), 1e-7, scale
    )


@settings(max_examples=25, deadline=None)
@given(ridge_cases)
def test_weight_zero_equals_removal(case):
    seed, n, p, fi, _, alpha = case
    X, y, s = _regression(seed, n, p)
    j, i = 0, n - 1
    s0 = s.copy()
    s0[j] = 0.0
    ridge = Ridge(alpha=alpha, fit_intercept=fi)
    zeroed = InfluenceEstimator(ridge).fit(X, y, sample_weight=s0)
    keep = keep_mask(n, [j])
    dropped = InfluenceEstimator(ridge).fit(X[keep], y[keep], sample_weight=s[keep])
    scale = np.abs(theta(dropped.estimator_)).max()
    _assert_close(theta(zeroed.estimator_), theta(dropped.estimator_), 1e-9, scale)
    assert zeroed.leverages_[j] == 0.0
    assert np.all(change_vector(zeroed.influence([j]), fi) == 0.0)
    for method in ("if", "rif", "newton"):
        _assert_close(
            change_vector(zeroed.influence([i], method=method), fi),
            change_vector(dropped.influence([i - 1], method=method), fi),
            1e-8,
            scale,
        )


@pytest.mark.filterwarnings(ADDITIVE_SETS)
def test_if_tends_to_rif_as_the_penalty_grows():
    X, y, _ = _regression(5, 25, 40)  # p > n: leverages are large for small alpha
    gaps = []
    for alpha in (0.01, 1.0, 100.0, 1e4):
        # No intercept: an unpenalised intercept keeps every h_i near 1/n or above.
        est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=False)).fit(X, y)
        rif = change_vector(est.influence([0, 1, 2], method="rif"), False)
        inf = change_vector(est.influence([0, 1, 2], method="if"), False)
        gaps.append(np.linalg.norm(rif - inf) / np.linalg.norm(rif))
    assert gaps[0] > 0.5
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    assert gaps[-1] < 1e-2


@settings(max_examples=20, deadline=None)
@given(ridge_cases)
def test_if_underestimates_in_the_hessian_norm(case):
    seed, n, p, fi, weighted, alpha = case
    X, y, s = _regression(seed, n, p)
    s = s if weighted else np.ones(n)
    est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=fi)).fit(X, y, sample_weight=s)
    Z = np.hstack([X, np.ones((n, 1))]) if fi else X
    H = 2 * Z.T @ (s[:, None] * Z) + np.diag([2 * alpha] * p + [0.0] * fi)
    for i in range(min(n, 5)):
        r = change_vector(est.influence([i], method="rif"), fi)
        f = change_vector(est.influence([i], method="if"), fi)
        assert r @ H @ r >= f @ H @ f * (1 - 1e-10)


# -- logistic regression ------------------------------------------------------


def _newton_step_loo(X, y, s, C, fit_intercept, penalised_intercept, th, i):
    """One Newton step on J_{-i} from θ̂, written out independently with numpy."""
    Z = np.hstack([X, np.ones((len(y), 1))]) if fit_intercept else X
    keep = keep_mask(len(y), [i])
    Zk, yk, sk = Z[keep], y[keep], s[keep]
    prob = 1 / (1 + np.exp(-(Zk @ th)))
    pen = np.ones(Z.shape[1])
    if fit_intercept:
        pen[-1] = penalised_intercept
    if np.isinf(C):
        grad = Zk.T @ (sk * (prob - yk))
        hess = Zk.T @ ((sk * prob * (1 - prob))[:, None] * Zk)
    else:
        grad = C * Zk.T @ (sk * (prob - yk)) + pen * th
        hess = C * Zk.T @ ((sk * prob * (1 - prob))[:, None] * Zk) + np.diag(pen)
    return -np.linalg.solve(hess, grad)


logistic_cases = st.tuples(
    st.integers(0, 100_000),
    st.integers(20, 60),  # n
    st.integers(1, 70),  # p: p > n included
    st.booleans(),  # fit_intercept
    st.booleans(),  # weights
    st.floats(0.05, 5.0),  # C
)


@settings(max_examples=30, deadline=None)
@given(logistic_cases)
def test_logistic_rif_is_one_exact_newton_step(case):
    seed, n, p, fi, weighted, C = case
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    assume(0 < y.sum() < n - 1)
    s = rng.uniform(0.3, 3.0, size=n) if weighted else np.ones(n)
    model = LogisticRegression(C=C, fit_intercept=fi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = InfluenceEstimator(model).fit(X, y, sample_weight=s)
    th = theta(est.estimator_)
    for i in rng.choice(n, size=3, replace=False):
        step = _newton_step_loo(X, y, s, C, fi, 0.0, th, i)
        delta = change_vector(est.influence([i]), fi)
        _assert_close(delta, step, 1e-8, np.abs(step).max())


def test_liblinear_rif_is_one_exact_newton_step(rng):
    X = rng.normal(size=(50, 8))
    y = (X[:, 0] + rng.normal(size=50) > 0).astype(int)
    model = LogisticRegression(C=2.0, solver="liblinear", intercept_scaling=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = InfluenceEstimator(model).fit(X, y)
    th = theta(est.estimator_)
    for i in (0, 9, 33):
        step = _newton_step_loo(X, y, np.ones(50), 2.0, True, 1 / 0.25, th, i)
        _assert_close(change_vector(est.influence([i])), step, 1e-8, np.abs(step).max())


def test_logistic_class_weight_rif_is_one_exact_newton_step(rng):
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    model = LogisticRegression(C=1.0, class_weight={0: 2.0, 1: 0.5})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = InfluenceEstimator(model).fit(X, y)
    s = np.where(y == 0, 2.0, 0.5)
    th = theta(est.estimator_)
    for i in (1, 20):
        step = _newton_step_loo(X, y, s, 1.0, True, 0.0, th, i)
        _assert_close(change_vector(est.influence([i])), step, 1e-8, np.abs(step).max())


def test_unpenalised_logistic_rif_equals_statsmodels_d_params(rng):
    n, p = 200, 4
    X = rng.normal(size=(n, p))
    y = (X @ np.array([1.0, -0.5, 0.3, 0.0]) + rng.normal(size=n) > 0).astype(int)
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    est = InfluenceEstimator(model).fit(X, y)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-14)
    d_params = glm.get_influence().d_params  # params − params_(−i), intercept first
    ours = np.array([change_vector(est.influence([i])) for i in range(n)])
    expected = -np.hstack([d_params[:, 1:], d_params[:, :1]])
    np.testing.assert_allclose(ours, expected, rtol=1e-7, atol=1e-10)


@pytest.mark.filterwarnings(ADDITIVE_SETS)
def test_logistic_refit_matches_sklearn_and_rif_beats_if_when_overparameterized():
    X, y = planted_logistic(120, 200, seed=4)
    model = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12, max_iter=500)
    est = InfluenceEstimator(model).fit(X, y)
    full = exact_refit(model, X, y, None, np.ones(120, bool))
    rif_err, if_err = [], []
    for T in ([3], [10, 11], list(range(20, 26))):
        true = theta(exact_refit(model, X, y, None, keep_mask(120, T))) - theta(full)
        refit = change_vector(est.influence(T, method="refit"))
        np.testing.assert_allclose(refit, true, rtol=1e-6, atol=1e-8 * np.abs(theta(full)).max())
        for method, errs in (("rif", rif_err), ("if", if_err)):
            delta = change_vector(est.influence(T, method=method))
            errs.append(np.linalg.norm(delta - true) / np.linalg.norm(true))
        newton = change_vector(est.influence(T, method="newton"))
        assert np.linalg.norm(newton - true) / np.linalg.norm(true) < 0.1
    assert rif_err[0] < 0.02 and max(rif_err) < 0.15
    assert all(f > 4 * r for f, r in zip(if_err, rif_err))


# -- edge cases ------------------------------------------------------------------


def test_leverage_one_rows_are_reported_not_silently_wrong():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 5))  # 6 rows, 6 parameters: interpolation, h_i = 1
    y = rng.normal(size=6)
    with pytest.warns(HighLeverageWarning, match="leverage 1"):
        est = InfluenceEstimator(LinearRegression()).fit(X, y)
    assert np.all(np.isinf(est.rescale_factors_))
    with pytest.warns(HighLeverageWarning, match=r"Rows \[2\]"):
        change = est.influence([2], method="rif")
    assert np.all(np.isnan(change.coef))
    assert np.all(np.isfinite(est.influence([2], method="if").coef))


def test_singular_hessian_warns_and_uses_pseudo_inverse():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    X = np.hstack([X, X[:, :2] @ np.array([[1.0], [2.0]])])  # collinear column
    y = X[:, 0] + rng.normal(size=40)
    with pytest.warns(SingularHessianWarning, match=r"rank 4 < 5"):
        est = InfluenceEstimator(LinearRegression()).fit(X, y)
    assert est.hessian_rank_ == 4
    # The predicted leave-one-out fit is exact even though θ is not identified.
    lr = LinearRegression().fit(np.delete(X, 7, axis=0), np.delete(y, 7))
    change = est.influence([7])
    pred = X @ (est.estimator_.coef_ + change.coef) + est.estimator_.intercept_ + change.intercept
    np.testing.assert_allclose(pred, lr.predict(X), rtol=1e-8, atol=1e-8)
    with pytest.raises(ValueError, match="singular"):
        est.influence([7], method="newton")


@pytest.mark.parametrize("p", [20, 80])  # primal (p < n) and dual (p > n) forms
@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_large_column_means_keep_full_accuracy(p, offset):
    """Raw features whose means dwarf their spread (years, prices): the unpenalised
    intercept is eliminated by centring, so no digits are lost."""
    rng = np.random.default_rng(0)
    n = 40
    X = rng.normal(size=(n, p)) + offset * rng.normal(size=p)
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    ridge = Ridge(alpha=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in particular no SingularHessianWarning
        est = InfluenceEstimator(ridge).fit(X, y)
    full = exact_refit(ridge, X, y, None, np.ones(n, bool))
    for T in ([3], [3, 4, 5]):
        true = theta(exact_refit(ridge, X, y, None, keep_mask(n, T))) - theta(full)
        method = "rif" if len(T) == 1 else "newton"
        delta = change_vector(est.influence(T, method=method))
        assert np.linalg.norm(delta - true) <= 1e-7 * np.linalg.norm(true)


def test_logistic_rif_error_is_second_order_in_the_step():
    """RIF is one exact Newton step, so its error against scikit-learn's tight refit
    shrinks quadratically with the size of the perturbation: downweighting the row by
    t, halving t divides the error by ~4 (MATH.md §2); IF's error is larger."""
    rng = np.random.default_rng(0)
    n, p = 40, 6
    X = rng.normal(size=(n, p))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    model = LogisticRegression(C=2.0, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    est = InfluenceEstimator(model).fit(X, y)
    i = int(np.argmax(est.leverages_))
    errors = {"rif": [], "if": []}
    for t in (0.4, 0.2, 0.1, 0.05):
        sw = np.ones(n)
        sw[i] = 1.0 - t
        true = theta(exact_refit(model, X, y, sw, np.ones(n, bool))) - theta(est.estimator_)
        for method, errs in errors.items():
            errs.append(np.linalg.norm(change_vector(est.influence([i], method=method, fraction=t)) - true))
    rif, if_ = np.array(errors["rif"]), np.array(errors["if"])
    ratios = rif[:-1] / rif[1:]
    assert np.all((ratios > 3.5) & (ratios < 4.6)), ratios
    assert np.all(rif < 0.5 * if_)


def test_newton_reports_a_stalled_line_search_as_not_converged(rng):
    """If no step length decreases the objective, the solve must not claim success."""
    from skrif._core.problem import Problem
    from skrif._objectives import SquaredObjective

    X = rng.normal(size=(30, 3))
    y = X @ np.ones(3) + rng.normal(size=30)
    objective = SquaredObjective(Ridge(alpha=1.0))
    Y = objective.encode_targets(y, None)

    class Stalled(Problem):
        start = None

        def value(self, theta, weights=None):
            # Every point but the start looks worse: the line search cannot progress.
            return 0.0 if np.array_equal(theta, self.start) else 1.0

    problem = Stalled(objective, X, Y, np.ones(30))
    # Close to the optimum (a step of ~1e-5): a stalled search there once passed the
    # step-size test and was reported as converged.
    optimum = theta(exact_refit(Ridge(alpha=1.0), X, y, None, np.ones(30, bool)))
    problem.start = (optimum + 1e-5).reshape(1, -1)
    end, _, converged = problem.newton(problem.start)
    assert not converged
    np.testing.assert_array_equal(end, problem.start)
