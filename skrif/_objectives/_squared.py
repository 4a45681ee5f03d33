"""Least squares: Ridge and LinearRegression, ``Σ s_i ‖y_i − z_i‖² + α‖w‖²``.

Note the scaling scikit-learn uses (``sklearn/linear_model/_ridge.py``): no ½ and no
1/n, so ``c = 1``, ``ℓ = (y − z)²``, ``ℓ' = 2(z − y)``, ``ℓ'' = 2`` and ``λ_w = 2α``.
The intercept (weighted centring) is unpenalised.
"""

import numbers

import numpy as np
from sklearn.linear_model import LinearRegression, Ridge

from ._base import Objective, check_not_positive
from ._family import GAUSSIAN_SQUARED


class SquaredObjective(Objective):
    estimator_types = (Ridge, LinearRegression)
    quadratic = True

    def __init__(self, estimator):
        super().__init__(estimator)
        self.loss_scale = 1.0
        self.penalty_coef = 2.0 * float(getattr(estimator, "alpha", 0.0))
        self.penalty_intercept = 0.0

    @classmethod
    def check_supported(cls, estimator):
        check_not_positive(cls, estimator)
        alpha = getattr(estimator, "alpha", 0.0)
        if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
            cls._refuse(
                estimator,
                f"a per-target alpha {np.asarray(alpha).shape}",
                "Fit one InfluenceEstimator per target, each with a scalar alpha.",
            )

    def exponential_family(self):
        return GAUSSIAN_SQUARED

    def standard_error_family(self):
        if type(self) is not SquaredObjective:  # RidgeClassifier: ±1 targets
            return super().standard_error_family()
        if self.penalty_coef != 0:
            return None, (
                "the model is penalised (Ridge): a penalised estimate is biased and has "
                "no model-based or sandwich standard error in statsmodels' sense; use "
                "LinearRegression"
            )
        return "gaussian", None

    @classmethod
    def tight_fit_params(cls, estimator):
        # Iterative solvers (sparse_cg, lsqr, sag, saga for sparse X) honour tol;
        # LinearRegression is solved exactly.
        return {"tol": 1e-10} if "tol" in estimator.get_params() else None

    def loss(self, Y, Z):
        return (Y - Z) ** 2

    def loss_derivatives(self, Y, Z):
        return 2.0 * (Z - Y), np.full(Y.shape[0], 2.0)
