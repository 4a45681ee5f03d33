"""Groups as removal units and the error estimate of additive set answers (issue 11).

Ground truth: exact scikit-learn refits (Ridge cholesky, LogisticRegression
newton-cholesky at tol=1e-14) and scikit-learn's own cross_val_predict.
"""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    LeaveOneGroupOut,
    cross_val_predict,
)

from skrif import InfluenceEstimator
from skrif.exceptions import SetInteractionWarning, VerificationWarning
from skrif.validation import interaction_calibration, validate_influence

from .conftest import change_vector, exact_refit, keep_mask, theta


def tight_logistic(**kw):
    return LogisticRegression(solver="newton-cholesky", tol=1e-14, max_iter=1000, **kw)


def one_hot_data(seed=0, n=300, levels=6, rare=12):
    """Two numeric columns and a one-hot factor whose level 0 has only ``rare`` rows."""
    rng = np.random.default_rng(seed)
    group = rng.integers(1, levels, size=n)
    group[:rare] = 0
    X = np.hstack([rng.normal(size=(n, 2)), np.eye(levels)[group]])
    z = X[:, 0] - 0.5 * X[:, 1] + np.linspace(-1, 1, levels)[group] + 1.5 * (group == 0)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y, group


def ridge_data(seed=0, n=60, p=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + 1.0
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    groups = np.repeat(np.arange(n // 5), 5)
    return X, y, groups


# -- the error estimate ----------------------------------------------------------
def test_ridge_estimate_is_the_additive_answers_actual_error():
    # For least squares the group step is exact, so the estimate is RIF's error.
    X, y, _ = ridge_data()
    est = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y)
    rows = [0, 1, 2, 7, 30]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        change = est.influence(rows, method="rif")
    # Warned exactly when the estimate exceeds the threshold.
    warned = [w for w in caught if issubclass(w.category, SetInteractionWarning)]
    assert len(warned) == int(change.error_estimate.warned) and len(caught) == len(warned)
    truth = theta(exact_refit(Ridge(alpha=0.5), X, y, None, keep_mask(60, rows))) - theta(
        est.estimator_
    )
    actual = np.linalg.norm(change_vector(change) - truth) / np.linalg.norm(truth)
    assert actual > 1e-3  # the rows interact: RIF is not exact for the set
    assert change.error_estimate.relative_gap == pytest.approx(actual, rel=1e-6)
    assert change.error_estimate.max_leverage == pytest.approx(est.leverages_[rows].max())


def test_one_hot_level_warns_and_newton_matches_refit():
    X, y, group = one_hot_data()
    est = InfluenceEstimator(tight_logistic(C=10.0)).fit(X, y)
    rows = np.flatnonzero(group == 0)
    assert est.leverages_[rows].max() < 0.3
    with pytest.warns(SetInteractionWarning, match=r"12 rows is likely off.*joint leverage"):
        rif = est.influence(rows, method="rif")
    truth = theta(exact_refit(tight_logistic(C=10.0), X, y, None, keep_mask(len(y), rows)))
    truth = truth - theta(est.estimator_)
    rif_err = np.linalg.norm(change_vector(rif) - truth) / np.linalg.norm(truth)
    assert rif_err > 0.3
    assert rif.error_estimate.warned
    assert rif.error_estimate.joint_leverage > 3 * rif.error_estimate.max_leverage
    # The estimate is within a factor 1.5 of RIF's actual error.
    assert rif.error_estimate.relative_gap == pytest.approx(rif_err, rel=0.5)
    auto = est.influence(rows, method="auto")
    assert auto.method == "newton"
    auto_err = np.linalg.norm(change_vector(auto) - truth) / np.linalg.norm(truth)
    assert auto_err < 0.1 * rif_err


def test_no_estimate_for_single_rows_and_non_additive_methods():
    X, y, _ = ridge_data()
    est = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y)
    assert est.influence([3]).error_estimate is None
    assert est.influence([3, 4], method="newton").error_estimate is None
    assert est.influence([3], method="auto").method == "rif"


def test_removal_effect_warns_on_target_gap():
    X, y, group = one_hot_data(seed=1)
    est = InfluenceEstimator(tight_logistic(C=10.0)).fit(X, y)
    rows = np.flatnonzero(group == 0)
    X_eval = X[rows[:3]]
    with pytest.warns(SetInteractionWarning, match="effect for these 12 rows"):
        est.removal_effect(rows, X_eval, method="rif")
    auto = est.removal_effect(rows, X_eval, method="auto")
    newton = est.removal_effect(rows, X_eval, method="newton")
    np.testing.assert_allclose(auto, newton, rtol=1e-12)


# -- groups as removal units -----------------------------------------------------
def test_influence_of_a_group_equals_its_rows():
    X, y, groups = ridge_data()
    est = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y)
    labels = [2, 5]
    rows = np.flatnonzero(np.isin(groups, labels))
    a = est.influence(labels, groups=groups, method="newton")
    truth = theta(exact_refit(Ridge(alpha=0.5), X, y, None, keep_mask(60, rows)))
    np.testing.assert_allclose(change_vector(a) + theta(est.estimator_), truth, rtol=1e-9)
    np.testing.assert_array_equal(a.removed, rows)


def test_string_group_labels():
    X, y, groups = ridge_data()
    names = np.array([f"site-{g:02d}" for g in groups], dtype=object)
    est = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y)
    a = est.influence("site-03", groups=names, method="newton")
    b = est.influence(3, groups=groups, method="newton")
    np.testing.assert_array_equal(change_vector(a), change_vector(b))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_leave_one_group_out_ridge_is_exact(fit_intercept):
    X, y, groups = ridge_data(seed=3)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    est = InfluenceEstimator(Ridge(alpha=0.3, fit_intercept=fit_intercept)).fit(
        X, y, sample_weight=w
    )
    fast = est.loo_predict(target="predict", groups=groups)
    slow = np.empty(len(y))
    for train, test in LeaveOneGroupOut().split(X, y, groups):
        model = Ridge(alpha=0.3, fit_intercept=fit_intercept, solver="cholesky")
        slow[test] = model.fit(X[train], y[train], sample_weight=w[train]).predict(X[test])
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-10)
    from sklearn.metrics import r2_score

    assert est.loo_score(groups=groups) == pytest.approx(r2_score(y, slow), rel=1e-9)


@pytest.mark.parametrize("cv", [GroupKFold(4), 4])
def test_cv_predict_matches_cross_val_predict(cv):
    X, y, groups = ridge_data(seed=4)
    est = InfluenceEstimator(Ridge(alpha=0.3)).fit(X, y)
    fast = est.cv_predict(cv=cv, groups=groups, target="predict")
    splitter = cv if not isinstance(cv, int) else GroupKFold(cv)
    slow = cross_val_predict(Ridge(alpha=0.3, solver="cholesky"), X, y, cv=splitter, groups=groups)
    np.testing.assert_allclose(fast, slow, rtol=1e-9)


def test_cv_predict_logistic_newton_close_refit_exact():
    X, y, _ = one_hot_data(seed=2, n=200)
    est = InfluenceEstimator(tight_logistic(C=1.0)).fit(X, y)
    cv = KFold(5)
    slow = cross_val_predict(tight_logistic(C=1.0), X, y, cv=cv, method="decision_function")
    exact = est.cv_predict(cv=cv, method="refit")
    np.testing.assert_allclose(exact, slow, rtol=1e-7, atol=1e-8)
    approx = est.cv_predict(cv=cv)
    assert np.median(np.abs(approx - slow)) < 0.05 * np.median(np.abs(slow))


def test_group_scores_and_self_influence_against_refits():
    X, y, groups = ridge_data(seed=5)
    est = InfluenceEstimator(Ridge(alpha=0.3)).fit(X, y)
    X_eval = X[:7]
    scores = est.influence_scores(X_eval, groups=groups, target="predict")
    own = est.self_influence(groups=groups, target="loss")
    labels = np.unique(groups)
    assert scores.shape == (labels.size, 7) and own.shape == (labels.size,)
    base = est.predict(X_eval)
    for g in (0, 4, 11):
        keep = groups != labels[g]
        refit = Ridge(alpha=0.3, solver="cholesky").fit(X[keep], y[keep])
        np.testing.assert_allclose(scores[g], refit.predict(X_eval) - base, rtol=1e-9, atol=1e-12)
        mine = ~keep
        loss_without = np.sum((y[mine] - refit.predict(X[mine])) ** 2)
        loss_with = np.sum((y[mine] - est.predict(X[mine])) ** 2)
        assert own[g] == pytest.approx(loss_without - loss_with, rel=1e-9)
    additive = est.influence_scores(X_eval, groups=groups, target="predict", method="rif")
    rows = est.influence_scores(X_eval, target="predict")
    np.testing.assert_allclose(additive[4], rows[groups == labels[4]].sum(axis=0), rtol=1e-10)


def test_group_whose_removal_leaves_one_class_is_nan_with_warning():
    X, y, group = one_hot_data(seed=6, n=120)
    fake = np.where(y == 1, "positive", "g" + (group % 2).astype(str))
    est = InfluenceEstimator(tight_logistic(C=1.0)).fit(X, y)
    with pytest.warns(SetInteractionWarning, match="not determined \\(or not defined"):
        scores = est.self_influence(groups=fake)
    labels = np.unique(fake)
    assert np.isnan(scores[labels == "positive"]).all()
    assert np.isfinite(scores[labels != "positive"]).all()


# -- validation with groups and the calibration summary ---------------------------
def test_validate_influence_with_groups_and_estimate_column():
    X, y, groups = ridge_data(seed=7, n=120)
    est = InfluenceEstimator(Ridge(alpha=0.3)).fit(X[:100], y[:100])
    out = validate_influence(
        est, X[100:], y[100:], n_sets=6, groups=groups[:100], strategies=("random",),
        max_fraction=0.3, as_frame=False, random_state=0,
    )
    for _, rows in out["sets"]:
        assert np.all(np.isin(groups[:100][np.isin(np.arange(100), rows)], groups[:100][rows]))
        touched = np.unique(groups[:100][rows])
        assert np.isin(np.arange(100)[np.isin(groups[:100], touched)], rows).all()
    res = out["results"]
    rif = (res["method"] == "rif") & (res["size"] > 1) & np.isfinite(res["relative_error"])
    # Least squares: NS is exact, so the estimate equals the actual error.
    np.testing.assert_allclose(res["error_estimate"][rif], res["relative_error"][rif],
                               rtol=1e-6, atol=1e-9)
    calib = interaction_calibration(res)
    assert set(calib) == {"if", "rif"} and calib["rif"]["n_sets"] == int(rif.sum())


# -- bad input -------------------------------------------------------------------
def test_bad_groups():
    X, y, groups = ridge_data()
    est = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y)
    with pytest.raises(ValueError, match="one label per training row: expected length 60"):
        est.influence(1, groups=groups[:-1])
    bad = groups.astype(float)
    bad[4] = np.nan
    with pytest.raises(ValueError, match="missing labels.*rows \\[4\\]"):
        est.loo_predict(groups=bad)
    obj = groups.astype(object)
    obj[2] = None
    with pytest.raises(ValueError, match="missing labels"):
        est.self_influence(groups=obj)
    with pytest.raises(ValueError, match="Unknown group labels \\[99\\]"):
        est.influence([1, 99], groups=groups)
    with pytest.raises(ValueError, match="no training row with positive weight"):
        est.influence(np.unique(groups), groups=groups, method="newton")
    with pytest.raises(ValueError, match="Per-group answers use method"):
        est.influence_scores(X[:2], groups=groups, method="refit")
    with pytest.raises(ValueError, match="cv must be at least 2"):
        est.cv_predict(cv=1)
    with pytest.raises(ValueError, match="every training row in exactly one test fold"):
        from sklearn.model_selection import ShuffleSplit

        est.cv_predict(cv=ShuffleSplit(3, test_size=0.2, random_state=0))


def test_whole_class_group_refused():
    X, y, _ = one_hot_data(seed=8, n=100)
    est = InfluenceEstimator(tight_logistic(C=1.0)).fit(X, y)
    with pytest.raises(ValueError, match="single class"):
        est.influence([1], groups=y, method="newton")


def test_most_influential_groups_against_refits():
    X, y, groups = ridge_data(seed=9)
    est = InfluenceEstimator(Ridge(alpha=0.3)).fit(X, y)
    X_eval = X[:6]
    with pytest.warns(VerificationWarning, match="18.6% off"):  # the groups interact
        result = est.most_influential(X_eval, k=2, target="predict", groups=groups, verify=True)
    base = est.predict(X_eval).sum()
    labels = np.unique(groups)
    brute = np.array([
        Ridge(alpha=0.3, solver="cholesky").fit(X[groups != g], y[groups != g]).predict(X_eval).sum()
        - base
        for g in labels
    ])
    top = labels[np.argsort(-brute)[:2]]
    np.testing.assert_array_equal(result.groups, top)
    np.testing.assert_allclose(result.predicted, brute[np.argsort(-brute)[:2]].sum(), rtol=1e-9)
    keep = ~np.isin(groups, top)
    both = Ridge(alpha=0.3, solver="cholesky").fit(X[keep], y[keep]).predict(X_eval).sum() - base
    assert result.actual == pytest.approx(both, rel=1e-9)
    np.testing.assert_array_equal(result.rows, np.flatnonzero(~keep))
