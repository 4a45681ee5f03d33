"""SGD linear models, attributed at the exact optimum of their own objective.

``SGDClassifier(loss="log_loss")`` (binary) and ``SGDRegressor(loss="squared_error")``
with ``penalty="l2"`` (or ``None``) minimise, in expectation over their passes
(``sklearn/linear_model/_sgd_fast.pyx``: each step shrinks ``w`` by ``1 − ηα`` and
moves along ``s_i ℓ'_i x̃_i``),

    (1/n) Σ_i s_i ℓ(y_i, z_i) + (α/2)‖w‖²,

with ``n`` the number of rows — *not* ``Σ s_i`` — ``ℓ`` the logistic loss
``log(1 + e^z) − y z`` (``y ∈ {0, 1}``, ``classes_[1]`` positive) or ``½(y − z)²``,
and an unpenalised intercept. It has the same optimum as
``LogisticRegression(C=1/(nα))`` / ``Ridge(alpha=nα)``.

Two consequences, both documented for users:

* **Polishing is required.** SGD stops 1e-4..1e-1 (relative) away from that optimum,
  which is as large as a single row's effect, so attributions at the SGD
  coefficients would describe no model at all. skrif therefore always polishes to
  the exact optimum by Newton's method (``polish=True``, the default) and warns
  loudly (:class:`~skrif.exceptions.OptimalityWarning`) that predictions then use
  the polished coefficients. We polish rather than refuse because the polished
  model is exactly the model SGD is estimating, and is what a converged SGD run
  returns; with ``polish=False`` the warning says attributions are computed at a
  point that is not an optimum.
* **A sample weight of 0 is not a removal.** In sum form the objective is
  ``Σ_i s_i ℓ_i + (α/2) Σ_i m_i ‖w‖²`` with ``m_i = 1`` for every row present, whatever
  its weight, so a row with weight 0 still carries its share ``(α/2)‖w‖²`` of the
  penalty (it changes ``n``). skrif's removals remove the share too.

``penalty="l1"`` / ``"elasticnet"`` add ``α ρ ‖w‖₁`` (``ρ = l1_ratio``, 1 for "l1")
and scale the L2 part by ``1 − ρ``: the optimum of ``Lasso`` / ``ElasticNet(alpha,
l1_ratio)`` (unweighted rows) or ``LogisticRegression(C=1/(nα), l1_ratio=ρ)``. Each
row's share then includes its L1 part, and the objective is solved and attributed on
its active set (:mod:`skrif._core.active_set`), after polishing like every SGD fit.

Multi-class ``SGDClassifier`` (one-vs-rest: K binary problems with different
Hessians) and every other loss are refused.
"""

import numpy as np
from sklearn.linear_model import SGDClassifier, SGDRegressor

from ._base import Objective, check_class_weight, check_two_classes_left
from ._enet import ElasticNetObjective
from ._family import BINOMIAL, GAUSSIAN_HALF
from ._link import LOGIT
from ._logistic import LogisticObjective


class SGDRegressorObjective(Objective):
    """``SGDRegressor(loss="squared_error")``: ``ℓ = ½(y − z)²``."""

    estimator_types = (SGDRegressor,)
    mean_form = True
    hessian_kind = "penalty_share"
    _loss_name = "squared_error"

    def __init__(self, estimator):
        super().__init__(estimator)
        self.loss_scale = 1.0
        self.penalty_coef = 0.0
        self.penalty_intercept = 0.0
        alpha, ratio = self.penalty_of(estimator)
        # α(ρ‖w‖₁ + ½(1 − ρ)‖w‖²) per unit of share; an L1 part goes to the active set.
        self.penalty_share_coef = alpha * (1.0 - ratio)
        if ratio > 0:
            self.problem_kind = "l1"
            self.polish_tol = 1e-15
            self.no_diagnostics_reason = ElasticNetObjective.no_diagnostics_reason
            self.l1_share_coef = alpha * ratio

    @staticmethod
    def penalty_of(estimator):
        """``(α, ρ)``: the penalty's strength and L1 share (``sklearn/linear_model/
        _sgd_fast.pyx``: L2 steps shrink by ``1 − (1 − ρ)ηα``, L1 steps truncate by
        ``ρηα``)."""
        if estimator.penalty is None:
            return 0.0, 0.0
        ratio = {"l2": 0.0, "l1": 1.0}.get(estimator.penalty, float(estimator.l1_ratio))
        return float(estimator.alpha), ratio

    @classmethod
    def check_supported(cls, estimator):
        if estimator.loss != cls._loss_name:
            cls._refuse(estimator, f"loss={estimator.loss!r}", f"Use loss={cls._loss_name!r}.")

    def penalty_shares(self, weights, original_weights):
        # (1/n) Σ s_i ℓ_i + (α/2)‖w‖², times n: every row present owns one share,
        # whatever its weight; only removed rows (weight set from > 0 to 0) lose it.
        removed = (np.asarray(weights) == 0) & (np.asarray(original_weights) > 0)
        return (~removed).astype(float)

    def removed_share(self, fraction):
        # A row keeps its whole share unless its weight becomes 0 (removal).
        return 1.0 if fraction == 1 else 0.0

    def exponential_family(self):
        return None if self.l1_share_coef else GAUSSIAN_HALF

    @staticmethod
    def _twin(n_alpha, alpha, ratio):
        """The estimator that reaches the same optimum exactly (unweighted rows)."""
        if ratio == 1.0:
            return f"Lasso(alpha={alpha:.6g}, tol=1e-12)"
        if ratio > 0:
            return f"ElasticNet(alpha={alpha:.6g}, l1_ratio={ratio:.6g}, tol=1e-12)"
        return f"Ridge(alpha={n_alpha:.6g})"

    @classmethod
    def optimality_advice(cls, estimator, n_samples):
        name = type(estimator).__name__
        if not estimator.alpha or estimator.penalty is None:
            return super().optimality_advice(estimator, n_samples)
        alpha, ratio = cls.penalty_of(estimator)
        twin = cls._twin(n_samples * alpha, alpha, ratio)
        return (
            f"{name} does not reach the optimum at any tolerance; {twin} minimises the "
            "same objective exactly (same coefficients as a converged run) and does not warn."
        )

    def loss(self, Y, Z):
        return 0.5 * (Y - Z) ** 2

    def loss_derivatives(self, Y, Z):
        return Z - Y, np.ones(Y.shape[0])


class SGDClassifierObjective(SGDRegressorObjective):
    """Binary ``SGDClassifier(loss="log_loss")``: the logistic loss, ``y ∈ {0, 1}``."""

    estimator_types = (SGDClassifier,)
    is_classifier = True
    link = LOGIT
    recession = "binary"
    _loss_name = "log_loss"
    @staticmethod
    def _twin(n_alpha, alpha, ratio):
        if ratio > 0:
            return (
                f"LogisticRegression(C={1 / n_alpha:.6g}, l1_ratio={ratio:.6g}, "
                "solver='saga', tol=1e-12, max_iter=100000)"
            )
        return f"LogisticRegression(C={1 / n_alpha:.6g}, solver='newton-cholesky', tol=1e-10)"

    def exponential_family(self):
        return None if self.l1_share_coef else BINOMIAL

    @classmethod
    def check_supported(cls, estimator):
        super().check_supported(estimator)
        check_class_weight(cls, estimator)

    def check_classes(self, estimator):
        if len(estimator.classes_) != 2:
            self._refuse(
                estimator,
                f"{len(estimator.classes_)} classes",
                "Multi-class SGDClassifier fits K one-vs-rest problems with different "
                "Hessians; use LogisticRegression (multinomial) instead.",
            )

    encode_targets = LogisticObjective.encode_targets
    effective_weights = LogisticObjective.effective_weights

    def check_removal(self, Y, kept_weights):
        super().check_removal(Y, kept_weights)
        check_two_classes_left(Y, kept_weights)

    loss = LogisticObjective.loss
    loss_derivatives = LogisticObjective.loss_derivatives
