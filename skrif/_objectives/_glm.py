"""Generalized linear models: PoissonRegressor, GammaRegressor, TweedieRegressor.

scikit-learn (``sklearn/linear_model/_glm/glm.py``) minimises the *mean-form* objective

    (1/S) Σ_i s_i ℓ(y_i, z_i) + (α/2)‖w‖²,     S = Σ_i s_i,

with ``ℓ`` the half Tweedie deviance of power ``p`` in the raw prediction
``z = x̃·θ`` (``sklearn/_loss/loss.py``): ``PoissonRegressor`` is ``p = 1`` and
``GammaRegressor`` ``p = 2``, both with the log link ``μ = e^z``;
``TweedieRegressor(power=p, link=...)`` uses the identity link ``μ = z`` when
``link="identity"`` or (``link="auto"``) ``p ≤ 0``, the log link otherwise.

skrif multiplies by ``S``: ``Σ_i s_i ℓ_i + (α/2) Σ_i s_i ‖w‖²``, so row ``i`` owns the
share ``s_i (α/2)‖w‖²`` of the penalty and removing it removes that share as well
(gradient ``s_i (ℓ'_i x̃_i + α w̃)``, Hessian ``s_i (ℓ''_i x̃_i x̃_iᵀ + α P)``); the
exact leave-one-out algebra is in :mod:`skrif._removal.penalty_share`. A sample weight of 0 is
exactly a removal here. Derivatives in ``z`` (valid for every power, including
the special cases 0, 1, 2):

* log link:      ``ℓ' = e^{(2−p)z} − y e^{(1−p)z}``,
  ``ℓ'' = (2−p) e^{(2−p)z} − (1−p) y e^{(1−p)z}``;
* identity link: ``ℓ' = z^{1−p} − y z^{−p}``, ``ℓ'' = (1−p) z^{−p} + p y z^{−p−1}``.

``ℓ''`` can be negative for some rows (``p > 2`` with the log link, ``p ∉ [0, 1]``
with the identity link); the objective is then not convex everywhere, and skrif
checks the Hessian at the fitted optimum, refusing with
:class:`~skrif.exceptions.NotPositiveDefiniteError` if it has a negative eigenvalue
(a singular Hessian, e.g. collinear features with ``alpha=0``, is handled by a
pseudo-inverse with a :class:`~skrif.exceptions.SingularHessianWarning`).
"""

import numpy as np
from scipy.special import xlogy
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor

from ._base import NEWTON_CHOLESKY, Objective
from ._family import GAUSSIAN_HALF, ExponentialFamily
from ._link import IDENTITY, LOG


class GLMObjective(Objective):
    estimator_types = (PoissonRegressor, GammaRegressor, TweedieRegressor)
    mean_form = True
    hessian_kind = "penalty_share"
    tight_fit = NEWTON_CHOLESKY

    def __init__(self, estimator):
        super().__init__(estimator)
        if isinstance(estimator, PoissonRegressor):
            self.power, self.log_link = 1.0, True
        elif isinstance(estimator, GammaRegressor):
            self.power, self.log_link = 2.0, True
        else:
            self.power = float(estimator.power)
            link = estimator.link
            self.log_link = link == "log" or (link == "auto" and self.power > 0)
        self.link = LOG if self.log_link else IDENTITY
        self.loss_scale = 1.0
        self.penalty_coef = 0.0
        self.penalty_intercept = 0.0
        self.penalty_share_coef = float(estimator.alpha)
        # Zero targets can be fitted ever better by μ → 0 (z → −∞) for 1 ≤ p < 2.
        self.recession = "count" if self.log_link and 1.0 <= self.power < 2.0 else None

    def penalty_shares(self, weights, original_weights):
        # (1/S) Σ s_i ℓ_i + (α/2)‖w‖², times S: row i owns s_i of the penalty.
        return np.asarray(weights, dtype=float)

    def check_targets(self, Y):
        """Targets must lie in the deviance's domain, as scikit-learn's ``fit`` requires:
        ``y ≥ 0`` for ``0 < p < 2``, ``y > 0`` for ``p ≥ 2`` (any ``y`` for ``p ≤ 0``);
        elsewhere the loss is NaN."""
        p = self.power
        if p <= 0:
            return
        Y = np.asarray(Y)
        bad = Y < 0 if p < 2 else Y <= 0
        if np.any(bad):
            raise ValueError(
                f"y must be {'>= 0' if p < 2 else '> 0'} for the Tweedie deviance of "
                f"power {p:g} (this model's loss); got values such as "
                f"{np.unique(Y[bad])[:5].tolist()}."
            )

    def exponential_family(self):
        if self.power == 0 and not self.log_link:
            return GAUSSIAN_HALF
        return ExponentialFamily(
            "poisson" if self.power == 1 else "tweedie", kappa=1.0,
            fixed_dispersion=self.power == 1, power=self.power, link=self.link,
        )

    def standard_error_family(self):
        if not (self.power == 1.0 and self.log_link):
            return None, (
                "standard errors are supported for PoissonRegressor among the GLMs "
                "(Gamma and Tweedie have an estimated dispersion, not reconstructed here)"
            )
        if self.penalty_share_coef != 0:
            return None, (
                "the PoissonRegressor is penalised (alpha > 0): a penalised estimate has "
                "no standard error in statsmodels' sense; use alpha=0"
            )
        return "poisson", None

    def loss(self, Y, Z):
        """Half Tweedie deviance (scikit-learn's constants: 0 at ``μ = y``)."""
        p = self.power
        mu = np.exp(Z) if self.log_link else Z
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                return 0.5 * (mu - Y) ** 2
            if p == 1:
                log_mu = Z if self.log_link else np.log(mu)
                return mu - Y * log_mu + xlogy(Y, Y) - Y
            if p == 2:
                log_mu = Z if self.log_link else np.log(mu)
                return log_mu + Y / mu - np.log(Y) - 1.0
            const = np.maximum(Y, 0.0) ** (2 - p) / ((1 - p) * (2 - p))
            return mu ** (2 - p) / (2 - p) - Y * mu ** (1 - p) / (1 - p) + const

    def loss_derivatives(self, Y, Z):
        p = self.power
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.log_link:
                a, b = np.exp((2 - p) * Z), Y * np.exp((1 - p) * Z)
                return a - b, ((2 - p) * a - (1 - p) * b)[:, 0]
            return (
                Z ** (1 - p) - Y * Z ** (-p),
                ((1 - p) * Z ** (-p) + p * Y * Z ** (-p - 1))[:, 0],
            )
