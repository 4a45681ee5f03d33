"""The protocol every Hessian kind implements (:class:`Curvature`), and the small
helpers the kinds share: row blocks, step tables, fractions of a removal."""

import contextlib
import copy

import numpy as np
import scipy.linalg as sla

from .._linalg.woodbury import check_capacitance
from .leverage import LEVERAGE_TOL, warn_leverage_one
from .methods import ADDITIVE_METHODS

#: The additive methods of the method table (single-row steps summed over a set).
ADDITIVE = ADDITIVE_METHODS


#: Rows per block in the vectorized per-row primitives (bounded temporary memory).
_ROW_BLOCK = 512


#: Floats per block of solves with training rows. Triangular solves with few
#: right-hand sides run far below BLAS speed, so wide models get wider blocks; 24 MB
#: stays below glibc's 32 MB mmap threshold, so blocks reuse heap memory instead of
#: faulting fresh pages in.
_SOLVE_FLOATS = 3 << 20


def _as_slice(rows):
    """A run of consecutive row positions as a slice (row gathers become views)."""
    if rows.size and rows[-1] - rows[0] == rows.size - 1 and np.all(np.diff(rows) == 1):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _step_table(out, n_rows, q, n_params):
    """``out`` (checked) or a new (n_rows, q, n_params) array for row steps."""
    if out is None:
        return np.empty((n_rows, q, n_params))
    if out.shape != (n_rows, q, n_params):
        raise ValueError(f"out has shape {out.shape}, expected {(n_rows, q, n_params)}.")
    return out


def solve_block_rows(n_params):
    """Rows per block of solves with training rows: at least ``_ROW_BLOCK``, and
    about ``_SOLVE_FLOATS`` floats per block."""
    return max(_ROW_BLOCK, _SOLVE_FLOATS // max(int(n_params), 1))


def _own_entries(view_ids, ids):
    """``(rows, cols)``: where the sorted positions ``view_ids`` hold ``ids[cols]``."""
    view_ids = np.asarray(view_ids)
    pos = np.searchsorted(view_ids, ids)
    hit = pos < view_ids.size
    hit[hit] = view_ids[pos[hit]] == np.asarray(ids)[hit]
    cols = np.flatnonzero(hit)
    return pos[cols], cols


def _check_method(method, allowed):
    if method not in allowed:
        raise ValueError(f"method must be one of {allowed} here; got {method!r}.")


def _fraction_one_minus(one_minus, t):
    """``1 − t h`` from ``1 − h`` without cancellation: ``(1 − t) + t (1 − h)`` for
    ``0 ≤ t ≤ 1`` (two non-negative terms), ``1 + |t| h`` for ``t < 0``."""
    if t < 0:
        return 1.0 - t * (1.0 - one_minus)
    return (1.0 - t) + t * one_minus


class Curvature:
    """The removal-Hessian protocol: one interface for every Hessian kind.

    Every kind (``kind``: "rank_one", "block", "penalty_share") answers:

    * ``solve(G)`` — ``H⁻¹ G`` (pseudo-inverse on the range when singular);
    * ``one_minus_leverage`` — ``1 − h_i`` per row, shape (n,), cancellation-free;
    * ``rank`` / ``singular``;
    * ``row_steps(rows, d1, theta, method, fraction=1.0, out=None)`` — single-row
      parameter changes ``Δ_i``, shape (len(rows), q, p̃), vectorized over rows
      (written into ``out`` when given, e.g. a block of a caller's table);
    * ``self_change(d1, theta, method, fraction=1.0)`` — each row's change of its
      own linear predictor ``x̃_i·Δ_i``, shape (n, q);
    * ``row_effects(G, d1, theta, method, rows=None, fraction=1.0)`` —
      ``Δ_i[k]·G[:, j]``, shape (len(rows), q, m), e.g. ``G = X̃_evalᵀ`` for score
      matrices or a target gradient for rankings;
    * ``set_change(idx, d1, theta, method, fraction=1.0)`` — ``Δθ`` (q, p̃) for
      removing (``fraction=1``) or reweighting by ``1 − fraction`` the rows ``idx``
      by "if", "rif" (additive) or "newton" (the group step).

    ``d1`` (n, q) are the per-row gradient coefficients at ``theta`` (q, p̃), as in
    :meth:`skrif._core.problem.Problem.row_derivatives`. Single-row methods are "if" and
    "rif"; rows with ``1 − t h_i ≤ LEVERAGE_TOL`` get NaN changes and one
    :class:`~skrif.exceptions.HighLeverageWarning` naming them.
    """

    kind = None
    #: ``"primal"`` (a p̃ × p̃ factor) or ``"dual"`` (an n × n one): what a new
    #: factorization costs, for callers that choose between algebras by cost.
    form = "primal"
    #: ``1 − h_i`` at or below this counts as leverage one (see :mod:`skrif._removal.leverage`).
    leverage_tol = LEVERAGE_TOL
    _one_minus = None
    _quad = None
    #: Global positions of this object's rows (``None``: they are rows 0..n−1).
    _row_ids = None
    #: ``row_sums(fn)``: ``Σ fn(view, ids)`` over every block of training rows, for a
    #: curvature bound to some rows only (:meth:`on_rows`); ``None``: it holds them all.
    _row_sums = None
    #: Leverage-one rows get NaN without a warning (the caller warns once).
    _quiet = False
    #: Bound to rows other than those it was factored on (:meth:`on_rows`).
    _bound = False
    #: numerical rank of ``H`` (``n_params`` when it is positive definite).
    rank = None

    def __init__(self, design, d):
        self.design = design
        self.d = d
        self.n_params = design.n_params

    @property
    def singular(self):
        return self.rank < self.n_params

    @property
    def one_minus_leverage(self):
        """``1 - h_i`` for every training row, shape (n_samples,).

        Subclasses either assign it or compute it on first access through
        ``_compute_one_minus_leverage`` (then cached): Newton steps and refits factor
        the Hessian only to solve with it, and leverages can cost as much again.
        """
        if self._one_minus is None:
            self._one_minus = self._compute_one_minus_leverage()
        return self._one_minus

    @one_minus_leverage.setter
    def one_minus_leverage(self, value):
        self._one_minus = value

    def _compute_one_minus_leverage(self):  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def leverages(self):
        return 1.0 - self.one_minus_leverage

    def solve(self, G):  # pragma: no cover - interface
        """Return ``H⁻¹ G`` (pseudo-inverse if singular) for ``G`` (n_params, m)."""
        raise NotImplementedError

    def inverse_diagonal(self):
        """``diag(H⁻¹)`` (n_params,): solves with blocks of identity columns, O(p̃³)
        time, at most ``_SOLVE_FLOATS`` floats of temporary memory."""
        p = self.n_params
        out = np.empty(p)
        block = max(1, min(p, _SOLVE_FLOATS // max(p, 1)))
        for start in range(0, p, block):
            stop = min(start + block, p)
            E = np.zeros((p, stop - start))
            cols = np.arange(stop - start)
            E[start + cols, cols] = 1.0
            out[start:stop] = self.solve(E)[start + cols, cols]
        return out

    def inner(self, idx):  # pragma: no cover - interface
        """Return ``X̃_T H⁻¹ X̃_Tᵀ`` (k × k) for the rows ``idx``."""
        raise NotImplementedError

    # -- the protocol: shared parts ---------------------------------------------
    def _row_index(self, rows):
        """Positional row indices from a slice or an index array."""
        return np.arange(self.design.n_samples)[rows]

    def _guard(self, one_minus, rows):
        """Boolean mask of leverage-one rows (warned about once, by global position)."""
        degenerate = one_minus <= self.leverage_tol
        if np.any(degenerate) and not self._quiet:
            warn_leverage_one(
                self._ids(np.asarray(rows)[degenerate]),
                tol=self.leverage_tol,
            )
        return degenerate

    def row_coefficients(self, rows, d1, method, fraction=1.0):
        """``c_i`` (len(rows), q) with ``Δ_i = H⁻¹ x̃_i c_i``: ``t d1_i`` ("if") or
        ``t d1_i / (1 − t h_i)`` ("rif"; NaN rows, warned, at leverage one)."""
        _check_method(method, ADDITIVE)
        rows = self._row_index(rows)
        t = float(fraction)
        coef = t * np.array(d1[rows], dtype=float)
        if method == "rif":
            one_minus = _fraction_one_minus(self.one_minus_leverage[rows], t)
            bad = self._guard(one_minus, rows)
            coef /= np.where(bad, 1.0, one_minus)[:, None]
            coef[bad] = np.nan
        return coef

    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):  # pragma: no cover
        raise NotImplementedError

    # -- the same factorization on other rows (blocks of a Dask array) -------------
    def _ids(self, rows):
        """Global positions of this object's ``rows``."""
        rows = self._row_index(rows)
        return rows if self._row_ids is None else self._row_ids[rows]

    def sum_over_rows(self, fn):
        """``Σ fn(view, ids)`` over the blocks of training rows: ``view`` is this
        factorization bound to a block (:meth:`on_rows`), ``ids`` the block's global
        positions (sorted). In memory one block holds every row; bound to some rows
        only, the sum comes from ``row_sums`` (a blockwise reduction on Dask)."""
        if self._row_sums is None:
            return fn(self, np.arange(self.design.n_samples))
        return self._row_sums(fn)

    def own_row_sums(self, ids, products):
        """``(num, own)`` over every training row (:meth:`sum_over_rows`), for columns
        ``c`` whose own row is ``ids[c]``: ``num_c = Σ_{j ≠ ids[c]} d_j z_jc²`` and
        ``own_c = z_{ids[c], c}``, with ``z = products(view)`` (rows of a block ×
        columns) — the parts of the cancellation-free ``1 − h``."""

        def part(view, view_ids):
            Z = products(view)
            own, cols = _own_entries(view_ids, ids)
            q = np.zeros(ids.size)
            q[cols] = Z[own, cols]
            Z[own, cols] = 0.0
            return np.vstack([np.einsum("ij,ij->j", Z, view.d[:, None] * Z), q])

        return self.sum_over_rows(part)

    def on_rows(self, design, d, *, row_ids=None, row_sums=None, one_minus=None, **per_row):
        """This factorization (``H`` at θ̂, unchanged) bound to other training rows: a
        block of a row-chunked array on a worker, or the rows of a set gathered on
        the client. Every per-row and per-set method then answers for these rows
        exactly as for the rows of the fit.

        ``design`` holds the rows (an :class:`~skrif._linalg.design.AugmentedDesign`),
        ``d`` their curvatures (K × K blocks for "block"); ``row_ids`` their global
        positions (warnings and the sums name them), ``row_sums`` the sums over
        every training row that the cancellation-free forms need (see
        :meth:`sum_over_rows`), ``one_minus`` their ``1 − h_i`` when already known;
        ``per_row``: kind-specific per-row parts (``quad`` for "rank_one", the
        penalty ``shares`` for "penalty_share"). The view computes leverages of its
        rows with the cheap form only (refining needs every row: the caller does it
        with :meth:`refine_candidates` and ``_exact_one_minus``) and does not warn
        about leverage-one rows unless made loud (``_quiet = False``). O(1) beyond
        the per-row parts: nothing is factored.
        """
        view = copy.copy(self)
        view._bound = True
        view.design, view.d = design, d
        view._row_ids = None if row_ids is None else np.asarray(row_ids, dtype=np.intp)
        view._row_sums = row_sums
        view._quiet = True
        view._one_minus = None if one_minus is None else np.asarray(one_minus, dtype=float)
        view._bind_rows(**per_row)
        return view

    @contextlib.contextmanager
    def quiet(self):
        """Within the block, leverage-one rows get NaN without a warning (the caller
        reports them once)."""
        before, self._quiet = self._quiet, True
        try:
            yield self
        finally:
            self._quiet = before

    def _bind_rows(self, **per_row):
        """Per-row state of rows bound by :meth:`on_rows` (kinds that support it)."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot be bound to other rows (its factor belongs to its own rows)."
        )

    def self_change(self, d1, theta, method, fraction=1.0):
        """``x̃_i·Δ_i`` for every row (n, q), from :meth:`row_steps` in row blocks.

        Cost: that of :meth:`row_steps` for all rows plus O(n q p̃).
        """
        n, q = d1.shape
        out = np.empty((n, q))
        for start in range(0, n, _ROW_BLOCK):
            sl = slice(start, min(start + _ROW_BLOCK, n))
            D = self.row_steps(sl, d1, theta, method, fraction)
            out[sl] = np.einsum("cp,cqp->cq", self.design.rows(sl), D)
        return out

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        """``Δ_i[k]·G[:, j]`` for each row i of ``rows`` (default all): (len(rows), q, m).

        Cost: :meth:`row_steps` plus O(len(rows) q p̃ m), in row blocks.
        """
        rows = self._row_index(slice(None) if rows is None else rows)
        out = np.empty((rows.size, d1.shape[1], G.shape[1]))
        for start in range(0, rows.size, _ROW_BLOCK):
            sl = slice(start, min(start + _ROW_BLOCK, rows.size))
            D = self.row_steps(rows[sl], d1, theta, method, fraction)
            out[sl] = D @ G
        return out

    # -- active sets: kinds with a support or margin set override these ----------
    #: What a change of this kind's active set is, for messages.
    active_set_description = "an L1 coefficient crossing zero or entering the support"

    def support_changes(self, idx, delta, d1, fraction=1.0):
        """Coordinates (``(output, parameter)`` pairs) whose active-set status the step
        ``delta`` for removing rows ``idx`` flips; none for smooth objectives."""
        return []

    def crossing_rows(self, idx, delta, fraction=1.0):
        """Training rows that the step ``delta`` for removing rows ``idx`` moves to
        another piece of a piecewise-quadratic loss (across a margin or threshold);
        none for other objectives."""
        return np.zeros(0, dtype=np.intp)

    def changing_rows(self, d1, theta, method):
        """Boolean (n,): rows whose removal alone changes the active set; none here."""
        return np.zeros(self.design.n_samples, dtype=bool)

    def solve_without(self, idx, R):
        """Return ``(H − Σ_{i∈T} d_i x̃_i x̃_iᵀ)⁻¹ R`` by Woodbury.

        With ``U = D_T^½ X̃_T`` (k × p̃): ``(H − UᵀU)⁻¹ = H⁻¹ + H⁻¹Uᵀ C⁻¹ U H⁻¹``,
        ``C = I − U H⁻¹ Uᵀ``. Cost: two solves with ``R``'s columns, one k × k
        inner-product block (O(k p̃²) primal, O(k n² + k² n) dual) and O(k³); no new
        p̃ × p̃ factorization.

        Raises
        ------
        NotPositiveDefiniteError
            If ``C`` (equivalently the leave-T-out Hessian) is not positive definite.
        """
        idx = np.asarray(idx)
        root = np.sqrt(self.d[idx])
        C = self._capacitance(idx)
        C = check_capacitance(C)
        factor = sla.cho_factor(C, lower=True, check_finite=False)
        HR = self.solve(R)
        y = sla.cho_solve(factor, root[:, None] * self.design.rows_matvec(idx, HR))
        return HR + self.solve(self.design.rows_rmatvec(idx, root[:, None] * y))

    def _capacitance(self, idx):
        """``I − D_T^½ X̃_T H⁻¹ X̃_Tᵀ D_T^½`` (k × k)."""
        root = np.sqrt(self.d[idx])
        C = -(root[:, None] * self.inner(idx) * root[None, :])
        C[np.diag_indices_from(C)] += 1.0
        return C


class WrappingCurvature(Curvature):
    """A kind built on another kind of the same rows (``inner_kind``), sharing its
    factor: leverages, solves, the inverse diagonal and inner products of rows are
    the inner kind's; subclasses change what a removal does (a direction held fixed:
    :mod:`skrif._removal.fixed_direction`; rows crossing the pieces of a loss:
    :mod:`skrif._removal.pieces`)."""

    def __init__(self, inner, design):
        super().__init__(design, inner.d)
        self.inner_kind = inner
        self.rank = inner.rank

    @property
    def one_minus_leverage(self):
        return self.inner_kind.one_minus_leverage

    def solve(self, G):
        return self.inner_kind.solve(G)

    def inverse_diagonal(self):
        return self.inner_kind.inverse_diagonal()

    def inner(self, idx):
        return self.inner_kind.inner(idx)
