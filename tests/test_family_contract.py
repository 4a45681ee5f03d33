"""A model family defined outside skrif works through every public method, or is
refused there with a clear message (issue 21, item 5).

The family here — binary probit regression with an L2 penalty — is registered the
way a new family module is (one entry in the registry's ``OBJECTIVES``) and declares
what the features need (its link, its Hessian kind, no exponential family for
diagnostics, no statsmodels standard errors). Ground truth is the estimator's own
fit to tight tolerance on the kept rows.
"""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from skrif import InfluenceEstimator
from skrif._objectives import _registry
from skrif._objectives._base import Objective, check_two_classes_left
from skrif._objectives._link import Link

from .conftest import answers_or_refusals, public_method_calls


class ProbitClassifier(ClassifierMixin, BaseEstimator):
    """``C Σ s_i ℓ(y_i, z_i) + ½‖w‖²`` with the probit loss, fitted by Newton."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        Xt = np.hstack([X, np.ones((len(X), 1))])
        p = X.shape[1]

        def objective(theta):
            z = Xt @ theta
            loss = -(y01 * norm.logcdf(z) + (1 - y01) * norm.logcdf(-z))
            d1, _ = ProbitObjective.derivatives(y01, z)
            grad = self.C * Xt.T @ (s * d1)
            grad[:p] += theta[:p]
            return self.C * np.sum(s * loss) + 0.5 * theta[:p] @ theta[:p], grad

        def hessian(theta):
            _, d2 = ProbitObjective.derivatives(y01, Xt @ theta)
            H = self.C * (Xt.T * (s * d2)) @ Xt
            H[np.arange(p), np.arange(p)] += 1.0
            return H

        res = minimize(objective, np.zeros(p + 1), jac=True, hess=hessian,
                       method="trust-exact", options={"gtol": 1e-12})
        self.coef_, self.intercept_ = res.x[None, :p], res.x[p:]
        return self

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X):
        z = self.decision_function(X)
        return np.column_stack([norm.cdf(-z), norm.cdf(z)])

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class ProbitLink(Link):
    name = "probit"
    symmetric = True

    def inverse(self, Z):
        return norm.cdf(Z)

    def inverse_derivative(self, Z):
        return norm.pdf(Z)


class ProbitObjective(Objective):
    estimator_types = (ProbitClassifier,)
    is_classifier = True
    recession = "binary"
    link = ProbitLink()
    no_diagnostics_reason = "the probit link is not canonical (a test family)"

    def __init__(self, estimator):
        super().__init__(estimator)
        self.fit_intercept = True
        self.loss_scale = float(estimator.C)
        self.penalty_coef = 1.0
        self.penalty_intercept = 0.0

    def encode_targets(self, y, estimator):
        return (np.asarray(y) == estimator.classes_[1]).astype(float).reshape(-1, 1)

    def check_removal(self, Y, kept_weights):
        super().check_removal(Y, kept_weights)
        check_two_classes_left(Y, kept_weights)

    @staticmethod
    def derivatives(y, z):
        # d/dz of −log Φ(±z), written with the inverse Mills ratio (stable tails).
        sign = 2.0 * y - 1.0
        t = sign * z
        mills = np.exp(norm.logpdf(t) - norm.logcdf(t))
        return -sign * mills, mills * (t + mills)

    def loss(self, Y, Z):
        return -(Y * norm.logcdf(Z) + (1 - Y) * norm.logcdf(-Z))

    def loss_derivatives(self, Y, Z):
        d1, d2 = self.derivatives(Y[:, 0], Z[:, 0])
        return d1[:, None], d2


@pytest.fixture
def probit(monkeypatch):
    monkeypatch.setattr(_registry, "OBJECTIVES", _registry.OBJECTIVES + (ProbitObjective,))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = (X @ [1.0, -0.5, 0.0, 0.8] + rng.normal(size=80) > 0).astype(int)
    X_test = rng.normal(size=(15, 4))
    y_test = (X_test @ [1.0, -0.5, 0.0, 0.8] > 0).astype(int)
    est = InfluenceEstimator(ProbitClassifier(C=0.5)).fit(X, y)
    return est, X, y, X_test, y_test


def _refit(X, y, keep):
    return ProbitClassifier(C=0.5).fit(X[keep], y[keep])


def test_probit_family_is_attributed_exactly(probit):
    est, X, y, X_test, y_test = probit
    assert est.optimality_gap_ < 1e-8
    rows = [3, 17, 40]
    keep = np.setdiff1d(np.arange(len(y)), rows)
    refit = _refit(X, y, keep)
    change = est.influence(rows, method="refit")
    np.testing.assert_allclose(change.coef, refit.coef_ - est.estimator_.coef_, atol=1e-7)
    # The probit link, not the logistic function, drives predict_proba effects.
    effect = est.removal_effect(rows, X_test, target="predict_proba", method="refit")
    expected = refit.predict_proba(X_test) - est.estimator_.predict_proba(X_test)
    np.testing.assert_allclose(effect, expected, atol=1e-7)
    # One Newton step is close to the refit (a smooth, non-quadratic loss).
    newton = est.influence(rows, method="newton").coef
    rel = np.linalg.norm(newton - change.coef) / np.linalg.norm(change.coef)
    assert rel < 0.05


def test_every_public_method_answers_or_refuses_cleanly(probit):
    est, X, y, X_test, y_test = probit
    calls = public_method_calls(est, X, y, X_test, y_test)
    assert {"predict_proba", "predict_set", "label_issues"} <= set(calls)
    assert "predict_interval" not in calls  # available_if hides it for a classifier
    refused = answers_or_refusals(calls)
    # What the family declares it lacks is refused with its own reason: no
    # diagnostics table, and no standard errors (the AMIP audit keeps the sign).
    assert set(refused) == {"diagnostics"}
    assert "ProbitClassifier: the probit link is not canonical" in refused["diagnostics"]
    with pytest.raises(ValueError, match="needs standard errors.*not for ProbitClassifier"):
        est.removal_to_flip(coef=0, conclusion="significance")
