"""What runs on the workers: NumPy kernels applied to one row block of ``X``.

Every function here receives one row block (``Xb`` of shape (c, p), encoded targets
``Yb`` (c, q), effective weights ``Sb`` (c, 1), and where needed the block's first
row index ``start`` (1,)) plus small client-side constants, and returns either a row
of partial sums (shape (1, L), summed over blocks by a tree reduction) or per-row
values (shape (c, ...), chunked like ``X``). Nothing here imports dask.

There is no removal algebra here: per-row and per-set quantities come from the
in-memory Hessian kinds bound to the block's rows
(:meth:`~skrif._removal.base.Curvature.on_rows`) and from the in-memory
:class:`~skrif._core.fitted.RemovalModel` on those rows (:meth:`RowModel.block_model`).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._core.problem import row_derivatives
from .._linalg.design import AugmentedDesign


def block_rows(Xb):
    """A block of ``X`` as floats: a NumPy array, or a CSR matrix for a sparse block
    (never densified)."""
    if sp.issparse(Xb):
        return sp.csr_matrix(Xb, dtype=float)
    return np.asarray(Xb, dtype=float)


def block_inputs(Xb, Yb, Sb):
    """A block's rows, targets and weights as floats: ``X`` (c, p; dense or CSR),
    ``Y`` (c, q), ``s`` (c,)."""
    return (block_rows(Xb), np.asarray(Yb, dtype=float),
            np.asarray(Sb, dtype=float).reshape(-1))


def first_row(start):
    """The global position of a block's first row, from its ``start`` block (0 for a
    block of no rows)."""
    start = np.asarray(start).reshape(-1)
    return int(start[0]) if start.size else 0


def scaled_weights(s, start, removed, scale=0.0):
    """Block weights with the rows in ``removed`` (global, sorted) multiplied by ``scale``."""
    s = np.array(s, dtype=float)
    if removed is not None and len(removed):
        first = first_row(start)
        lo, hi = np.searchsorted(removed, [first, first + s.size])
        s[removed[lo:hi] - first] *= scale
    return s


# -- passes: partial sums ----------------------------------------------------------


def check_block(Xb, Yb, Sb, *, objective, n_classes):
    """Validation pass: finite data, valid weights and targets; sums for ``x̄``.

    Returns ``[Σ x_i (p), n_rows, Σ s_i, Σ m_i (penalty shares), positive-weight rows
    per class or output (n_classes or 1)]``.
    """
    Xb = block_rows(Xb)
    s = np.asarray(Sb, dtype=float).reshape(-1)
    if not np.all(np.isfinite(Xb.data if sp.issparse(Xb) else Xb)):
        raise ValueError("Input X contains NaN or infinity.")
    if not np.all(np.isfinite(s)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(s < 0):
        raise ValueError("sample_weight must be non-negative.")
    Y = np.asarray(Yb, dtype=float)
    if not np.all(np.isfinite(Y)):
        raise ValueError("Input y contains NaN or infinity.")
    objective.check_targets(Y)
    pos = s > 0
    if n_classes == 0:
        counts = np.array([pos.sum()], dtype=float)
    elif n_classes == 2:
        ones = float(np.sum(pos & (Y[:, 0] == 1)))
        counts = np.array([pos.sum() - ones, ones])
    else:
        counts = (pos @ Y).astype(float)
    shares = float(np.sum(objective.penalty_shares(s, s))) if objective.mean_form else 0.0
    column_sums = np.asarray(Xb.sum(axis=0)).ravel()
    return np.concatenate([column_sums, [Xb.shape[0], s.sum(), shares], counts])[None, :]


def newton_block(Xb, Yb, Sb, start, *, objective, shift, theta, gram, weights):
    """One block's share of the loss, its gradient and (if ``gram``) its Hessian at
    ``theta`` (intercept last, the estimator's coordinates).

    ``weights``: ``(removed, scale)`` (rows whose weights are multiplied by ``scale``)
    or a per-row multiplier is passed as ``Sb`` already. Returns one row
    ``[loss, ∇ (p̃ q), #(d_i < 0), Gram]``: the Gram ``Σ d_i b_i b_iᵀ`` over centred rows
    ``b_i = [x_i − shift, 1]`` (symmetric), or its class blocks ``k ≤ m`` for coupled
    outputs. The value and gradient are those of :class:`~skrif._core.problem.Problem`
    on the block (same products); the Gram is that of
    :meth:`~skrif._linalg.design.AugmentedDesign.weighted_grams`, as in memory: dense
    blocks are centred so that large column means cost no digits, sparse blocks are
    never densified (sparse products, the shift applied to them). O(c p̃²) dense,
    O(Σ nnz_i² + p̃²) sparse with the Gram; O(nnz p̃ q) without.
    """
    X, Y, s = block_inputs(Xb, Yb, Sb)
    s = scaled_weights(s, start, *weights)
    design = AugmentedDesign(X, objective.fit_intercept)
    Z = design.matvec(theta.T)
    value = objective.loss_scale * np.sum(s[:, None] * objective.loss(Y, Z))
    d1, d2 = row_derivatives(objective, Y, Z, s)
    parts = [np.array([value]), design.rmatvec(d1).ravel()]
    if gram:
        parts.append([float(np.sum(d2 < 0)) if d2.ndim == 1 else 0.0])
        if d2.ndim == 3:  # K × K blocks per row: class blocks (k ≤ m)
            K, pt = d2.shape[1], design.n_params
            pairs = [(k, m) for k in range(K) for m in range(k, K)]
            W = np.column_stack([d2[:, k, m] for k, m in pairs])
            grams = design.weighted_grams(W, shift)
            H = np.zeros((K, pt, K, pt))
            for (k, m), G in zip(pairs, grams):
                H[k, :, m, :] = G
            parts.append(H.ravel())
        else:
            parts.append(design.weighted_grams(d2[:, None], shift)[0].ravel())
    return np.concatenate(parts)[None, :]


def target_changes_block(Xb, Yb, Sb, *, objective, theta, deltas, target):
    """``[Σ_i (F_i(θ + Δ_j) − F_i(θ)) for each Δ_j]`` as one row (1, m), ``deltas`` of
    shape (m, q, p̃): a target's change summed over the block's rows (unweighted,
    e.g. the training loss), differenced row by row, for several changes in one
    read of the block."""
    X, Y, _ = block_inputs(Xb, Yb, Sb)
    design = AugmentedDesign(X, objective.fit_intercept)
    Y = Y if target.needs_y else None
    Z = design.matvec(theta.T)
    base = target.value(Z, Y)
    return np.array([[np.sum(target.value(Z + design.matvec(delta.T), Y) - base) for delta in deltas]])


def identification_block(Xb, Yb, Sb, start, *, shift, removed):
    """``[Σ w, Σ w (x − shift), Σ w (x − shift)(x − shift)ᵀ]`` over the block's rows with
    positive weight outside ``removed`` (``w`` = 1 there): the support's Gram for the
    identification rank (:func:`skrif._core.fitted.identified_rank`). O(c p²) dense,
    O(Σ nnz_i² + p²) sparse."""
    X, _, s = block_inputs(Xb, Yb, Sb)
    w = (scaled_weights(s, start, removed, 0.0) > 0).astype(float)
    u = np.asarray(X.T @ w).ravel() - w.sum() * shift
    G = AugmentedDesign(X, False).weighted_grams(w[:, None], shift)[0]
    return np.concatenate([[w.sum()], u, G.ravel()])[None, :]


def eval_block(Xb, *, fit_intercept, theta):
    """Linear predictor ``Z`` (c, q) of a block (for predictions at ``theta``)."""
    return AugmentedDesign(block_rows(Xb), fit_intercept).matvec(theta.T)


# -- the fitted state on the workers ------------------------------------------------


@dataclass
class RowModel:
    """What the per-row kernels need at θ̂ (client-built, shipped once).

    ``curvature`` is the Hessian kind factored from the summed Gram
    (:func:`skrif._removal.hessian_from_gram`); :meth:`block_model` binds it to a
    block's rows and wraps them in the in-memory
    :class:`~skrif._core.fitted.RemovalModel`, so that every per-row method and feature
    runs the in-memory code on the block.
    """

    objective: object
    theta: np.ndarray
    curvature: object

    def bind(self, X, Y, s, one_minus=None, quad=None, row_ids=None, row_sums=None):
        """``(curvature on the rows, Z, d1)`` for rows ``X`` (c, p; dense or CSR)."""
        objective = self.objective
        design = AugmentedDesign(X, objective.fit_intercept)
        Z = design.matvec(self.theta.T)
        d1, d2 = row_derivatives(objective, Y, Z, s)
        per_row = {}
        kind = objective.hessian_kind
        if kind == "penalty_share":
            per_row["shares"] = objective.penalty_shares(s, s)
        elif kind == "rank_one":
            per_row["quad"] = quad
        view = self.curvature.on_rows(
            design, d2, row_ids=row_ids, row_sums=row_sums, one_minus=one_minus, **per_row
        )
        return view, Z, d1

    def block_model(self, X, Y, s, one_minus=None, quad=None):
        """The in-memory :class:`~skrif._core.fitted.RemovalModel` of these rows (the
        objective on them, θ̂, and the factorization bound to them)."""
        from .._core.fitted import RemovalModel
        from .._core.problem import Problem

        view, _, d1 = self.bind(X, Y, s, one_minus, quad)
        return RemovalModel.on_rows(Problem(self.objective, X, Y, s), self.theta, d1, view)


def leverage_block(Xb, Yb, Sb, start, *, model):
    """Per row: the cheap ``1 − h_i``, ``x̃_iᵀH⁻¹x̃_i`` (rank-one kind; else NaN) and
    whether ``1 − h_i`` must be refined (:meth:`refine_candidates`): shape (c, 3)."""
    X, Y, s = block_inputs(Xb, Yb, Sb)
    view, _, _ = model.bind(X, Y, s)
    one_minus = view.one_minus_leverage
    out = np.full((X.shape[0], 3), np.nan)
    out[:, 0] = one_minus
    if model.objective.hessian_kind == "rank_one":
        out[:, 1] = view.self_quadratic()
    refine = getattr(view, "refine_candidates", None)
    out[:, 2] = 0.0
    if refine is not None:
        out[refine(one_minus), 2] = 1.0
    return out


def rowwise_block(Xb, Yb, Sb, one_minus, quad, *per_row, model, fn, args, kwargs):
    """``fn(block RemovalModel, *args, *per_row blocks, **kwargs)`` on one block."""
    X, Y, s = block_inputs(Xb, Yb, Sb)
    rm = model.block_model(X, Y, s, np.asarray(one_minus, dtype=float),
                           None if quad is None else np.asarray(quad, dtype=float))
    return np.asarray(fn(rm, *args, *per_row, **kwargs))


def exact_sum_block(Xb, Yb, Sb, start, quad, *, model, fn):
    """One block's term of :meth:`~skrif._removal.base.Curvature.sum_over_rows`:
    ``fn(curvature on the block, global positions)`` (1, L)."""
    X, Y, s = block_inputs(Xb, Yb, Sb)
    first = first_row(start)
    view, _, _ = model.bind(X, Y, s, quad=None if quad is None else np.asarray(quad, dtype=float))
    part = np.asarray(fn(view, np.arange(first, first + X.shape[0])), dtype=float)
    return part.reshape(1, -1)


def topk_block(scores, start, *, k, direction):
    """Local candidates for a distributed top-k: ``[[key, global index], ...]`` (≤ k rows).

    Keys sort ascending (``−score`` for "increase"), NaN last; ties keep the lower
    index first (as the in-memory ``top_k``).
    """
    scores = np.asarray(scores, dtype=float)
    key = -scores if direction == "increase" else scores.copy()
    key = np.where(np.isnan(key), np.inf, key)
    order = np.argsort(key, kind="stable")[:k]
    first = first_row(start)
    return np.column_stack([key[order], order + first])
