"""The exponential family behind a model family's loss: what regression diagnostics
and model-based standard errors need to know (mean, variance function, dispersion).
"""

from dataclasses import dataclass

import numpy as np

from ._link import IDENTITY, LOGIT, Link


@dataclass(frozen=True)
class ExponentialFamily:
    """Mean, variance function and dispersion of a model's loss.

    ``kappa`` relates skrif's pointwise loss to the unit deviance: ``dev = 2ℓ/κ`` and,
    for canonical links, ``ℓ'' = κ V(μ)``; the Hessian in likelihood units is
    ``H / (c κ)`` (``c`` the loss scale).
    """

    name: str
    kappa: float
    fixed_dispersion: bool
    power: float = 0.0
    link: Link = IDENTITY

    def mean(self, Z):
        """The mean ``μ`` at linear predictors ``Z``."""
        return self.link.inverse(Z)

    def variance(self, mu):
        """The variance function ``V(μ)``."""
        if self.name == "binomial":
            return mu * (1.0 - mu)
        if self.name == "gaussian":
            return np.ones_like(mu)
        return mu**self.power


GAUSSIAN_SQUARED = ExponentialFamily("gaussian", kappa=2.0, fixed_dispersion=False)
GAUSSIAN_HALF = ExponentialFamily("gaussian", kappa=1.0, fixed_dispersion=False)
BINOMIAL = ExponentialFamily("binomial", kappa=1.0, fixed_dispersion=True, link=LOGIT)
