"""Label issues: confident learning on out-of-sample class probabilities.

The signal of a wrong label is how probable the row's given label is under a model
that did not see the row. The estimator's mixin supplies those probabilities from
its one fit (leave-one-out by RIF, leave-one-group-out, or K folds by group Newton
steps); this module turns them into label-quality scores and flags.

Flags follow confident learning (Northcutt, Jiang & Chuang, JAIR 2021) exactly as
cleanlab 2.9's ``cleanlab.filter.find_label_issues`` defines its default,
``filter_by="prune_by_noise_rate"`` with ``frac_noise=1`` and
``min_examples_per_class=1``:

1. per-class thresholds ``t_k`` = mean probability of class ``k`` over the rows
   labelled ``k`` (floored at 2e-6);
2. each row with some class probability ``≥ t_k − 1e-6`` is counted in the
   confident joint ``C[given, guessed]`` (guess: that class, or the most probable
   of several); the diagonal is raised to ≥ 1, each row is rescaled to the given
   label's count, the whole to ``n``, and rounded preserving row totals;
3. for each given class ``k`` and other class ``j``, the ``C[k, j]`` rows labelled
   ``k`` with the largest margin ``p_j − p_k`` are flagged (after keeping at least
   ``min_examples_per_class`` rows per class on the diagonal);
4. rows whose most probable class is their given label (within 1e-6) are
   un-flagged.

The arithmetic (array layouts, rounding and tie order included) follows cleanlab's
source, so the flags are identical when both get the same probabilities; a test
checks it. Scores are cleanlab's ``get_label_quality_scores``: ``self_confidence``
(the probability of the given label, cleanlab's default), ``normalized_margin`` and
``confidence_weighted_entropy``; low means likely wrong.

Everything is O(n K) plus sorting the rows of each class, O(n log n) (K classes).
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

#: Label-quality scores, as cleanlab's ``get_label_quality_scores`` names them.
SCORES = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")

# cleanlab's constants (cleanlab/internal/constants.py)
_FUZZ = 1e-6  # FLOATING_POINT_COMPARISON
_THRESHOLD_FLOOR = 2e-6  # CONFIDENT_THRESHOLDS_LOWER_BOUND
_TINY = 1e-100  # TINY_VALUE
_CLIP = 1e-6  # CLIPPING_LOWER_BOUND


def quality_scores(codes, P, method="self_confidence"):
    """Label-quality score of each row (low = likely wrong): shape (n,).

    ``codes`` are the given labels as class indices, ``P`` (n, K) the class
    probabilities.
    """
    n, K = P.shape
    own = P[np.arange(n), codes]
    if method == "self_confidence":
        return own.copy()
    if method == "normalized_margin":
        others = P.copy()
        others[np.arange(n), codes] = -np.inf
        return (own - others.max(axis=1) + 1) / 2
    # confidence_weighted_entropy: normalized entropy / self-confidence, rescaled
    entropy = -np.sum(xlogy(P, P), axis=1) / np.log(K)
    ratio = entropy / np.clip(own, _CLIP, None)
    return np.log(ratio + 1) / np.clip(ratio, _CLIP, None)


def confident_thresholds(codes, P):
    """``t_k``: mean probability of class ``k`` over the rows labelled ``k``: (K,)."""
    K = P.shape[1]
    counts = np.bincount(codes, minlength=K)
    # A class nobody is labelled with gets a threshold no probability reaches.
    t = np.array([P[codes == k, k].mean() if counts[k] else 2.0 for k in range(K)])
    return np.clip(t, _THRESHOLD_FLOOR, None)


def _round_preserving_sum(values):
    """Round to integers keeping the (rounded) total: cleanlab's round_preserving_sum."""
    floats = np.asarray(values, dtype=float)
    ints = floats.round()
    total, int_total = np.sum(floats).round(), np.sum(ints).round()
    while abs(int_total - total) > _FUZZ:
        diff = np.round(total - int_total)
        step = -1 if diff < 0 else 1
        changes = min(int(abs(diff)), len(floats))
        for i in np.argsort(floats - ints)[::-step][:changes]:
            ints[i] += step
        int_total = np.sum(ints).round()
    return ints.astype(int)


def _round_rows(M):
    return np.apply_along_axis(_round_preserving_sum, 1, M).astype(int)


def confident_joint(codes, P):
    """The calibrated confident joint ``C[given, guessed true]`` (K, K), summing to n."""
    K = P.shape[1]
    confident = P >= confident_thresholds(codes, P) - _FUZZ
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, P.argmax(axis=1), confident.argmax(axis=1))
    counted = n_confident > 0
    # Counted as cleanlab does, confusion_matrix(guess, given).T: the transposed
    # layout fixes the order of the float sums below, and so the rounding ties.
    C = np.zeros((K, K), dtype=np.int64)
    np.add.at(C, (guess[counted], codes[counted]), 1)
    C = C.T
    np.fill_diagonal(C, np.maximum(C.diagonal(), 1))
    counts = np.bincount(codes, minlength=K)
    calibrated = (C.T / np.clip(C.sum(axis=1), _TINY, None) * counts).T
    calibrated = calibrated / np.clip(np.sum(calibrated), _TINY, None) * counts.sum()
    return _round_rows(calibrated)


def _prune_counts(C, min_per_class):
    """How many rows to flag per (guessed true class, given class): cleanlab's
    ``_keep_at_least_n_per_class(C.T, min_per_class, frac_noise=1)``."""
    M = C.T.astype(float)
    diag = M.diagonal().copy()
    kept = np.maximum(diag, min_per_class)
    off_diagonal = np.maximum(np.count_nonzero(M, axis=0) - 1.0, 1.0)
    M = M - (kept - diag) / off_diagonal
    M[M < 0] = 0
    np.fill_diagonal(M, kept)
    return _round_rows(M.astype(int))  # frac_noise = 1: the cast truncates, as cleanlab's


def find_issues(codes, P, min_examples_per_class=1):
    """Boolean flags (n,) by confident learning, ``prune_by_noise_rate``."""
    n, K = P.shape
    prune = _prune_counts(confident_joint(codes, P), min_examples_per_class)
    issue = np.zeros(n, dtype=bool)
    for k in range(K):
        rows = np.flatnonzero(codes == k)
        if len(rows) <= min_examples_per_class:
            continue
        Pk = P[rows]
        flagged = np.zeros(len(rows), dtype=bool)
        for j in range(K):
            if j != k and prune[j, k] > 0:
                margin = Pk[:, j] - Pk[:, k]
                flagged[np.argsort(-margin)[: prune[j, k]]] = True
        issue[rows] = flagged
    bumped = P.copy()
    bumped[np.arange(n), codes] += _FUZZ
    issue[bumped.argmax(axis=1) == codes] = False
    return issue


@dataclass(frozen=True, eq=False)
class LabelIssues:
    """Outcome of :meth:`~skrif.InfluenceEstimator.label_issues`.

    Attributes
    ----------
    score : ndarray or pandas Series of shape (n_samples,)
        Label-quality score of each training row (low = likely wrong), from its
        out-of-sample probabilities; NaN where those are undefined.
    is_issue : ndarray or pandas Series of bool, shape (n_samples,)
        Flagged by confident learning (cleanlab's default filter,
        ``prune_by_noise_rate``).
    ranked : ndarray of int
        Positions of the flagged rows, lowest score (most likely wrong) first —
        cleanlab's ``find_label_issues(..., return_indices_ranked_by=score)``.
    given_label, suggested_label : ndarray or pandas Series of shape (n_samples,)
        The training label, and the most probable class out of sample.
    probabilities : ndarray or pandas DataFrame of shape (n_samples, n_classes)
        The out-of-sample class probabilities the scores and flags come from.
    score_method : str
        Which label-quality score ``score`` holds.
    source : str
        How the probabilities were computed (e.g. ``"leave-one-out (rif)"``).

    Series and DataFrames are indexed by the training rows' labels when the
    estimator was fitted on a DataFrame; ``ranked`` always holds positions.
    """

    score: object
    is_issue: object
    ranked: np.ndarray
    given_label: object
    suggested_label: object
    probabilities: object
    score_method: str
    source: str

    @property
    def n_issues(self):
        """Number of flagged rows."""
        return int(np.sum(np.asarray(self.is_issue)))

    def to_frame(self):
        """One line per training row (training order): ``given_label``,
        ``suggested_label``, ``score``, ``is_issue``. ``frame.iloc[result.ranked]``
        lists the flagged rows, most likely wrong first."""
        import pandas as pd

        index = getattr(self.score, "index", None)
        return pd.DataFrame(
            {
                "given_label": np.asarray(self.given_label),
                "suggested_label": np.asarray(self.suggested_label),
                "score": np.asarray(self.score, dtype=float),
                "is_issue": np.asarray(self.is_issue, dtype=bool),
            },
            index=index,
        )

    def __repr__(self):
        n = len(np.asarray(self.is_issue))
        return (
            f"LabelIssues({self.n_issues} of {n} rows flagged; score={self.score_method!r}, "
            f"probabilities from {self.source})"
        )


def label_issues(codes, P, classes, *, score, min_examples_per_class, source, index=None):
    """Scores and flags from out-of-sample probabilities ``P`` (n, K).

    Rows whose probabilities are not finite (an undefined leave-one-out model) get
    a NaN score and are never flagged; the thresholds and the confident joint are
    computed on the other rows.
    """
    n = len(codes)
    defined = np.all(np.isfinite(P), axis=1)
    scores = np.full(n, np.nan)
    issue = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(defined)
    if rows.size:
        scores[rows] = quality_scores(codes[rows], P[rows], score)
        issue[rows] = find_issues(codes[rows], P[rows], min_examples_per_class)
    flagged = np.flatnonzero(issue)
    ranked = flagged[np.argsort(scores[flagged])]  # cleanlab's order_label_issues
    suggested = np.full(n, -1)
    suggested[rows] = np.argmax(P[rows], axis=1)
    given = classes[codes]
    suggested_label = np.where(suggested >= 0, classes[np.maximum(suggested, 0)], given)
    probabilities = P
    if index is not None:
        import pandas as pd

        scores = pd.Series(scores, index=index, name="score")
        issue = pd.Series(issue, index=index, name="is_issue")
        given = pd.Series(given, index=index, name="given_label")
        suggested_label = pd.Series(suggested_label, index=index, name="suggested_label")
        probabilities = pd.DataFrame(P, index=index, columns=list(classes))
    return LabelIssues(
        score=scores, is_issue=issue, ranked=ranked, given_label=given,
        suggested_label=suggested_label, probabilities=probabilities,
        score_method=score, source=source,
    )
