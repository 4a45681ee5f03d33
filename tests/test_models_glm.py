"""Poisson / Gamma / Tweedie regressors: mean-form objectives with exact removals.

Ground truths are independent of skrif: the leave-one-out objective's gradient and
Hessian are assembled here from scikit-learn's own loss object (``_base_loss``,
which is what the estimator minimises) and the mean-form penalty of MODELS.md;
exact refits are scikit-learn ``newton-cholesky`` fits at tol=1e-14; statsmodels
gives ``d_params`` for the unpenalised Poisson model.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor

from skrif import InfluenceEstimator
from skrif._linalg.design import AugmentedDesign
from skrif._removal.penalty_share import MeanFormCurvature
from skrif.exceptions import NotPositiveDefiniteError, SingularHessianWarning

# These tests check additive (IF/RIF) answers for sets on purpose; the
# SetInteractionWarning such answers raise is tested in test_groups.py.
ADDITIVE_SETS = "ignore::skrif.exceptions.SetInteractionWarning"

CASES = {
    "poisson": (PoissonRegressor, {"alpha": 0.5}),
    "poisson-unpenalised": (PoissonRegressor, {"alpha": 0.0}),
    "poisson-no-intercept": (PoissonRegressor, {"alpha": 0.2, "fit_intercept": False}),
    "gamma": (GammaRegressor, {"alpha": 0.3}),
    "tweedie-1.5-log": (TweedieRegressor, {"power": 1.5, "alpha": 0.2}),
    "tweedie-0-identity": (TweedieRegressor, {"power": 0.0, "alpha": 0.2}),
    "tweedie-0-log": (TweedieRegressor, {"power": 0.0, "alpha": 0.2, "link": "log"}),
    "tweedie-1.5-identity": (TweedieRegressor, {"power": 1.5, "alpha": 0.2, "link": "identity"}),
    "tweedie-3-log": (TweedieRegressor, {"power": 3.0, "alpha": 0.2}),
}


def _data(name, n=60, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * 0.5
    mu = np.exp(0.3 + X @ np.linspace(-0.5, 0.5, p))
    if "identity" in name and "tweedie-0" not in name:
        X = np.abs(X)  # keep μ = x̃·θ positive
        mu = 1.0 + X @ np.linspace(0.2, 0.6, p)
    y = rng.gamma(2.0, mu / 2.0) if ("gamma" in name or "tweedie" in name) else rng.poisson(mu)
    sw = rng.uniform(0.5, 2.0, size=n)
    return X, y.astype(float), sw


def _fit(name, X, y, sw):
    cls, params = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return InfluenceEstimator(cls(**params)).fit(X, y, sample_weight=sw)


def _loo_newton_step(est, X, y, sw, j):
    """One Newton step on J_{-j} = Σ_{i≠j} s_i ℓ_i + (α/2)(S − s_j)‖w‖² from θ̂."""
    model = est.estimator_
    fit_intercept = model.fit_intercept
    Xt = np.hstack([X, np.ones((len(y), 1))]) if fit_intercept else X
    theta = np.append(model.coef_, model.intercept_) if fit_intercept else model.coef_.copy()
    raw = Xt @ theta
    grad, hess = model._base_loss.gradient_hessian(y_true=y, raw_prediction=raw)
    keep = np.arange(len(y)) != j
    s = sw * keep
    alpha, S = model.alpha, sw.sum() - sw[j]
    P = np.eye(Xt.shape[1])
    if fit_intercept:
        P[-1, -1] = 0.0
    g = Xt.T @ (s * grad) + alpha * S * P @ theta
    H = Xt.T @ ((s * hess)[:, None] * Xt) + alpha * S * P
    return -np.linalg.solve(H, g)


def _flat(change, fit_intercept):
    return np.append(change.coef, change.intercept) if fit_intercept else change.coef


@pytest.mark.parametrize("name", list(CASES))
def test_rif_is_one_newton_step_on_leave_one_out(name):
    X, y, sw = _data(name)
    est = _fit(name, X, y, sw)
    fit_intercept = est.estimator_.fit_intercept
    for j in [0, 17, 42]:
        step = _loo_newton_step(est, X, y, sw, j)
        rif = _flat(est.influence([j]), fit_intercept)
        np.testing.assert_allclose(rif, step, rtol=1e-8, atol=1e-12 * np.abs(step).max())


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie-1.5-log", "tweedie-0-identity"])
def test_refit_matches_sklearn_and_newton_step_is_close(name):
    X, y, sw = _data(name)
    est = _fit(name, X, y, sw)
    cls, params = CASES[name]
    rows = [3, 8, 21]
    keep = np.setdiff1d(np.arange(len(y)), rows)
    ref = cls(**params, solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(
        X[keep], y[keep], sample_weight=sw[keep]
    )
    exact = np.append(ref.coef_, ref.intercept_) - np.append(
        est.estimator_.coef_, est.estimator_.intercept_
    )
    refit = _flat(est.influence(rows, method="refit"), True)
    np.testing.assert_allclose(refit, exact, rtol=1e-7, atol=1e-10)
    newton = _flat(est.influence(rows, method="newton"), True)
    tol = 1e-10 if name == "tweedie-0-identity" else 0.1  # exact for a quadratic loss
    assert np.linalg.norm(newton - exact) <= tol * np.linalg.norm(exact)


def test_weight_zero_equals_removal():
    # scikit-learn's own tight fit with the row's weight set to 0 is the removal
    # skrif computes (mean form: the row's penalty share goes with its weight).
    X, y, sw = _data("poisson")
    est = _fit("poisson", X, y, sw)
    sw0 = sw.copy()
    sw0[5] = 0.0
    ref = PoissonRegressor(alpha=0.5, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    ref.fit(X, y, sample_weight=sw0)
    removed = est.influence([5], method="refit")
    np.testing.assert_allclose(est.estimator_.coef_ + removed.coef, ref.coef_, atol=1e-10)
    np.testing.assert_allclose(
        est.estimator_.intercept_ + removed.intercept, ref.intercept_, atol=1e-10
    )
    zero = _fit("poisson", X, y, sw0)
    np.testing.assert_allclose(zero.estimator_.coef_, ref.coef_, atol=1e-10)


def test_penalty_share_is_removed_with_the_row():
    # Identity-link Tweedie power 0 is quadratic: RIF must be the exact LOO change
    # (scikit-learn's tight refit without the row), which it is only if the removed
    # row's penalty share leaves with it.
    X, y, sw = _data("tweedie-0-identity")
    est = _fit("tweedie-0-identity", X, y, sw)
    cls, params = CASES["tweedie-0-identity"]
    for j in [1, 30]:
        keep = np.arange(len(y)) != j
        ref = cls(**params, solver="newton-cholesky", tol=1e-14, max_iter=1000)
        ref.fit(X[keep], y[keep], sample_weight=sw[keep])
        change = est.influence([j])
        np.testing.assert_allclose(est.estimator_.coef_ + change.coef, ref.coef_, atol=1e-11)
        np.testing.assert_allclose(
            est.estimator_.intercept_ + change.intercept, ref.intercept_, atol=1e-11
        )


def test_rif_closer_than_if_overparameterized():
    rng = np.random.default_rng(3)
    n, p = 40, 30
    X = rng.normal(size=(n, p)) / np.sqrt(p)
    y = rng.poisson(np.exp(0.5 + X @ rng.normal(size=p)))
    est = InfluenceEstimator(PoissonRegressor(alpha=0.01, solver="newton-cholesky", tol=1e-12))
    est.fit(X, y)
    for j in range(5):
        exact = est.influence([j], method="refit").coef
        rif_err = np.linalg.norm(est.influence([j]).coef - exact)
        if_err = np.linalg.norm(est.influence([j], method="if").coef - exact)
        assert rif_err < if_err


def test_unpenalised_poisson_matches_statsmodels_d_params():
    X, y, _ = _data("poisson", n=50, p=3)
    res = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson()).fit(tol=1e-14)
    d_params = res.get_influence().d_params  # θ̂ − θ̂_{−i}, constant first
    est = InfluenceEstimator(PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12))
    est.fit(X, y)
    for j in range(0, 50, 7):
        change = est.influence([j])
        np.testing.assert_allclose(
            -d_params[j], np.append(change.intercept, change.coef), rtol=1e-8, atol=1e-12
        )


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_singular_hessian_uses_pseudo_inverse_and_indefinite_is_refused():
    # An unpenalised GLM on duplicated columns has a singular Hessian: pseudo-inverse
    # (minimum-norm changes, which split the change equally over the twin columns).
    X, y, _ = _data("poisson")
    X = np.hstack([X, X[:, :1]])
    with pytest.warns(SingularHessianWarning, match="singular"):
        est = InfluenceEstimator(PoissonRegressor(alpha=0.0, solver="newton-cholesky")).fit(X, y)
    assert est.hessian_rank_ == X.shape[1]
    change = est.influence([4])
    assert np.all(np.isfinite(change.coef))
    np.testing.assert_allclose(change.coef[0], change.coef[-1], rtol=1e-8)
    # Rows of negative curvature (Tweedie power > 2, log link) can make H indefinite.
    design = AugmentedDesign(X[:, :2], True)
    d = np.where(np.arange(len(y)) < 40, -1.0, 0.1)
    with pytest.raises(NotPositiveDefiniteError, match="negative eigenvalue.*power > 2"):
        MeanFormCurvature(design, d, 0.1, 0.0, 0.1, np.ones(len(y)))


_PROPERTY_EST = {}


def _property_estimator():
    if not _PROPERTY_EST:
        X, y, sw = _data("gamma", n=40)
        _PROPERTY_EST["est"] = _fit("gamma", X, y, sw)
    return _PROPERTY_EST["est"]


@pytest.mark.filterwarnings(ADDITIVE_SETS)
@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.integers(0, 39), min_size=1, max_size=6, unique=True))
def test_property_rif_additive_and_one_row_newton_equals_rif(rows):
    # Two code paths (Sherman–Morrison per row vs Woodbury for a set) must agree on
    # one row; RIF is additive over rows.
    est = _property_estimator()
    singles = [est.influence([r]) for r in rows]
    np.testing.assert_allclose(est.influence(rows).coef, sum(c.coef for c in singles), atol=1e-12)
    newton = est.influence(rows[:1], method="newton")
    np.testing.assert_allclose(newton.coef, singles[0].coef, rtol=1e-9, atol=1e-14)


def test_sparse_input_gives_the_dense_answers():
    X, y, sw = _data("poisson")
    X[np.abs(X) < 0.3] = 0.0
    dense = _fit("poisson", X, y, sw)
    sparse = _fit("poisson", sp.csr_matrix(X), y, sw)
    for method in ("if", "rif", "newton", "refit"):
        np.testing.assert_allclose(
            sparse.influence([1, 4], method=method).coef,
            dense.influence([1, 4], method=method).coef,
            atol=1e-12,
        )


def test_non_convex_tweedie_point_refused_through_the_estimator():
    # Tweedie power 3, log link: ℓ'' = −e^{−z} + 2y e^{−2z} < 0 wherever μ = e^z > 2y.
    # A (frozen) model whose μ is far above every y sits where H is negative definite.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = rng.gamma(2.0, 1.0, size=50)
    model = TweedieRegressor(power=3.0, alpha=0.0).fit(X, y)
    model.intercept_ = np.log(10 * y.max())
    with pytest.raises(NotPositiveDefiniteError, match="negative eigenvalue.*not convex"):
        InfluenceEstimator(FrozenEstimator(model), polish=False).fit(X, y)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_large_column_means_lose_no_digits(offset):
    # Identity-link Tweedie power 0 is Ridge(alpha=α·S) in closed form (the mean-form
    # objective times 2S); removing row j gives Ridge(alpha=α·(S − s_j)). Columns with
    # mean 1e3 and spread 1 make the raw-coordinate Hessian singular to working
    # precision; skrif works in centred coordinates.
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    n, p, alpha = 60, 4, 0.05
    X = rng.normal(size=(n, p)) + offset
    y = (X - offset) @ np.linspace(-1, 1, p) + rng.normal(size=n) + 5
    sw = rng.uniform(0.5, 2.0, size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = InfluenceEstimator(TweedieRegressor(power=0.0, alpha=alpha)).fit(X, y, sample_weight=sw)
    full = Ridge(alpha=alpha * sw.sum(), solver="cholesky").fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(est.estimator_.coef_, full.coef_, rtol=1e-10)
    for j in [0, 7, 33]:
        keep = np.arange(n) != j
        ref = Ridge(alpha=alpha * sw[keep].sum(), solver="cholesky")
        ref.fit(X[keep], y[keep], sample_weight=sw[keep])
        change = est.influence([j])
        np.testing.assert_allclose(
            est.estimator_.coef_ + change.coef, ref.coef_, rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(
            est.estimator_.intercept_ + change.intercept, ref.intercept_, rtol=1e-9
        )


@pytest.mark.parametrize("weighted", [False, True])
def test_overparameterized_dual_form_is_one_newton_step(weighted):
    # p̃ > n: with uniform penalty shares (no sample_weight) skrif uses two n × n dual
    # factorizations (UniformShareCurvature); with varying weights, the primal form.
    from skrif._removal.penalty_share import MeanFormCurvature, UniformShareCurvature

    rng = np.random.default_rng(4)
    n, p = 40, 70
    X = rng.normal(size=(n, p)) / np.sqrt(p) + 2.0
    y = rng.poisson(np.exp(0.3 + (X - 2.0) @ rng.normal(size=p))).astype(float)
    sw = rng.uniform(0.5, 2.0, size=n) if weighted else np.ones(n)
    est = InfluenceEstimator(PoissonRegressor(alpha=0.05, solver="newton-cholesky", tol=1e-12))
    est.fit(X, y, sample_weight=sw if weighted else None)
    kind = MeanFormCurvature if weighted else UniformShareCurvature
    assert type(est._removal.curvature) is kind
    for j in [0, 13, 39]:
        step = _loo_newton_step(est, X, y, sw, j)
        rif = _flat(est.influence([j]), True)
        np.testing.assert_allclose(rif, step, rtol=1e-8, atol=1e-12 * np.abs(step).max())
    rows = [1, 2, 30]
    newton = _flat(est.influence(rows, method="newton"), True)
    refit = _flat(est.influence(rows, method="refit"), True)
    assert np.linalg.norm(newton - refit) < 0.05 * np.linalg.norm(refit)


def test_targets_outside_the_deviance_domain_are_refused():
    # The half deviance is NaN for y < 0 (Poisson) or y ≤ 0 (Gamma): refuse instead
    # of returning NaN effects, for evaluation rows and for a frozen model's data.
    X, y, sw = _data("poisson")
    est = _fit("poisson", X, y, sw)
    with pytest.raises(ValueError, match=r"y must be >= 0 .* power 1"):
        est.removal_effect([0], X[:2], [-1.0, 1.0], target="loss")
    with pytest.raises(ValueError, match=r"y must be >= 0"):
        est.influence_scores(X[:2], [1.0, -2.0], target="loss")
    Xg, yg, _ = _data("gamma")
    model = GammaRegressor(alpha=0.3).fit(Xg, yg)
    y_bad = yg.copy()
    y_bad[3] = 0.0
    with pytest.raises(ValueError, match=r"y must be > 0 .* power 2"):
        InfluenceEstimator(FrozenEstimator(model)).fit(Xg, y_bad)
