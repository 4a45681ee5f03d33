"""Piecewise-quadratic objectives: which rows a removal moves onto another piece.

A once-differentiable, piecewise-quadratic loss (squared hinge, squared ε-insensitive,
Huber) is quadratic on each *piece* of a row: on the margin set or off it, inside the
ε-tube or outside, inlier or outlier. Its Hessian at the optimum (the generalized
Hessian: the curvature of each row's current piece) is the inner kind's; the pieces
are told apart by the signs of a few affine functions of the parameters per row,

    B_ik(θ + Δ) = B_ik(θ) + α_ik x̃_i·Δ + β_ik Δ_s,

with ``x̃_i·Δ`` the change of the row's linear predictor and ``Δ_s`` that of one extra
parameter (HuberRegressor's scale σ; none for the SVMs): the signs of a row's ``B_ik``
say which piece it is on (inside the margin when ``1 − u z > 0``; a Huber outlier
when ``|r| − εσ > 0``). A removal whose predicted change flips the sign of some other
row's ``B_ik`` moves that row across its boundary: the quadratic model the answer
came from no longer holds there, and the answer is only a first-order one. When no
row crosses, the objective without the rows is the same quadratic between the two
points, so for a piecewise-*quadratic* objective the group Newton step (and RIF for
one row) is the exact refit.

:meth:`PiecewiseCurvature.crossing_rows` checks a set's change exactly (one pass over
``X``); :meth:`PiecewiseCurvature.changing_rows` checks every single-row removal. The
latter would be an n × n computation (``x̃_i·Δ_j`` for all pairs); it is screened
first by Cauchy–Schwarz in the Hessian's norm,

    |x̃_i·Δ_j| ≤ ‖x̃_i‖_{H⁻¹} ‖Δ_j‖_H,

(upper bounds from the inner kind: ``prediction_reach`` and ``step_reach``), so that
only pairs whose bound reaches row ``i``'s distance to its boundary are computed
exactly. Rows whose removal changes nothing (zero gradient: outside the margin set)
are skipped.
"""

import warnings

import numpy as np

from ..exceptions import HighLeverageWarning
from .base import _ROW_BLOCK, WrappingCurvature

#: Relative slack on the screening bound (rounding in the reaches and the boundaries).
_SCREEN_SLACK = 1e-6
#: Candidate pairs (rows × removals) checked at a time: bounds temporary memory.
_PAIR_FLOATS = 1 << 20
#: Candidates checked in the first chunk of a block (later chunks double).
_FIRST_CHUNK = 64


class PiecewiseCurvature(WrappingCurvature):
    """A factored generalized Hessian with its rows' pieces watched (module docstring).

    Every removal question is the inner kind's; this wrapper adds the checks of
    which rows a removal moves across their boundaries.

    Parameters
    ----------
    inner : Curvature
        The factored Hessian (the curvature of each row's current piece).
    design : AugmentedDesign
        The design of the linear predictors (``z_i = x̃_i·θ``).
    boundaries, slopes : ndarray of shape (n_samples, m)
        ``B_ik(θ̂)`` and ``α_ik = ∂B_ik/∂z_i``.
    weights : ndarray of shape (n_samples,)
        Training weights: a row of weight 0 has no piece that matters.
    scale_slopes : ndarray of shape (n_samples, m), default=None
        ``β_ik = ∂B_ik/∂θ_s`` for the extra parameter ``scale_index``.
    scale_index : int, default=None
        Position of the extra parameter in ``θ``.
    piece_name : str
        What a row crosses, for messages ("the squared-hinge margin").
    """

    def __init__(self, inner, design, boundaries, slopes, weights, *, scale_slopes=None,
                 scale_index=None, piece_name="its piece boundary"):
        super().__init__(inner, design)
        self.boundaries = np.asarray(boundaries, dtype=float)
        self.slopes = np.asarray(slopes, dtype=float)
        self.scale_slopes = None if scale_slopes is None else np.asarray(scale_slopes, dtype=float)
        self.scale_index = scale_index
        self.weights = np.asarray(weights, dtype=float)
        self.piece_name = piece_name
        self._on = self.boundaries > 0
        self._row_flags = {}

    @property
    def kind(self):
        return self.inner_kind.kind

    @property
    def active_set_description(self):
        return f"another training row crossing {self.piece_name}"

    # -- the protocol: the inner kind's --------------------------------------------
    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        return self.inner_kind.row_steps(rows, d1, theta, method, fraction, out=out)

    def self_change(self, d1, theta, method, fraction=1.0):
        return self.inner_kind.self_change(d1, theta, method, fraction)

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        return self.inner_kind.row_effects(G, d1, theta, method, rows=rows, fraction=fraction)

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        return self.inner_kind.set_change(idx, d1, theta, method, fraction)

    # Members of the rank-one kind that the set-error estimate uses (``kind`` is the
    # inner kind's, so it asks for them only when the inner kind has them).
    def solve_without(self, idx, R):
        return self.inner_kind.solve_without(idx, R)

    # -- pieces ----------------------------------------------------------------------
    def _flipped(self, rows, dz, dscale):
        """Whether rows ``rows`` change piece under predictor changes ``dz`` (r, c) and
        scale changes ``dscale`` (c,): (r, c) booleans."""
        B = self.boundaries[rows][:, None, :] + self.slopes[rows][:, None, :] * dz[:, :, None]
        if self.scale_slopes is not None:
            B = B + self.scale_slopes[rows][:, None, :] * dscale[None, :, None]
        return np.any((B > 0) != self._on[rows][:, None, :], axis=2)

    def _dscale(self, steps):
        """The extra parameter's change in each of ``steps`` (c, p̃): (c,)."""
        if self.scale_index is None:
            return np.zeros(steps.shape[0])
        return steps[:, self.scale_index]

    def crossing_rows(self, idx, delta, fraction=1.0):
        """Training rows (sorted positions) that the change ``delta`` (1, p̃) for
        reweighting rows ``idx`` by ``1 − fraction`` moves across their boundary.

        Removed rows do not count (their weight is 0); reweighted ones do. Cost
        O(nnz(X)).
        """
        delta = np.asarray(delta, dtype=float)
        if delta.shape[0] != 1:  # pragma: no cover - the piecewise families are single-output
            raise NotImplementedError("Piece checks are implemented for one output.")
        counted = self.weights > 0
        if float(fraction) == 1.0:
            counted[np.asarray(idx)] = False
        dz = self.design.matvec(delta.T)  # (n, 1)
        flips = self._flipped(slice(None), dz, self._dscale(delta))[:, 0]
        return np.flatnonzero(flips & counted)

    def changing_rows(self, d1, theta, method):
        """Boolean (n,): whether removing each row alone moves some other row across
        its boundary (for ``method``'s single-row steps). Cached per method.

        Cost: the single-row steps of the rows with a non-zero change (O(p̃²) each),
        plus O(p̃) per screened pair (module docstring); O(n²) comparisons at worst.
        """
        if method in self._row_flags:
            return self._row_flags[method]
        n = self.design.n_samples
        flags = np.zeros(n, dtype=bool)
        counted = self.weights > 0
        moving = np.flatnonzero(np.any(np.asarray(d1) != 0, axis=1) & counted)
        if moving.size == 0 or not counted.any():
            self._row_flags[method] = flags
            return flags
        with warnings.catch_warnings():
            # Leverage-one rows are warned about by the answer itself; here they have
            # no step (NaN) and are skipped.
            warnings.simplefilter("ignore", HighLeverageWarning)
            row_reach, reach = self._reaches(moving, d1, theta, method)
            keep = ~np.isnan(reach)
            moving, reach = moving[keep], reach[keep]
            self._check_rows(flags, moving, reach, row_reach, d1, theta, method)
        self._row_flags[method] = flags
        return flags

    def _check_rows(self, flags, moving, reach, row_reach, d1, theta, method):
        """Set ``flags`` of the ``moving`` rows whose removal moves another row across
        its boundary: screened, then checked exactly on the candidates."""
        counted = self.weights > 0
        # Row i can change piece only if |B_ik| ≤ |α_ik| x̃-reach + |β_ik| |Δ_s|.
        width = np.abs(self.slopes) * row_reach[:, None]
        if self.scale_slopes is not None:
            width = width + np.abs(self.scale_slopes)
        with np.errstate(divide="ignore", invalid="ignore"):
            key = np.min(np.where(width > 0, np.abs(self.boundaries) / width, np.inf), axis=1)
        key[~counted] = np.inf
        order = moving[np.argsort(-reach)]
        reach_sorted = np.sort(reach)[::-1]
        for start in range(0, order.size, _ROW_BLOCK):
            rows = order[start : start + _ROW_BLOCK]
            limit = reach_sorted[start] * (1 + _SCREEN_SLACK)
            if not limit > 0:
                break
            steps = self.row_steps(rows, d1, theta, method)[:, 0, :]  # (r, p̃)
            candidates = np.flatnonzero(key <= limit)
            # Closest to their boundary first: most flagged removals are found in the
            # first chunk, and only the removals not flagged yet go on.
            candidates = candidates[np.argsort(key[candidates], kind="stable")]
            dscale = self._dscale(steps)
            pending = np.arange(rows.size)
            first, chunk = 0, _FIRST_CHUNK
            while first < candidates.size and pending.size:
                cand = candidates[first : first + chunk]
                dz = self.design.rows_matvec(cand, steps[pending].T)  # (c, r)
                flips = self._flipped(cand, dz, dscale[pending])
                flips &= cand[:, None] != rows[pending][None, :]  # the removed row itself
                hit = np.any(flips, axis=0)
                flags[rows[pending[hit]]] = True
                pending = pending[~hit]
                first += cand.size
                chunk = max(1, min(2 * chunk, _PAIR_FLOATS // max(pending.size, 1)))

    def _reaches(self, rows, d1, theta, method):
        """``(row reach (n,), step reach (len(rows),))`` with ``|x̃_i·Δ_j| + |Δ_s,j| ≤
        row_i · step_j``-type bounds; without the inner kind's reaches, every row is
        a candidate for every removal."""
        inner = self.inner_kind
        if getattr(inner, "singular", True) or not hasattr(inner, "step_reach"):
            n = self.design.n_samples
            return np.ones(n), np.full(np.size(rows), np.inf)
        row_reach = inner.prediction_reach()
        reach = inner.step_reach(rows, d1, method)
        if self.scale_slopes is not None:
            # |α x̃·Δ + β Δ_s| ≤ (|α| reach_i + |β|) · max(step reach, |Δ_s|); the scale's
            # change is bounded by its own reach (``scale_reach``).
            reach = np.maximum(reach, inner.scale_reach(rows, d1, method))
        return row_reach, reach * (1 + _SCREEN_SLACK)
