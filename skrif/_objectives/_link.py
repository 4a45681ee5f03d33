"""Links: how a family maps its linear predictor ``z`` to the mean ``μ`` it predicts.

A family declares its link (``Objective.link``); targets (``"predict"``,
``"predict_proba"``), regression diagnostics and conformal prediction read the mean
and its derivative from it, never from the estimator's type.
"""

import numpy as np
from scipy.special import expit


class Link:
    """The inverse link ``μ(z)`` and its derivative ``dμ/dz``, elementwise."""

    name = "identity"
    #: Whether ``1 − μ(z) = μ(−z)`` (computing the complement that way keeps digits).
    symmetric = False

    def inverse(self, Z):
        """The mean ``μ`` at linear predictors ``Z`` (any shape)."""
        return np.array(Z, dtype=float)

    def inverse_derivative(self, Z):
        """``dμ/dz`` at ``Z`` (any shape)."""
        return np.ones_like(np.asarray(Z, dtype=float))


class LogLink(Link):
    """``μ = e^z`` (Poisson, Gamma and log-link Tweedie regression)."""

    name = "log"

    def inverse(self, Z):
        return np.exp(Z)

    def inverse_derivative(self, Z):
        return np.exp(Z)


class LogitLink(Link):
    """``μ = σ(z)``, the probability of the positive class (logistic regression)."""

    name = "logit"
    symmetric = True

    def inverse(self, Z):
        return expit(Z)

    def inverse_derivative(self, Z):
        p = expit(Z)
        return p * (1.0 - p)


IDENTITY = Link()
LOG = LogLink()
LOGIT = LogitLink()
