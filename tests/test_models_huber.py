"""HuberRegressor: removals in the joint parameters (coef, intercept, scale).

Ground truth is scikit-learn's own objective: its loss-and-gradient function
(``sklearn.linear_model._huber._huber_loss_and_gradient``, the function its L-BFGS-B
minimises). The exact optimum of a reweighted objective is the root of that
gradient (scipy's ``root``, from skrif's point); one Newton step is computed with the
Hessian obtained by central differences of that gradient. scikit-learn's own fit stops
short of the optimum (1e-6..1e-2 relative even at ``tol=1e-12``), so it is compared
with, not used as, the truth.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import root
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import HuberRegressor
from sklearn.linear_model._huber import _huber_loss_and_gradient

from skrif import InfluenceEstimator
from skrif.exceptions import (
    ActiveSetChangeWarning,
    NoFiniteOptimumError,
    OptimalityWarning,
    UnsupportedModelError,
)

from .conftest import answers_or_refusals, public_method_calls

EPS, ALPHA = 1.35, 0.1


def _data(seed=0, n=80):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1.0, 2.0, 0.5, 3.0] + [0.0, 1.0, 0.0, -1.0]
    y = X @ [1.0, -0.5, 0.2, 0.3] + 1.0 + rng.standard_t(2, size=n)
    return X, y, rng.uniform(0.5, 2.0, n)


def _fit(X, y, sample_weight=None, **kw):
    params = dict(epsilon=EPS, alpha=ALPHA, tol=1e-12, max_iter=10_000) | kw
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OptimalityWarning)
        est = InfluenceEstimator(HuberRegressor(**params)).fit(X, y, sample_weight=sample_weight)
    # skrif polishes every fit; it says so when the gap is visible (above 1e-6).
    warned = [w for w in caught if issubclass(w.category, OptimalityWarning)]
    assert len(warned) == (est.optimality_gap_ > 1e-6)
    assert all("L-BFGS-B stops" in str(w.message) for w in warned)
    return est


def _gradient(X, y, weights, fit_intercept=True):
    def grad(phi):
        return _huber_loss_and_gradient(phi, X, y, EPS, ALPHA, weights)[1]

    return grad


def _optimum(grad, start):
    """The root of scikit-learn's gradient (Powell's hybrid method from ``start``),
    checked: its gradient is at rounding level."""
    sol = root(grad, start, method="hybr", options={"xtol": 1e-14})
    assert np.max(np.abs(grad(sol.x))) <= 1e-10 * np.max(np.abs(grad(start)))
    return sol.x


def _hessian(grad, phi, h=1e-6):
    """The Hessian by central differences of scikit-learn's gradient."""
    H = np.empty((phi.size, phi.size))
    for j in range(phi.size):
        e = np.zeros(phi.size)
        e[j] = h * max(1.0, abs(phi[j]))
        H[:, j] = (grad(phi + e) - grad(phi - e)) / (2 * e[j])
    return 0.5 * (H + H.T)


def _newton_step(grad, phi):
    """``−H⁻¹∇J`` at ``phi``."""
    return -np.linalg.solve(_hessian(grad, phi), grad(phi))


def _vector(change):
    return np.r_[np.ravel(change.coef), np.ravel(change.intercept), change.scale]


@pytest.mark.parametrize(
    "weighted, sparse, intercept",
    [(False, False, True), (True, False, True), (True, True, True), (False, False, False)],
    ids=["plain", "weighted", "weighted-sparse", "no-intercept"],
)
def test_polished_fit_is_the_optimum_of_scikit_learns_objective(weighted, sparse, intercept):
    X, y, s = _data()
    weights = s if weighted else np.ones(len(y))
    est = _fit(sp.csr_matrix(X) if sparse else X, y, s if weighted else None, fit_intercept=intercept)
    model = est.estimator_
    phi = np.r_[model.coef_, [model.intercept_] if intercept else [], model.scale_]
    grad = _gradient(X, y, weights)(phi)
    scale = _huber_loss_and_gradient(phi, X, y, EPS, ALPHA, weights)[0]
    assert np.max(np.abs(grad)) <= 1e-12 * scale
    # scikit-learn's own fit at tol=1e-12 stops short of it (documented).
    assert 1e-9 < est.optimality_gap_ < 1e-2
    np.testing.assert_allclose(model.predict(X[:5]), X[:5] @ model.coef_ + model.intercept_)


@pytest.mark.parametrize("weighted", [False, True])
def test_each_method_is_a_newton_step_in_coef_intercept_and_scale(weighted):
    X, y, s = _data()
    weights = s if weighted else np.ones(len(y))
    est = _fit(X, y, s if weighted else None)
    phi = est._fitted_removal().theta[0]
    full = _gradient(X, y, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ActiveSetChangeWarning)  # asserted below
        for idx in ([3], [10], [0, 5, 17, 40]):
            kept = weights.copy()
            kept[idx] = 0.0
            grad = _gradient(X, y, kept)
            step = _newton_step(grad, phi)
            newton = _vector(est.influence(idx, method="newton"))
            assert np.linalg.norm(newton - step) <= 1e-7 * np.linalg.norm(step)
            if len(idx) == 1:  # RIF: the same step; IF: with the full Hessian
                rif = _vector(est.influence(idx, method="rif"))
                assert np.linalg.norm(rif - step) <= 1e-7 * np.linalg.norm(step)
                # Leave-one-out predictions move with (coef, intercept) only.
                moved = X[idx[0]] @ (phi[:-2] + step[:-2]) + phi[-2] + step[-2]
                assert est.loo_predict()[idx[0]] == pytest.approx(moved, rel=1e-7)
                influence = np.linalg.solve(_hessian(full, phi), full(phi) - grad(phi))
                got = _vector(est.influence(idx, method="if"))
                assert np.linalg.norm(got - influence) <= 1e-7 * np.linalg.norm(influence)
            optimum = _optimum(grad, phi)
            refit = _vector(est.influence(idx, method="refit"))
            assert np.linalg.norm(phi + refit - optimum) <= 1e-9 * np.linalg.norm(optimum)
            assert np.max(np.abs(grad(phi + refit))) <= 1e-12 * _huber_loss_and_gradient(
                phi + refit, X, y, EPS, ALPHA, kept
            )[0]
            # One Newton step is not exact: the objective is not quadratic in σ.
            assert np.linalg.norm(newton - refit) > 1e-6 * np.linalg.norm(refit)


def test_threshold_crossings_are_flagged():
    X, y, _ = _data(seed=1)
    est = _fit(X, y)
    rm = est._fitted_removal()
    phi = rm.theta[0]
    n, p = X.shape

    def outliers(v):
        return np.abs(y - X @ v[:p] - v[p]) > EPS * v[-1]

    before = outliers(phi)
    flags = rm.changing_rows("rif")
    truth = np.zeros(n, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ActiveSetChangeWarning)
        for i in range(n):
            # The screened flags are the direct check of each row's RIF step.
            step = rm.parameter_change([i], "rif")
            assert flags[i] == bool(rm.crossing_rows([i], step).size)
            kept = np.ones(n)
            kept[i] = 0.0
            changed = outliers(_optimum(_gradient(X, y, kept), phi)) != before
            changed[i] = False
            truth[i] = changed.any()
    # Flags come from one Newton step, the truth from the exact optimum: they differ
    # where a row lies between the two (3 of 80 rows here).
    assert truth.sum() > 10 and np.mean(flags != truth) <= 0.05
    idx = np.flatnonzero(flags)[:3]
    with pytest.warns(ActiveSetChangeWarning, match=r"across the Huber threshold"):
        est.influence(idx, method="newton")
    with pytest.warns(ActiveSetChangeWarning, match="any one of"):
        est.loo_predict()


def test_every_public_method_answers_or_refuses_cleanly():
    X, y, _ = _data(seed=2, n=60)
    est = _fit(X, y)
    X_test, y_test = X[:8] + 0.1, y[:8]
    calls = public_method_calls(est, X, y, X_test, y_test)
    assert "predict_interval" in calls and "predict_proba" not in calls
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ActiveSetChangeWarning)
        warnings.simplefilter("ignore", OptimalityWarning)  # refitting: asserted in _fit
        refused = answers_or_refusals(calls)
        change = est.influence([4], method="refit")
    assert set(refused) == {"diagnostics", "label_issues"}  # no likelihood, no labels
    assert "not a likelihood" in refused["diagnostics"]
    with pytest.raises(ValueError, match="needs standard errors"):
        est.removal_to_flip(coef=0, conclusion="significance")
    # The scale's change is reported with the coefficients.
    keep = np.arange(len(y)) != 4
    optimum = _optimum(_gradient(X[keep], y[keep], np.ones(len(y) - 1)), est._fitted_removal().theta[0])
    assert change.scale == pytest.approx(optimum[-1] - est.estimator_.scale_, rel=1e-9)


@pytest.mark.parametrize("scale", [1e-12, 1e6], ids=["every-row-an-outlier", "every-row-an-inlier"])
def test_far_unconverged_start_is_polished_to_the_optimum(scale):
    """A frozen fit whose scale is far off (every row an outlier: no curvature along
    the scale) is polished to the optimum; attributions are computed there."""
    X, y, _ = _data(seed=4)
    model = HuberRegressor(epsilon=EPS, alpha=ALPHA, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # scikit-learn's own
        model.fit(X, y)
    model.scale_ = scale
    with pytest.warns(OptimalityWarning, match="frozen"):
        est = InfluenceEstimator(FrozenEstimator(model)).fit(X, y)
    phi = est._fitted_removal().theta[0]
    grad = _gradient(X, y, np.ones(len(y)))
    assert np.max(np.abs(grad(phi))) <= 1e-12 * _huber_loss_and_gradient(phi, X, y, EPS, ALPHA, np.ones(len(y)))[0]
    assert model.scale_ == scale  # the frozen model is never modified


def test_collapsing_scale_is_refused():
    """With as many coefficients as rows the fit interpolates: the objective decreases
    as the scale shrinks to 0 (every row an outlier), with no interior optimum."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(12, 14)), rng.normal(size=12)
    model = HuberRegressor(alpha=1e-4, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # scikit-learn's own
        fitted = clone(model).fit(X, y)
        assert fitted.scale_ < 1e-6  # scikit-learn heads for the bound on the scale
        with pytest.raises(NoFiniteOptimumError, match=r"12 samples.*scale shrinks to 0"):
            InfluenceEstimator(model).fit(X, y)


def test_huber_is_refused_on_dask():
    da = pytest.importorskip("dask.array")
    X, y, _ = _data()
    with pytest.raises(UnsupportedModelError, match="Dask"):
        InfluenceEstimator(HuberRegressor()).fit(da.from_array(X, chunks=(40, 4)), da.from_array(y, chunks=40))


def test_whole_pipeline_refit_carries_the_scale():
    """Removing rows from a pipeline refits the scaler and the Huber model (coef,
    intercept and scale): compared with the root of scikit-learn's gradient on the
    kept rows' refitted features."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, _ = _data(seed=5)
    pipe = make_pipeline(StandardScaler(), HuberRegressor(epsilon=EPS, alpha=ALPHA, tol=1e-12, max_iter=10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimalityWarning)
        est = InfluenceEstimator(pipe).fit(X, y)
    idx = [3, 30]
    keep = np.setdiff1d(np.arange(len(y)), idx)
    Z = StandardScaler().fit_transform(X[keep])
    model = est.estimator_[-1]
    start = np.r_[model.coef_, model.intercept_, model.scale_]
    optimum = _optimum(_gradient(Z, y[keep], np.ones(keep.size)), start)
    change = est.influence(idx, method="refit")
    np.testing.assert_allclose(_vector(change), optimum - start, rtol=0, atol=1e-9 * np.linalg.norm(optimum))
    with pytest.raises(UnsupportedModelError, match="scale model"):
        est.influence(idx, method="newton")
