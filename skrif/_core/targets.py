"""Targets: what a user wants to attribute, as a smooth function of the linear predictor.

Every target skrif attributes is, for one evaluation row ``(x_j, y_j)``, a smooth
function ``F_j(θ) = φ(z_j(θ); y_j)`` of that row's linear predictor
``z_j = (x̃_j·θ_1, …, x̃_j·θ_q)`` (one entry per output of the model). Its gradient is
therefore ``∇_{θ_k} F_j = (∂φ/∂z_k)(z_j) x̃_j``, so a target is fully described by

* :meth:`Target.value`: ``φ(z; y)``, with ``r`` outputs, for any leading shape of ``z``;
* :meth:`Target.derivative`: the Jacobian ``∂φ_r/∂z_k`` of shape (m, r, q).

Available targets (``TARGETS``):

``"decision_function"``
    The raw output ``z``: the logit of a binary classifier, the prediction of a
    least-squares regressor, the linear predictor (e.g. ``log μ``) of a GLM. ``r = q``.
``"predict"``
    Regressors only: the prediction ``μ(z)``, i.e. ``z`` itself for least squares
    and identity-link GLMs and ``e^z`` for log-link GLMs (Poisson, Gamma, Tweedie).
``"predict_proba"``
    Classifiers only: class probabilities ``(1 − σ(z), σ(z))`` for a binary model
    (softmax of ``z`` for a multi-output one). ``r`` = number of classes.
``"loss"``
    The model family's own pointwise loss ``Σ_k ℓ(y_k, z_k)`` of the row (log-loss for
    logistic regression, ``(y − z)²`` for least squares), *unscaled*: without the
    loss scale ``C`` and without sample weights. ``r = 1``; needs ``y``.

Nothing here knows about scikit-learn estimators; targets receive the encoded
targets ``Y`` of :meth:`Objective.encode_targets`.
"""

import numpy as np
from scipy.special import softmax

TARGETS = ("decision_function", "predict_proba", "predict", "loss")


class Target:
    """A smooth per-row function ``φ(z; y)`` of the linear predictor.

    Attributes
    ----------
    name : str
    n_outputs : int
        ``r``, the number of values per evaluation row.
    needs_y : bool
        Whether :meth:`value` and :meth:`derivative` use the evaluation targets.
    squeeze : bool
        Whether public results drop the trailing output axis (``r == 1`` and the
        corresponding scikit-learn method returns one value per row).
    """

    needs_y = False
    #: Whether ``φ(z) = z`` (its Jacobian is the identity).
    is_identity = False

    def __init__(self, name, n_model_outputs, n_outputs, squeeze):
        self.name = name
        self.n_model_outputs = n_model_outputs
        self.n_outputs = n_outputs
        self.squeeze = bool(squeeze)

    def value(self, Z, Y=None):  # pragma: no cover - interface
        """``φ(z; y)``: ``Z`` of shape (..., q) → (..., r); ``Y`` broadcasts against ``Z``."""
        raise NotImplementedError

    def derivative(self, Z, Y=None):  # pragma: no cover - interface
        """Jacobian ``∂φ_r/∂z_k`` at ``Z`` of shape (m, q): shape (m, r, q)."""
        raise NotImplementedError

    def finalize(self, values):
        """Drop the trailing output axis when the target is single-output."""
        return values[..., 0] if self.squeeze else values


class RawOutput(Target):
    """``φ(z) = z``: decision function / regression prediction."""

    is_identity = True

    def value(self, Z, Y=None):
        return np.array(Z, dtype=float)

    def derivative(self, Z, Y=None):
        m, q = Z.shape
        return np.broadcast_to(np.eye(q), (m, q, q))


class MeanOutput(Target):
    """``φ(z) = μ(z)``, the family's inverse link: the prediction of a GLM."""

    def __init__(self, name, n_model_outputs, n_outputs, squeeze, link):
        super().__init__(name, n_model_outputs, n_outputs, squeeze)
        self.link = link

    def value(self, Z, Y=None):
        return self.link.inverse(Z)

    def derivative(self, Z, Y=None):
        m, q = Z.shape
        return self.link.inverse_derivative(Z)[:, :, None] * np.eye(q)


class BinaryProba(Target):
    """``φ(z) = (1 − μ(z), μ(z))`` for a single linear predictor, ``μ`` the
    family's inverse link (the logistic function for logistic regression)."""

    def __init__(self, name, n_model_outputs, link):
        super().__init__(name, n_model_outputs, 2, squeeze=False)
        self.link = link

    def value(self, Z, Y=None):
        # 1 − μ(z) = μ(−z) for the symmetric links; computed as the complement
        # otherwise. Both columns without cancellation for the logit.
        mu = self.link.inverse(Z[..., 0])
        low = self.link.inverse(-Z[..., 0]) if self.link.symmetric else 1.0 - mu
        return np.stack([low, mu], axis=-1)

    def derivative(self, Z, Y=None):
        slope = self.link.inverse_derivative(Z[:, 0])
        return np.stack([-slope, slope], axis=-1)[:, :, None]


class SoftmaxProba(Target):
    """``φ(z) = softmax(z)`` for one logit per class; Jacobian ``diag(p) − p pᵀ``."""

    def value(self, Z, Y=None):
        return softmax(Z, axis=-1)

    def derivative(self, Z, Y=None):
        P = softmax(Z, axis=-1)
        jac = -P[:, :, None] * P[:, None, :]
        idx = np.arange(P.shape[1])
        jac[:, idx, idx] += P
        return jac


class Loss(Target):
    """``φ(z; y) = Σ_k ℓ(y_k, z_k)`` with the objective's pointwise loss (unscaled)."""

    needs_y = True

    def __init__(self, name, n_model_outputs, objective):
        super().__init__(name, n_model_outputs, 1, squeeze=True)
        self.objective = objective

    def value(self, Z, Y=None):
        Z = np.asarray(Z, dtype=float)
        Y = np.broadcast_to(Y, Z.shape)
        q = Z.shape[-1]
        loss = self.objective.loss(Y.reshape(-1, q), Z.reshape(-1, q))
        return loss.sum(axis=-1).reshape(Z.shape[:-1] + (1,))

    def derivative(self, Z, Y=None):
        first, _ = self.objective.loss_derivatives(Y, Z)
        return np.asarray(first, dtype=float)[:, None, :]


class InverseTransformed(Target):
    """A target in the original scale of a transformed regression target:
    ``g⁻¹(φ(z))`` with ``g`` the target transformation fitted before the model
    (``TransformedTargetRegressor``), applied to each output separately.

    ``inverse`` maps an (m, r) array to the original scale. Its derivative is a
    central difference (step ``1e-6 · max(1, |v|)``; error about 1e-10 relative for
    smooth maps), so linearized effects follow the inverse to first order.
    """

    def __init__(self, base, inverse):
        super().__init__(base.name, base.n_model_outputs, base.n_outputs, base.squeeze)
        self.base, self.inverse = base, inverse
        self.needs_y = base.needs_y

    def _apply_inverse(self, values):
        flat = values.reshape(-1, values.shape[-1])
        return np.asarray(self.inverse(flat), dtype=float).reshape(values.shape)

    def value(self, Z, Y=None):
        return self._apply_inverse(np.asarray(self.base.value(Z, Y), dtype=float))

    def derivative(self, Z, Y=None):
        v = np.asarray(self.base.value(Z, Y), dtype=float)
        h = 1e-6 * np.maximum(1.0, np.abs(v))
        slope = (self._apply_inverse(v + h) - self._apply_inverse(v - h)) / (2 * h)
        return slope[:, :, None] * self.base.derivative(Z, Y)


def make_target(name, objective, n_model_outputs, multi_output, probabilistic=True):
    """Return the :class:`Target` called ``name`` for a model of this family.

    Parameters
    ----------
    name : str
        One of ``TARGETS``.
    objective : Objective
        The fitted model's objective (family, loss, classifier or regressor).
    n_model_outputs : int
        ``q``, the number of linear predictors (rows of θ).
    multi_output : bool
        Whether the model's own ``predict``/``decision_function`` returns a 2-D
        array (multi-target regression, multinomial classification).
    probabilistic : bool, default=True
        Whether the classifier has ``predict_proba`` (a logistic-type loss);
        ``RidgeClassifier`` does not.

    Raises
    ------
    ValueError
        For an unknown name, and for targets that do not exist for this kind of
        model (``"predict_proba"`` on a regressor, ``"predict"`` on a classifier).
    """
    if not isinstance(name, str) or name not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}; got {name!r}.")
    classifier = objective.is_classifier
    q = n_model_outputs
    if name == "predict_proba":
        if not classifier:
            raise ValueError(
                "target='predict_proba' needs a classifier, but the wrapped estimator "
                "is a regressor; use target='predict' (or 'decision_function', the "
                "same raw output) or 'loss'."
            )
        if not probabilistic:
            raise ValueError(
                "target='predict_proba' is not available: this classifier has no "
                "predict_proba (its loss is not a likelihood); use 'decision_function' "
                "or 'loss'."
            )
        if q == 1:
            return BinaryProba(name, q, objective.link)
        return SoftmaxProba(name, q, q, squeeze=False)
    if name == "predict":
        if classifier:
            raise ValueError(
                "target='predict' is not available for a classifier: predicted labels "
                "are a step function of the parameters, so removal effects on them are "
                "not smooth. Use 'decision_function' (logits), 'predict_proba' or 'loss'."
            )
        # The family's mean: e^z for log-link GLMs, z itself for least squares.
        if objective.link.name == "identity":
            return RawOutput(name, q, q, squeeze=not multi_output)
        return MeanOutput(name, q, q, not multi_output, objective.link)
    if name == "decision_function":
        return RawOutput(name, q, q, squeeze=not multi_output)
    return Loss(name, q, objective)
