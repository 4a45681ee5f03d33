"""Functionals: one number computed from a model's outputs on reference rows.

A :class:`Functional` is what a model review or a fairness audit measures — the
accuracy on a test set, the ROC AUC, the calibration error, the gap in positive
rates between groups, the worst group's loss — written as a scalar of the model's
outputs on fixed reference rows ``X_ref`` (and their targets ``y_ref`` where it
needs them). :meth:`InfluenceEstimator.functional_influence
<skrif.InfluenceEstimator.functional_influence>` attributes it to the training
rows: how it changes when each training row (or group) is removed.

A functional declares

* ``response_method``: the output it reads per reference row —
  ``"decision_function"`` (the raw output), ``"predict_proba"`` (class
  probabilities), ``"predict"`` (predicted classes of a classifier, predictions of
  a regressor) or ``"loss"`` (the model family's own per-row loss as in its
  objective, unscaled and unweighted);
* ``needs_y``: whether it reads ``y_ref``;
* ``smooth``: whether it is differentiable in the outputs, with
  :meth:`Functional.gradient` (what ``linearized=True`` needs). Accuracy, ROC AUC
  and gaps of hard decisions are step functions of the parameters; their removal
  effects are always evaluated at the predicted (or refitted) parameters.
  ``None`` where it depends on the model (``"predict"`` is a step function for a
  classifier, smooth for a regressor).

Outputs are arrays as scikit-learn returns them: ``decision_function`` (m,) for a
binary classifier or a single-output regressor, (m, K) otherwise;
``predict_proba`` (m, K); ``predict`` (m,) (class labels, or values); ``loss``
(m,). :meth:`Functional.value` takes them with the reference targets, like a
scikit-learn metric.

Nothing here knows about estimators or removals. skrif evaluates a functional on
batches of outputs (a leading axis of training rows) through a small internal
protocol: ``_bind(info)`` checks the model kind and returns a bound copy,
``_evaluator(y, out)`` returns an object with the value at the fitted outputs
(``base``), ``changes(moved)`` for a batch, and ``gradient()``; class labels are
passed as indices into ``classes_`` there.
"""

import copy
import numbers

import numpy as np

__all__ = [
    "Functional",
    "mean_loss",
    "accuracy",
    "balanced_accuracy",
    "log_loss",
    "brier_score",
    "roc_auc",
    "average_precision",
    "expected_calibration_error",
    "mean_prediction",
    "demographic_parity_gap",
    "equal_opportunity_gap",
    "false_positive_rate_gap",
    "equalized_odds_gap",
    "worst_group_loss",
    "worst_group_accuracy",
    "cohens_d",
]

RESPONSE_METHODS = ("decision_function", "predict_proba", "predict", "loss")


class ModelInfo:
    """What a functional may ask of the model (plain data, no estimator).

    Parameters
    ----------
    is_classifier : bool
    classes : array-like or None
        ``classes_`` of a classifier.
    probabilistic : bool, default=False
        Whether the classifier has ``predict_proba``.
    n_outputs : int, default=1
        Outputs of ``decision_function`` / ``predict`` per row (1 for binary
        classifiers and single-output regressors).
    """

    def __init__(self, is_classifier, classes=None, probabilistic=False, n_outputs=1):
        self.is_classifier = bool(is_classifier)
        self.classes = None if classes is None else np.asarray(classes)
        self.probabilistic = bool(probabilistic)
        self.n_outputs = int(n_outputs)

    @classmethod
    def from_targets(cls, y_true, y_output, response_method):
        """Guess the model kind from outputs given to :meth:`Functional.value`."""
        out = np.asarray(y_output)
        if response_method == "predict_proba" or (response_method is None and out.ndim == 2):
            K = out.shape[-1]
            classes = np.unique(y_true) if y_true is not None else np.arange(K)
            if classes.size != K:
                classes = np.arange(K)
            return cls(True, classes, True, 1 if K == 2 else K)
        if response_method == "predict" and not np.issubdtype(out.dtype, np.floating):
            labels = out if y_true is None else np.concatenate([np.ravel(y_true), out.ravel()])
            return cls(True, np.unique(labels), False, 1)
        if response_method in ("decision_function", "predict") and y_true is not None:
            y = np.asarray(y_true)
            if not np.issubdtype(y.dtype, np.floating) or np.unique(y).size <= 2:
                return cls(True, np.unique(y), False, 1 if out.ndim == 1 else out.shape[1])
        return cls(False, None, False, 1 if out.ndim == 1 else out.shape[1])


# ---------------------------------------------------------------------- evaluators
class _Evaluator:
    """Changes of a functional from its value at the fitted outputs, in batches:
    ``changes(moved)`` takes outputs with a leading batch axis (c, m, ...) and
    returns (c,). The default subtracts values."""

    #: Reference rows in this order let :meth:`changes_sorted` skip a gather
    #: (the ROC AUC fast path); ``None``: any order.
    order = None

    def __init__(self, functional, y, out):
        self.functional, self.y, self.out = functional, y, out
        self.base = float(functional._values(y, out))

    def changes(self, moved):
        return self.functional._values(self.y, moved) - self.base

    def gradient(self):
        return self.functional._gradient(self.y, self.out)


class _TermsEvaluator(_Evaluator):
    """Functionals of per-row terms ``t_j`` through group (or overall) means: the
    change is computed from the per-row differences ``t_j(moved) − t_j`` (a
    difference of two totals would lose the digits they share)."""

    def __init__(self, functional, y, out):
        self.functional, self.y, self.out = functional, y, out
        self.terms = functional._terms(y, out)
        self.means = functional._means(y, self.terms)
        self.base = float(functional._combine(self.means))

    def changes(self, moved):
        f = self.functional
        delta = f._means(self.y, f._terms(self.y, moved) - self.terms)
        if f._linear:  # a fixed combination of means: no base value to subtract
            return f._combine(delta)
        return f._combine(self.means + delta) - self.base


# --------------------------------------------------------------------------- base
class Functional:
    """A scalar of a model's outputs on reference rows.

    Build one with the constructors of :mod:`skrif.functionals`
    (:func:`accuracy`, :func:`roc_auc`, :func:`demographic_parity_gap`, ...) or
    wrap any metric with :meth:`from_callable`, and pass it to
    :meth:`~skrif.InfluenceEstimator.functional_influence`.

    Attributes
    ----------
    name : str
    response_method : {"decision_function", "predict_proba", "predict", "loss"}
        The output read on each reference row.
    needs_y : bool
        Whether the reference targets ``y_ref`` are read.
    smooth : bool or None
        Whether the functional is differentiable in the outputs (piecewise smooth
        ones, e.g. a maximum over groups, count: their gradient is the active
        piece's); ``None`` when it depends on the model (``"predict"``: a step
        function for a classifier, smooth for a regressor).
    """

    name = "functional"
    response_method = "predict"
    needs_y = False
    smooth = False
    _evaluator_class = _Evaluator
    #: Whether the functional is a fixed linear combination of term means
    #: (_TermsEvaluator: its change needs no base value).
    _linear = False

    def __init__(self):
        self._info = None

    # -- public -----------------------------------------------------------------
    def value(self, y_true, y_output):
        """The functional's value for outputs ``y_output`` on the reference rows.

        Parameters
        ----------
        y_true : array-like of shape (m,) or None
            Reference targets (may be ``None`` when ``needs_y`` is false).
        y_output : array-like
            The model's ``response_method`` output on the same rows, as
            scikit-learn returns it.

        Returns
        -------
        value : float
        """
        bound, y, out = self._public(y_true, y_output)
        return float(bound._values(y, out))

    def gradient(self, y_true, y_output):
        """``∂ value / ∂ y_output``, shaped like ``y_output`` (smooth functionals).

        Raises
        ------
        ValueError
            If the functional is not smooth (for this kind of output).
        """
        bound, y, out = self._public(y_true, y_output)
        if not bound._is_smooth():
            raise ValueError(f"{self.name} is not smooth here: it has no gradient.")
        return bound._gradient(y, out)

    @classmethod
    def from_callable(
        cls, func, *, response_method="predict", needs_y=True, smooth=False, gradient=None,
        name=None,
    ):
        """Wrap a metric ``func(y_true, y_output) -> float`` as a functional.

        Parameters
        ----------
        func : callable
            Called as ``func(y_true, y_output)`` with the reference targets
            (``None`` when ``needs_y=False``) and the model's output as
            scikit-learn returns it, e.g. a scikit-learn metric such as
            ``f1_score`` (``"predict"``) or ``roc_auc_score`` (binary
            ``"decision_function"``).
        response_method : {"decision_function", "predict_proba", "predict", "loss"}, \
                default="predict"
        needs_y : bool, default=True
        smooth : bool, default=False
            Declare ``func`` differentiable in the outputs; ``linearized=True``
            then also needs ``gradient``.
        gradient : callable, default=None
            ``gradient(y_true, y_output)``: ``∂func/∂y_output``, shaped like
            ``y_output``.
        name : str, default=None
            Defaults to ``func.__name__``.

        Returns
        -------
        functional : Functional

        Notes
        -----
        Per-row effects call ``func`` once per training row: O(n_train) Python calls
        on top of the outputs (the ready-made functionals are vectorized).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.metrics import f1_score
        >>> from skrif.functionals import Functional
        >>> f1 = Functional.from_callable(f1_score, response_method="predict")
        >>> round(f1.value(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])), 4)
        0.6667
        """
        if not callable(func):
            raise TypeError(f"func must be callable; got {type(func).__name__}.")
        if gradient is not None and not callable(gradient):
            raise TypeError(f"gradient must be callable or None; got {type(gradient).__name__}.")
        _check_response(response_method)
        if gradient is not None and not smooth:
            raise ValueError("gradient= is given but smooth=False: declare smooth=True.")
        name = name if name is not None else getattr(func, "__name__", "functional")
        return _Callable(func, response_method, bool(needs_y), bool(smooth), gradient, str(name))

    def __repr__(self):
        return f"<Functional {self.name} of {self.response_method}>"

    # -- the internal protocol ------------------------------------------------
    def _bind(self, info):
        """A copy checked against and bound to the model described by ``info``.

        Raises ``ValueError`` when the functional cannot be evaluated on this model.
        """
        _check_response_for(self.name, self.response_method, info)
        bound = copy.copy(self)
        bound._info = info
        bound._bind_model(info)
        return bound

    def _bind_model(self, info):
        """Subclass hook: check and record what the functional needs of the model."""

    def _is_smooth(self):
        """Whether the bound functional is smooth."""
        if self.smooth is None:
            return not (self._info.is_classifier and self.response_method == "predict")
        return bool(self.smooth)

    def _encode_y(self, y):
        """Reference targets as the vectorized code reads them (class indices)."""
        if y is None:
            if self.needs_y:
                raise ValueError(f"The functional {self.name} needs y_ref (the reference targets).")
            return None
        if self._info.is_classifier:
            return class_index(y, self._info.classes, "y_ref")
        return np.asarray(y, dtype=float)

    def _check_rows(self, n_ref):
        """Subclass hook: raise if the functional is bound to another number of rows."""

    def _evaluator(self, y, out):
        return self._evaluator_class(self, y, out)

    def _public(self, y_true, y_output):
        info = self._info or ModelInfo.from_targets(y_true, y_output, self.response_method)
        bound = self if self._info is not None else self._bind(info)
        y = bound._encode_y(None if y_true is None else np.asarray(y_true))
        out = np.asarray(y_output)
        if info.is_classifier and self.response_method == "predict":
            out = class_index(out, info.classes, "y_output")
        elif out.dtype.kind != "f":
            out = out.astype(float)
        bound._check_rows(out.shape[0])
        return bound, y, out

    def _values(self, y, out):  # pragma: no cover - interface
        raise NotImplementedError

    def _gradient(self, y, out):  # pragma: no cover - interface
        raise NotImplementedError


def _check_response(response_method):
    if response_method not in RESPONSE_METHODS:
        raise ValueError(
            f"response_method must be one of {RESPONSE_METHODS}; got {response_method!r}."
        )


def _check_response_for(name, response, info):
    if response == "predict_proba":
        if not info.is_classifier:
            raise ValueError(
                f"The functional {name} reads predicted probabilities (predict_proba), "
                "but the model is a regressor."
            )
        if not info.probabilistic:
            raise ValueError(
                f"The functional {name} reads predicted probabilities, but this "
                "classifier has no predict_proba; use its decision_function instead."
            )


def _check_binary(name, info):
    if not (info.is_classifier and info.classes.size == 2):
        kind = "a regressor" if not info.is_classifier else f"{info.classes.size} classes"
        raise ValueError(f"The functional {name} needs a binary classifier; the model has {kind}.")


def class_index(labels, classes, what):
    """Positions of ``labels`` in the sorted ``classes``; raises for unknown labels."""
    labels = np.asarray(labels)
    idx = np.clip(np.searchsorted(classes, labels), 0, classes.size - 1)
    bad = classes[idx] != labels
    if np.any(bad):
        raise ValueError(
            f"{what} holds labels {np.unique(labels[bad])[:5].tolist()} that are not "
            f"classes of the model ({classes.tolist()[:10]})."
        )
    return idx.astype(np.intp)


def _pos_index(name, info, pos_label):
    """Index in ``classes_`` of the positive class (binary default: ``classes_[1]``)."""
    classes = info.classes
    if pos_label is None:
        if classes.size != 2:
            raise ValueError(
                f"The functional {name} needs pos_label= for a classifier with "
                f"{classes.size} classes."
            )
        return 1
    return int(class_index(np.asarray([pos_label]), classes, "pos_label")[0])


def _score_of(out, response, info, pos):
    """Per-row score (…, m) from an output batch: the positive class's probability,
    the binary decision value, the prediction, or the positive decision (0/1)."""
    if response == "predict_proba":
        return out[..., pos]
    if response == "predict":
        if info.is_classifier:
            return (out == pos).astype(float)
        return out
    if out.ndim and info.n_outputs > 1:
        return out[..., pos]
    return out


def _score_slope(response, info, pos, shape):
    """``∂score/∂out`` for a smooth score: a selector shaped like the output."""
    if response == "predict_proba" or (response == "decision_function" and info.n_outputs > 1):
        g = np.zeros(shape)
        g[:, pos] = 1.0
        return g
    return np.ones(shape)


# ------------------------------------------------------------------ means of rows
class _RowMean(Functional):
    """``mean_j t(y_j, out_j)``."""

    smooth = True
    _evaluator_class = _TermsEvaluator
    _linear = True

    def _means(self, y, terms):
        return np.mean(terms, axis=-1)

    def _combine(self, means):
        return means

    def _values(self, y, out):
        return np.mean(self._terms(y, out), axis=-1)


class _MeanLoss(_RowMean):
    name = "mean_loss"
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
class _RankingMixin:
    response_method = "decision_function"
    needs_y = True
    smooth = False

    def _bind_model(self, info):
        _check_binary(self.name, info)

    def _encode_y(self, y):
        y = Functional._encode_y(self, y)
        if y is not None and np.unique(y).size < 2:
            raise ValueError(
                f"The functional {self.name} needs both classes among the reference rows; "
                f"y_ref holds only {self._info.classes[y[0]]!r}."
            )
        return y


class _RocAuc(_RankingMixin, Functional):
    name = "roc_auc"

    def _values(self, y, out):
        from scipy.stats import rankdata

        pos = y == 1
        n1, n0 = int(pos.sum()), int((~pos).sum())
        ranks = rankdata(out, axis=-1)
        return (ranks[..., pos].sum(axis=-1) - n1 * (n1 + 1) / 2.0) / (n1 * n0)

    def _evaluator(self, y, out):
        return _AucEvaluator(self, y, out)


def roc_auc():
    """Area under the ROC curve of the decision function (``roc_auc_score``).

    Binary classifiers; ties count one half. A step function of the parameters
    (not smooth); needs ``y_ref``. Per-row effects use an exact fast path: the
    reference scores are sorted once, and for each training row only the reference
    rows whose order changes are re-ranked.
    """
    return _RocAuc()


def _u(pos_score, neg_score):
    """A (positive, negative) pair's Mann–Whitney contribution."""
    return (pos_score > neg_score) + 0.5 * (pos_score == neg_score)


def _within_u(gid, row, vals, neg, n_rows):
    """Σ over positives of (#negatives strictly below + ½ #negatives tied) within
    contiguous segments ``gid`` (values sorted inside each segment), per batch row."""
    if gid.size == 0:
        return np.zeros(n_rows)
    negf = neg.astype(float)
    cum = np.cumsum(negf) - negf
    new_seg = np.r_[True, gid[1:] != gid[:-1]]
    seg_base = np.maximum.accumulate(np.where(new_seg, cum, -np.inf))
    run_start = new_seg | np.r_[True, vals[1:] != vals[:-1]]
    run_id = np.cumsum(run_start) - 1
    first = np.flatnonzero(run_start)
    below = (cum - seg_base)[first]
    tied = np.bincount(run_id, weights=negf)
    contrib = below[run_id] + 0.5 * tied[run_id]
    return np.bincount(row, weights=np.where(neg, 0.0, contrib), minlength=n_rows)


class _AucEvaluator(_Evaluator):
    """Exact ROC AUC changes, re-ranking only reference rows whose order changes.

    The fitted scores are sorted once (``order``). For a batch of new scores in that
    order, the rows split into independent *segments*: a boundary between
    positions k and k+1 holds when every new score up to k is strictly below every
    one after it and the fitted scores differ there; pairs across a boundary keep
    their contribution to the Mann–Whitney count. Segments grow from the pairs
    whose order (or tie) changed, merging with their neighbours until every
    boundary holds (a few vectorized rounds; rows still growing after
    ``MAX_ROUNDS`` are split by prefix maxima and suffix minima instead). Two-row
    segments change by a closed form, larger ones are sorted. Cost per batch of c
    training rows: O(c m) comparisons plus O(k log k) for the k rows in
    segments — against O(c m log m) for re-ranking everything.
    """

    MAX_ROUNDS = 8

    def __init__(self, functional, y, out):
        super().__init__(functional, y, out)
        self.order = np.argsort(out, kind="stable")
        self.s = np.asarray(out, dtype=float)[self.order]
        self.pos = (y == 1)[self.order]
        self.neg = ~self.pos
        self.scale = 1.0 / (int(self.pos.sum()) * int(self.neg.sum()))
        self.base_tie = self.s[1:] == self.s[:-1]
        self.any_tie = bool(self.base_tie.any())

    def changes(self, moved):
        return self.changes_sorted(np.asarray(moved)[:, self.order])

    def changes_sorted(self, S):
        """Changes for new scores ``S`` (c, m) given in the fitted sorted order."""
        S = np.ascontiguousarray(S, dtype=float)
        c = S.shape[0]
        row, a, b, hard = self._segments(S)
        out = self._segment_changes(S, row, a, b, c)
        if hard.size:
            sub = S[hard]
            out[hard] += self._segment_changes(sub, *self._segments_full(sub), hard.size)
        return out * self.scale

    def _segments(self, S):
        """Final segments ``(row, a, b)`` (inclusive positions) of the batch rows of
        ``S``, and the batch rows left to :meth:`_segments_full`.

        Seeds are the adjacent pairs whose new order is not strictly increasing (or
        whose fitted scores tie). Each round, the segments that grew in the previous
        round and their neighbours (the only ones whose boundaries can have changed)
        absorb a neighbour when the boundary fails (left maximum ≥ right minimum);
        overlapping segments merge.
        """
        c, m = S.shape
        seed = S[:, :-1] >= S[:, 1:]
        if self.any_tie:
            seed |= self.base_tie
        rr, kk = np.nonzero(seed)
        empty = np.zeros(0, dtype=np.intp)
        if rr.size == 0:
            return empty, empty, empty, empty
        new = np.r_[True, (rr[1:] != rr[:-1]) | (kk[1:] != kk[:-1] + 1)]
        st = np.flatnonzero(new)
        row, a = rr[st], kk[st]
        b = kk[np.r_[st[1:], rr.size] - 1] + 1
        flat = S.ravel()
        mx, mn = self._extremes(flat, m, row, a, b)
        active = np.arange(row.size)
        for rnd in range(self.MAX_ROUNDS + 1):
            K = row.size
            i = active
            nxt, prv = np.minimum(i + 1, K - 1), np.maximum(i - 1, 0)
            touch_r = (i + 1 < K) & (row[nxt] == row[i]) & (a[nxt] == b[i] + 1)
            touch_l = (i > 0) & (row[prv] == row[i]) & (b[prv] == a[i] - 1)
            has_r, has_l = b[i] < m - 1, a[i] > 0
            right_min = np.where(touch_r, mn[nxt], np.inf)
            free_r = has_r & ~touch_r
            right_min[free_r] = flat[row[i[free_r]] * m + b[i[free_r]] + 1]
            left_max = np.where(touch_l, mx[prv], -np.inf)
            free_l = has_l & ~touch_l
            left_max[free_l] = flat[row[i[free_l]] * m + a[i[free_l]] - 1]
            grow_r = has_r & (mx[i] >= right_min)
            grow_l = has_l & (left_max >= mn[i])
            grows = grow_r | grow_l
            if not grows.any():
                return row, a, b, empty
            if rnd == self.MAX_ROUNDS:
                hard = np.unique(row[i[grows]])
                keep = ~np.isin(row, hard)
                return row[keep], a[keep], b[keep], hard
            g = i[grows]
            a[g] -= grow_l[grows]
            b[g] += grow_r[grows]
            va, vb = flat[row[g] * m + a[g]], flat[row[g] * m + b[g]]
            mx[g] = np.maximum(mx[g], np.maximum(va, vb))
            mn[g] = np.minimum(mn[g], np.minimum(va, vb))
            # next round: the grown segments and their neighbours
            flag = np.zeros(K, dtype=bool)
            flag[g] = True
            flag[np.maximum(g - 1, 0)] = True
            flag[np.minimum(g + 1, K - 1)] = True
            overlap = (row[1:] == row[:-1]) & (a[1:] <= b[:-1])
            if overlap.any():
                st = np.flatnonzero(np.r_[True, ~overlap])
                mx, mn = np.maximum.reduceat(mx, st), np.minimum.reduceat(mn, st)
                row, a, b = row[st], a[st], np.maximum.reduceat(b, st)
                flag = np.logical_or.reduceat(flag, st)
            active = np.flatnonzero(flag)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _extremes(flat, m, row, a, b):
        L = b - a + 1
        st = np.r_[0, np.cumsum(L)[:-1]]
        v = flat[np.repeat(row * m + a - st, L) + np.arange(L.sum())]
        return np.maximum.reduceat(v, st), np.minimum.reduceat(v, st)

    def _segments_full(self, S):
        pmax = np.maximum.accumulate(S, axis=1)
        smin = np.minimum.accumulate(S[:, ::-1], axis=1)[:, ::-1]
        rr, kk = np.nonzero(~((pmax[:, :-1] < smin[:, 1:]) & ~self.base_tie))
        if rr.size == 0:
            return rr, kk, kk
        st = np.flatnonzero(np.r_[True, (rr[1:] != rr[:-1]) | (kk[1:] != kk[:-1] + 1)])
        return rr[st], kk[st], kk[np.r_[st[1:], rr.size] - 1] + 1

    def _segment_changes(self, S, row, a, b, c):
        m = S.shape[1]
        flat = S.ravel()
        out = np.zeros(c)
        pair = b - a == 1
        if pair.any():
            r, k = row[pair], a[pair]
            mixed = self.pos[k] != self.pos[k + 1]
            r, k = r[mixed], k[mixed]
            up = self.pos[k + 1]  # the positive row is the later one
            s0, s1 = self.s[k], self.s[k + 1]
            n0, n1 = flat[r * m + k], flat[r * m + k + 1]
            new = np.where(up, _u(n1, n0), _u(n0, n1))
            old = np.where(up, _u(s1, s0), _u(s0, s1))
            out += np.bincount(r, weights=new - old, minlength=c)
        big = ~pair
        if big.any():
            r, A, B = row[big], a[big], b[big]
            L = B - A + 1
            st = np.r_[0, np.cumsum(L)[:-1]]
            at = np.repeat(A - st, L) + np.arange(L.sum())
            gid = np.repeat(np.arange(r.size), L)
            rows = np.repeat(r, L)
            neg = self.neg[at]
            before = _within_u(gid, rows, self.s[at], neg, c)
            vals = flat[rows * m + at]
            o = np.lexsort((vals, gid))
            out += _within_u(gid[o], rows[o], vals[o], neg[o], c) - before
        return out


class _AveragePrecision(_RankingMixin, Functional):
    name = "average_precision"

    def _values(self, y, out):
        out = np.asarray(out, dtype=float)
        lead = out.shape[:-1]
        S = out.reshape(-1, out.shape[-1])
        order = np.argsort(-S, axis=1, kind="stable")
        s = np.take_along_axis(S, order, axis=1)
        hit = (y == 1)[order].astype(float)
        tp = np.cumsum(hit, axis=1)
        m = S.shape[1]
        end = np.ones_like(s, dtype=bool)  # last row of each run of tied scores
        end[:, :-1] = s[:, 1:] != s[:, :-1]
        tp_end = np.where(end, tp, 0.0)
        prev = np.zeros_like(tp)
        prev[:, 1:] = np.maximum.accumulate(tp_end, axis=1)[:, :-1]
        precision = tp / np.arange(1, m + 1)
        ap = np.sum(np.where(end, (tp - prev) * precision, 0.0), axis=1) / tp[:, -1]
        return ap.reshape(lead) if lead else ap[0]


def average_precision():
    """Average precision of the decision function (``average_precision_score``).

    Binary classifiers; not smooth; needs ``y_ref``. Per-row effects sort each
    training row's reference scores: O(m log m) per training row.
    """
    return _AveragePrecision()


class _Ece(Functional):
    name = "expected_calibration_error"
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
class _Groups:
    """Group labels of the reference rows (validated once)."""

    def __init__(self, groups, name):
        g = np.asarray(groups)
        if g.ndim != 1:
            raise ValueError(f"{name}: groups must be 1-D (one label per reference row).")
        if g.size == 0:
            raise ValueError(f"{name}: groups is empty.")
        if g.dtype.kind == "f" and np.isnan(g).any():
            raise ValueError(f"{name}: groups holds missing values (NaN).")
        if g.dtype == object and any(v is None for v in g):
            raise ValueError(f"{name}: groups holds missing values (None).")
        self.labels, self.codes = np.unique(g, return_inverse=True)
        if self.labels.size < 2:
            raise ValueError(f"{name}: needs at least two groups; got {self.labels.tolist()}.")
        counts = np.bincount(self.codes)
        single = self.labels[counts < 2]
        if single.size:
            raise ValueError(
                f"{name}: group(s) {single.tolist()[:10]} have a single reference row; a "
                "group's rate or mean needs at least two."
            )

    def __len__(self):
        return self.codes.size

    def index(self, label, name):
        pos = np.flatnonzero(self.labels == label)
        if pos.size == 0:
            raise ValueError(f"{name}: {label!r} is not a group; groups are {self.labels.tolist()[:10]}.")
        return int(pos[0])


def _check_between(between, groups, name):
    if between is None:
        return None
    if not isinstance(between, (tuple, list)) or len(between) != 2:
        raise ValueError(f"{name}: between must be a pair of group labels (a, b); got {between!r}.")
    a, b = (groups.index(v, name) for v in between)
    if a == b:
        raise ValueError(f"{name}: between names the same group twice.")
    return a, b


class _GroupMeans(Functional):
    """Gaps and extremes of per-group means of a per-row term.

    ``_terms`` gives a term per reference row and ``_condition(y)`` the rows that
    count (e.g. the true positives' rows for a TPR); the group means are a fixed
    matrix product, so changes come from the per-row differences."""

    _evaluator_class = _TermsEvaluator

    def __init__(self, groups, between, name):
        super().__init__()
        self.name = name
        self.groups = _Groups(groups, name)
        self.between = _check_between(between, self.groups, name)
        self._linear = between is not None

    def _check_rows(self, n_ref):
        if n_ref != len(self.groups):
            raise ValueError(
                f"{self.name} is bound to {len(self.groups)} reference rows (its groups), "
                f"but the reference set has {n_ref} rows."
            )

    def _condition(self, y):
        return None

    def _weights(self, y):
        """(m, G) averaging weights of each group (within the condition)."""
        keep = self._condition(y)
        G = self.groups.labels.size
        W = np.zeros((len(self.groups), G))
        rows = np.arange(len(self.groups))
        W[rows, self.groups.codes] = 1.0
        if keep is not None:
            W[~keep] = 0.0
        counts = W.sum(axis=0)
        thin = self.groups.labels[counts < 2]
        if thin.size:
            raise ValueError(
                f"{self.name}: group(s) {thin.tolist()[:10]} have fewer than two reference "
                f"rows{' with that label' if keep is not None else ''}; a rate needs at least two."
            )
        return W / counts

    def _means(self, y, terms):
        if not hasattr(self, "_W") or self._W_y is not y:
            self._W, self._W_y = self._weights(y), y
        return terms @ self._W

    def _combine(self, means):
        if self.between is not None:
            a, b = self.between
            return means[..., a] - means[..., b]
        return means.max(axis=-1) - means.min(axis=-1)

    def _values(self, y, out):
        return self._combine(self._means(y, self._terms(y, out)))

    def _gradient(self, y, out):
        means = self._means(y, self._terms(y, out))
        if self.between is not None:
            a, b = self.between
        else:
            a, b = int(np.argmax(means)), int(np.argmin(means))
        w = self._W[:, a] - self._W[:, b]
        return w[:, None] * self._term_slope(y, out) if out.ndim > 1 else w * self._term_slope(y, out)


class _RateGap(_GroupMeans):
    """Gap in a group rate of decisions (or of the positive class's score)."""

    smooth = None

    def __init__(self, groups, between, name, response_method, pos_label, condition):
        super().__init__(groups, between, name)
        if response_method not in ("predict", "predict_proba", "decision_function"):
            raise ValueError(
                f"{name}: response_method must be 'predict' (decisions), 'predict_proba' "
                f"or 'decision_function' (scores); got {response_method!r}."
            )
        self.response_method = response_method
        self.pos_label = pos_label
        self.condition = condition
        self.needs_y = condition is not None

    def _bind_model(self, info):
        if not info.is_classifier:
            if self.condition is not None:
                raise ValueError(f"The functional {self.name} needs a classifier (it conditions on the true class).")
            self._pos = 0
            if info.n_outputs > 1:
                raise ValueError(f"The functional {self.name} needs a single-output regressor.")
            if self.response_method == "predict_proba":
                _check_response_for(self.name, self.response_method, info)
            return
        self._pos = _pos_index(self.name, info, self.pos_label)
        if self.response_method == "decision_function" and info.n_outputs == 1 and self._pos == 0:
            raise ValueError(
                f"{self.name}: the binary decision function scores classes_[1]; use "
                "pos_label=classes_[1] or response_method='predict_proba'."
            )

    def _condition(self, y):
        if self.condition is None:
            return None
        return (y == self._pos) if self.condition == "positive" else (y != self._pos)

    def _terms(self, y, out):
        return _score_of(out, self.response_method, self._info, self._pos)

    def _term_slope(self, y, out):
        return _score_slope(self.response_method, self._info, self._pos, out.shape)


def _gap(kind, groups, between, response_method, pos_label, name):
    return _RateGap(groups, between, name, response_method, pos_label, kind)


def demographic_parity_gap(groups, *, between=None, response_method="predict", pos_label=None):
    """Gap between groups in the rate of positive decisions (statistical parity).

    Parameters
    ----------
    groups : array-like of shape (n_ref,)
        The sensitive attribute of each reference row (any labels, at least two
        groups, each with at least two rows). The functional is bound to these
        rows: evaluate it on the same reference set.
    between : pair of labels (a, b), default=None
        ``rate(a) − rate(b)`` (signed); ``None``: the largest group rate minus
        the smallest (as fairlearn's ``demographic_parity_difference``).
    response_method : {"predict", "predict_proba", "decision_function"}, \
            default="predict"
        ``"predict"``: the rate of predicted ``pos_label`` (hard decisions: a step
        function, not smooth); ``"predict_proba"``: the mean probability of
        ``pos_label`` (smooth); ``"decision_function"``: the mean decision value.
        For a regressor, the mean prediction (smooth).
    pos_label : label, default=None
        The favourable class; default ``classes_[1]`` for a binary classifier.

    Returns
    -------
    functional : Functional
    """
    return _gap(None, groups, between, response_method, pos_label, "demographic_parity_gap")


def equal_opportunity_gap(groups, *, between=None, response_method="predict", pos_label=None):
    """Gap between groups in the true positive rate (equal opportunity).

    The rate of positive decisions (or the mean score, see
    :func:`demographic_parity_gap`) among the reference rows whose true class is
    ``pos_label``. Needs ``y_ref`` and a classifier; parameters as in
    :func:`demographic_parity_gap`.
    """
    return _gap("positive", groups, between, response_method, pos_label, "equal_opportunity_gap")


def false_positive_rate_gap(groups, *, between=None, response_method="predict", pos_label=None):
    """Gap between groups in the false positive rate: the rate of positive decisions
    among reference rows whose true class is not ``pos_label``. Needs ``y_ref``;
    parameters as in :func:`demographic_parity_gap`."""
    return _gap("negative", groups, between, response_method, pos_label, "false_positive_rate_gap")


class _EqualizedOdds(Functional):
    name = "equalized_odds_gap"
    needs_y = True

    def __init__(self, groups, between, response_method, pos_label):
        super().__init__()
        self.tpr = _gap("positive", groups, between, response_method, pos_label, self.name)
        self.fpr = _gap("negative", groups, between, response_method, pos_label, self.name)
        self.response_method = response_method
        self.smooth = None

    def _bind(self, info):
        bound = super()._bind(info)
        bound.tpr, bound.fpr = self.tpr._bind(info), self.fpr._bind(info)
        return bound

    def _check_rows(self, n_ref):
        self.tpr._check_rows(n_ref)

    def _values(self, y, out):
        return np.maximum(self.tpr._values(y, out), self.fpr._values(y, out))

    def _gradient(self, y, out):
        t, f = self.tpr._values(y, out), self.fpr._values(y, out)
        return (self.tpr if t >= f else self.fpr)._gradient(y, out)

    def _evaluator(self, y, out):
        return _MaxEvaluator(self, y, out, (self.tpr, self.fpr))


class _MaxEvaluator(_Evaluator):
    """The maximum of several term-mean functionals, each changed without cancellation."""

    def __init__(self, functional, y, out, parts):
        self.functional, self.y, self.out = functional, y, out
        self.parts = [p._evaluator(y, out) for p in parts]
        self.base = max(p.base for p in self.parts)

    def changes(self, moved):
        values = [p.base + p.changes(moved) for p in self.parts]
        return np.max(values, axis=0) - self.base


def equalized_odds_gap(groups, *, between=None, response_method="predict", pos_label=None):
    """The larger of the true and false positive rate gaps (fairlearn's
    ``equalized_odds_difference``). Needs ``y_ref``; piecewise (a maximum);
    parameters as in :func:`demographic_parity_gap`."""
    return _EqualizedOdds(groups, between, response_method, pos_label)


class _WorstGroupLoss(_GroupMeans):
    response_method = "loss"
    needs_y = True
    smooth = True

    def _combine(self, means):
        return means.max(axis=-1)

    def _terms(self, y, out):
        return out

    def _term_slope(self, y, out):
        return np.ones(out.shape)

    def _gradient(self, y, out):
        means = self._means(y, out)
        return self._W[:, int(np.argmax(means))].copy()


def worst_group_loss(groups):
    """The largest per-group mean loss (the model family's own loss).

    Piecewise smooth (its gradient is the worst group's); ``linearized=True``
    misses removals that change which group is worst, the default evaluation sees
    them. Needs ``y_ref``.

    Parameters
    ----------
    groups : array-like of shape (n_ref,)
        Group label of each reference row (at least two groups, two rows each).
    """
    return _WorstGroupLoss(groups, None, "worst_group_loss")


class _WorstGroupAccuracy(_GroupMeans):
    response_method = "predict"
    needs_y = True
    smooth = False

    def _bind_model(self, info):
        _Accuracy._bind_model(self, info)

    def _combine(self, means):
        return means.min(axis=-1)

    def _terms(self, y, out):
        return (out == y).astype(float)


def worst_group_accuracy(groups):
    """The smallest per-group accuracy. Not smooth; needs ``y_ref``.

    Parameters
    ----------
    groups : array-like of shape (n_ref,)
        Group label of each reference row (at least two groups, two rows each).
    """
    return _WorstGroupAccuracy(groups, None, "worst_group_accuracy")


class _CohensD(_GroupMeans):
    smooth = True

    def __init__(self, groups, between, response_method, pos_label):
        super().__init__(groups, between, "cohens_d")
        if self.between is None:
            if self.groups.labels.size != 2:
                raise ValueError(
                    f"cohens_d compares two groups; groups has {self.groups.labels.size}: "
                    "pass between=(a, b)."
                )
            self.between = (1, 0)
        self.response_method = response_method
        self.pos_label = pos_label
        self._evaluator_class = _Evaluator

    _bind_model = _MeanPrediction._bind_model

    def _terms(self, y, out):
        return _score_of(out, self.response_method, self._info, self._pos)

    def _stats(self, y, out):
        v = self._terms(y, out)
        a, b = self.between
        ma, mb = self.groups.codes == a, self.groups.codes == b
        na, nb = int(ma.sum()), int(mb.sum())
        va, vb = v[..., ma], v[..., mb]
        pooled = ((na - 1) * va.var(axis=-1, ddof=1) + (nb - 1) * vb.var(axis=-1, ddof=1)) / (na + nb - 2)
        return v, ma, mb, na, nb, va.mean(axis=-1), vb.mean(axis=-1), pooled

    def _values(self, y, out):
        _, _, _, _, _, mean_a, mean_b, pooled = self._stats(y, out)
        if np.any(pooled <= 0):
            raise ValueError("cohens_d is undefined: the scores are constant within both groups.")
        return (mean_a - mean_b) / np.sqrt(pooled)

    def _gradient(self, y, out):
        v, ma, mb, na, nb, mean_a, mean_b, pooled = self._stats(y, out)
        sd = np.sqrt(pooled)
        d = (mean_a - mean_b) / sd
        g = np.zeros(v.shape)
        g[ma] = 1.0 / (na * sd) - d * (v[ma] - mean_a) / ((na + nb - 2) * pooled)
        g[mb] = -1.0 / (nb * sd) - d * (v[mb] - mean_b) / ((na + nb - 2) * pooled)
        slope = _score_slope(self.response_method, self._info, self._pos, out.shape)
        return g[:, None] * slope if out.ndim > 1 else g * slope


def cohens_d(groups, *, between=None, response_method=None, pos_label=None):
    """Standardized mean difference of the model's scores between two groups.

    ``(mean_a − mean_b) / s`` with the pooled standard deviation ``s²`` =
    ``((n_a − 1) s_a² + (n_b − 1) s_b²) / (n_a + n_b − 2)`` (group variances
    with ``ddof=1``). Smooth.

    Parameters
    ----------
    groups : array-like of shape (n_ref,)
    between : pair of labels (a, b), default=None
        Required with more than two groups; default ``(labels[1], labels[0])``
        of the sorted labels.
    response_method, pos_label
        The score, as in :func:`mean_prediction`.
    """
    return _CohensD(groups, between, response_method, pos_label)


# ------------------------------------------------------------------- callables
class _Callable(Functional):
    def __init__(self, func, response_method, needs_y, smooth, gradient, name):
        super().__init__()
        self.func, self._grad_func = func, gradient
        self.response_method, self.needs_y, self.smooth, self.name = (
            response_method, needs_y, smooth, name
        )

    def _user(self, y, out):
        """Decode to the labels and shapes the user's function expects."""
        info = self._info
        if y is not None and info.is_classifier:
            y = info.classes[y]
        if info.is_classifier and self.response_method == "predict":
            out = info.classes[out]
        return y, out

    def _values(self, y, out):
        out = np.asarray(out)
        single = out.ndim == self._row_ndim()
        batch = out[None] if single else out
        values = np.array([float(self.func(*self._user(y, o))) for o in batch])
        return values[0] if single else values

    def _row_ndim(self):
        info = self._info
        if self.response_method == "predict_proba":
            return 2
        if self.response_method == "decision_function" and info.n_outputs > 1:
            return 2
        if self.response_method == "predict" and not info.is_classifier and info.n_outputs > 1:
            return 2
        return 1

    def _gradient(self, y, out):
        if self._grad_func is None:
            raise ValueError(
                f"The functional {self.name} has no gradient: pass gradient= to "
                "Functional.from_callable for linearized effects."
            )
        g = np.asarray(self._grad_func(*self._user(y, out)), dtype=float)
        if g.shape != np.shape(out):
            raise ValueError(
                f"The gradient of {self.name} has shape {g.shape}; it must be shaped like "
                f"the output {np.shape(out)}."
            )
        return g
