"""Lasso and elastic net: ``Lasso``, ``ElasticNet``, ``LassoCV``, ``ElasticNetCV``.

scikit-learn (``sklearn/linear_model/_coordinate_descent.py``) minimises the mean form

    (1/(2S)) Σ_i s_i (y_i − z_i)² + α ρ ‖w‖₁ + ½ α (1 − ρ) ‖w‖²,     S = Σ_i s_i,

(``ρ = l1_ratio``, 1 for the Lasso; ``sample_weight`` is rescaled to sum to ``n``, which
leaves this objective unchanged) with an unpenalised intercept (weighted centring).
The cross-validated estimators are attributed at their selected ``alpha_`` (and
``l1_ratio_``): the model they refit on all rows; the selection itself is held fixed.

Times ``S``: ``Σ_i s_i [½(y_i − z_i)² + ρ_α(w)]`` with ``ρ_α(w) = α₁‖w‖₁ + ½α₂‖w‖²``,
``α₁ = αρ``, ``α₂ = α(1 − ρ)``: every row owns the share ``s_i ρ_α(w)`` of the penalty
and removing it removes the share too (a weight of 0 is exactly a removal). The L1
term is handled on the active set (:mod:`skrif._removal.active_set`): with the
support unchanged, the group Newton step is the exact refit.
"""

import numbers

import numpy as np
from sklearn.linear_model import ElasticNet, ElasticNetCV, Lasso, LassoCV

from ._base import Objective, check_not_positive


class ElasticNetObjective(Objective):
    estimator_types = (Lasso, ElasticNet, LassoCV, ElasticNetCV)
    mean_form = True
    hessian_kind = "penalty_share"
    problem_kind = "l1"
    polish_tol = 1e-15
    no_diagnostics_reason = (
        "an L1 term makes the fit non-smooth: leverages and Cook's distances would "
        "describe the support only; use influence(), influence_scores() or loo_predict()"
    )

    def __init__(self, estimator):
        super().__init__(estimator)
        alpha, ratio = self.penalty_of(estimator)
        self.loss_scale = 1.0
        self.penalty_coef = 0.0
        self.penalty_intercept = 0.0
        self.penalty_share_coef = alpha * (1.0 - ratio)
        self.l1_share_coef = alpha * ratio

    @staticmethod
    def penalty_of(estimator):
        """``(α, ρ)`` of the fitted model (a CV estimator's selected ones)."""
        cv = hasattr(estimator, "alpha_")
        alpha = float(estimator.alpha_ if cv else estimator.alpha)
        if isinstance(estimator, (Lasso, LassoCV)):
            return alpha, 1.0
        return alpha, float(estimator.l1_ratio_ if cv else estimator.l1_ratio)

    @classmethod
    def check_supported(cls, estimator):
        check_not_positive(cls, estimator)
        if not isinstance(estimator, (LassoCV, ElasticNetCV)):
            alpha = estimator.alpha
            if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
                cls._refuse(
                    estimator, f"alpha={alpha!r}", "Pass one scalar alpha per model."
                )

    def penalty_shares(self, weights, original_weights):
        # (1/S) Σ s_i ℓ_i + penalty, times S: row i owns s_i of the penalty.
        return np.asarray(weights, dtype=float)

    # Coordinate descent stops on the duality gap, scaled by ‖y‖²: 1e-12 reaches the
    # KKT conditions to about 1e-12 (checked in the tests).
    tight_fit = {"tol": 1e-12, "max_iter": 100_000}

    def loss(self, Y, Z):
        return 0.5 * (Y - Z) ** 2

    def loss_derivatives(self, Y, Z):
        return Z - Y, np.ones(Y.shape[0])
