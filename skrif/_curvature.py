"""The Hessian ``H = X̃ᵀ D X̃ + Λ`` of a linear model, factored once.

``D = diag(d)`` holds each row's curvature (``c s_i ℓ''(y_i, z_i)``) and ``Λ`` the
diagonal L2 penalty (``λ_w`` on the coefficients, ``λ_b`` on the intercept, 0 when
the intercept is unpenalised). Nothing here knows which model produced ``d``.

An unpenalised intercept is eliminated exactly by its Schur complement, which
amounts to centring: with ``δ = Σ d_i``, the curvature-weighted mean
``x̄ = Σ d_i x_i / δ`` and ``S = (X − 1x̄ᵀ)ᵀ D (X − 1x̄ᵀ) + Λ_w``,

    x̃_iᵀ H⁻¹ x̃_j = (x_i − x̄)ᵀ S⁻¹ (x_j − x̄) + 1/δ,
    H⁻¹ (g_w, g_b) = (w, g_b/δ − x̄ᵀw),   w = S⁻¹(g_w − x̄ g_b).

Factoring ``S`` instead of ``H`` keeps the problem as well conditioned as the
centred data: with raw columns whose means are 1000× their spread, factoring ``H``
directly lost every digit. Two factorizations of the penalised, centred block
answer the same questions (solves, leverages, inner products of rows, leave-T-out
solves):

* :class:`PrimalCurvature` (``p̃ ≤ n``): Cholesky of the p̃ × p̃ block, with an
  eigendecomposition pseudo-inverse when it is singular.
* :class:`DualCurvature` (``p̃ > n`` and a penalty on every coefficient): Cholesky of
  the n × n matrix ``B = I + D^½ X_c Λ⁻¹ X_cᵀ D^½``. No p̃ × p̃ matrix exists, and
  ``1 − h_i`` comes out of the diagonal of ``B⁻¹`` without cancellation.
"""

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from ._centered import CenteredDesign

# A Cholesky pivot below this fraction of the largest diagonal entry means the
# Hessian is singular to working precision; the pseudo-inverse drops eigenvalues
# below the same fraction of the largest one.
SINGULAR_RTOL = 1e-12


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """The leave-T-out Hessian is not positive definite (T pins a direction)."""


class Curvature:
    """Interface of a factored Hessian, and the generic leave-T-out (Woodbury) solve.

    Subclasses provide ``solve``, ``inner``, ``one_minus_leverage`` and ``rank``.
    """

    #: ``1 - h_i`` for every training row, shape (n_samples,).
    one_minus_leverage = None
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
    def leverages(self):
        return 1.0 - self.one_minus_leverage

    def solve(self, G):  # pragma: no cover - interface
        """Return ``H⁻¹ G`` (pseudo-inverse if singular) for ``G`` (n_params, m)."""
        raise NotImplementedError

    def inner(self, idx):  # pragma: no cover - interface
        """Return ``X̃_T H⁻¹ X̃_Tᵀ`` (k × k) for the rows ``idx``."""
        raise NotImplementedError

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
        C = np.eye(len(idx)) - root[:, None] * self.inner(idx) * root[None, :]
        try:
            factor = sla.cho_factor(C, lower=True, check_finite=False)
            pivots = np.diag(factor[0]) ** 2
        except np.linalg.LinAlgError:
            pivots = np.zeros(1)
        if pivots.min() <= SINGULAR_RTOL:
            raise NotPositiveDefiniteError(
                "Removing these rows leaves a Hessian that is not positive definite: "
                "the remaining rows do not determine every parameter."
            )
        HR = self.solve(R)
        y = sla.cho_solve(factor, root[:, None] * self.design.rows_matvec(idx, HR))
        return HR + self.solve(self.design.rows_rmatvec(idx, root[:, None] * y))


class _LinearCurvature(Curvature):
    """``H = X̃ᵀ D X̃ + Λ`` with one scalar curvature per row and diagonal ``Λ``.

    Eliminates an unpenalised intercept by centring (module docstring) and lets
    subclasses factor the penalised block ``S = B̃ᵀ D B̃ + Λ`` of the block design
    ``B̃`` (the centred ``X`` when the intercept is eliminated, else ``X̃``) through
    ``_factor``, ``_block_solve`` and ``_block_inner``.
    """

    def __init__(self, design, d, penalty_coef, penalty_intercept):
        super().__init__(design, d)
        self._delta = d.sum()
        self._border = design.fit_intercept and not penalty_intercept > 0 and self._delta > 0
        if self._border:
            self._mean = design.rmatvec(d[:, None])[: design.n_features, 0] / self._delta
            block = CenteredDesign(design.X, self._mean)
        else:
            block = design
        penalty = np.full(block.n_params, float(penalty_coef))
        if block.n_params > design.n_features:
            penalty[-1] = penalty_intercept
        block_one_minus, block_rank = self._factor(block, d, penalty)
        self.rank = block_rank + int(self._border)
        self.one_minus_leverage = block_one_minus - d / self._delta if self._border else block_one_minus

    def solve(self, G):
        if not self._border:
            return self._block_solve(G)
        Gw, gb = G[:-1], G[-1]
        w = self._block_solve(Gw - np.outer(self._mean, gb))
        return np.vstack([w, gb / self._delta - self._mean @ w])

    def inner(self, idx):
        out = self._block_inner(idx)
        return out + 1.0 / self._delta if self._border else out

    # -- subclass hooks -------------------------------------------------------
    def _factor(self, block, d, penalty):  # pragma: no cover - interface
        """Factor ``S``; return ``(1 − d_i b̃_iᵀS⁻¹b̃_i for every row, rank of S)``."""
        raise NotImplementedError

    def _block_solve(self, G):  # pragma: no cover - interface
        raise NotImplementedError

    def _block_inner(self, idx):  # pragma: no cover - interface
        raise NotImplementedError


class PrimalCurvature(_LinearCurvature):
    """Factor the p̃ × p̃ (centred) Hessian: O(n p̃² + p̃³/3) time, O(p̃²) memory."""

    def _factor(self, block, d, penalty):
        self._block = block
        S = block.weighted_gram(d)
        S[np.diag_indices_from(S)] += penalty
        scale = max(np.max(np.diag(S)), np.finfo(float).tiny)
        self._chol = None
        try:
            L = sla.cholesky(S, lower=True, check_finite=False)
            if np.min(np.diag(L)) ** 2 > SINGULAR_RTOL * scale:
                self._chol = L
        except np.linalg.LinAlgError:
            pass
        if self._chol is not None:
            rank = block.n_params
        else:
            # Singular (e.g. rank-deficient LinearRegression): S⁺ = F Fᵀ.
            evals, evecs = np.linalg.eigh(S)
            keep = evals > SINGULAR_RTOL * max(evals.max(), np.finfo(float).tiny)
            self._F = evecs[:, keep] / np.sqrt(evals[keep])
            rank = int(keep.sum())
        one_minus = np.empty(block.n_samples)
        for sl, rows in block.row_chunks():
            W = self._whiten(rows.T)
            one_minus[sl] = 1.0 - d[sl] * np.einsum("ij,ij->j", W, W)
        return one_minus, rank

    def _whiten(self, G):
        """``W`` with ``WᵀW = Gᵀ S⁻¹ G``: ``L⁻¹ G`` or ``Fᵀ G``."""
        if self._chol is not None:
            return sla.solve_triangular(self._chol, G, lower=True, check_finite=False)
        return self._F.T @ G

    def _block_solve(self, G):
        if self._chol is not None:
            return sla.cho_solve((self._chol, True), G, check_finite=False)
        return self._F @ (self._F.T @ G)

    def _block_inner(self, idx):
        W = self._whiten(self._block.rows(idx).T)
        return W.T @ W


class DualCurvature(_LinearCurvature):
    """Factor ``B = I + D^½ B̃ Λ⁻¹ B̃ᵀ D^½`` (n × n): O(n² p + n³) time, O(n²) memory.

    Requires a positive penalty on every coefficient (``B̃`` is the centred ``X``, or
    ``X̃`` with a penalised intercept). ``S⁻¹ = Λ⁻¹ − Λ⁻¹B̃ᵀD^½B⁻¹D^½B̃Λ⁻¹`` and
    ``1 − d_i b̃_iᵀS⁻¹b̃_i = (B⁻¹)_ii``.
    """

    def _factor(self, block, d, penalty):
        if not np.all(penalty > 0):
            raise ValueError("The dual form needs a positive penalty on every coefficient.")
        self._block = block
        self._inv_pen = 1.0 / penalty
        self._K = block.kernel(self._inv_pen[0], self._inv_pen[-1] if block.fit_intercept else 0)
        self._root = np.sqrt(d)
        B = self._root[:, None] * self._K * self._root[None, :]
        B[np.diag_indices_from(B)] += 1.0
        self._chol = sla.cholesky(B, lower=True, check_finite=False)
        inv, info = lapack.dpotri(self._chol, lower=1)
        if info != 0:  # pragma: no cover - B ⪰ I is always invertible
            raise np.linalg.LinAlgError("dpotri failed on I + D^½KD^½")
        return np.diag(inv).copy(), block.n_params

    def _B_solve(self, R):
        return sla.cho_solve((self._chol, True), R, check_finite=False)

    def _block_solve(self, V):
        LV = self._inv_pen[:, None] * V
        inner = self._root[:, None] * self._B_solve(self._root[:, None] * self._block.matvec(LV))
        return LV - self._inv_pen[:, None] * self._block.rmatvec(inner)

    def _block_inner(self, idx):
        KT = self._K[idx]
        return KT[:, idx] - (KT * self._root) @ self._B_solve(self._root[:, None] * KT.T)


def factor_curvature(design, d, penalty_coef, penalty_intercept, mode="auto"):
    """Factor ``H = X̃ᵀ diag(d) X̃ + Λ`` in the cheaper of the two forms.

    Parameters
    ----------
    design : AugmentedDesign
    d : ndarray of shape (n_samples,)
        Non-negative per-row curvature.
    penalty_coef, penalty_intercept : float
        Diagonal L2 penalty on the coefficients and on the intercept.
    mode : {"auto", "primal", "dual"}
        "auto" uses the dual form when there are more parameters than rows and every
        coefficient is penalised.
    """
    if mode == "auto":
        mode = "dual" if (design.n_params > design.n_samples and penalty_coef > 0) else "primal"
    cls = DualCurvature if mode == "dual" else PrimalCurvature
    return cls(design, np.asarray(d, dtype=float), penalty_coef, penalty_intercept)
