"""Multinomial L2 logistic regression (``LogisticRegression`` with K ≥ 3 classes).

scikit-learn minimises (``sklearn/linear_model/_logistic.py``, MODELS.md)

    C Σ_i s_i [logsumexp_k z_ik − z_{i, y_i}] + ½‖W‖_F²,     z_i = W x_i + b,

with an unpenalised intercept (``C = inf``: no penalty, ``c = 1``) and returns the
symmetric solution ``Σ_k coef_k = 0``, ``Σ_k intercept_k = 0``. In skrif's terms
``Y`` is the one-hot (n, K) encoding of the labels over ``classes_``,
``ℓ' = p_i − y_i`` (K values) and ``ℓ'' = diag(p_i) − p_i p_iᵀ`` (a K × K block per
row, not one scalar shared by the outputs), so the Hessian and its removal algebra
live in :mod:`skrif._removal.block` (K × K Woodbury per row, pseudo-inverse on
the intercept null space). ``influence`` returns ``coef`` of shape (K, p) and
``intercept`` of shape (K,). The class set is kept fixed: removing every row of a
class is refused (scikit-learn would then fit a model with fewer classes).
"""

import numpy as np
from scipy.special import logsumexp, softmax

from ._base import NEWTON_CHOLESKY, Objective, class_weighted


class MultinomialObjective(Objective):
    # Not registered: LogisticObjective dispatches here for fitted estimators
    # with three classes or more.
    estimator_types = ()
    is_classifier = True
    recession = "multinomial"
    hessian_kind = "block"
    tight_fit = NEWTON_CHOLESKY
    no_diagnostics_reason = (
        "multinomial logistic regression has K × K curvature blocks per row, for which "
        "R and statsmodels define no influence table. Use influence(), self_influence() "
        "or leverages_ instead, or fit one binary model per class"
    )

    def __init__(self, estimator):
        super().__init__(estimator)
        C = float(estimator.C)
        unpenalised = np.isinf(C) or estimator.penalty is None
        self.loss_scale = 1.0 if unpenalised else C
        self.penalty_coef = 0.0 if unpenalised else 1.0
        self.penalty_intercept = 0.0

    def check_classes(self, estimator):
        """Nothing to refuse: any K ≥ 3 is multinomial."""

    def encode_targets(self, y, estimator):
        return (np.asarray(y)[:, None] == estimator.classes_[None, :]).astype(float)

    def effective_weights(self, y, sample_weight, estimator):
        return class_weighted(y, sample_weight, estimator)

    def check_removal(self, Y, kept_weights):
        super().check_removal(Y, kept_weights)
        counts = (kept_weights > 0) @ Y
        if np.any(counts == 0):
            missing = np.flatnonzero(counts == 0).tolist()
            raise ValueError(
                f"Removing these rows leaves no training row of class index {missing}: "
                "the multinomial model without them has fewer classes."
            )

    def loss(self, Y, Z):
        return (logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1))[:, None]

    def loss_derivatives(self, Y, Z):
        P = softmax(Z, axis=1)
        blocks = -P[:, :, None] * P[:, None, :]
        K = P.shape[1]
        blocks[:, np.arange(K), np.arange(K)] += P
        return P - Y, blocks
