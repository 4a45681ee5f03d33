"""Binary L2 logistic regression, ``C Σ s_i [log(1 + e^{z_i}) − y_i z_i] + ½‖w‖²``.

``y ∈ {0, 1}`` with ``classes_[1]`` the positive class; ``c = C``, ``λ_w = 1``. With
``C = inf`` there is no penalty (``c = 1, λ_w = 0``). The liblinear solver fits the
intercept as the weight of a constant feature ``intercept_scaling``, so it penalises
``½ (b / intercept_scaling)²``: ``λ_b = 1 / intercept_scaling²``.
Effective weights include ``class_weight`` (a dict; "balanced" depends on the labels
of all rows, so removing one row would reweight the others — refused).

An L1 term (``l1_ratio > 0`` with a finite ``C``: solvers ``liblinear`` and ``saga``)
makes the objective ``C Σ s_i ℓ_i + ρ‖w‖₁ + ½(1 − ρ)‖w‖²`` (``ρ = l1_ratio``;
``sklearn/linear_model/_logistic.py``; liblinear's L1 also penalises its intercept
feature, ``|b| / intercept_scaling``): it is solved and attributed on its active set
(:mod:`skrif._core.active_set`). The multinomial L1 model is refused.
"""

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from ._base import NEWTON_CHOLESKY, BinaryTargets, Objective, check_class_weight
from ._enet import ElasticNetObjective
from ._family import BINOMIAL
from ._link import LOGIT


class LogisticObjective(BinaryTargets, Objective):
    estimator_types = (LogisticRegression,)
    link = LOGIT
    tight_fit = NEWTON_CHOLESKY
    recession = "binary"

    def __new__(cls, estimator=None):
        # A fitted estimator with K ≥ 3 classes minimises the multinomial objective,
        # whose outputs are coupled: hand it to MultinomialObjective.
        if cls is LogisticObjective and len(getattr(estimator, "classes_", ())) > 2:
            if l1_ratio_of(estimator) > 0:
                cls._refuse(
                    estimator,
                    f"{len(estimator.classes_)} classes and an L1 term "
                    f"({_passed_penalty(estimator)})",
                    "Each class has its own support and the classes are coupled; use "
                    "l1_ratio=0 (the multinomial L2 model is supported), or wrap one "
                    "binary L1 model per class.",
                )
            from ._multinomial import MultinomialObjective

            return MultinomialObjective(estimator)
        return super().__new__(cls)

    def __init__(self, estimator):
        super().__init__(estimator)
        C = float(estimator.C)
        ratio = l1_ratio_of(estimator)
        unpenalised = np.isinf(C) or estimator.penalty is None
        self.loss_scale = 1.0 if unpenalised else C
        self.penalty_coef = 0.0 if unpenalised else 1.0 - ratio
        self.penalty_intercept = 0.0
        liblinear = estimator.solver == "liblinear" and self.fit_intercept
        if ratio > 0:
            self.problem_kind = "l1"
            self.polish_tol = 1e-15
            self.no_diagnostics_reason = ElasticNetObjective.no_diagnostics_reason
            self.l1_coef = ratio
            if liblinear:  # the intercept feature's weight is L1-penalised too
                self.l1_intercept = 1.0 / float(estimator.intercept_scaling)
        elif liblinear:
            self.penalty_intercept = 1.0 / float(estimator.intercept_scaling) ** 2

    @classmethod
    def check_supported(cls, estimator):
        check_class_weight(cls, estimator)
        if getattr(estimator, "dual", False):
            cls._refuse(
                estimator,
                "dual=True",
                "Use dual=False; the dual liblinear formulation is not reconstructed.",
            )

    def exponential_family(self):
        # Regression diagnostics of an L1 fit would describe the support only.
        return None if self.l1_coef else BINOMIAL

    def standard_error_family(self):
        if self.penalty_coef != 0 or self.penalty_intercept != 0 or self.l1_coef != 0:
            return None, (
                "the LogisticRegression is penalised (finite C with an L2 penalty): a "
                "penalised estimate has no standard error in statsmodels' sense; use "
                "C=np.inf for an unpenalised fit"
            )
        return "binomial", None

    @classmethod
    def tight_fit_params(cls, estimator):
        if l1_ratio_of(estimator) > 0:
            # liblinear and saga are the L1 solvers; both reach 1e-10 at a tight tol.
            return {"tol": 1e-12, "max_iter": 100_000}
        return super().tight_fit_params(estimator)

    def loss(self, Y, Z):
        # log(1 + e^z) − y z, evaluated stably for large |z|.
        return np.logaddexp(0.0, Z) - Y * Z

    def loss_derivatives(self, Y, Z):
        p = expit(Z)
        return p - Y, (p * (1.0 - p))[:, 0]


def l1_ratio_of(estimator):
    """The L1 share ``ρ`` of the penalty the fitted ``LogisticRegression`` used: its
    ``l1_ratio``, or what the deprecated ``penalty`` says; 0 without a penalty."""
    penalty, ratio = estimator.penalty, estimator.l1_ratio
    if penalty is None or np.isinf(float(estimator.C)):
        return 0.0
    if penalty == "l1":
        return 1.0
    if penalty == "l2":
        return 0.0
    return 0.0 if ratio is None else float(ratio)


def _passed_penalty(estimator):
    """The penalty settings as the user passed them (``penalty`` only if set)."""
    shown = [f"l1_ratio={estimator.l1_ratio!r}"]
    if estimator.penalty != "deprecated":
        shown.insert(0, f"penalty={estimator.penalty!r}")
    return ", ".join(shown)
