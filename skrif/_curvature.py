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

    _one_minus = None
    _quad = None
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
        # C = I − D_T^½ (X̃_T H⁻¹ X̃_Tᵀ) D_T^½, formed and factored in place (one k × k array).
        C = self.inner(idx)
        C *= root[:, None]
        C *= -root[None, :]
        C[np.diag_indices_from(C)] += 1.0
        try:
            factor = sla.cho_factor(C, lower=True, overwrite_a=True, check_finite=False)
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
        self.rank = self._factor(block, d, penalty) + int(self._border)

    def _compute_one_minus_leverage(self):
        one_minus = self._block_one_minus()
        return one_minus - self.d / self._delta if self._border else one_minus

    def self_quadratic(self):
        """``x̃_i H⁻¹ x̃_iᵀ`` for every training row, shape (n_samples,) (cached).

        A by-product of the leverages (``h_i = d_i x̃_i H⁻¹ x̃_iᵀ``): O(n p̃²) primal,
        n³/3 dual once the factorization exists, instead of n solves.
        """
        if self._quad is None:
            quad = self._block_quadratic()
            self._quad = quad + 1.0 / self._delta if self._border else quad
        return self._quad

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
        """Factor ``S``; return the rank of ``S``."""
        raise NotImplementedError

    def _block_one_minus(self):  # pragma: no cover - interface
        """``1 − d_i b̃_iᵀS⁻¹b̃_i`` for every row."""
        raise NotImplementedError

    def _block_quadratic(self):  # pragma: no cover - interface
        """``b̃_iᵀS⁻¹b̃_i`` for every row."""
        raise NotImplementedError

    def _block_solve(self, G):  # pragma: no cover - interface
        raise NotImplementedError

    def _block_inner(self, idx):  # pragma: no cover - interface
        raise NotImplementedError


class PrimalCurvature(_LinearCurvature):
    """Factor the p̃ × p̃ (centred) Hessian: O(n p̃² + p̃³/3) time, O(p̃²) memory.

    ``S`` is built by symmetric rank-k updates and factored in place (a single
    p̃ × p̃ array). Leverages, on first use, cost another O(n p̃²): triangular
    solves of row blocks.
    """

    def _factor(self, block, d, penalty):
        self._block = block
        self._bquad = None
        S = self._gram(block, d, penalty)
        scale = max(np.max(np.diag(S)), np.finfo(float).tiny)
        self._chol = None
        L, info = lapack.dpotrf(S, lower=1, clean=1, overwrite_a=1)
        if info == 0 and np.min(np.diag(L)) ** 2 > SINGULAR_RTOL * scale:
            self._chol = L
            return block.n_params
        # Singular (e.g. rank-deficient LinearRegression): S⁺ = F Fᵀ. The attempted
        # factorization overwrote S; rebuild it (rare path).
        del L, S
        evals, evecs = np.linalg.eigh(self._gram(block, d, penalty))
        keep = evals > SINGULAR_RTOL * max(evals.max(), np.finfo(float).tiny)
        self._F = evecs[:, keep] / np.sqrt(evals[keep])
        return int(keep.sum())

    @staticmethod
    def _gram(block, d, penalty):
        S = block.weighted_gram(d)
        S[np.diag_indices_from(S)] += penalty
        return S

    def _block_quadratic(self):
        """``‖L⁻¹ b̃_iᵀ‖²`` by triangular solves of row blocks (cached)."""
        if self._bquad is None:
            quad = np.empty(self._block.n_samples)
            X = self._block.X
            for sl, rows in self._block.row_chunks():
                # Solve in place when the block is a fresh copy (not a view of X).
                fresh = self._block.sparse or not np.may_share_memory(rows, X)
                W = self._whiten(rows.T, overwrite=fresh)
                quad[sl] = np.einsum("ij,ij->j", W, W)
            self._bquad = quad
        return self._bquad

    def _block_one_minus(self):
        return 1.0 - self.d * self._block_quadratic()

    def _whiten(self, G, overwrite=False):
        """``W`` with ``WᵀW = Gᵀ S⁻¹ G``: ``L⁻¹ G`` or ``Fᵀ G``."""
        if self._chol is not None:
            return sla.solve_triangular(
                self._chol, G, lower=True, check_finite=False, overwrite_b=overwrite
            )
        return self._F.T @ G

    def _block_solve(self, G):
        if self._chol is not None:
            return sla.cho_solve((self._chol, True), G, check_finite=False)
        return self._F @ (self._F.T @ G)

    def _block_inner(self, idx):
        W = self._whiten(self._block.rows(idx).T)
        return W.T @ W


class DualCurvature(_LinearCurvature):
    """Factor ``B = I + D^½ B̃ Λ⁻¹ B̃ᵀ D^½`` (n × n): O(n² p + n³/3) time, O(n²) memory.

    The Cholesky factor of ``B`` is the only n × n array kept (built in place from
    the kernel; kernel rows needed later are recomputed, O(k · nnz(X)) for k rows);
    leverages (the diagonal of ``B⁻¹``, another n³/3 flops and a temporary n × n
    triangular inverse) are computed on first use.

    Requires a positive penalty on every coefficient (``B̃`` is the centred ``X``, or
    ``X̃`` with a penalised intercept). ``S⁻¹ = Λ⁻¹ − Λ⁻¹B̃ᵀD^½B⁻¹D^½B̃Λ⁻¹`` and
    ``1 − d_i b̃_iᵀS⁻¹b̃_i = (B⁻¹)_ii``.
    """

    def _factor(self, block, d, penalty):
        if not np.all(penalty > 0):
            raise ValueError("The dual form needs a positive penalty on every coefficient.")
        self._block = block
        self._inv_pen = 1.0 / penalty
        self._kernel_args = (self._inv_pen[0], self._inv_pen[-1] if block.fit_intercept else 0)
        self._root = np.sqrt(d)
        # B = I + D^½ K D^½ in place on the kernel: the factor is the only n × n
        # array kept (kernel rows needed later are recomputed from X).
        B = block.kernel(*self._kernel_args)
        B *= self._root[:, None]
        B *= self._root[None, :]
        B[np.diag_indices_from(B)] += 1.0
        # B is symmetric: its transpose is the same matrix in Fortran order, which
        # LAPACK factors in place (no copy).
        L, info = lapack.dpotrf(B.T, lower=1, clean=1, overwrite_a=1)
        if info != 0:  # pragma: no cover - B ⪰ I is always positive definite
            raise np.linalg.LinAlgError("Cholesky failed on I + D^½KD^½")
        self._chol = L
        self._diag_inv = None
        return block.n_params

    def _diag_B_inverse(self):
        """``diag(B⁻¹)``: squared column norms of ``L⁻¹`` (one triangular inverse, n³/3)."""
        if self._diag_inv is None:
            Linv, info = lapack.dtrtri(self._chol, lower=1)
            if info != 0:  # pragma: no cover - L has a positive diagonal
                raise np.linalg.LinAlgError("Triangular inverse of the Cholesky factor failed.")
            self._diag_inv = np.einsum("ij,ij->j", Linv, Linv)
        return self._diag_inv

    def _block_one_minus(self):
        return self._diag_B_inverse().copy()

    def _block_quadratic(self):
        """``(1 − (B⁻¹)_ii) / d_i``; rows with ``d_i = 0`` from their kernel rows."""
        d = self.d
        quad = np.empty(d.shape[0])
        pos = d > 0
        quad[pos] = (1.0 - self._diag_B_inverse()[pos]) / d[pos]
        zero = np.flatnonzero(~pos)
        for start in range(0, zero.size, 256):
            idx = zero[start : start + 256]
            KT = self._block.kernel_rows(idx, *self._kernel_args)
            W = self._B_solve(self._root[:, None] * KT.T)
            quad[idx] = KT[np.arange(idx.size), idx] - np.einsum("ij,ji->i", KT * self._root, W)
        return quad

    def _B_solve(self, R):
        return sla.cho_solve((self._chol, True), R, check_finite=False)

    def _block_solve(self, V):
        LV = self._inv_pen[:, None] * V
        inner = self._root[:, None] * self._B_solve(self._root[:, None] * self._block.matvec(LV))
        return LV - self._inv_pen[:, None] * self._block.rmatvec(inner)

    def _block_inner(self, idx):
        KT = self._block.kernel_rows(idx, *self._kernel_args)
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
