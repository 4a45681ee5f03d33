"""Binary L2 logistic regression, ``C Σ s_i [log(1 + e^{z_i}) − y_i z_i] + ½‖w‖²``.

``y ∈ {0, 1}`` with ``classes_[1]`` the positive class; ``c = C``, ``λ_w = 1``. With
``C = inf`` there is no penalty (``c = 1, λ_w = 0``). The liblinear solver fits the
intercept as the weight of a constant feature ``intercept_scaling``, so it penalises
``½ (b / intercept_scaling)²``: ``λ_b = 1 / intercept_scaling²``.
Effective weights include ``class_weight`` (a dict; "balanced" depends on the labels
of all rows, so removing one row would reweight the others — refused).
"""

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from ._base import Objective, check_class_weight, check_two_classes_left, class_weighted
from ._family import BINOMIAL


class LogisticObjective(Objective):
    estimator_types = (LogisticRegression,)
    dask_estimators = (LogisticRegression,)
    is_classifier = True
    recession = "binary"

    def set_fitted_attributes(self, estimator, n_iter):
        estimator.n_iter_ = np.array([n_iter], dtype=np.int32)

    def __new__(cls, estimator=None):
        # A fitted estimator with K ≥ 3 classes minimises the multinomial objective,
        # whose outputs are coupled: hand it to MultinomialObjective.
        if cls is LogisticObjective and len(getattr(estimator, "classes_", ())) > 2:
            from ._multinomial import MultinomialObjective

            return MultinomialObjective(estimator)
        return super().__new__(cls)

    def __init__(self, estimator):
        super().__init__(estimator)
        C = float(estimator.C)
        unpenalised = np.isinf(C) or estimator.penalty is None
        self.loss_scale = 1.0 if unpenalised else C
        self.penalty_coef = 0.0 if unpenalised else 1.0
        self.penalty_intercept = 0.0
        if estimator.solver == "liblinear" and self.fit_intercept:
            self.penalty_intercept = 1.0 / float(estimator.intercept_scaling) ** 2

    @classmethod
    def check_supported(cls, estimator):
        penalty, l1_ratio = estimator.penalty, estimator.l1_ratio
        if penalty in ("l1", "elasticnet") or (
            penalty in ("deprecated", "l2") and l1_ratio not in (0, 0.0, None)
        ):
            cls._refuse(
                estimator,
                f"an L1 term (penalty={penalty!r}, l1_ratio={l1_ratio!r})",
                "Use l1_ratio=0 (pure L2) or C=np.inf (no penalty).",
            )
        check_class_weight(cls, estimator)
        if getattr(estimator, "dual", False):
            cls._refuse(
                estimator,
                "dual=True",
                "Use dual=False; the dual liblinear formulation is not reconstructed.",
            )

    def encode_targets(self, y, estimator):
        return (np.asarray(y) == estimator.classes_[1]).astype(float).reshape(-1, 1)

    def effective_weights(self, y, sample_weight, estimator):
        return class_weighted(y, sample_weight, estimator)

    def check_removal(self, Y, kept_weights):
        super().check_removal(Y, kept_weights)
        check_two_classes_left(Y, kept_weights)

    def exponential_family(self):
        return BINOMIAL

    def standard_error_family(self):
        if self.penalty_coef != 0 or self.penalty_intercept != 0:
            return None, (
                "the LogisticRegression is penalised (finite C with an L2 penalty): a "
                "penalised estimate has no standard error in statsmodels' sense; use "
                "C=np.inf for an unpenalised fit"
            )
        return "binomial", None

    @classmethod
    def tight_fit_params(cls, estimator):
        # lbfgs stops short of 1e-10 whatever its tol; Newton–Cholesky converges.
        return {"solver": "newton-cholesky", "tol": 1e-10}

    def loss(self, Y, Z):
        # log(1 + e^z) − y z, evaluated stably for large |z|.
        return np.logaddexp(0.0, Z) - Y * Z

    def loss_derivatives(self, Y, Z):
        p = expit(Z)
        return p - Y, (p * (1.0 - p))[:, 0]
