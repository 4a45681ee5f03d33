"""The :class:`Functional` interface, its internal evaluation protocol and shared helpers."""

import copy

import numpy as np

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
    greater_is_better : bool or None
        Whether larger values are better (accuracy, ROC AUC), smaller ones (losses,
        calibration error, the gaps as largest minus smallest group), or neither
        (``None``: a mean prediction, a signed gap, Cohen's d) — as scikit-learn's
        scorers say it; what a removal curve or a ranking by the functional reads.
    smooth : bool or None
        Whether the functional is differentiable in the outputs (piecewise smooth
        ones, e.g. a maximum over groups, count: their gradient is the active
        piece's); ``None`` when it depends on the model (``"predict"``: a step
        function for a classifier, smooth for a regressor).
    """

    name = "functional"
    response_method = "predict"
    needs_y = False
    greater_is_better = None
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
        name=None, greater_is_better=None,
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
        greater_is_better : bool or None, default=None
            Whether larger values of ``func`` are better (see the attribute).

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
        if greater_is_better is not None:
            greater_is_better = bool(greater_is_better)
        out = _Callable(func, response_method, bool(needs_y), bool(smooth), gradient, str(name))
        out.greater_is_better = greater_is_better
        return out

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

    def _subset(self, rows):
        """The functional on the reference rows ``rows`` only (a copy): functionals
        bound to their reference rows (groups) keep those rows' labels, e.g. for
        cross-fitting folds; the others are unchanged."""
        return copy.copy(self)

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
