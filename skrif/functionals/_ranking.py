"""Ranking functionals of the decision function: ROC AUC (exact re-ranking of the
reference rows whose order changes) and average precision."""

import numpy as np

from ._base import Functional, _check_binary, _Evaluator


class _RankingMixin:
    response_method = "decision_function"
    needs_y = True
    smooth = False
    greater_is_better = True

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
