"""Explicit inverses where they cut the cost by a large factor, checked on the problem.

Solves with a factorization are the default. An explicit ``S⁻¹`` (from the Cholesky
factor: LAPACK ``potri``, 2p³/3 flops on top of the factorization) pays where many
small quadratic forms are needed:

* sparse rows: ``x_iᵀS⁻¹x_i`` is a sum over the ``nnz_i²`` pairs of row i's nonzeros
  (:func:`pair_quadratic`), ``Σ_i nnz_i²`` gathers in all, where a triangular solve
  needs the densified row and ``p²/2`` flops;
* coupled outputs: the K × K blocks ``x̃_iᵀ(S⁻¹)_{kl}x̃_i`` of a multinomial Hessian are
  GEMMs with blocks of ``S⁻¹`` (``n K² p̃²/2`` flops), where solves with the expanded
  rows cost K times more.

Every use is checked on the problem at hand (:func:`check_rows`): the answers of a
sample of rows are recomputed by solves, and the explicit route is kept only if
they agree to ``INVERSE_RTOL``; the caller falls back to solves otherwise. The
outcome is kept as an :class:`InverseCheck` record.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Largest relative disagreement between the explicit-inverse answers and solves on
#: the probe rows for the explicit route to be kept.
INVERSE_RTOL = 1e-8
#: Probe rows of the accuracy check: the largest answers (where digits matter most
#: for ``1 − h``) and as many spread over the rows.
N_PROBES = 16
#: Cost of one gathered multiply-add relative to a BLAS-3 multiply-add (memory bound).
GATHER_COST = 16.0
#: Pairs per block in :func:`pair_quadratic` (bounds the index temporaries: ~40 bytes
#: per pair).
_PAIR_BLOCK = 1 << 20


@dataclass
class InverseCheck:
    """How a batch of quadratic forms was computed, and how it was checked.

    Attributes
    ----------
    strategy : str
        ``"solve"`` (triangular solves) or ``"inverse"`` (explicit ``S⁻¹``).
    reason : str
        Why (the cost model's figures, or the failed check).
    max_rel_error : float
        Largest relative disagreement with solves on the probe rows (NaN when not
        checked: the solve route needs no check).
    n_probes : int
    """

    strategy: str
    reason: str
    max_rel_error: float = float("nan")
    n_probes: int = 0


def row_nnz(X):
    """Nonzeros per row of CSR ``X`` (dense ``X``: every entry counts)."""
    if sp.issparse(X):
        return np.diff(X.tocsr().indptr)
    return np.full(X.shape[0], X.shape[1])


def prefer_inverse(n_params, nnz_per_row, rhs_per_row=1):
    """Whether the explicit inverse is cheaper than solves for sparse-row quadratic
    forms: ``p̃³/3 + GATHER_COST Σ nnz_i² r`` against ``Σ_i p̃²/2 · r`` (one triangular
    solve per right-hand side of a densified row). Returns ``(bool, reason)``."""
    p = float(n_params)
    pairs = float(np.sum(np.asarray(nnz_per_row, dtype=float) ** 2))
    inverse = p**3 / 3.0 + GATHER_COST * pairs * rhs_per_row
    solves = 0.5 * p * p * nnz_per_row.size * rhs_per_row
    reason = f"cost model: inverse {inverse:.3g} vs solves {solves:.3g} multiply-adds"
    return inverse < solves, reason


def row_pairs(X, budget=_PAIR_BLOCK):
    """Blocks of the pairs of nonzeros that share a row of CSR ``X``.

    Yields ``(rows, first, second)``: for each pair, its row position and the
    positions of its two entries in ``X.data`` / ``X.indices`` (all ``nnz_i²``
    ordered pairs of row i, the diagonal included), about ``budget`` pairs per
    block. Rows with more than ``√budget`` nonzeros are left out; :func:`heavy_rows`
    lists them (callers treat them with sparse-dense products).
    """
    indptr = X.indptr
    nnz = np.diff(indptr).astype(np.int64)
    sizes = np.where(nnz * nnz > budget, 0, nnz * nnz)
    cost = np.cumsum(sizes)
    n = nnz.size
    start = 0
    while start < n:
        base = cost[start - 1] if start else 0
        stop = max(int(np.searchsorted(cost, base + budget, side="right")), start + 1)
        m = np.where(sizes[start:stop] > 0, nnz[start:stop], 0)
        block = m * m
        total = int(block.sum())
        if total:
            seg = np.repeat(np.arange(stop - start), block)
            within = np.arange(total) - np.repeat(np.cumsum(block) - block, block)
            first = indptr[start:stop][seg] + within // m[seg]
            second = indptr[start:stop][seg] + within % m[seg]
            yield seg + start, first, second
        start = stop


def heavy_rows(X, budget=_PAIR_BLOCK):
    """Rows of CSR ``X`` that :func:`row_pairs` leaves out (``nnz_i² > budget``)."""
    nnz = np.diff(X.indptr).astype(np.int64)
    return np.flatnonzero(nnz * nnz > budget)


def pair_quadratic(X, Sinv, budget=_PAIR_BLOCK):
    """``x_iᵀ S⁻¹ x_i`` for every row of sparse ``X`` (n,), over each row's
    ``nnz_i²`` pairs of nonzeros.

    ``Sinv`` is the full symmetric (p × p) inverse. Cost O(Σ nnz_i²) gathers; rows
    with more than ``√budget`` nonzeros go through a sparse-dense product instead
    (O(nnz_i p) each). ``X`` is not modified (its indices need not be sorted).
    """
    X = X.tocsr()
    out = np.zeros(X.shape[0])
    indices, data = X.indices, X.data
    for rows, first, second in row_pairs(X, budget):
        vals = data[first] * data[second] * Sinv[indices[first], indices[second]]
        out += np.bincount(rows, weights=vals, minlength=out.size)
    heavy = heavy_rows(X, budget)
    if heavy.size:
        Xh = X[heavy]
        out[heavy] = np.asarray(Xh.multiply(Xh @ Sinv).sum(axis=1)).ravel()
    return out


def probe_rows(values, rng_seed=0):
    """Rows to check: the ``N_PROBES`` largest ``values`` and ``N_PROBES`` spread over
    the rest (deterministic)."""
    n = values.shape[0]
    if n <= 2 * N_PROBES:
        return np.arange(n)
    top = np.argpartition(-values, N_PROBES)[:N_PROBES]
    spread = np.linspace(0, n - 1, N_PROBES).astype(np.intp)
    return np.unique(np.concatenate([top, spread]))


def check_rows(values, reference, rows, reason):
    """Compare explicit-inverse ``values[rows]`` with ``reference`` (the same rows by
    solves): see :func:`verdict`."""
    got = values[rows]
    scale = np.maximum(np.abs(reference), np.finfo(float).tiny)
    err = float(np.max(np.abs(got - reference) / scale)) if rows.size else 0.0
    return verdict(err, int(rows.size), reason)


def verdict(err, n_probes, reason):
    """An :class:`InverseCheck` for the inverse route when its largest relative
    disagreement ``err`` with solves on ``n_probes`` rows is within ``INVERSE_RTOL``,
    else for the solve route (the caller falls back to solves)."""
    if err <= INVERSE_RTOL:
        return InverseCheck("inverse", reason, err, n_probes)
    return InverseCheck(
        "solve",
        f"{reason}; the explicit inverse disagreed with solves by {err:.2g} on the "
        "probe rows",
        err,
        n_probes,
    )
