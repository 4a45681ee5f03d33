"""The one SPD factorization of skrif: Cholesky, else an eigendecomposition pseudo-inverse.

Rank decisions are **scale invariant**. A Hessian with one column ×1e7 next to
unit-scale columns has eigenvalues 1e14 apart although every parameter is well
determined; judging singularity on the raw eigenvalues (or on Cholesky pivots
relative to the largest diagonal entry) then drops well-determined directions.
Here a matrix ``S`` is judged on its equilibrated form ``D^-½ S D^-½`` with
``D = diag(S)`` (unit diagonal): a Cholesky pivot ``L_kk² / S_kk`` is the fraction
of column k's curvature not explained by the previous columns, which does not
depend on the units of any column. A matrix whose every diagonal entry carries a
positive penalty is positive definite whatever the data, and is never declared
singular.
"""

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas, lapack

#: An equilibrated Cholesky pivot (or eigenvalue) below this fraction of 1 means
#: the matrix is singular to working precision.
SINGULAR_RTOL = 1e-12

#: Right-hand sides from which :meth:`SPDFactor.solve` calls BLAS trsm directly.
_WIDE_SOLVE = 64


def shift_null_space(H, N):
    """``H + N diag(σ) Nᵀ``: a known null space (orthonormal columns ``N``, e.g. the
    multinomial parametrization ``1_K ⊗ e_j / √K``) moved to eigenvalues ``σ_j``.

    ``σ_j`` is the mean diagonal of ``H`` where ``N_j`` lives (the curvature scale of
    that direction's coordinates), so the equilibrated matrix, and with it the rank
    decision of :class:`SPDFactor`, does not depend on the columns' units; one ``σ``
    for all directions would be tiny next to a ×1e7 column's coordinates and huge
    next to unit-scale ones, whose remaining pivots would then look singular.
    Cost O(P² r) for r null directions.
    """
    sigma = np.maximum((N * N).T @ np.diag(H), np.finfo(float).tiny)
    return H + (N * sigma) @ N.T


class SPDFactor:
    """Factor a symmetric positive semi-definite ``S`` (p × p) once; solve with it.

    Parameters
    ----------
    S : ndarray of shape (p, p)
        Overwritten (it becomes the Cholesky factor when that succeeds).
    penalised : bool
        Whether every diagonal entry holds a positive penalty: ``S`` is then
        positive definite and never treated as singular.
    rebuild : callable or None
        Returns ``S`` afresh if the Cholesky attempt (which overwrites ``S``) fails;
        ``None`` keeps a copy instead (2 × p² memory).
    check_psd : bool
        Raise :class:`NotPositiveDefiniteError` (from :mod:`skrif.exceptions`) if
        ``S`` has a clearly negative eigenvalue (a non-convex objective).
    reference : ndarray of shape (p,) or None
        The diagonal the rank decision is relative to, when ``S`` was obtained by a
        subtraction (a Schur complement ``G − g gᵀ/δ``): the magnitudes ``S`` was
        computed from, so that a diagonal entry left with rounding noise only counts
        as zero, as its exact value would. Default: ``S``'s own diagonal.

    Attributes
    ----------
    chol : ndarray or None
        Lower Cholesky factor of ``S`` (``None`` on the pseudo-inverse path).
    F : ndarray of shape (p, rank) or None
        ``S⁺ = F Fᵀ`` on the pseudo-inverse path.
    rank : int

    Notes
    -----
    Cost: O(p³/3) (Cholesky), O(p³) more on the rare singular path (eigh).
    """

    def __init__(self, S, penalised=False, rebuild=None, check_psd=False, reference=None):
        p = S.shape[0]
        diag = np.diag(S).copy() if reference is None else np.asarray(reference, dtype=float)
        self.n = p
        self.chol, self.F = None, None
        backup = None if rebuild is not None or p == 0 else S.copy()
        if p == 0:
            self.chol, self.rank = np.zeros((0, 0)), 0
            return
        L, info = lapack.dpotrf(S, lower=1, clean=1, overwrite_a=1)
        if info == 0:
            pivots = np.diag(L) ** 2
            positive = diag > 0
            ratio = np.where(positive, pivots / np.where(positive, diag, 1.0), 0.0)
            if penalised or (np.all(positive) and ratio.min() > SINGULAR_RTOL):
                self.chol, self.rank = L, p
                return
        del L
        S = rebuild() if rebuild is not None else backup
        # Equilibrate (unit diagonal where positive) so that the rank does not depend
        # on the columns' units, then keep the pseudo-inverse of S on that range.
        scale = np.sqrt(np.where(diag > 0, diag, 1.0))
        Se = S / scale[:, None] / scale[None, :]
        evals, evecs = np.linalg.eigh(Se)
        top = max(evals[-1], np.finfo(float).tiny)
        if check_psd and evals[0] < -1e-8 * top:
            from ..exceptions import NotPositiveDefiniteError

            raise NotPositiveDefiniteError(
                "The Hessian of the objective is not positive semi-definite at the "
                f"fitted parameters (equilibrated eigenvalues from {evals[0]:.3g} to "
                f"{evals[-1]:.3g}): it has a negative eigenvalue, so the objective "
                "is not convex there (e.g. TweedieRegressor with power > 2 and a log "
                "link) and removal effects are not defined. Use a power in [1, 2] "
                "or a larger alpha."
            )
        keep = evals > SINGULAR_RTOL * top
        if penalised:
            keep[:] = True
        self.rank = int(keep.sum())
        # Pseudo-inverse on the retained range of the equilibrated matrix, mapped
        # back: S⁺ = D^-½ Se⁺ D^-½ (the minimum-norm inverse in the equilibrated
        # metric; equal to S⁻¹ when S is nonsingular).
        self.F = (evecs[:, keep] / np.sqrt(evals[keep])) / scale[:, None]

    @property
    def singular(self):
        return self.rank < self.n

    def solve(self, G, overwrite=False):
        """``S⁻¹ G`` (or ``S⁺ G``): O(p² m). ``overwrite`` lets the Cholesky path
        solve in ``G``'s memory (Fortran-ordered ``G`` avoids a copy)."""
        if self.chol is not None:
            if np.ndim(G) == 2 and G.shape[1] >= _WIDE_SOLVE:
                # Two triangular solves (BLAS trsm): about 25% faster than LAPACK's
                # potrs for many right-hand sides, the same arithmetic.
                W = blas.dtrsm(1.0, self.chol, G, lower=1, overwrite_b=overwrite)
                return blas.dtrsm(1.0, self.chol, W, lower=1, trans_a=1, overwrite_b=1)
            return sla.cho_solve((self.chol, True), G, overwrite_b=overwrite, check_finite=False)
        return self.F @ (self.F.T @ G)

    def inverse(self):
        """The full symmetric ``S⁻¹`` (or ``S⁺``), p × p: LAPACK ``potri`` on a copy of
        the Cholesky factor (2p³/3 flops, p² more memory), ``F Fᵀ`` on the
        pseudo-inverse path. Callers check its answers against solves
        (:func:`skrif._linalg.inverse.check_rows`)."""
        if self.chol is None:
            return self.F @ self.F.T
        inv, info = lapack.dpotri(self.chol, lower=1)
        if info != 0:  # pragma: no cover - a successful Cholesky has no zero pivot
            raise np.linalg.LinAlgError("potri failed on a Cholesky factor")
        from .design import _symmetrize_lower

        _symmetrize_lower(inv)
        return inv

    def inverse_diagonal(self):
        """``diag(S⁻¹)`` (or of ``S⁺``): squared column norms of ``L⁻¹`` (one
        triangular solve with the identity, O(p³/3) with trtri), or of ``Fᵀ``."""
        if self.chol is not None:
            Linv, info = lapack.dtrtri(self.chol, lower=1)
            if info != 0:  # pragma: no cover - a successful Cholesky has no zero pivot
                raise np.linalg.LinAlgError("singular Cholesky factor")
            return np.einsum("ij,ij->j", Linv, Linv)
        return np.einsum("ij,ij->i", self.F, self.F)

    def whiten(self, G, overwrite=False):
        """``W`` with ``WᵀW = Gᵀ S⁻¹ G``: ``L⁻¹ G`` or ``Fᵀ G``; O(p² m)."""
        if self.chol is not None:
            return sla.solve_triangular(
                self.chol, G, lower=True, check_finite=False, overwrite_b=overwrite
            )
        return self.F.T @ G
