"""Means of per-row terms (losses, accuracy, predictions) and calibration."""

import numbers

import numpy as np

from ._base import (
    Functional,
    _check_binary,
    _check_response,
    _check_response_for,
    _pos_index,
    _RowMean,
    _score_of,
    _score_slope,
)


class _MeanLoss(_RowMean):
    name = "mean_loss"
    greater_is_better = False
    response_method = "loss"
    needs_y = True

    def _terms(self, y, out):
        return out

    def _gradient(self, y, out):
        return np.full(out.shape, 1.0 / out.shape[0])


def mean_loss():
    """Mean of the model family's own per-row loss on the reference rows.

    The loss of the objective — log-loss for logistic regression, squared error
    ``(y − ŷ)²`` for least squares, half deviance for Poisson/Gamma/Tweedie —
    unscaled (no ``C``) and unweighted. Smooth; needs ``y_ref``.

    Returns
    -------
    functional : Functional

    Examples
    --------
    >>> import numpy as np
    >>> from skrif.functionals import mean_loss
    >>> mean_loss().value(None if False else np.zeros(3), np.array([0.5, 1.0, 1.5]))
    1.0
    """
    return _MeanLoss()


class _MeanPrediction(_RowMean):
    name = "mean_prediction"
    smooth = None

    def __init__(self, response_method, pos_label):
        super().__init__()
        self.response_method = response_method
        self.pos_label = pos_label

    def _bind_model(self, info):
        if self.response_method is None:
            self.response_method = (
                "predict_proba" if info.is_classifier and info.probabilistic
                else "decision_function" if info.is_classifier else "predict"
            )
            _check_response_for(self.name, self.response_method, info)
        self._pos = 0
        if info.is_classifier and (self.response_method != "decision_function" or info.n_outputs > 1):
            self._pos = _pos_index(self.name, info, self.pos_label)
        elif info.n_outputs > 1:
            raise ValueError(
                f"The functional {self.name} needs a single-output model; this one has "
                f"{info.n_outputs} outputs."
            )

    def _terms(self, y, out):
        return _score_of(out, self.response_method, self._info, self._pos)

    def _gradient(self, y, out):
        m = out.shape[0]
        return _score_slope(self.response_method, self._info, self._pos, out.shape) / m


def mean_prediction(*, response_method=None, pos_label=None):
    """Mean predicted value on the reference rows.

    Parameters
    ----------
    response_method : {"predict_proba", "decision_function", "predict"}, default=None
        ``None``: the positive class's probability for classifiers with
        ``predict_proba`` (their decision function otherwise), the prediction for
        regressors. ``"predict"`` on a classifier is the rate of predicted
        ``pos_label`` (a step function: not smooth).
    pos_label : label, default=None
        The class whose probability (or predicted rate) is averaged; default
        ``classes_[1]`` for a binary classifier, required with more classes.

    Returns
    -------
    functional : Functional
    """
    if response_method is not None:
        _check_response(response_method)
        if response_method == "loss":
            raise ValueError("mean_prediction reads predictions; use mean_loss() for the loss.")
    return _MeanPrediction(response_method, pos_label)


class _LogLoss(_RowMean):
    name = "log_loss"
    greater_is_better = False
    response_method = "predict_proba"
    needs_y = True

    def _terms(self, y, out):
        rows = np.arange(out.shape[-2])
        p = out[..., rows, y]
        return -np.log(np.clip(p, np.finfo(float).tiny, None))

    def _gradient(self, y, out):
        m = out.shape[0]
        g = np.zeros(out.shape)
        rows = np.arange(m)
        g[rows, y] = -1.0 / (m * np.clip(out[rows, y], np.finfo(float).tiny, None))
        return g


def log_loss():
    """Mean log-loss ``−mean_j log p(y_j | x_j)``, as scikit-learn's ``log_loss``.

    Reads ``predict_proba``; smooth; needs ``y_ref``. For logistic regression it
    equals :func:`mean_loss`.
    """
    return _LogLoss()


class _Brier(_RowMean):
    name = "brier_score"
    greater_is_better = False
    response_method = "predict_proba"
    needs_y = True

    def _terms(self, y, out):
        K = out.shape[-1]
        onehot = np.eye(K)[y]
        if K == 2:  # scikit-learn's binary Brier score: (p₁ − y)²
            return (out[..., 1] - onehot[:, 1]) ** 2
        return np.sum((out - onehot) ** 2, axis=-1)

    def _gradient(self, y, out):
        m, K = out.shape
        onehot = np.eye(K)[y]
        if K == 2:
            g = np.zeros(out.shape)
            g[:, 1] = 2.0 * (out[:, 1] - onehot[:, 1]) / m
            return g
        return 2.0 * (out - onehot) / m


def brier_score():
    """Brier score as scikit-learn's ``brier_score_loss``: ``mean (p₁ − y)²`` for
    a binary classifier, ``mean Σ_k (p_k − 1[y = k])²`` otherwise. Smooth;
    needs ``y_ref``."""
    return _Brier()


class _Accuracy(_RowMean):
    name = "accuracy"
    greater_is_better = True
    response_method = "predict"
    needs_y = True
    smooth = False

    def _bind_model(self, info):
        if not info.is_classifier:
            raise ValueError("The functional accuracy needs a classifier; the model is a regressor.")

    def _terms(self, y, out):
        return (out == y).astype(float)


def accuracy():
    """Fraction of reference rows whose predicted class is right (``accuracy_score``).

    A step function of the parameters (not smooth); needs ``y_ref``.
    """
    return _Accuracy()


class _BalancedAccuracy(_RowMean):
    name = "balanced_accuracy"
    greater_is_better = True
    response_method = "predict"
    needs_y = True
    smooth = False

    def _bind_model(self, info):
        _Accuracy._bind_model(self, info)

    def _terms(self, y, out):
        # each row weighs 1 / (rows of its class · classes present), times m (mean)
        counts = np.bincount(y)
        present = np.count_nonzero(counts)
        w = y.size / (counts[y] * present)
        return (out == y) * w


def balanced_accuracy():
    """Mean recall over the classes present in ``y_ref``
    (``balanced_accuracy_score``). Not smooth; needs ``y_ref``."""
    return _BalancedAccuracy()


# --------------------------------------------------------------------- rankings


class _Ece(Functional):
    name = "expected_calibration_error"
    greater_is_better = False
    response_method = "predict_proba"
    needs_y = True
    smooth = False

    def __init__(self, n_bins):
        super().__init__()
        self.n_bins = n_bins

    def _bind_model(self, info):
        _check_binary(self.name, info)

    def _values(self, y, out):
        p = np.asarray(out, dtype=float)[..., 1]
        lead = p.shape[:-1]
        P = p.reshape(-1, p.shape[-1])
        c, m = P.shape
        edges = np.linspace(0.0, 1.0, self.n_bins + 1)
        bins = np.searchsorted(edges[1:-1], P, side="right")
        resid = (y == 1) - P
        key = bins + self.n_bins * np.arange(c)[:, None]
        sums = np.bincount(key.ravel(), weights=resid.ravel(), minlength=c * self.n_bins)
        ece = np.abs(sums.reshape(c, self.n_bins)).sum(axis=1) / m
        return ece.reshape(lead) if lead else ece[0]


def expected_calibration_error(*, n_bins=10):
    """Expected calibration error of the positive class's probability.

    ``Σ_b (|B_b| / m) · |mean_{B_b} 1[y = classes_[1]] − mean_{B_b} p|`` over
    ``n_bins`` equal-width bins of ``[0, 1]`` (bin ``b`` holds ``edges[b] ≤ p <
    edges[b+1]``, the last bin includes 1). Binary classifiers; not smooth; needs
    ``y_ref``.
    """
    if not isinstance(n_bins, numbers.Integral) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}.")
    return _Ece(int(n_bins))


# ------------------------------------------------------------------------ groups
