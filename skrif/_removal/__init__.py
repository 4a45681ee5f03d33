"""Floor 4: the removal algebra, one protocol for three Hessian kinds.

Every kind implements the protocol of :class:`skrif._removal.base.Curvature`
(``solve``, ``one_minus_leverage``, ``rank``/``singular``, ``row_steps``,
``self_change``, ``row_effects``, ``set_change``):

* ``"rank_one"`` — :class:`~skrif._removal.rank_one.PrimalCurvature` /
  :class:`~skrif._removal.dual.DualCurvature` (least squares, binary logistic,
  RidgeClassifier);
* ``"block"`` — :class:`~skrif._removal.block.BlockCurvature` /
  :class:`~skrif._removal.block.DualBlockCurvature` (multinomial);
* ``"penalty_share"`` — :class:`~skrif._removal.penalty_share.MeanFormCurvature` /
  :class:`~skrif._removal.penalty_share.UniformShareCurvature` (mean-form GLMs and SGD).

The kind is what the objective declares (``Objective.hessian_kind``), never
inferred from array shapes.

**The same kinds on blocks of rows (the Dask path).** The primal forms of the
three kinds also

* factor from a summed Gram matrix instead of the rows (``from_gram``, dispatched
  by :func:`hessian_from_gram`): ``Σ_i d_i b_i b_iᵀ`` over rows ``b_i = [x_i − x̄, 1]``
  (class blocks ``Σ_i A_i ⊗ b_i b_iᵀ`` for "block"), summed over the blocks of a
  row-chunked array;
* bind that factorization to any rows (:meth:`Curvature.on_rows`): a block on a
  worker or the rows of a set gathered on the client. Every per-row method
  (``one_minus_leverage``, ``row_steps``, ``self_change``, ``row_effects``) and
  every per-set method (``set_change``, ``solve_without``, the capacitance check)
  then answers for those rows exactly as for the fitted rows;
* take the sums over every training row that the cancellation-free forms need
  (the exact ``1 − h_i`` below ``REFINE_BELOW``, the exact capacitance) from
  :meth:`Curvature.sum_over_rows`: the whole design in memory, one blockwise
  reduction on Dask. ``refine_candidates`` names the rows to refine.

The dual forms (n × n factors) hold their own rows and cannot be bound to others.

May import: :mod:`skrif._linalg`, :mod:`skrif._utils`, :mod:`skrif.exceptions`.
"""

import numpy as np

from .base import Curvature
from .block import BlockCurvature, DualBlockCurvature, factor_block_curvature
from .dual import DualCurvature, factor_curvature
from .iterative import IterativeCurvature
from .operator import HessianOperator
from .penalty_share import MeanFormCurvature, UniformShareCurvature, mean_form_curvature
from .rank_one import PrimalCurvature

RemovalHessian = Curvature

KINDS = ("rank_one", "block", "penalty_share")


#: Solvers of the Hessian (the ``solver`` parameter of InfluenceEstimator).
SOLVERS = ("auto", "direct", "iterative")
#: "auto" uses the iterative solver when the dense factorization (and the
#: explicit inverse or triangular inverse its leverages use) would need more bytes.
DENSE_FACTOR_BYTES = 8 << 30


def choose_solver(solver, kind, design, penalty_coef):
    """``"direct"`` or ``"iterative"`` for the ``solver`` asked (``"auto"``: iterative
    only when two dense min(n, p̃)² (coupled: (K p̃)²) arrays exceed
    ``DENSE_FACTOR_BYTES`` and the kind supports it).

    Raises ``ValueError`` for ``"iterative"`` on a kind or objective it does not
    support (coupled outputs, penalty shares, no penalty on some coefficient).
    """
    supported = kind == "rank_one" and penalty_coef > 0
    if solver == "iterative" and not supported:
        raise ValueError(
            "solver='iterative' supports models whose per-row Hessians are rank one "
            "(least squares, binary logistic regression, RidgeClassifier) with a "
            f"positive penalty on every coefficient; this model's Hessian kind is "
            f"{kind!r}{'' if penalty_coef > 0 else ' without a penalty'}. Use "
            "solver='direct'."
        )
    if solver != "auto":
        return solver
    side = min(design.n_samples, design.n_params)
    return "iterative" if supported and 2 * 8 * side**2 > DENSE_FACTOR_BYTES else "direct"


def make_hessian(
    objective, design, d2, penalty_coef, penalty_intercept, shares=None, solver="direct"
):
    """Factor the Hessian of ``objective`` on ``design`` with per-row curvature ``d2``
    (``solver="iterative"``: the matrix-free kind, no factorization).

    Parameters
    ----------
    objective : Objective
        Declares ``hessian_kind`` (and, for "penalty_share", ``penalty_share_coef``
        and ``removed_share``).
    design : AugmentedDesign
    d2 : ndarray
        Per-row curvature: (n,) for "rank_one"/"penalty_share", (n, K, K) blocks for
        "block".
    penalty_coef, penalty_intercept : float
    shares : ndarray of shape (n,) or None
        Penalty shares ("penalty_share" only; ``None``: the factor only solves).
    solver : {"direct", "iterative"}
        See :func:`choose_solver`.
    """
    kind = objective.hessian_kind
    if solver == "iterative":
        choose_solver(solver, kind, design, penalty_coef)  # refuses unsupported kinds
        return IterativeCurvature(design, d2, penalty_coef, penalty_intercept)
    if kind == "block":
        return factor_block_curvature(design, d2, penalty_coef, penalty_intercept)
    if kind == "penalty_share":
        return mean_form_curvature(
            design, d2, penalty_coef, penalty_intercept, objective.penalty_share_coef,
            shares, share_of_fraction=objective.removed_share,
        )
    if kind == "rank_one":
        return factor_curvature(design, d2, penalty_coef, penalty_intercept)
    raise ValueError(f"Unknown Hessian kind {kind!r}; expected one of {KINDS}.")


def hessian_from_gram(objective, gram, n_features, penalty_coef, penalty_intercept, *,
                      shift=None, convex=True, removals=True):
    """Factor the Hessian of ``objective`` from its summed Gram matrix (Dask).

    The same kinds as :func:`make_hessian` (primal forms), built from
    ``Σ_i d_i b_i b_iᵀ`` (or ``Σ_i A_i ⊗ b_i b_iᵀ`` for "block") over rows
    ``b_i = [x_i − shift, 1]`` summed over the blocks of a row-chunked array, instead
    of from the rows. ``shift`` must be the column means when the intercept is fitted
    and unpenalised (else ``None``); ``convex``: every ``d_i ≥ 0``; ``removals``: the
    penalty-share kind also prepares its per-row removal algebra. Rows are then bound
    with :meth:`~skrif._removal.base.Curvature.on_rows`. O(p̃³) ((K p̃)³ for "block").
    """
    kind = objective.hessian_kind
    fit_intercept = objective.fit_intercept
    if kind == "block":
        n_classes = gram.shape[0] // (n_features + int(fit_intercept))
        return BlockCurvature.from_gram(
            gram, n_classes, n_features, fit_intercept, penalty_coef, penalty_intercept, shift=shift
        )
    if kind == "penalty_share":
        return MeanFormCurvature.from_gram(
            gram, n_features, fit_intercept, penalty_coef, penalty_intercept,
            objective.penalty_share_coef, shift=shift, convex=convex, removals=removals,
            share_of_fraction=objective.removed_share,
        )
    if kind == "rank_one":
        return PrimalCurvature.from_gram(
            gram, n_features, fit_intercept, penalty_coef, penalty_intercept, shift=shift
        )
    raise ValueError(f"Unknown Hessian kind {kind!r}; expected one of {KINDS}.")


def factorization_cost(kind, design, n_outputs, penalty_coef):
    """Multiply-adds of forming and factoring this kind's Hessian (an estimate for
    cost models): primal ``S`` (p̃ × p̃, coupled: K p̃ × K p̃) or dual kernel (n × n),
    whichever :func:`make_hessian` would choose."""
    n, pt = float(design.n_samples), float(design.n_params)
    if design.sparse:
        nnz = np.diff(design.X.tocsr().indptr).astype(float)
        gram, kernel = 16.0 * float(np.sum(nnz**2)), 16.0 * n * float(nnz.sum())
    else:
        gram, kernel = 0.5 * n * pt * pt, 0.5 * n * n * pt
    if kind == "block":
        K = float(n_outputs)
        return K * K * gram + (K * pt) ** 3 / 3.0
    if pt >= n and penalty_coef > 0:
        return kernel + n**3 / 3.0
    extra = 4.0 * pt**3 if kind == "penalty_share" else 0.0  # eigendecomposition
    return gram + pt**3 / 3.0 + extra


#: A multiply-add of a product streaming X (matrix-vector, sparse) costs about this
#: many of a BLAS-3 multiply-add (Gram, factorization) on this kind of machine.
STREAMING_COST = 8.0


def product_cost(kind, design, n_outputs):
    """Cost of one Hessian-vector product (:class:`HessianOperator`) in BLAS-3
    multiply-adds: two passes over ``X`` (memory-bound, ``STREAMING_COST`` each)."""
    nnz = design.X.nnz if design.sparse else design.n_samples * design.n_features
    q = float(n_outputs)
    streaming = STREAMING_COST if q < 4 else STREAMING_COST / 2.0  # skinny GEMM for K ≥ 4
    work = 2.0 * (nnz + design.n_samples) * q + (design.n_samples * q * q if kind == "block" else 0)
    return streaming * work


__all__ = [
    "KINDS",
    "hessian_from_gram",
    "SOLVERS",
    "BlockCurvature",
    "Curvature",
    "DualBlockCurvature",
    "DualCurvature",
    "HessianOperator",
    "IterativeCurvature",
    "MeanFormCurvature",
    "PrimalCurvature",
    "RemovalHessian",
    "UniformShareCurvature",
    "choose_solver",
    "factorization_cost",
    "make_hessian",
    "product_cost",
]
