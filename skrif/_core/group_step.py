"""The group Newton step by the cheaper of two exact algebras, and the Hessian metric.

The group step ``Δ = (H − t Σ_T H_i)⁻¹ t Σ_T g_i`` has two exact forms:

* **Woodbury** (the Hessian kind's ``set_change``): a k × k capacitance for ``k``
  removed rows, O(k p̃² + k² p̃ + k³) in the primal form, O(k n² + k³) in the dual;
* **the kept-rows Hessian** ``H_{−T}`` at θ̂, factored afresh: O(n p̃² + p̃³) in the
  primal form, a p̃ × p̃ problem whatever ``k``, and free of cancellation (it sums
  the kept rows; ``H − H_T`` would subtract nearly equal numbers when T holds most
  of a direction, e.g. a whole one-hot level).

:func:`kept_is_cheaper` picks between them by flop counts; for folds and large
groups of a few-parameter model the second form is a few thousand times cheaper
than a k × k system (a 4,096-row level on a 5-parameter Ridge took minutes) and
never needs a k × k matrix. Mean-form objectives (GLMs, SGD), whose rows own a
share of the penalty, and the dual form (where Woodbury is always the cheaper)
keep the kind's algebra.

:func:`hessian_norms` measures a parameter change in the metric of the Hessian,
``‖Δ‖_H² = ΔᵀHΔ = Σ_i z_iᵀ D_i z_i + Σ_j λ_j Δ_j²`` with ``z = X̃Δᵀ``: the
Mahalanobis length with covariance ``H⁻¹``, i.e. in units of the parameters'
standard errors. It does not depend on the units of any column (a column in km
and the same column in metres give the same length), unlike the plain norm of
the parameter vector, which one large coefficient dominates.
"""

import numpy as np

from .._utils.checks import finite_change
from ..exceptions import NotPositiveDefiniteError


def _dimensions(rm):
    """``(P, per_row)``: parameters of the coupled system and its rows per removed row."""
    coupled = rm.curvature.kind == "block"
    q = rm.n_outputs
    return (q * rm.n_params if coupled else rm.n_params), (q if coupled else 1)


def kept_is_cheaper(rm, k):
    """Whether the kept-rows Hessian beats Woodbury for a group step of ``k`` rows.

    Flop counts: Woodbury ``k' P² + k'² P + k'³/3`` (``k' = k`` times the rows per
    removed row: K for multinomial), the kept-rows Hessian ``n P² + P³/3``, with
    ``P`` the parameters of the coupled system. Only in the primal form, for
    objectives without penalty shares and a nonsingular ``H``.
    """
    curvature = rm.curvature
    if (
        curvature.kind not in ("rank_one", "block")
        or rm.objective.mean_form
        or getattr(curvature, "form", "primal") != "primal"
        or curvature.singular
    ):
        return False
    P, per_row = _dimensions(rm)
    kk = float(k * per_row)
    woodbury = kk * P * P + kk * kk * P + kk**3 / 3.0
    kept = float(rm.n_samples) * P * P + P**3 / 3.0
    return kept < woodbury


def check_kept_rank(rank, full_rank, k):
    """Refuse a kept-rows Hessian of lower rank than ``H`` (``k`` rows removed)."""
    if rank < full_rank:
        raise NotPositiveDefiniteError(
            f"Removing these {k} rows leaves a Hessian that is not positive "
            "definite: the remaining rows do not determine every parameter."
        )


class KeptSolver:
    """Solves with the Hessian at θ̂ of the objective whose rows ``idx`` have their
    weights multiplied by ``1 − t``: ``(H − t Σ_T H_i)⁻¹``, factored afresh; and the
    group step through it.

    Cost O(n p̃² + p̃³) once (primal), then O(p̃² q) per solve. A Dask fit builds the
    same object from one pass (:meth:`skrif._dask._removal.DaskRemovalModel.kept_solver`).

    Raises
    ------
    NotPositiveDefiniteError
        If that Hessian has lower rank than ``H``: the remaining rows do not
        determine every parameter.
    """

    def __init__(self, curvature, removed_gradient):
        self.curvature = curvature
        #: ``t Σ_T g_i`` (p̃, q): the removed share of the gradient at θ̂.
        self.removed_gradient = removed_gradient

    @classmethod
    def in_memory(cls, rm, idx, t):
        problem = rm.problem
        weights = problem.weights.copy()
        weights[idx] *= 1.0 - t
        _, d2 = problem.row_derivatives(rm.theta, weights)
        curvature = problem.curvature(d2, weights)
        check_kept_rank(curvature.rank, rm.curvature.rank, len(idx))
        g = t * rm.design.rows_rmatvec(idx, np.asarray(rm.d1[idx], dtype=float))
        return cls(curvature, g)

    def solve(self, G):
        return self.curvature.solve(G)

    @finite_change
    def group_step(self):
        """``Δ`` (q, p̃) of the group step: ``t X̃_Tᵀ d1_T`` solved with the kept rows'
        Hessian."""
        return np.asarray(self.solve(self.removed_gradient)).T


def _row_quadratics(rm, D):
    """Per training row ``z_iᵀ D_i z_i`` of the changes ``D`` (s, q, p̃), ``z = X̃Δᵀ``:
    (n, s, q), or (n, s) for coupled outputs."""
    s, q, pt = D.shape
    d2 = rm.curvature_coefficients
    Z = rm.design.matvec(D.transpose(2, 0, 1).reshape(pt, s * q)).reshape(-1, s, q)
    if d2.ndim == 3:  # coupled outputs: one K × K block per row
        return np.einsum("isk,ikl,isl->is", Z, d2, Z, optimize=True)
    return d2[:, None, None] * (Z * Z)


def hessian_norms(rm, deltas):
    """``‖Δ‖_H`` of parameter changes, per independent output.

    ``deltas`` (q, p̃) or (s, q, p̃). Returns (q,) — or (s, q) — for kinds whose
    outputs share ``H`` but not their units (multi-target least squares,
    one-vs-rest classifiers), and one length per change ((1,) or (s, 1)) for coupled
    outputs (multinomial). The rows' part is a per-row sum
    (:meth:`~skrif._core.fitted.RemovalModel.rowwise`: one pass on Dask). Cost
    O(nnz(X) q s).
    """
    D = np.asarray(deltas, dtype=float)
    single = D.ndim == 2
    D = D[None] if single else D
    s, q, _ = D.shape
    quad = np.asarray(rm.rowwise(_row_quadratics, D).sum(axis=0), dtype=float)
    if rm.curvature.kind in ("rank_one", "block", "penalty_share"):
        pen = np.einsum("p,sqp->sq", rm.penalty, D * D)
    else:
        # Kinds whose penalty is not a diagonal on these parameters (kernel ridge's
        # dual, active sets): the fitted values' part of the metric, still free of
        # the columns' units.
        pen = np.zeros((s, q))
    if quad.ndim == 1:  # coupled outputs
        out = np.sqrt(np.maximum(quad + pen.sum(axis=1), 0.0))[:, None]
    else:
        out = np.sqrt(np.maximum(quad + pen, 0.0))
    return out[0] if single else out


def joint_leverage(rm, idx):
    """``λ_max(B_T)``, ``B_T = D_T^½ X̃_T H⁻¹ X̃_Tᵀ D_T^½``: the set's joint leverage.

    Rank-one kinds only (``nan`` otherwise). In the smaller of two spaces: the
    k × k block (O(k p̃² + k³) primal) when ``k ≤ p̃``, else the p̃ × p̃ matrix
    ``H⁻¹ X̃_TᵀD_TX̃_T``, which has the same nonzero eigenvalues (O(k p̃² + p̃³)).
    """
    curvature = rm.curvature
    if curvature.kind != "rank_one":
        return np.nan
    idx = np.asarray(idx)
    d = np.clip(np.asarray(curvature.d, dtype=float)[idx], 0.0, None)
    if idx.size <= rm.n_params or getattr(curvature, "form", "primal") != "primal":
        root = np.sqrt(d)
        B = curvature.inner(idx) * root[:, None] * root[None, :]
        return float(np.linalg.eigvalsh(B)[-1])
    pt = rm.n_params
    H_T = np.zeros((pt, pt))
    step = max(1, (1 << 20) // max(pt, 1))
    for start in range(0, idx.size, step):
        part = idx[start : start + step]
        rows = rm.design.rows(part)
        H_T += rows.T @ (d[start : start + step, None] * rows)
    ev = np.linalg.eigvals(curvature.solve(H_T))
    return float(np.max(ev.real))


#: Factorizations an exact refit from θ̂ typically takes (Newton's method from a warm
#: start, reusing a factorization while steps contract): the refit side of the
#: cost model of :func:`group_method_by_cost`.
REFIT_FACTORIZATIONS = 3


def _group_step_cost(rm, k):
    """Flops of one group step of ``k`` rows (the cheaper algebra)."""
    P, per_row = _dimensions(rm)
    n = float(rm.n_samples)
    kk = float(k * per_row)
    if getattr(rm.curvature, "form", "primal") == "dual":
        return kk * n * n + kk**3 / 3.0
    woodbury = kk * P * P + kk * kk * P + kk**3 / 3.0
    if kept_is_cheaper(rm, k):
        return n * P * P + P**3 / 3.0
    return woodbury


def _refit_cost(rm):
    P, _ = _dimensions(rm)
    n = float(rm.n_samples)
    if getattr(rm.curvature, "form", "primal") == "dual":
        one = n * n * P + n**3 / 3.0
    else:
        one = n * P * P + P**3 / 3.0
    return REFIT_FACTORIZATIONS * one


def group_method_by_cost(rm, k):
    """``"newton"`` or ``"refit"`` for removing a group of ``k`` rows exactly or cheaply.

    Least squares: the group step, which is exact (by the cheaper of its two
    algebras). Other losses: the exact refit when it costs at most 4 group steps
    (few large groups: a tenth of the rows of a logistic model), else the group
    step (many small groups, where refits would cost hundreds of times more).
    """
    if rm.objective.quadratic:
        return "newton"
    return "refit" if _refit_cost(rm) <= 4.0 * _group_step_cost(rm, k) else "newton"
