"""Attribution API against independent ground truth.

* Ridge: one-row RIF and group Newton steps are exact for least squares, so every
  attribution must equal the change seen after refitting scikit-learn's
  ``Ridge(solver="cholesky")`` without the rows (to ~1e-8 relative).
* Logistic: exact refits are ``LogisticRegression(solver="newton-cholesky",
  tol=1e-12)``; score matrices must equal single-row linearized removal effects.
* most_influential: brute force over every k-subset under additivity.
* The paper's poisoning scenario (Figure 3): RIF vs IF vs refit on a planted,
  overparameterized logistic problem.
"""

import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
    SGDRegressor,
)
from sklearn.metrics import mean_poisson_deviance

from skrif import InfluenceEstimator
from skrif.exceptions import HighLeverageWarning, OptimalityWarning, VerificationWarning

# These tests check additive (IF/RIF) answers for sets on purpose; the
# SetInteractionWarning such answers raise is tested in test_groups.py.
ADDITIVE_SETS = "ignore::skrif.exceptions.SetInteractionWarning"


# -- data and ground truth --------------------------------------------------------
def planted_logistic(n, p, *, scale=10.0, offset=0.3, seed=0):
    """Planted-logistic data of BENCHMARKS.md: power-law spectrum, std(x·θ*) = 6."""
    rng = np.random.default_rng(seed)
    s = np.arange(1, p + 1) ** -0.5
    s *= scale / np.sqrt(np.sum(s**2))
    s = s[rng.permutation(p)]
    X = rng.normal(size=(n, p)) * s
    theta_star = rng.normal(size=p) * s
    theta_star *= 6.0 / np.sqrt(np.sum((s * theta_star) ** 2))
    y = (rng.uniform(size=n) < expit(X @ theta_star + offset)).astype(int)
    return X, y


def ridge_refit(X, y, keep, alpha, fit_intercept=True, sample_weight=None):
    sw = None if sample_weight is None else sample_weight[keep]
    model = Ridge(alpha=alpha, solver="cholesky", fit_intercept=fit_intercept)
    return model.fit(X[keep], y[keep], sample_weight=sw)


def logistic_refit(X, y, keep, C):
    model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    return model.fit(X[keep], y[keep])


def keep_mask(n, removed):
    keep = np.ones(n, dtype=bool)
    keep[list(removed)] = False
    return keep


def sklearn_target(model, X, y, target):
    """The target computed by scikit-learn itself (with a trailing output axis kept
    as scikit-learn returns it)."""
    if target in ("predict", "decision_function"):
        return model.predict(X) if isinstance(model, Ridge) else model.decision_function(X)
    if target == "predict_proba":
        return model.predict_proba(X)
    if isinstance(model, Ridge):
        residual = (np.asarray(y) - model.predict(X)).reshape(len(X), -1)
        return np.sum(residual**2, axis=1)
    proba = model.predict_proba(X)[:, 1]
    return -np.where(y == model.classes_[1], np.log(proba), np.log1p(-proba))


def assert_close(actual, expected, rtol):
    """Relative to the largest expected magnitude (effects are differences)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = np.max(np.abs(expected))
    assert scale > 0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


# -- ridge: exact -------------------------------------------------------------------
def ridge_data(multi_target, sparse, weighted, seed=0):
    rng = np.random.default_rng(seed)
    n, p = 30, 6
    X = rng.normal(size=(n, p))
    X[rng.uniform(size=X.shape) < 0.3] = 0.0
    coef = rng.normal(size=(p, 2))
    Y = X @ coef + rng.normal(size=(n, 2)) + 1.5
    y = Y if multi_target else Y[:, 0]
    X_eval = rng.normal(size=(7, p))
    Y_eval = X_eval @ coef + rng.normal(size=(7, 2))
    y_eval = Y_eval if multi_target else Y_eval[:, 0]
    sw = rng.uniform(0.5, 2.0, size=n) if weighted else None
    X_fit = sp.csr_matrix(X) if sparse else X
    return X, X_fit, y, X_eval, y_eval, sw


RIDGE_CASES = [
    pytest.param(False, False, False, True, id="single"),
    pytest.param(True, False, False, True, id="multi-target"),
    pytest.param(False, True, True, True, id="sparse-weighted"),
    pytest.param(True, False, True, False, id="multi-weighted-no-intercept"),
]


@pytest.mark.parametrize("multi, sparse, weighted, fit_intercept", RIDGE_CASES)
@pytest.mark.parametrize("target", ["predict", "decision_function", "loss"])
def test_ridge_single_row_effects_equal_refits(multi, sparse, weighted, fit_intercept, target):
    X, X_fit, y, X_eval, y_eval, sw = ridge_data(multi, sparse, weighted)
    alpha = 3.0
    est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12))
    est.fit(X_fit, y, sample_weight=sw)
    base = sklearn_target(
        ridge_refit(X, y, np.ones(len(X), bool), alpha, fit_intercept, sw), X_eval, y_eval, target
    )
    for i in (0, 7, 29):
        refit = ridge_refit(X, y, keep_mask(len(X), [i]), alpha, fit_intercept, sw)
        expected = sklearn_target(refit, X_eval, y_eval, target) - base
        effect = est.removal_effect([i], X_eval, y_eval, target=target, method="rif")
        assert_close(effect, expected, 1e-8)


@pytest.mark.parametrize("multi, sparse, weighted, fit_intercept", RIDGE_CASES)
@pytest.mark.parametrize("method", ["newton", "refit"])
def test_ridge_set_effects_equal_refits(multi, sparse, weighted, fit_intercept, method):
    X, X_fit, y, X_eval, y_eval, sw = ridge_data(multi, sparse, weighted, seed=1)
    alpha = 0.5
    est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12))
    est.fit(X_fit, y, sample_weight=sw)
    full = ridge_refit(X, y, np.ones(len(X), bool), alpha, fit_intercept, sw)
    for removed in ([2, 3, 11], [0, 5, 9, 17, 21, 28]):
        refit = ridge_refit(X, y, keep_mask(len(X), removed), alpha, fit_intercept, sw)
        for target in ("predict", "loss"):
            expected = sklearn_target(refit, X_eval, y_eval, target) - sklearn_target(
                full, X_eval, y_eval, target
            )
            effect = est.removal_effect(removed, X_eval, y_eval, target=target, method=method)
            assert_close(effect, expected, 1e-8)


@pytest.mark.parametrize("multi, sparse, weighted, fit_intercept", RIDGE_CASES)
def test_ridge_influence_scores_equal_leave_one_out_refits(multi, sparse, weighted, fit_intercept):
    X, X_fit, y, X_eval, y_eval, sw = ridge_data(multi, sparse, weighted, seed=2)
    alpha = 1.0
    est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12))
    est.fit(X_fit, y, sample_weight=sw)
    X_eval_in = sp.csr_matrix(X_eval) if sparse else X_eval
    scores = est.influence_scores(X_eval_in, target="decision_function", method="rif")
    base = ridge_refit(X, y, np.ones(len(X), bool), alpha, fit_intercept, sw).predict(X_eval)
    loo = np.stack(
        [
            ridge_refit(X, y, keep_mask(len(X), [i]), alpha, fit_intercept, sw).predict(X_eval)
            - base
            for i in range(len(X))
        ]
    )
    assert scores.shape == loo.shape == ((30, 7, 2) if multi else (30, 7))
    assert_close(scores, loo, 1e-8)
    np.testing.assert_allclose(est.influence_scores(X_eval, target="predict"), scores, rtol=1e-12)


@pytest.mark.parametrize("multi, sparse, weighted, fit_intercept", RIDGE_CASES)
def test_ridge_self_influence_equals_leave_one_out(multi, sparse, weighted, fit_intercept):
    X, X_fit, y, _, _, sw = ridge_data(multi, sparse, weighted, seed=3)
    alpha = 1.0
    est = InfluenceEstimator(Ridge(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12))
    est.fit(X_fit, y, sample_weight=sw)
    full = ridge_refit(X, y, np.ones(len(X), bool), alpha, fit_intercept, sw)
    for target in ("predict", "loss"):
        expected = np.stack(
            [
                sklearn_target(
                    ridge_refit(X, y, keep_mask(len(X), [i]), alpha, fit_intercept, sw),
                    X[i : i + 1],
                    y[i : i + 1],
                    target,
                )[0]
                - sklearn_target(full, X[i : i + 1], y[i : i + 1], target)[0]
                for i in range(len(X))
            ]
        )
        assert_close(est.self_influence(target=target, method="rif"), expected, 1e-8)
    # For the raw output the linearized and evaluated effects coincide.
    np.testing.assert_allclose(
        est.self_influence(target="predict", linearized=True),
        est.self_influence(target="predict"),
        rtol=1e-12,
    )


def test_ridge_exact_loss_scores_when_not_linearized():
    """Evaluated at the predicted parameters, the loss effect of one row is exact."""
    X, X_fit, y, X_eval, y_eval, _ = ridge_data(False, False, False, seed=4)
    est = InfluenceEstimator(Ridge(alpha=2.0)).fit(X, y)
    full = ridge_refit(X, y, np.ones(len(X), bool), 2.0)
    one = ridge_refit(X, y, keep_mask(len(X), [13]), 2.0)
    expected = sklearn_target(one, X_eval, y_eval, "loss") - sklearn_target(
        full, X_eval, y_eval, "loss"
    )
    assert_close(est.removal_effect([13], X_eval, y_eval, target="loss"), expected, 1e-8)
    linear = est.removal_effect([13], X_eval, y_eval, target="loss", linearized=True)
    assert not np.allclose(linear, expected, rtol=1e-6)


def test_ridge_most_influential_verify_is_a_refit():
    X, _, y, X_eval, y_eval, _ = ridge_data(False, False, False, seed=5)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    # the four rows interact: the refit is 25% above the additive prediction, and says so
    with pytest.warns(VerificationWarning, match="25.2% off"):
        rows, predicted, actual = est.most_influential(
            X_eval, y_eval, k=4, target="loss", verify=True
        )
    full = ridge_refit(X, y, np.ones(len(X), bool), 1.0)
    refit = ridge_refit(X, y, keep_mask(len(X), rows), 1.0)
    expected = np.sum(
        sklearn_target(refit, X_eval, y_eval, "loss") - sklearn_target(full, X_eval, y_eval, "loss")
    )
    np.testing.assert_allclose(actual, expected, rtol=1e-8)
    scores = est.influence_scores(X_eval, y_eval, target="loss").sum(axis=1)
    np.testing.assert_allclose(predicted, scores[rows].sum(), rtol=1e-10)
    assert predicted > 0


# -- logistic ---------------------------------------------------------------------------
LOGISTIC_CASES = [
    pytest.param(60, 5, 1.0, id="primal"),
    pytest.param(40, 80, 0.5, id="dual-overparameterized"),
]


def logistic_estimator(n, p, C, seed=0):
    X, y = planted_logistic(n + 6, p, seed=seed)
    model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    est = InfluenceEstimator(model).fit(X[:n], y[:n])
    return est, X[:n], y[:n], X[n:], y[n:]


@pytest.mark.parametrize("n, p, C", LOGISTIC_CASES)
@pytest.mark.parametrize("target", ["decision_function", "predict_proba", "loss"])
@pytest.mark.parametrize("method", ["if", "rif"])
def test_logistic_influence_scores_are_single_row_effects(n, p, C, target, method):
    est, X, y, X_eval, y_eval = logistic_estimator(n, p, C)
    scores = est.influence_scores(X_eval, y_eval, target=target, method=method)
    assert scores.shape == ((n, 6, 2) if target == "predict_proba" else (n, 6))
    single = np.stack(
        [
            est.removal_effect([i], X_eval, y_eval, target=target, method=method, linearized=True)
            for i in range(n)
        ]
    )
    assert_close(scores, single, 1e-10)


@pytest.mark.parametrize("n, p, C", LOGISTIC_CASES)
def test_logistic_refit_effects_equal_sklearn_refits(n, p, C):
    est, X, y, X_eval, y_eval = logistic_estimator(n, p, C, seed=1)
    full = logistic_refit(X, y, np.ones(n, bool), C)
    for removed in ([4], [1, 8, 20, 33]):
        refit = logistic_refit(X, y, keep_mask(n, removed), C)
        for target in ("decision_function", "predict_proba", "loss"):
            expected = sklearn_target(refit, X_eval, y_eval, target) - sklearn_target(
                full, X_eval, y_eval, target
            )
            effect = est.removal_effect(removed, X_eval, y_eval, target=target, method="refit")
            assert_close(effect, expected, 1e-7)


@pytest.mark.parametrize("n, p, C", LOGISTIC_CASES)
def test_logistic_self_influence_paths_agree(n, p, C):
    est, X, y, _, _ = logistic_estimator(n, p, C, seed=2)
    for target in ("decision_function", "predict_proba", "loss"):
        for linearized in (False, True):
            values = est.self_influence(target=target, linearized=linearized)
            single = np.stack(
                [
                    est.removal_effect(
                        [i], X[i : i + 1], y[i : i + 1], target=target, linearized=linearized
                    )[0]
                    for i in range(n)
                ]
            )
            assert_close(values, single, 1e-10)
        diag = est.influence_scores(X, y, target=target)[np.arange(n), np.arange(n)]
        assert_close(est.self_influence(target=target, linearized=True), diag, 1e-10)


def test_logistic_rif_beats_if_against_refit_overparameterized():
    """With p > n, RIF's single-row logit effects track the refit, IF's do not."""
    est, X, y, X_eval, _ = logistic_estimator(40, 80, 0.5, seed=3)
    rows = np.argsort(est.leverages_)[-5:]
    actual = np.stack([est.removal_effect([i], X_eval, method="refit") for i in rows])
    rif = np.stack([est.removal_effect([i], X_eval, method="rif") for i in rows])
    if_ = np.stack([est.removal_effect([i], X_eval, method="if") for i in rows])
    err = lambda pred: np.linalg.norm(pred - actual) / np.linalg.norm(actual)  # noqa: E731
    assert err(rif) < 0.5 * err(if_)


# -- most_influential: brute force under additivity -------------------------------------------
def _additive_value(est, subset, X_eval, y_eval, target, method, output):
    effect = est.removal_effect(
        list(subset), X_eval, y_eval, target=target, method=method, linearized=True
    )
    if effect.ndim == 2:
        effect = effect[:, output]
    return float(np.sum(effect))


@pytest.mark.parametrize(
    "target, output", [("loss", None), ("decision_function", None), ("predict_proba", 1)]
)
@pytest.mark.filterwarnings(ADDITIVE_SETS)
@pytest.mark.parametrize("direction", ["increase", "decrease"])
@pytest.mark.parametrize("method", ["rif", "if"])
def test_most_influential_is_the_best_subset(target, output, direction, method):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(14, 3))
    y = np.array([0, 1] * 7)  # four rows of each class survive any 3-row removal
    model = LogisticRegression(C=2.0, solver="newton-cholesky", tol=1e-12)
    est = InfluenceEstimator(model).fit(X[:8], y[:8])
    X_eval, y_eval = X[8:], y[8:]
    sign = 1.0 if direction == "increase" else -1.0
    for k in (1, 2, 3):
        rows = est.most_influential(
            X_eval, y_eval, k=k, target=target, direction=direction, method=method, output=output
        )
        assert rows.shape == (k,) and rows.dtype.kind == "i" and len(set(rows)) == k
        values = {
            subset: sign * _additive_value(est, subset, X_eval, y_eval, target, method, output)
            for subset in itertools.combinations(range(8), k)
        }
        best = max(values, key=values.get)
        assert set(rows) == set(best)


def test_most_influential_multi_target_ridge_needs_output():
    X, _, y, X_eval, y_eval, _ = ridge_data(True, False, False, seed=6)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    with pytest.raises(ValueError, match="pass output="):
        est.most_influential(X_eval, k=2, target="predict")
    rows = est.most_influential(X_eval, k=3, target="predict", output=1)
    column = est.influence_scores(X_eval, target="predict")[:, :, 1].sum(axis=1)
    assert set(rows) == set(np.argsort(column)[-3:])
    # The summed loss is one number per row even for a multi-target model.
    assert est.most_influential(X_eval, y_eval, k=2).shape == (2,)


# -- property tests ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dual_logistic():
    return logistic_estimator(40, 80, 0.5, seed=4)


@given(
    subset=st.lists(st.integers(0, 39), min_size=1, max_size=12, unique=True),
    method=st.sampled_from(["if", "rif"]),
    target=st.sampled_from(["decision_function", "predict_proba", "loss"]),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.filterwarnings(ADDITIVE_SETS)
def test_linearized_effects_are_additive(dual_logistic, subset, method, target):
    est, _, _, X_eval, y_eval = dual_logistic
    scores = est.influence_scores(X_eval, y_eval, target=target, method=method)
    effect = est.removal_effect(
        subset, X_eval, y_eval, target=target, method=method, linearized=True
    )
    np.testing.assert_allclose(effect, scores[subset].sum(axis=0), rtol=1e-9, atol=1e-12)


@given(
    seed=st.integers(0, 2**16),
    log_C=st.floats(-2, 2),
    p=st.sampled_from([3, 30]),
    method=st.sampled_from(["if", "rif"]),
    linearized=st.booleans(),
)
@settings(max_examples=25, deadline=None)
def test_removing_a_row_never_lowers_its_own_predicted_loss(seed, log_C, p, method, linearized):
    """With a convex loss, φ(z + δ) − φ(z) ≥ ℓ'(z)δ = c s ℓ'² x̃ᵀH⁻¹x̃ / (1 − h) ≥ 0."""
    X, y = planted_logistic(20, p, seed=seed)
    if len(np.unique(y)) < 2:
        y[0] = 1 - y[0]
    model = LogisticRegression(C=10.0**log_C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    est = InfluenceEstimator(model).fit(X, y)
    values = est.self_influence(target="loss", method=method, linearized=linearized)
    assert values.shape == (20,)
    assert np.all(values >= -1e-12)


# -- the paper's poisoning scenario (Figure 3) ---------------------------------------------------
def test_poisoning_self_effect_rif_within_15_percent_of_refit():
    """Add a test row with its label flipped to an overparameterized training set: the
    effect of removing it on its own logit is predicted by RIF within 15% of the
    exact refit, while IF underestimates it by more."""
    n, p = 100, 200
    X, y = planted_logistic(n + 5, p, seed=11)
    X_train, y_train = X[:n], y[:n]
    C = 1.0 / (2.2e-2 * (n + 1))  # the paper's DogFish penalty on the mean loss
    for j in range(n, n + 3):
        x_poison = X[j : j + 1]
        X_poisoned = np.vstack([X_train, x_poison])
        y_poisoned = np.append(y_train, 1 - y[j])
        model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
        est = InfluenceEstimator(model).fit(X_poisoned, y_poisoned)
        clean = logistic_refit(X_train, y_train, np.ones(n, bool), C)
        poisoned = logistic_refit(X_poisoned, y_poisoned, np.ones(n + 1, bool), C)
        actual = (clean.decision_function(x_poison) - poisoned.decision_function(x_poison))[0]
        rif = est.removal_effect([n], x_poison, method="rif")[0]
        if_ = est.removal_effect([n], x_poison, method="if")[0]
        # Removing the poison moves its logit back toward its true label.
        assert np.sign(actual) == (1 if y[j] == 1 else -1)
        rif_error = abs(rif - actual) / abs(actual)
        if_error = abs(if_ - actual) / abs(actual)
        assert rif_error < 0.15
        assert abs(if_) < abs(actual) and if_error > rif_error
        np.testing.assert_allclose(
            est.self_influence(target="decision_function")[n], rif, rtol=1e-10
        )


# -- input validation ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_logistic():
    return logistic_estimator(30, 3, 1.0, seed=5)


def test_attribution_errors(small_logistic):
    est, X, y, X_eval, y_eval = small_logistic
    with pytest.raises(ValueError, match="needs the evaluation targets"):
        est.removal_effect([0], X_eval, target="loss")
    with pytest.raises(ValueError, match="needs the evaluation targets"):
        est.influence_scores(X_eval, target="loss")
    with pytest.raises(ValueError, match="labels the model was not fitted on"):
        est.influence_scores(X_eval, np.full(len(X_eval), 7), target="loss")
    with pytest.raises(ValueError, match="different numbers of rows"):
        est.removal_effect([0], X_eval, y_eval[:-1], target="loss")
    with pytest.raises(ValueError, match="features"):
        est.influence_scores(X_eval[:, :2])
    for k in (0, 31, 2.5, True, "3"):
        with pytest.raises(ValueError, match="k must be an integer"):
            est.most_influential(X_eval, y_eval, k=k)
    with pytest.raises(ValueError, match="direction must be one of"):
        est.most_influential(X_eval, y_eval, k=2, direction="up")
    with pytest.raises(ValueError, match="pass output="):
        est.most_influential(X_eval, k=2, target="predict_proba")
    for output in (2, -3, 0.5):
        with pytest.raises(ValueError, match="output must be an integer"):
            est.most_influential(X_eval, k=2, target="predict_proba", output=output)
    for method in ("newton", "refit"):
        with pytest.raises(ValueError, match="additive single-row effects"):
            est.influence_scores(X_eval, method=method)
        with pytest.raises(ValueError, match="additive single-row effects"):
            est.self_influence(method=method)
        with pytest.raises(ValueError, match="additive single-row effects"):
            est.most_influential(X_eval, y_eval, k=2, method=method)
    with pytest.raises(ValueError, match="method must be one of"):
        est.removal_effect([0], X_eval, method="exact")
    with pytest.raises(ValueError, match="out of range"):
        est.removal_effect([30], X_eval)
    with pytest.raises(NotFittedError):
        InfluenceEstimator().influence_scores(X_eval)


def test_regressor_y_shape_errors():
    X, _, y, X_eval, y_eval, _ = ridge_data(True, False, False, seed=8)
    est = InfluenceEstimator(Ridge()).fit(X, y)
    with pytest.raises(ValueError, match=r"y must have shape \(n_samples, 2\)"):
        est.removal_effect([0], X_eval, y_eval[:, 0], target="loss")
    single = InfluenceEstimator(Ridge()).fit(X, y[:, 0])
    with pytest.raises(ValueError, match=r"y must have shape \(n_samples,\)"):
        single.removal_effect([0], X_eval, y_eval, target="loss")


def test_inputs_are_not_modified(small_logistic):
    est, X, y, X_eval, y_eval = small_logistic
    X_copy, y_copy = X_eval.copy(), y_eval.copy()
    est.influence_scores(X_eval, y_eval, target="loss")
    with pytest.warns(VerificationWarning):
        est.most_influential(X_eval, y_eval, k=3, verify=True)
    np.testing.assert_array_equal(X_eval, X_copy)
    np.testing.assert_array_equal(y_eval, y_copy)


def test_default_method_follows_rescaled(small_logistic):
    est, X, y, X_eval, y_eval = small_logistic
    plain = InfluenceEstimator(est.estimator, rescaled=False).fit(X, y)
    np.testing.assert_allclose(
        plain.influence_scores(X_eval), est.influence_scores(X_eval, method="if")
    )
    np.testing.assert_allclose(
        est.influence_scores(X_eval), est.influence_scores(X_eval, method="rif")
    )


# -- other model families: structured per-row Hessians, links, no predict_proba -----------
def poisson_data(n=40, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + 6, p)) * 0.5
    y = rng.poisson(np.exp(0.3 + X @ np.linspace(-0.5, 0.5, p))).astype(float)
    return X[:n], y[:n], X[n:], y[n:]


def poisson_refit(X, y, keep, alpha):
    model = PoissonRegressor(alpha=alpha, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    return model.fit(X[keep], y[keep])


def half_poisson_deviance(y, mu):
    return np.array([mean_poisson_deviance([a], [b]) / 2 for a, b in zip(y, mu)])


def test_poisson_refit_effects_equal_sklearn_refits():
    """Log link: "predict" is μ = e^z, "decision_function" log μ, "loss" half deviance."""
    X, y, X_eval, y_eval = poisson_data()
    alpha = 0.5
    est = InfluenceEstimator(PoissonRegressor(alpha=alpha, solver="newton-cholesky", tol=1e-12))
    est.fit(X, y)
    full = poisson_refit(X, y, np.ones(len(X), bool), alpha)
    for removed in ([3], [0, 9, 17, 31]):
        refit = poisson_refit(X, y, keep_mask(len(X), removed), alpha)
        mu, mu0 = refit.predict(X_eval), full.predict(X_eval)
        expected = {
            "predict": mu - mu0,
            "decision_function": np.log(mu) - np.log(mu0),
            "loss": half_poisson_deviance(y_eval, mu) - half_poisson_deviance(y_eval, mu0),
        }
        for target, value in expected.items():
            effect = est.removal_effect(removed, X_eval, y_eval, target=target, method="refit")
            assert_close(effect, value, 1e-7)


@pytest.mark.filterwarnings(ADDITIVE_SETS)
@pytest.mark.parametrize("method", ["if", "rif"])
def test_poisson_scores_self_influence_and_top_k_are_consistent(method):
    """Mean-form GLMs go through the curvature's own per-row algebra."""
    X, y, X_eval, y_eval = poisson_data(n=8, seed=1)
    est = InfluenceEstimator(PoissonRegressor(alpha=0.3, solver="newton-cholesky", tol=1e-12))
    est.fit(X, y)
    for target in ("predict", "decision_function", "loss"):
        scores = est.influence_scores(X_eval, y_eval, target=target, method=method)
        single = np.stack(
            [
                est.removal_effect(
                    [i], X_eval, y_eval, target=target, method=method, linearized=True
                )
                for i in range(8)
            ]
        )
        assert_close(scores, single, 1e-10)
        for linearized in (False, True):
            own = np.stack(
                [
                    est.removal_effect(
                        [i],
                        X[i : i + 1],
                        y[i : i + 1],
                        target=target,
                        method=method,
                        linearized=linearized,
                    )[0]
                    for i in range(8)
                ]
            )
            values = est.self_influence(target=target, method=method, linearized=linearized)
            assert_close(values, own, 1e-10)
        rows = est.most_influential(X_eval, y_eval, k=2, target=target, method=method)
        values = {
            pair: _additive_value(est, pair, X_eval, y_eval, target, method, None)
            for pair in itertools.combinations(range(8), 2)
        }
        assert set(rows) == set(max(values, key=values.get))


def test_sgd_regressor_single_row_effects_are_exact():
    """SGDRegressor's objective (1/n) Σ ½(y − z)² + (α/2)‖w‖² has the optimum of
    Ridge(alpha=nα); without one row it is Ridge(alpha=(n−1)α) on the others. The
    objective is quadratic, so RIF (one exact Newton step) equals that refit."""
    X, _, y, X_eval, _, _ = ridge_data(False, False, False, seed=9)
    n, alpha = len(X), 0.05
    with warnings.catch_warnings():
        # A successful polish is silent since issue 27 (it warned before).
        warnings.simplefilter("error", OptimalityWarning)
        est = InfluenceEstimator(SGDRegressor(alpha=alpha, random_state=0)).fit(X, y)
    full = Ridge(alpha=n * alpha, solver="cholesky").fit(X, y)
    np.testing.assert_allclose(est.predict(X_eval), full.predict(X_eval), rtol=1e-9)
    for i in (0, 12):
        keep = keep_mask(n, [i])
        refit = Ridge(alpha=(n - 1) * alpha, solver="cholesky").fit(X[keep], y[keep])
        expected = refit.predict(X_eval) - full.predict(X_eval)
        assert_close(est.removal_effect([i], X_eval, target="predict"), expected, 1e-8)
        assert_close(est.influence_scores(X_eval, target="predict")[i], expected, 1e-8)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_ridge_classifier_effects_equal_refits(n_classes):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(36, 4))
    y = np.array(["a", "b", "c"][:n_classes] * (36 // n_classes))
    X_eval = rng.normal(size=(5, 4))
    est = InfluenceEstimator(RidgeClassifier(alpha=1.0)).fit(X, y)
    full = RidgeClassifier(alpha=1.0, solver="cholesky").fit(X, y)
    scores = est.influence_scores(X_eval)
    for i in (1, 20):
        keep = keep_mask(len(X), [i])
        refit = RidgeClassifier(alpha=1.0, solver="cholesky").fit(X[keep], y[keep])
        expected = refit.decision_function(X_eval) - full.decision_function(X_eval)
        assert_close(est.removal_effect([i], X_eval, method="rif"), expected, 1e-8)
        assert_close(scores[i], expected, 1e-8)
    with pytest.raises(ValueError, match="has no predict_proba"):
        est.removal_effect([0], X_eval, target="predict_proba")
    with pytest.raises(ValueError, match="step function"):
        est.self_influence(target="predict")


# -- multinomial logistic regression: coupled outputs (K x K per-row Hessians) ----------------
def multinomial_estimator(n=45, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + 6, 3))
    logits = X @ rng.normal(size=(3, 3)) * 1.5
    y = np.array([rng.choice(3, p=np.exp(z) / np.exp(z).sum()) for z in logits])
    y[:3] = [0, 1, 2]  # every class present, with room to remove rows
    model = LogisticRegression(C=2.0, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    est = InfluenceEstimator(model).fit(X[:n], y[:n])
    return est, X[:n], y[:n], X[n:], y[n:]


def test_multinomial_refit_effects_equal_sklearn_refits():
    est, X, y, X_eval, y_eval = multinomial_estimator()
    full = logistic_refit(X, y, np.ones(len(X), bool), 2.0)
    for removed in ([5], [4, 10, 22]):
        refit = logistic_refit(X, y, keep_mask(len(X), removed), 2.0)
        P, P0 = refit.predict_proba(X_eval), full.predict_proba(X_eval)
        rows = np.arange(len(y_eval))
        expected = {
            "decision_function": refit.decision_function(X_eval) - full.decision_function(X_eval),
            "predict_proba": P - P0,
            "loss": -np.log(P[rows, y_eval]) + np.log(P0[rows, y_eval]),
        }
        for target, value in expected.items():
            effect = est.removal_effect(removed, X_eval, y_eval, target=target, method="refit")
            assert effect.shape == value.shape
            assert_close(effect, value, 1e-7)


@pytest.mark.filterwarnings(ADDITIVE_SETS)
@pytest.mark.parametrize("method", ["if", "rif"])
def test_multinomial_scores_self_influence_and_top_k_are_consistent(method):
    est, X, y, X_eval, y_eval = multinomial_estimator(n=9, seed=1)
    for target in ("decision_function", "predict_proba", "loss"):
        scores = est.influence_scores(X_eval, y_eval, target=target, method=method)
        single = np.stack(
            [
                est.removal_effect(
                    [i], X_eval, y_eval, target=target, method=method, linearized=True
                )
                for i in range(9)
            ]
        )
        assert scores.shape == ((9, 6) if target == "loss" else (9, 6, 3))
        assert_close(scores, single, 1e-10)
        own = np.stack(
            [
                est.removal_effect([i], X[i : i + 1], y[i : i + 1], target=target, method=method)[0]
                for i in range(9)
            ]
        )
        assert_close(est.self_influence(target=target, method=method), own, 1e-10)
    rows = est.most_influential(X_eval, k=2, target="predict_proba", output=2, method=method)
    values = {
        pair: _additive_value(est, pair, X_eval, y_eval, "predict_proba", method, 2)
        for pair in itertools.combinations(range(3, 9), 2)  # keep one row of each class
    }
    scores = est.influence_scores(X_eval, target="predict_proba", method=method)[:, :, 2].sum(1)
    assert set(rows) == set(np.argsort(-scores)[:2])
    best = max(values, key=values.get)
    np.testing.assert_allclose(values[best], np.sort(scores[3:])[-2:].sum(), rtol=1e-10)


@pytest.mark.slow
def test_poisoning_example_reproduces_the_paper(monkeypatch, capsys):
    """examples/plot_poisoning.py runs and shows IF underestimating, RIF on target."""
    import re
    import runpy
    from pathlib import Path

    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    script = Path(__file__).resolve().parents[1] / "examples" / "plot_poisoning.py"
    runpy.run_path(str(script), run_name="__main__")
    plt.close("all")
    out = capsys.readouterr().out
    slope = {
        name: float(value)
        for name, value in re.findall(r"(IF|RIF|NS): slope vs refit ([0-9.]+)", out)
    }
    assert 0.85 <= slope["RIF"] <= 1.15 and 0.85 <= slope["NS"] <= 1.15
    assert slope["IF"] < 0.6


def test_leverage_one_rows_are_nan_and_ranked_last():
    """A row alone determining a coefficient (a one-hot category seen once, no
    penalty) has no finite rescaled influence: NaN with a warning, never a number."""
    rng = np.random.default_rng(12)
    X = np.hstack([rng.normal(size=(20, 2)), np.zeros((20, 1))])
    X[6, 2] = 1.0
    y = X[:, 0] + rng.normal(size=20)
    with pytest.warns(HighLeverageWarning):
        est = InfluenceEstimator(LinearRegression()).fit(X, y)
    X_eval = rng.normal(size=(4, 3))
    with pytest.warns(HighLeverageWarning, match=r"\[6\]"):
        scores = est.influence_scores(X_eval)
    assert np.all(np.isnan(scores[6])) and np.all(np.isfinite(np.delete(scores, 6, axis=0)))
    with pytest.warns(HighLeverageWarning):
        assert np.isnan(est.self_influence(target="predict")[6])
    for direction in ("increase", "decrease"):
        with pytest.warns(HighLeverageWarning):
            rows = est.most_influential(X_eval, k=19, target="predict", direction=direction)
        assert 6 not in rows
    # The classical influence function stays finite.
    assert np.all(np.isfinite(est.influence_scores(X_eval, method="if")))


def test_most_influential_verify_warns_only_when_the_refit_disagrees():
    from skrif._core.set_error import verification_gap

    assert verification_gap(1.05, 1.0) == (pytest.approx(0.05), False)
    assert verification_gap(1.2, 1.0)[1] and verification_gap(-0.01, 0.01)[1]
    X, _, y, X_eval, y_eval, _ = ridge_data(False, False, False, seed=5)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    # one row, a prediction (linear in the parameters): RIF is the exact leave-one-out
    # change for least squares, so there is nothing to warn about
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", VerificationWarning)
        result = est.most_influential(X_eval, k=1, target="predict", verify=True)
    assert result.predicted == pytest.approx(result.actual, rel=1e-8)
