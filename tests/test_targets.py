"""Targets: values against scikit-learn's own outputs and losses, Jacobians against
central finite differences, and the errors for targets a model does not have."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
)
from sklearn.metrics import log_loss, mean_poisson_deviance

from skrif import InfluenceEstimator
from skrif._core.targets import TARGETS, make_target
from skrif._objectives import objective_class_for


def _objective(estimator):
    return objective_class_for(estimator)(estimator)


def _finite_difference(target, Z, Y, eps=1e-6):
    """Central differences of ``target.value`` in each column of ``Z``: (m, r, q)."""
    m, q = Z.shape
    jac = np.empty((m, target.n_outputs, q))
    for k in range(q):
        step = np.zeros(q)
        step[k] = eps
        jac[:, :, k] = (target.value(Z + step, Y) - target.value(Z - step, Y)) / (2 * eps)
    return jac


@pytest.fixture(scope="module")
def logistic_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = np.where(X[:, 0] + rng.normal(size=80) > 0, "yes", "no")
    model = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    return X, y, model


def test_logistic_targets_match_sklearn(logistic_fit):
    X, y, model = logistic_fit
    objective = _objective(model)
    Z = model.decision_function(X)[:, None]
    Y = objective.encode_targets(y, model)

    raw = make_target("decision_function", objective, 1, multi_output=False)
    np.testing.assert_allclose(raw.finalize(raw.value(Z)), model.decision_function(X))

    proba = make_target("predict_proba", objective, 1, multi_output=False)
    np.testing.assert_allclose(proba.finalize(proba.value(Z)), model.predict_proba(X), rtol=1e-12)

    loss = make_target("loss", objective, 1, multi_output=False)
    expected = [
        log_loss([label], model.predict_proba(row[None]), labels=model.classes_)
        for row, label in zip(X, y)
    ]
    np.testing.assert_allclose(loss.finalize(loss.value(Z, Y)), expected, rtol=1e-10)


def test_squared_targets_match_sklearn():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    Y = X @ rng.normal(size=(3, 2)) + rng.normal(size=(30, 2))
    model = Ridge(alpha=1.0).fit(X, Y)
    objective = _objective(model)
    Z = model.predict(X)
    target = make_target("predict", objective, 2, multi_output=True)
    np.testing.assert_allclose(target.finalize(target.value(Z)), model.predict(X))
    loss = make_target("loss", objective, 2, multi_output=True)
    # Per-row loss of the multi-target model: squared error summed over targets.
    np.testing.assert_allclose(
        loss.finalize(loss.value(Z, Y)), np.sum((Y - model.predict(X)) ** 2, axis=1)
    )
    assert loss.finalize(loss.value(Z, Y)).shape == (30,)


@pytest.mark.parametrize("name", ["decision_function", "predict_proba", "loss"])
def test_logistic_jacobians_are_derivatives(logistic_fit, name):
    X, y, model = logistic_fit
    objective = _objective(model)
    target = make_target(name, objective, 1, multi_output=False)
    Z = model.decision_function(X)[:, None]
    Y = objective.encode_targets(y, model)
    np.testing.assert_allclose(
        target.derivative(Z, Y), _finite_difference(target, Z, Y), rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize("name", ["decision_function", "predict", "loss"])
def test_multi_target_jacobians_are_derivatives(name):
    rng = np.random.default_rng(2)
    objective = _objective(Ridge(alpha=1.0))
    target = make_target(name, objective, 3, multi_output=True)
    Z, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    np.testing.assert_allclose(
        target.derivative(Z, Y), _finite_difference(target, Z, Y), rtol=1e-6, atol=1e-8
    )


@given(st.lists(st.floats(-30, 30), min_size=3, max_size=3))
@settings(max_examples=30, deadline=None)
def test_softmax_proba_jacobian(logits):
    """The multi-logit probability target (for multinomial models) is a softmax."""
    objective = _objective(LogisticRegression())
    target = make_target("predict_proba", objective, 3, multi_output=True)
    Z = np.array([logits])
    P = target.value(Z)
    np.testing.assert_allclose(P.sum(axis=-1), 1.0)
    np.testing.assert_allclose(
        target.derivative(Z), _finite_difference(target, Z, None, eps=1e-5), atol=1e-7
    )


@given(st.floats(-700, 700))
@settings(max_examples=50, deadline=None)
def test_binary_proba_is_stable(z):
    objective = _objective(LogisticRegression())
    target = make_target("predict_proba", objective, 1, multi_output=False)
    P = target.value(np.array([[z]]))
    assert np.all(np.isfinite(P)) and np.all(P >= 0)
    np.testing.assert_allclose(P.sum(), 1.0)


def test_unknown_and_unavailable_targets():
    logistic = _objective(LogisticRegression())
    ridge = _objective(Ridge())
    with pytest.raises(ValueError, match="target must be one of"):
        make_target("log_loss", logistic, 1, multi_output=False)
    with pytest.raises(ValueError, match="needs a classifier"):
        make_target("predict_proba", ridge, 1, multi_output=False)
    with pytest.raises(ValueError, match="step function"):
        make_target("predict", logistic, 1, multi_output=False)
    assert set(TARGETS) == {"decision_function", "predict_proba", "predict", "loss"}


def test_estimator_rejects_targets_it_does_not_have():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 2))
    y = X[:, 0] + rng.normal(size=20)
    reg = InfluenceEstimator(LinearRegression()).fit(X, y)
    with pytest.raises(ValueError, match="needs a classifier"):
        reg.removal_effect([0], X, target="predict_proba")
    clf = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-12))
    clf = clf.fit(X, (y > 0).astype(int))
    with pytest.raises(ValueError, match="step function"):
        clf.influence_scores(X, target="predict")
    with pytest.raises(ValueError, match="target must be one of"):
        clf.self_influence(target="accuracy")


def test_log_link_prediction_target():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 3)) * 0.5
    y = rng.poisson(np.exp(0.2 + X[:, 0])).astype(float)
    model = PoissonRegressor(alpha=0.1, solver="newton-cholesky", tol=1e-12).fit(X, y)
    objective = _objective(model)
    Z = (X @ model.coef_ + model.intercept_)[:, None]
    target = make_target("predict", objective, 1, multi_output=False)
    np.testing.assert_allclose(target.finalize(target.value(Z)), model.predict(X), rtol=1e-12)
    np.testing.assert_allclose(target.derivative(Z), _finite_difference(target, Z, None), rtol=1e-6)
    loss = make_target("loss", objective, 1, multi_output=False)
    expected = [mean_poisson_deviance([a], [b]) / 2 for a, b in zip(y, model.predict(X))]
    np.testing.assert_allclose(loss.finalize(loss.value(Z, y[:, None])), expected, rtol=1e-9)


def test_predict_proba_needs_a_probabilistic_classifier():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int)
    model = RidgeClassifier().fit(X, y)
    with pytest.raises(ValueError, match="has no predict_proba"):
        make_target("predict_proba", _objective(model), 1, False, probabilistic=False)
