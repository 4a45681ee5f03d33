"""Functionals of groups of reference rows: fairness gaps, worst groups, Cohen's d."""

import copy

import numpy as np

from ._base import (
    Functional,
    _check_response_for,
    _Evaluator,
    _pos_index,
    _score_of,
    _score_slope,
    _TermsEvaluator,
)
from ._metrics import _Accuracy, _MeanPrediction


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

    greater_is_better = False

    def __init__(self, groups, between, name):
        super().__init__()
        self.name = name
        self._labels, self._between_labels = np.asarray(groups), between
        self.groups = _Groups(groups, name)
        self.between = _check_between(between, self.groups, name)
        self._linear = between is not None
        if between is not None:  # a signed gap: closer to zero is better, not larger
            self.greater_is_better = None

    def _subset(self, rows):
        new = copy.copy(self)
        new._labels = self._labels[rows]
        new.groups = _Groups(new._labels, self.name)
        new.between = _check_between(self._between_labels, new.groups, self.name)
        if self.between is not None and new.between is None:  # cohens_d's default pair
            new.between = self.between
        vars(new).pop("_W", None)
        vars(new).pop("_W_y", None)
        return new

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
        self.greater_is_better = self.tpr.greater_is_better

    def _bind(self, info):
        bound = super()._bind(info)
        bound.tpr, bound.fpr = self.tpr._bind(info), self.fpr._bind(info)
        return bound

    def _check_rows(self, n_ref):
        self.tpr._check_rows(n_ref)

    def _subset(self, rows):
        new = copy.copy(self)
        new.tpr, new.fpr = self.tpr._subset(rows), self.fpr._subset(rows)
        return new

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
    greater_is_better = True

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
    greater_is_better = None

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
        self.greater_is_better = None

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
