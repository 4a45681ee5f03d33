"""The dual factorization of the rank-one kind, and the choice between the two forms.

:class:`DualCurvature` answers what :class:`~skrif._removal.rank_one.PrimalCurvature`
answers (solves, leverages, inner products of rows, leave-T-out solves) when
``p̃ > n`` and every coefficient is penalised: Cholesky of the n × n matrix
``B = I + D^½ X_c Λ⁻¹ X_cᵀ D^½``, with no p̃ × p̃ matrix, and ``1 − h_i`` from the
diagonal of ``B⁻¹`` without cancellation. :func:`factor_curvature` chooses the form
(see :mod:`skrif._removal.rank_one` for the shared algebra and the centring).
"""

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas, lapack

from .rank_one import PrimalCurvature, _LinearCurvature


class DualCurvature(_LinearCurvature):
    """Factor ``B = I + D^½ B̃ Λ⁻¹ B̃ᵀ D^½`` (n × n): O(n² p + n³/3) time, O(n²) memory.

    The Cholesky factor of ``B`` is the only n × n array kept (built in place from
    the kernel; kernel rows needed later are recomputed, O(k · nnz(X)) for k rows);
    leverages (the diagonal of ``B⁻¹``, another n³/3 flops and a temporary n × n
    triangular inverse) are computed on first use.

    Requires a positive penalty on every coefficient (``B̃`` is the centred ``X``, or
    ``X̃`` with a penalised intercept). ``S⁻¹ = Λ⁻¹ − Λ⁻¹B̃ᵀD^½B⁻¹D^½B̃Λ⁻¹`` and
    ``1 − d_i b̃_iᵀS⁻¹b̃_i = (B⁻¹)_ii``. Solves with training rows use the
    push-through form ``S⁻¹B̃ᵀ = Λ⁻¹B̃ᵀ(I + DK)⁻¹`` instead, which subtracts nothing.
    """

    form = "dual"

    def _bind_rows(self, **per_row):
        raise NotImplementedError("The dual form's n × n factor belongs to its own rows.")

    def residuals_need_recomputing(self):
        # A solve with the existing n × n factor: always affordable.
        return True

    def _factor(self, block, d, penalty):
        coefs = penalty[: self.design.n_features]
        if not np.all(penalty > 0) or (coefs.size and np.ptp(coefs) > 0):
            raise ValueError("The dual form needs one positive penalty on every coefficient.")
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
        # BLAS and LAPACK update and factor in place (no n × n copy or temporary).
        B = B.T
        self._house = None
        if self._border:
            # With the intercept eliminated, I − (weighted hat matrix) = Π B⁻¹ Π,
            # Π = I − uuᵀ, u = D^½1/‖D^½1‖, and B u = u. A Householder reflector
            # R = I − βvvᵀ (R u = ±e_1) splits B = R diag(1, B_Q) R with
            # B_Q = QᵀBQ over u⊥: then Π B⁻¹ Π = Q B_Q⁻¹ Qᵀ, and 1 − h_i and the
            # set capacitance are sums of squares of L_Q⁻¹Qᵀe_i — no subtraction of
            # nearly equal numbers (the expanded (B⁻¹)_ii − d_i/δ loses them all).
            # R B R = B − v wᵀ − w vᵀ is one symmetric rank-2 update in place; its
            # first row and column are (1, 0, …, 0) exactly, so the factor of the
            # whole array is diag(1, L_Q).
            u = self._root / np.linalg.norm(self._root)
            v = u.copy()
            v[0] += np.copysign(1.0, u[0])
            beta = 2.0 / (v @ v)
            pvec = beta * (B @ v)
            w = pvec - 0.5 * beta * (v @ pvec) * v
            B = blas.dsyr2(-1.0, v, w, a=B, lower=1, overwrite_a=1)
            B[:, 0] = 0.0
            B[0, :] = 0.0
            B[0, 0] = 1.0
            self._house = (v, beta)
        L, info = lapack.dpotrf(B, lower=1, clean=1, overwrite_a=1)
        if info != 0:  # pragma: no cover - B ⪰ I is always positive definite
            raise np.linalg.LinAlgError("Cholesky failed on I + D^½KD^½")
        self._chol = L
        self._diag_inv = None
        self._border_one_minus = None
        return block.n_params

    def _reflect(self, R):
        """``(I − βvvᵀ) R`` for ``R`` of shape (n, m)."""
        v, beta = self._house
        return R - np.outer(v, beta * (v @ R))

    def _Q_rows(self, idx):
        """``Qᵀ E_T`` (n, k), padded with a zero first row (the factor is
        ``diag(1, L_Q)``): rows 2..n of the reflector's columns ``idx``."""
        v, beta = self._house
        out = -beta * np.outer(v, v[idx])
        out[0] = 0.0
        hit = np.flatnonzero(idx > 0)
        out[idx[hit], hit] += 1.0
        return out

    def _Y(self, idx):
        """``Y_T`` with ``Y_TᵀY_T = (I − B̂)_TT`` (B̂ the weighted hat matrix)."""
        E = self._Q_rows(idx) if self._house is not None else np.eye(self.design.n_samples)[:, idx]
        return sla.solve_triangular(self._chol, E, lower=True, check_finite=False)

    def _compute_one_minus_leverage(self):
        out = (self._diag_B_inverse() if self._house is None else self._one_minus_border()).copy()
        out[self.d == 0] = 1.0  # h_i = d_i x̃_iᵀH⁻¹x̃_i is exactly 0
        return out

    def _one_minus_border(self):
        """``‖L_Q⁻¹Qᵀe_i‖²`` for every row: the columns of ``L⁻¹ − β (L⁻¹v₀) vᵀ`` with
        ``v₀`` = ``v`` off its first entry, from one triangular inverse (n³/3 flops,
        one n × n temporary) and a rank-one update in place."""
        if self._border_one_minus is None:
            v, beta = self._house
            Linv = self._triangular_inverse()
            v0 = v.copy()
            v0[0] = 0.0
            z = Linv @ v0
            Linv[:, 0] = 0.0  # column 0 of Qᵀ is −β v_0 v₀
            Linv = blas.dger(-beta, z, v, a=Linv, overwrite_a=1)
            self._border_one_minus = np.einsum("ij,ij->j", Linv, Linv)
        return self._border_one_minus

    def _triangular_inverse(self):
        Linv, info = lapack.dtrtri(self._chol, lower=1)
        if info != 0:  # pragma: no cover - L has a positive diagonal
            raise np.linalg.LinAlgError("Triangular inverse of the Cholesky factor failed.")
        return Linv

    def _capacitance(self, idx, W=None, M=None):
        Y = self._Y(np.asarray(idx))
        return Y.T @ Y

    def _rows_times_solve(self, rows, G):
        """``X̃[rows] H⁻¹ G`` through the push-through identity
        ``B̃S⁻¹ = (I + KD)⁻¹B̃Λ⁻¹ = D^-½B⁻¹D^½ B̃Λ⁻¹`` (every ``d_i > 0``): one product
        of ``X`` with ``G`` and one solve with the n × n factor, O(nnz(X) m + n² m),
        and no p̃ × m temporary beyond ``G``. Intercept eliminated:
        ``x̃_i·H⁻¹g = b̃_i·S⁻¹(g_w − x̄ g_b) + g_b/δ``."""
        if not np.all(self._root > 0):
            return super()._rows_times_solve(rows, G)
        if self._border:
            gb = G[-1]
            Gc = G[:-1] - np.outer(self._mean, gb)
        else:
            Gc = G
        U = self._block.matvec(self._inv_pen[:, None] * Gc)  # B̃Λ⁻¹G (n, m)
        U *= self._root[:, None]
        out = self._B_solve(U)
        out /= self._root[:, None]
        if self._border:
            out += gb[None, :] / self._delta
        return out[rows]

    _dual_effects = True

    def _effect_blocks(self, G):
        yield slice(None), self._rows_times_solve(slice(None), G)

    def _set_inner(self, idx):
        """``(M_T, exact)`` without a p̃ × k block solve, O(n² k).

        Where every ``d_i > 0`` in the set, from the exact capacitance
        (:meth:`_capacitance`, ``C_T = I − D_T^½ M_T D_T^½`` from the n × n factor):
        ``M_T = D_T^-½ (I − C_T) D_T^-½``. A product of kernel rows gives the same
        matrix with an absolute error near ``cond(B)·ε``, which the group step
        multiplies by ``C_T⁻¹`` — about ``1/(1 − h)`` for rows of leverage near 1
        (1e-9 relative errors at ``1 − h = 1e-7``, where this form keeps 1e-14).
        """
        idx = np.asarray(idx)
        root = np.sqrt(self.d[idx])
        if np.all(root > 0):
            C = self._capacitance(idx)  # once: the set step needs it as well
            M = -C
            M[np.diag_indices_from(M)] += 1.0
            M /= root[:, None] * root[None, :]
            return 0.5 * (M + M.T), lambda: C
        M = self.inner(idx)
        return 0.5 * (M + M.T), lambda: self._capacitance(idx)

    def _weighted_residuals(self, B):
        if self._house is None:
            return self._B_solve(B)
        RR = self._reflect(B)
        RR[0] = 0.0  # Π removes the u direction
        RR = sla.cho_solve((self._chol, True), RR, check_finite=False)
        return self._reflect(RR)

    _exact_capacitance = None

    def _diag_B_inverse(self):
        """``diag(B⁻¹)``: squared column norms of ``L⁻¹`` (one triangular inverse, n³/3);
        with the reflector, ``(ΠB⁻¹Π)_ii + u_i²``."""
        if self._diag_inv is None and self._house is not None:
            self._diag_inv = self._one_minus_border() + self._root**2 / self._delta
        if self._diag_inv is None:
            Linv = self._triangular_inverse()
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
        if self._house is None:
            return sla.cho_solve((self._chol, True), R, check_finite=False)
        RR = self._reflect(np.asarray(R, dtype=float).reshape(R.shape[0], -1))
        RR = sla.cho_solve((self._chol, True), RR, check_finite=False)
        return self._reflect(RR).reshape(R.shape)

    def _block_solve(self, V):
        LV = self._inv_pen[:, None] * V
        inner = self._root[:, None] * self._B_solve(self._root[:, None] * self._block.matvec(LV))
        return LV - self._inv_pen[:, None] * self._block.rmatvec(inner)

    def _block_inner(self, idx):
        KT = self._block.kernel_rows(idx, *self._kernel_args)
        return KT[:, idx] - (KT * self._root) @ self._B_solve(self._root[:, None] * KT.T)

    def _block_rows_solve(self, idx, coeffs):
        """``S⁻¹B̃_TᵀC = Λ⁻¹B̃ᵀ y``, ``y = (I + DK)⁻¹ E_T C`` (n, m), by parts:
        rows with ``d_i > 0`` give ``D^½B⁻¹D^-½ e`` (no subtraction), rows with
        ``d_i = 0`` give ``e − D^½B⁻¹D^½K e``. Cost O(n² m + nnz(X) m)."""
        n = self.design.n_samples
        k = idx.size
        C = np.eye(k) if coeffs is None else np.asarray(coeffs, dtype=float)
        m = C.shape[1]
        root = self._root
        pos = root[idx] > 0
        E = np.zeros((n, m))
        if np.any(pos):
            E[idx[pos]] = C[pos] / root[idx[pos], None]
            y = root[:, None] * self._B_solve(E)
        else:
            y = np.zeros((n, m))
        if not np.all(pos):
            zi = idx[~pos]
            Cz = C[~pos]
            KT = self._block.kernel_rows(zi, *self._kernel_args)  # (kz, n)
            y -= root[:, None] * self._B_solve(root[:, None] * (KT.T @ Cz))
            np.add.at(y, zi, Cz)
        return self._inv_pen[:, None] * self._block.rmatvec(y)


def factor_curvature(design, d, penalty_coef, penalty_intercept, mode="auto"):
    """Factor ``H = X̃ᵀ diag(d) X̃ + Λ`` in the cheaper of the two forms.

    Parameters
    ----------
    design : AugmentedDesign
    d : ndarray of shape (n_samples,)
        Non-negative per-row curvature.
    penalty_coef : float or ndarray of shape (n_features,)
        Diagonal L2 penalty on the coefficients (one value, or one per column).
    penalty_intercept : float
        The L2 penalty on the intercept.
    mode : {"auto", "primal", "dual"}
        "auto" uses the dual form when there are at least as many parameters as rows
        and every coefficient is penalised.
    """
    if mode == "auto":
        # p̃ ≥ n: the dual costs no more, and near interpolation (p̃ ≈ n) its
        # I − Ĥ = λ-form solves are exact where the primal loses θ̂'s digits.
        uniform = np.ndim(penalty_coef) == 0
        mode = "dual" if (design.n_params >= design.n_samples and uniform and penalty_coef > 0) else "primal"
    cls = DualCurvature if mode == "dual" else PrimalCurvature
    return cls(design, np.asarray(d, dtype=float), penalty_coef, penalty_intercept)
