"""Selections over the rows of lazy per-row arrays: top-k and exact order statistics.

Both are exact (the in-memory answers, element for element) and read the per-row
values at most twice, keeping O(k) (top-k) or O(blocks · sketch) (order statistics)
values on the client.
"""

import dask
import dask.array as da
import numpy as np

from . import _blocks

#: Values per block and column in the rank sketch of :func:`kth_smallest`.
SKETCH = 256


def top_k(scores, starts, k, direction):
    """Positions of the ``k`` largest (``"increase"``) or smallest scores of a lazy
    (n,) array, best first, NaN last, ties by position: blockwise candidates, merged."""
    candidates = da.blockwise(
        _blocks.topk_block, "iz", scores, "i", starts, "i", new_axes={"z": 2},
        adjust_chunks={"i": lambda c: min(c, k)}, concatenate=True, dtype=float,
        meta=np.empty((0, 0)), k=k, direction=direction,
    ).compute()
    order = np.lexsort((candidates[:, 1], candidates[:, 0]))[:k]
    return candidates[order, 1].astype(np.intp)


def _columns(V):
    """A block of per-row values as (c, m) floats (also for c = 0)."""
    V = np.asarray(V, dtype=float)
    return V.reshape(V.shape[0], int(np.prod(V.shape[1:])))


def _sketch_block(V, s):
    V = np.sort(_columns(V), axis=0)
    c = V.shape[0]
    ranks = np.unique(np.linspace(0, c - 1, min(s, c)).round().astype(np.int64))
    return ranks, V[ranks], c


def _bounds(sketches, k, b):
    """Per column, sketch values ``L ≤ v_(k) ≤ U`` guaranteed by the rank brackets.

    In a block with sorted sample values ``u_j`` at ranks ``ρ_j``: ``#(v < t) ≤ ρ_j``
    for the first ``u_j ≥ t`` (else the block size) and ``#(v ≤ t) ≥ ρ_j + 1`` for
    the last ``u_j ≤ t``.
    """
    L, U = np.full(b, -np.inf), np.full(b, np.inf)
    for col in range(b):
        cand = np.unique(np.concatenate([vals[:, col] for _, vals, _ in sketches]))
        upper_lt = np.zeros(cand.size)
        lower_le = np.zeros(cand.size)
        for rho, vals, c in sketches:
            u = vals[:, col]
            i = np.searchsorted(u, cand, side="left")
            upper_lt += np.where(i < u.size, rho[np.minimum(i, u.size - 1)], c)
            j = np.searchsorted(u, cand, side="right") - 1
            lower_le += np.where(j >= 0, rho[np.maximum(j, 0)] + 1, 0)
        ok = np.flatnonzero(upper_lt <= k - 1)
        if ok.size:
            L[col] = cand[ok[-1]]
        ok = np.flatnonzero(lower_le >= k)
        if ok.size:
            U[col] = cand[ok[0]]
    return L, U


def _range_block(V, L, U):
    V = _columns(V)
    below = np.sum(V < L, axis=0)
    inside = [V[(V[:, j] >= L[j]) & (V[:, j] <= U[j]), j] for j in range(V.shape[1])]
    return below, inside


def kth_smallest(V, k, sketch=SKETCH):
    """``np.partition(V, k - 1, axis=0)[k - 1]`` for a lazy ``V`` (n, ...) chunked
    along rows: two passes (a rank sketch per block, then the values between two
    guaranteed bounds). Exact; O(n m log c) work, O(blocks · sketch · m) values on
    the client plus those between the bounds (about 2 n / sketch per column)."""
    V = V.rechunk({axis: -1 for axis in range(1, V.ndim)})
    tail = V.shape[1:]
    b = int(np.prod(tail))
    blocks = V.to_delayed().reshape(-1)
    parts = dask.compute(*[dask.delayed(_sketch_block)(blk, sketch) for blk in blocks])
    L, U = _bounds([part for part in parts if part[2] > 0], k, b)  # 0-row chunks add nothing
    parts = dask.compute(*[dask.delayed(_range_block)(blk, L, U) for blk in blocks])
    below = np.sum([p[0] for p in parts], axis=0)
    out = np.empty(b)
    for j in range(b):
        vals = np.sort(np.concatenate([p[1][j] for p in parts]))
        out[j] = vals[k - 1 - below[j]]
    return out.reshape(tail)
