"""Order statistics (min, max, percentiles, median) of a column without each row.

Removing a row shifts the order statistics above it down by one place: the
leave-one-out value is the same interpolation between neighbours of the sorted
column, computed exactly (no cancellation beyond the interpolation itself). Each
value is returned with the two training rows and weights that define it, so a
first-order perturbation of the column moves it by the same combination.
"""

import numpy as np


def loo_percentiles(col, q, removed):
    """Percentile ``q`` (0..100, numpy's "linear" method) of the non-NaN values of
    ``col`` without each removed row.

    Returns ``value`` (m,), ``full`` (scalar, all rows), ``rows`` (m, 2) and
    ``weights`` (m, 2) with ``value = Σ weights · col[rows]``; ``count`` (m,) is the
    number of remaining values (NaN values where it is 0).
    """
    present = ~np.isnan(col)
    idx = np.flatnonzero(present)
    order = idx[np.argsort(col[idx], kind="stable")]
    N = order.size
    rank = np.full(col.size, -1)
    rank[order] = np.arange(N)
    h0 = (N - 1) * q / 100.0
    full = _interp(col, order, h0, N) if N else np.nan
    m = removed.size
    rows = np.zeros((m, 2), dtype=np.intp)
    weights = np.zeros((m, 2))
    count = np.full(m, N)
    own = present[removed]
    count[own] -= 1
    value = np.empty(m)
    for group, size in ((own, N - 1), (~own, N)):
        if not np.any(group) or size < 1:
            value[group] = np.nan
            continue
        h = (size - 1) * q / 100.0
        lo = int(np.floor(h))
        frac = h - lo
        hi = min(lo + 1, size - 1)
        t = rank[removed[group]] if size == N - 1 else np.full(group.sum(), N)
        # Position in the shortened order -> position in the full order.
        pos_lo = lo + (lo >= t)
        pos_hi = hi + (hi >= t)
        rows[group, 0] = order[pos_lo]
        rows[group, 1] = order[pos_hi]
        weights[group, 0] = 1.0 - frac
        weights[group, 1] = frac
        value[group] = (1.0 - frac) * col[order[pos_lo]] + frac * col[order[pos_hi]]
    return value, full, rows, weights, count


def _interp(col, order, h, N):
    lo = int(np.floor(h))
    hi = min(lo + 1, N - 1)
    frac = h - lo
    return (1.0 - frac) * col[order[lo]] + frac * col[order[hi]]


def tangent_at(change, j, rows, weights):
    """First-order move of an order statistic of column ``j`` defined by ``rows`` /
    ``weights`` (m, 2) under the tangents of ``change`` in that column: (m,)."""
    out = np.zeros(change.m)
    for s in np.flatnonzero(change.cols == j):
        B = change.basis[:, s]
        out += change.coef[:, s] * (weights[:, 0] * B[rows[:, 0]] + weights[:, 1] * B[rows[:, 1]])
    return out


EPS = np.finfo(float).eps


def nonzero_scale(scale):
    """scikit-learn's ``_handle_zeros_in_scale``: near-zero scales become 1."""
    return np.where(scale < 10 * EPS, 1.0, scale)
