"""Linear SVMs with squared losses: LinearSVC(loss="squared_hinge", penalty="l2") and
LinearSVR(loss="squared_epsilon_insensitive"), attributed on the generalized Hessian.

Ground truth is scikit-learn's liblinear (tight tolerance, dual coordinate descent) and
its refits without the removed rows, plus a dense reference written here from
liblinear's documented objective (``½‖w̃‖² + Σ C_i ℓ_i`` with the intercept as the
weight of a constant feature ``intercept_scaling``), solved to machine precision.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.svm import LinearSVC, LinearSVR

from skrif import InfluenceEstimator
from skrif.exceptions import ActiveSetChangeWarning, UnsupportedModelError

from .conftest import answers_or_refusals, public_method_calls

TIGHT = dict(dual=True, tol=1e-10, max_iter=100_000, random_state=0)
_SKLEARN_PLUMBING = {"get_params", "set_params", "get_metadata_routing", "set_fit_request",
                     "set_score_request"}


def _data(seed=0, n=80):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0] + [0.0, 1.0, 0.0, -2.0, 0.0]
    y_class = (X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=n) > 0).astype(int)
    y_value = X @ [1.0, -0.5, 0.0, 0.3, 0.2] + rng.normal(size=n)
    return X, y_class, y_value, rng.uniform(0.5, 2.0, n)


def _svc(**kw):
    return LinearSVC(C=0.5, **TIGHT, **kw)


def _svr(**kw):
    return LinearSVR(loss="squared_epsilon_insensitive", C=0.5, epsilon=0.5, **TIGHT, **kw)


def _boundaries(model, X, y):
    """Signed distances to the margin (SVC) or the tube's two edges (SVR): a row is
    on its quadratic piece where one is positive."""
    if isinstance(model, LinearSVC):
        return (1.0 - (2.0 * y - 1.0) * model.decision_function(X))[:, None]
    r = model.predict(X) - y
    return np.column_stack([r - model.epsilon, -r - model.epsilon])


def _theta(model):
    return np.r_[np.ravel(model.coef_), np.ravel(model.intercept_)]


def _dense_reference(model, X, y, weights, keep=None):
    """liblinear's primal objective solved by dense Newton steps on the generalized
    Hessian (exact for a piecewise quadratic once the pieces stop changing)."""
    keep = np.ones(len(y), dtype=bool) if keep is None else keep
    scaling = model.intercept_scaling
    Xt = np.column_stack([X, np.full(len(y), scaling)])[keep]
    C = model.C * weights[keep]
    if isinstance(model, LinearSVC):
        u = 2.0 * y[keep] - 1.0
        cw = model.class_weight or {}
        C = C * np.array([cw.get(label, 1.0) for label in y[keep]])

        def margin(v):
            return 1.0 - u * (Xt @ v), -u
    else:
        def margin(v):
            r = Xt @ v - y[keep]
            return np.abs(r) - model.epsilon, np.sign(r)

    def value(v):
        m, _ = margin(v)
        return 0.5 * v @ v + np.sum(C * np.maximum(m, 0.0) ** 2)

    v = np.zeros(Xt.shape[1])
    for _ in range(100):
        m, slope = margin(v)
        active = m > 0
        grad = v + Xt.T @ (2.0 * C * np.where(active, m * slope, 0.0))
        H = np.eye(len(v)) + Xt.T @ ((2.0 * C * active)[:, None] * Xt)
        step = -np.linalg.solve(H, grad)
        t = 1.0
        while value(v + t * step) > value(v) + 1e-4 * t * grad @ step and t > 1e-12:
            t /= 2
        v = v + t * step
        if np.linalg.norm(t * step) <= 1e-15 * max(1.0, np.linalg.norm(v)):
            break
    return np.r_[v[:-1], v[-1] * scaling]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "make",
    [_svc, lambda: _svc(intercept_scaling=3.0, class_weight={0: 2.0}), _svr,
     lambda: _svr(intercept_scaling=0.5)],
    ids=["svc", "svc-scaled-intercept-class-weight", "svr", "svr-scaled-intercept"],
)
def test_the_liblinear_objective_is_rebuilt(make, weighted):
    X, yc, yv, s = _data()
    model = make()
    y = yc if isinstance(model, LinearSVC) else yv
    sw = s if weighted else None
    est = InfluenceEstimator(model).fit(X, y, sample_weight=sw)
    # scikit-learn's fit is at the optimum of skrif's objective (a wrong C, penalty
    # or intercept scaling would leave a gap of order 1e-2); skrif then polishes.
    assert est.optimality_gap_ < 1e-8
    reference = _dense_reference(model, X, y, np.ones(len(y)) if sw is None else sw)
    np.testing.assert_allclose(_theta(est.estimator_), reference, rtol=0, atol=1e-11 * np.linalg.norm(reference))


@pytest.mark.parametrize("make", [_svc, _svr], ids=["svc", "svr"])
def test_single_row_flags_and_exact_answers_match_scikit_learn_refits(make):
    X, yc, yv, s = _data(seed=1)
    model = make()
    y = yc if isinstance(model, LinearSVC) else yv
    est = InfluenceEstimator(model).fit(X, y, sample_weight=s)
    full = clone(model).fit(X, y, sample_weight=s)
    before = _boundaries(full, X, y) > 0
    flags = est._fitted_removal().changing_rows("rif")
    truly = np.zeros(len(y), dtype=bool)
    scale = np.linalg.norm(_theta(full))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        part = clone(model).fit(X[keep], y[keep], sample_weight=s[keep])
        B = _boundaries(part, X[keep], y[keep])
        assert np.min(np.abs(B)) > 1e-7  # no row sits on its boundary: truth is clear
        truly[i] = np.any((B > 0) != before[keep])
        if not truly[i]:
            # The margin set is kept: RIF (one exact Newton step) is the refit.
            truth = _theta(part) - _theta(full)
            change = est.influence([i], method="rif")
            got = np.r_[np.ravel(change.coef), np.ravel(change.intercept)]
            assert np.linalg.norm(got - truth) <= 1e-6 * np.linalg.norm(truth) + 1e-9 * scale
    assert truly.any() and not truly.all()
    np.testing.assert_array_equal(flags, truly)
    with pytest.warns(ActiveSetChangeWarning, match=f"any one of {truly.sum()} training rows"):
        est.loo_predict()


@pytest.mark.parametrize("make", [_svc, _svr], ids=["svc", "svr"])
def test_group_newton_step_is_exact_without_crossings_and_flagged_with_them(make):
    X, yc, yv, s = _data(seed=2, n=90)
    model = make()
    y = yc if isinstance(model, LinearSVC) else yv
    est = InfluenceEstimator(model).fit(X, y)
    before = _boundaries(est.estimator_, X, y) > 0
    rng = np.random.default_rng(3)
    seen = {True: 0, False: 0}
    for _ in range(12):
        idx = np.sort(rng.choice(len(y), 4, replace=False))
        keep = np.setdiff1d(np.arange(len(y)), idx)
        reference = _dense_reference(model, X, y, np.ones(len(y)), keep=np.isin(np.arange(len(y)), keep))
        truth = reference - _theta(est.estimator_)
        after = _boundaries(clone(model).fit(X[keep], y[keep]), X[keep], y[keep]) > 0
        crossed = bool(np.any(after != before[keep]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ActiveSetChangeWarning)
            change = est.influence(idx, method="newton")
        flagged = any(issubclass(w.category, ActiveSetChangeWarning) for w in caught)
        assert flagged == crossed
        got = np.r_[np.ravel(change.coef), np.ravel(change.intercept)]
        if crossed:
            assert "other training rows" in str(caught[0].message)
        else:
            assert np.linalg.norm(got - truth) <= 1e-9 * np.linalg.norm(truth) + 1e-12 * np.linalg.norm(reference)
        refit = est.influence(idx, method="refit")
        got = np.r_[np.ravel(refit.coef), np.ravel(refit.intercept)]
        assert np.linalg.norm(got - truth) <= 1e-10 * np.linalg.norm(reference)
        seen[crossed] += 1
    assert seen[True] and seen[False]


def test_rows_outside_the_margin_have_no_effect():
    X, yc, _, _ = _data(seed=4)
    est = InfluenceEstimator(_svc()).fit(X, yc)
    outside = np.flatnonzero(_boundaries(est.estimator_, X, yc)[:, 0] < 0)
    assert outside.size
    for method in ("if", "rif", "newton"):
        assert np.all(est.influence(outside[:5], method=method).coef == 0)
    with pytest.warns(ActiveSetChangeWarning, match="squared-hinge margin"):
        assert np.all(est.self_influence()[outside] == 0)


@pytest.mark.parametrize(
    "model, passed, advice",
    [
        (LinearSVC(loss="hinge"), "loss='hinge'", "loss='squared_hinge'"),
        (LinearSVC(penalty="l1", dual=False), "penalty='l1'", "penalty='l2'"),
        (LinearSVC(multi_class="crammer_singer"), "multi_class='crammer_singer'", "multi_class='ovr'"),
        (LinearSVC(class_weight="balanced"), "class_weight='balanced'", "class_weight dict"),
        (LinearSVR(loss="epsilon_insensitive"), "loss='epsilon_insensitive'",
         "loss='squared_epsilon_insensitive'"),
    ],
    ids=["hinge", "l1", "crammer-singer", "balanced", "epsilon-insensitive"],
)
def test_non_smooth_settings_are_refused_precisely(model, passed, advice):
    X, yc, yv, _ = _data()
    y = yc if isinstance(model, LinearSVC) else yv
    with pytest.raises(UnsupportedModelError) as info:
        InfluenceEstimator(model).fit(X, y)
    message = str(info.value)
    assert passed in message and advice in message


def test_multi_class_linear_svc_is_refused_with_the_reason():
    X, _, yv, _ = _data()
    with pytest.raises(UnsupportedModelError, match="3 classes.*own margin set"):
        InfluenceEstimator(_svc()).fit(X, np.digitize(yv, [-1.0, 1.0]))


@pytest.mark.parametrize("make", [_svc, _svr], ids=["svc", "svr"])
def test_every_public_method_answers_or_refuses_cleanly(make):
    X, yc, yv, _ = _data(seed=5, n=60)
    model = make()
    classifier = isinstance(model, LinearSVC)
    y = yc if classifier else yv
    X_test, y_test = X[:8] + 0.1, y[:8]
    est = InfluenceEstimator(model).fit(X, y)
    calls = public_method_calls(est, X, y, X_test, y_test)
    assert ("decision_function" in calls) == classifier
    assert ("predict_interval" in calls) == (not classifier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ActiveSetChangeWarning)
        refused = answers_or_refusals(calls)
    # No likelihood: no diagnostics table, and no class probabilities to judge
    # labels with (LinearSVR has no labels at all).
    assert set(refused) == {"diagnostics", "label_issues"}
    assert "not a likelihood" in refused["diagnostics"]
    assert ("predict_proba" if classifier else "classifier") in refused["label_issues"]
    assert not hasattr(est, "predict_proba") and not hasattr(est, "predict_set")
    with pytest.raises(ValueError, match="needs standard errors"):
        est.removal_to_flip(coef=0, conclusion="significance")


def test_svms_are_refused_on_dask():
    da = pytest.importorskip("dask.array")
    X, yc, _, _ = _data()
    with pytest.raises(UnsupportedModelError, match="Dask"):
        InfluenceEstimator(_svc()).fit(da.from_array(X, chunks=(40, 5)), da.from_array(yc, chunks=40))
