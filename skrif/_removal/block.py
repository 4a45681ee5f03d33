"""Hessians with coupled outputs: multinomial logistic regression (primal and dual).

Parameters are ``θ`` of shape (K, p̃) (one row per class, intercept last), flattened
class-major (``θ.ravel()``). Row i's term has gradient ``g_i = r_i ⊗ x̃_i`` and Hessian

    H_i = A_i ⊗ x̃_i x̃_iᵀ,     A_i = c s_i (diag(p_i) − p_i p_iᵀ)   (K × K, rank K − 1),

so ``H = Σ_i H_i + I_K ⊗ Λ`` is (K p̃) × (K p̃). With ``V_i = I_K ⊗ x̃_iᵀ`` (K × K p̃),
``H_i = V_iᵀ A_i V_i`` and ``g_i = V_iᵀ r_i``, and Woodbury gives the leave-one-out
Newton step (= RIF) through a K × K system per row:

    (H − H_i)⁻¹ g_i = H⁻¹ V_iᵀ c_i,     c_i = (I_K − A_i M_i)⁻¹ r_i,   M_i = V_i H⁻¹ V_iᵀ,

the K-output analogue of ``r_i / (1 − h_i)``; ``RIF(T) = H⁻¹ Σ_T c_i ⊗ x̃_i`` is one
solve. The group Newton step is the same with a kK × kK system.

**Null space (symmetric parametrization).** Adding the same vector to every class's
parameters leaves the probabilities unchanged, so with an unpenalised intercept
``H`` is singular along ``N = 1_K ⊗ e_b`` (and along ``1_K ⊗ e_j`` for every feature
too when ``C = inf``). scikit-learn returns the symmetric solution (``Σ_k coef_k = 0``
and ``Σ_k intercept_k = 0``); every ``g_i`` and every ``H_i`` is orthogonal to ``N``
(``A_i 1 = 0``, ``Σ_k r_ik = 0``). skrif solves with the pseudo-inverse: it factors
``H' = H + N diag(σ) Nᵀ`` (positive definite; ``σ_j`` the mean diagonal of ``H`` on direction j's coordinates, see :func:`~skrif._linalg.factor.shift_null_space`) and
projects right-hand sides and results onto ``N⊥``. On ``N⊥``, ``H'⁻¹ = H⁺`` and
``(H' − H_i)⁻¹ = (H − H_i)⁺`` (because ``A_i 1 = 0`` the shift never enters
``A_i M_i``), so every estimate is the minimum-norm change, which keeps
``Σ_k Δcoef_k = 0`` and ``Σ_k Δintercept_k = 0`` like scikit-learn's refits. If ``H'``
is still singular (collinear features without a penalty), an eigendecomposition
pseudo-inverse is used instead (then reported by ``singular``).

Cost: forming ``H`` O(n K² p̃²), factoring O(K³ p̃³), the per-row ``M_i`` by
triangular solves O(n K³ p̃²) in row chunks, each removed row O(K³) after that;
memory O(K² p̃² + n K²) in the primal form (:class:`BlockCurvature`). When
``p̃ > n`` and every coefficient is penalised, :class:`DualBlockCurvature` works
with nK × nK matrices instead: O(n² p + (nK)³) time, O((nK)²) memory.
"""

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas

from .._linalg.design import AugmentedDesign, _symmetrize_lower
from .._linalg.factor import SINGULAR_RTOL, SPDFactor, shift_null_space
from .._linalg.inverse import InverseCheck, probe_rows, verdict
from ..exceptions import NotPositiveDefiniteError
from .base import (
    _ROW_BLOCK,
    ADDITIVE,
    Curvature,
    _check_method,
    _fraction_one_minus,
    _step_table,
)
from .leverage import BLOCK_LEVERAGE_TOL
from .penalty_share import column_means


class BlockCurvature(Curvature):
    """Factored multinomial Hessian with exact per-row (K × K) removal algebra.

    Parameters
    ----------
    design : AugmentedDesign
    A : ndarray of shape (n_samples, K, K)
        Per-row curvature blocks ``c s_i (diag(p_i) − p_i p_iᵀ)``.
    penalty_coef, penalty_intercept : float
        The diagonal L2 penalty ``Λ``, the same for every class.

    Notes
    -----
    :meth:`solve` takes either one θᵀ-shaped array (n_params, K) — a single vector,
    as in a Newton step — or flattened vectors as columns (K · n_params, m).
    ``one_minus_leverage`` is ``1 − h_i`` with ``h_i`` the largest eigenvalue of
    ``A_i M_i`` (the worst-direction leverage; ``1/(1 − h_i)`` bounds how much RIF
    amplifies IF for row i). ``rank`` counts ``N`` as missing; ``singular`` is only
    true when ``H`` is singular beyond that parametrization null space.
    """

    #: ``1 − h_i = 1 − λ_max(A_i M_i)`` cancels near 1 (see :mod:`skrif._removal.leverage`).
    leverage_tol = BLOCK_LEVERAGE_TOL

    def __init__(self, design, A, penalty_coef, penalty_intercept):
        super().__init__(design, None)
        self.A = np.asarray(A, dtype=float)
        K = self.A.shape[1]
        xbar = _centring_shift(design, penalty_intercept)
        self._factor(_block_hessian(design, self.A, xbar), K, xbar, penalty_coef,
                     penalty_intercept)

    @classmethod
    def from_gram(cls, gram, n_classes, n_features, fit_intercept, penalty_coef,
                  penalty_intercept, shift=None):
        """The factorization from the summed Gram ``Σ_i A_i ⊗ b_i b_iᵀ`` ((K p̃)²,
        class-major) over rows ``b_i = [x_i − shift, 1]`` instead of the rows (Dask).

        ``shift`` must be the column means when the intercept is fitted and
        unpenalised (the centred coordinates of the class docstring), else ``None``.
        Bind rows with :meth:`on_rows`. O((K p̃)³).
        """
        design = AugmentedDesign(np.zeros((0, n_features)), fit_intercept)
        self = cls.__new__(cls)
        Curvature.__init__(self, design, None)
        self.A = np.zeros((0, n_classes, n_classes))
        xbar = None if shift is None else np.asarray(shift, dtype=float)
        self._factor(np.array(gram, dtype=float), n_classes, xbar, penalty_coef, penalty_intercept)
        return self

    def _factor(self, H, K, xbar, penalty_coef, penalty_intercept):
        """Factor ``H`` ((K p̃)², centred by ``xbar``) plus the penalty, shifted on ``N``."""
        pt = self.design.n_params
        self.n_classes = K
        self.n_params = K * pt
        self._xbar = xbar
        pen = np.full(pt, float(penalty_coef))
        if self.design.fit_intercept:
            pen[-1] = penalty_intercept
        H[np.diag_indices_from(H)] += np.tile(pen, K)
        # Parametrization null space N = 1_K ⊗ e_j / √K for unpenalised j.
        free = np.flatnonzero(pen == 0)
        N = np.zeros((K, pt, free.size))
        N[:, free, np.arange(free.size)] = 1.0 / np.sqrt(K)
        self._N = N.reshape(K * pt, free.size)
        self._n_null = free.size
        Hp = shift_null_space(H, self._N)
        del H
        # Scale-invariant rank decision on H' (SPDFactor); H' is positive definite
        # whatever the data when every coefficient is penalised.
        self._spd = SPDFactor(Hp, penalised=bool(penalty_coef > 0))
        self._chol = self._spd.chol
        # N is in H''s range by construction (eigenvalues σ_j): not a missing direction.
        self.rank = self._spd.rank - self._n_null
        self._M_cache = None
        self._one_minus = None

    def _bind_rows(self, M=None):
        """Rows bound by :meth:`on_rows`: their blocks ``A_i`` are passed as ``d``."""
        self.A, self.d = np.asarray(self.d, dtype=float), None
        self._M_cache = None if M is None else np.asarray(M, dtype=float)
        self._amp_cache = None
        self._single_row_cache = None

    #: How the per-row blocks were computed (:class:`~skrif._linalg.inverse.InverseCheck`).
    inverse_check = None

    @property
    def _M(self):
        """Per-row K × K blocks ``M_i = V_i H⁺ V_iᵀ`` (computed on first use: Newton
        steps of a refit never need them), the cheaper exact way.

        Solves: whitened expanded rows, ``n K (K p̃)²/2`` multiply-adds. Explicit
        ``H⁺`` (``(K p̃)³/3`` more, and K p̃ × K p̃ memory): ``M_i[k, l] =
        x̃_iᵀ(H⁺)_{kl}x̃_i`` by GEMMs, ``n K(K+1)/2 p̃²`` — K times fewer. The explicit
        route is checked against solves on probe rows (``inverse_check``).
        """
        if self._M_cache is None:
            n, K, _ = self.A.shape
            pt = self.design.n_params
            inverse = float(K * pt) ** 3 / 3.0 + n * K * (K + 1) / 2.0 * pt * pt
            solves = n * K * float(K * pt) ** 2 / 2.0
            reason = f"cost model: inverse {inverse:.3g} vs solves {solves:.3g} multiply-adds"
            self.inverse_check = InverseCheck("solve", reason)
            M = None
            if inverse < solves and self._spd.chol is not None:
                M = self._blocks_from_inverse()
                probes = probe_rows(np.abs(M).max(axis=(1, 2)))
                reference = self._solved_blocks(probes)
                scale = np.maximum(np.abs(reference).max(axis=(1, 2)), np.finfo(float).tiny)
                err = float(np.max(np.abs(M[probes] - reference).max(axis=(1, 2)) / scale))
                self.inverse_check = verdict(err, probes.size, reason)
                if self.inverse_check.strategy != "inverse":
                    M = None
            if M is None:
                M = self._solved_blocks(slice(None))
            self._M_cache = M
        return self._M_cache

    def _solved_blocks(self, rows):
        """``M_i`` for ``rows`` by whitened expanded rows (n_rows, K, K)."""
        n, K, _ = self.A.shape
        pt = self.design.n_params
        idx = np.arange(n)[rows]
        M = np.empty((idx.size, K, K))
        chunk = max(1, 2**22 // (K * K * pt))
        for start in range(0, idx.size, chunk):
            part = idx[start : start + chunk]
            W = self._whiten(self._expand(self._rows(part)))  # (r, Kp̃', K)
            M[start : start + part.size] = np.einsum("rak,ral->rkl", W, W)
        return M

    def _blocks_from_inverse(self):
        """``M_i`` for every row from the explicit ``H⁺ = P H'⁻¹ P`` (P: off the
        null space), by GEMMs with its blocks ``(H⁺)_{k, k:}`` for row chunks."""
        n, K, _ = self.A.shape
        pt = self.design.n_params
        Hinv = self._spd.inverse()
        if self._n_null:
            N = self._N
            Hinv -= N @ (N.T @ Hinv)
            Hinv -= (Hinv @ N) @ N.T
        M = np.empty((n, K, K))
        step = max(1, (1 << 21) // (K * pt))
        for start in range(0, n, step):
            sl = slice(start, min(start + step, n))
            R = self._rows(sl)
            for k in range(K):
                T = (R @ Hinv[k * pt : (k + 1) * pt, k * pt :]).reshape(R.shape[0], K - k, pt)
                vals = np.einsum("rlp,rp->rl", T, R)
                M[sl, k, k:] = vals
                M[sl, k:, k] = vals
        return M

    @property
    def one_minus_leverage(self):
        if self._one_minus is None:
            AM = self.A @ self._M
            self._one_minus = 1.0 - np.max(np.linalg.eigvals(AM).real, axis=1)
        return self._one_minus

    kind = "block"

    @property
    def singular(self):
        return self.rank < self.n_params - self._n_null

    def _expand(self, rows):
        """``V_iᵀ`` for each row: shape (r, K p̃, K) with column k = e_k ⊗ x̃_i."""
        r, pt = rows.shape
        K = self.n_classes
        out = np.zeros((r, K, pt, K))
        for k in range(K):
            out[:, k, :, k] = rows
        return out.reshape(r, K * pt, K)

    def _whiten(self, G):
        """``W`` with ``WᵀW = Gᵀ H⁺ G`` on the last two axes of G (…, K p̃, m)."""
        shape = G.shape
        flat = np.moveaxis(G, -2, 0).reshape(shape[-2], -1)
        W = self._spd.whiten(self._project(flat))
        W = W.reshape((W.shape[0],) + shape[:-2] + shape[-1:])
        return np.moveaxis(W, 0, -2)

    def _project(self, G):
        """Remove the null-space component: ``(I − N Nᵀ) G``."""
        if not self._n_null:
            return G
        return G - self._N @ (self._N.T @ G)

    def _solve_flat(self, G):
        return self._project(self._spd.solve(self._project(G)))

    def _rows(self, idx):
        """Design rows in centred coordinates ``[x_i − x̄, 1]`` (see ``_centring_shift``)."""
        rows = self.design.rows(idx)
        if self._xbar is not None:
            rows[:, : self.design.n_features] -= self._xbar
        return rows

    def solve(self, G):
        G = np.array(G, dtype=float)
        K, pt = self.n_classes, self.design.n_params
        single = G.shape[0] == pt and G.ndim == 2 and G.shape[1] == K
        blocks = G.T.reshape(K, pt, 1) if single else G.reshape(K, pt, -1)
        if self._xbar is not None:  # gradients into centred coordinates (Tᵀ g)
            blocks[:, :-1, :] -= self._xbar[None, :, None] * blocks[:, -1:, :]
        out = self._solve_flat(blocks.reshape(K * pt, -1)).reshape(K, pt, -1)
        if self._xbar is not None:  # parameters back (T d)
            out[:, -1, :] -= np.einsum("j,kjm->km", self._xbar, out[:, :-1, :])
        return out[:, :, 0].T if single else out.reshape(K * pt, -1)

    def inner(self, idx):
        """``V_T H⁺ V_Tᵀ`` (kK × kK), rows ordered (row, class)."""
        W = self._whiten(self._expand(self._rows(idx)))  # (k, Kp̃, K)
        W = np.moveaxis(W, 0, 1).reshape(W.shape[1], -1)
        return W.T @ W

    @property
    def _amplifiers(self):
        """``(I − A_i M_i)⁻¹`` for every row (n, K, K), NaN at leverage one (cached)."""
        if getattr(self, "_amp_cache", None) is None:
            K = self.n_classes
            C = np.eye(K) - self.A @ self._M
            bad = self.one_minus_leverage <= self.leverage_tol
            C[bad] = np.eye(K)
            amp = np.linalg.inv(C)  # K × K per row: batched, tiny
            amp[bad] = np.nan
            self._amp_cache = amp
        return self._amp_cache

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        """``Δ_i[k]·G[:, j]`` (len(rows), K, m) without forming the steps: one solve
        ``S = H⁺(I_K ⊗ G)`` with K m columns, then ``Σ_l c_il x̃_i·S_l``.

        O((K p̃)² K m + n K² p̃ m) — K× the binary cost at the same parameter count.
        """
        rows = self._row_index(slice(None) if rows is None else rows)
        K, pt = self.n_classes, self.design.n_params
        G = np.asarray(G, dtype=float)
        m = G.shape[1]
        Gbig = np.zeros((K, pt, K, m))
        for k in range(K):
            Gbig[k, :, k, :] = G
        S = self.solve(Gbig.reshape(K * pt, K * m)).reshape(K, pt, K * m)
        S2 = np.ascontiguousarray(S.transpose(1, 0, 2).reshape(pt, K * K * m))
        out = np.empty((rows.size, K, m))
        for start in range(0, rows.size, _ROW_BLOCK):
            sl = rows[start : start + _ROW_BLOCK]
            c = self._row_coefficients(sl, d1, method, fraction)  # (r, K)
            X = self.design.rows(sl)  # (r, p̃)
            XS = (X @ S2).reshape(X.shape[0], K, K * m)
            acc = np.einsum("rl,rla->ra", c, XS, optimize=True)
            out[start : start + sl.size] = acc.reshape(-1, K, m)
        return out

    def _row_coefficients(self, rows, d1, method, fraction):
        """``c_i`` (k, K) with ``Δ_i = H⁺ (c_i ⊗ x̃_i)``: ``t r_i`` ("if") or
        ``t (I − t A_i M_i)⁻¹ r_i`` ("rif"; batched K × K solves, NaN at leverage one)."""
        _check_method(method, ADDITIVE)
        t = float(fraction)
        r = t * np.asarray(d1[rows], dtype=float)
        if method == "if":
            return r
        one_minus = _fraction_one_minus(self.one_minus_leverage[rows], t)
        bad = self._guard(one_minus, rows)
        if t == 1.0:
            amp = self._amplifiers[rows]
            return sum(amp[:, :, l] * r[:, l : l + 1] for l in range(r.shape[1]))
        K = self.n_classes
        C = np.eye(K) - t * (self.A[rows] @ self._M[rows])
        C[bad] = np.eye(K)
        c = np.linalg.solve(C, r[:, :, None])[:, :, 0]
        c[bad] = np.nan
        return c

    def _steps_from(self, rows, c):
        """``H⁺ (c_i ⊗ x̃_i)`` for each row: (k, K, p̃), one solve with k columns."""
        K, pt = self.n_classes, self.design.n_params
        X = self.design.rows(rows)  # (k, p̃)
        G = np.einsum("ik,ij->kji", c, X).reshape(K * pt, -1)
        out = self.solve(np.nan_to_num(G)).reshape(K, pt, -1)
        out = np.moveaxis(out, -1, 0)
        out[np.isnan(c).any(axis=1)] = np.nan
        return out

    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        """Single-row changes (len(rows), K, p̃): batched K × K systems and one
        solve per block of rows (O(len(rows) K² p̃²) primal)."""
        rows = self._row_index(rows)
        out = _step_table(out, rows.size, self.n_classes, self.design.n_params)
        for start in range(0, rows.size, _ROW_BLOCK):
            sl = rows[start : start + _ROW_BLOCK]
            out[start : start + sl.size] = self._steps_from(
                sl, self._row_coefficients(sl, d1, method, fraction)
            )
        return out

    def self_change(self, d1, theta, method, fraction=1.0):
        """``x̃_i·Δ_i[k] = (M_i c_i)_k`` (n, K): O(n K²) after the blocks ``M_i``."""
        c = self._row_coefficients(self._row_index(slice(None)), d1, method, fraction)
        M = self._M
        return sum(M[:, :, l] * c[:, l : l + 1] for l in range(c.shape[1]))

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        """``Δθ`` (K, p̃) for reweighting rows ``idx`` by ``1 − t``.

        "newton": ``H⁺ V_Tᵀ (I − t A_T M_T)⁻¹ t r_T`` (a kK × kK system).
        """
        idx = np.asarray(idx)
        K = self.n_classes
        rows = self.design.rows(idx)
        if method in ADDITIVE:
            c = self._row_coefficients(idx, d1, method, fraction)
            if np.isnan(c).any():
                return np.full_like(np.asarray(theta, dtype=float), np.nan)
            return self.solve(rows.T @ c).T
        _check_method(method, ADDITIVE + ("newton",))
        t = float(fraction)
        r = t * np.asarray(d1[idx], dtype=float)
        k = len(idx)
        M = self.inner(idx)
        A_T = sla.block_diag(*self.A[idx])
        C = np.eye(k * K) - t * (A_T @ M)
        # C is similar to I − t A½ M A½ (symmetric): its eigenvalues are real.
        ev = np.linalg.eigvals(C).real
        # Each row's A_i has a null vector 1_K, which contributes eigenvalue 1.
        if not ev.min() > SINGULAR_RTOL:
            raise NotPositiveDefiniteError(
                "Removing these rows leaves a Hessian that is not positive definite: "
                "the remaining rows do not determine every parameter."
            )
        c = np.linalg.solve(C, r.reshape(-1)).reshape(k, K)
        return self.solve(rows.T @ c).T


class DualBlockCurvature(BlockCurvature):
    """Multinomial Hessian in the dual form, for ``p̃ > n`` (no (K p̃)² matrix).

    With ``R_i = A_i^½`` and ``Z`` the nK × Kp matrix of rows ``R_iᵀ ⊗ x_iᵀ``, the
    coefficient block is ``H_ww = λ I + ZᵀZ`` and Woodbury gives
    ``H_ww⁻¹ = (I − Zᵀ B⁻¹ Z) / λ`` with ``B = λ I + R (XXᵀ ⊗ I_K) R`` (nK × nK,
    Cholesky). An unpenalised intercept is reparametrized as ``b = Qβ`` with ``Q`` an
    orthonormal basis of ``1_K⊥`` (this is the pseudo-inverse on the symmetric
    parametrization, as in the primal form) and eliminated by its
    (K − 1) × (K − 1) Schur complement ``S = H_ββ − H_βw H_ww⁻¹ H_wβ``.

    Requires ``penalty_coef > 0`` and an unpenalised (or no) intercept. Cost
    O(n² p + (nK)³) time and O((nK)²) memory; every other quantity (per-row K × K
    blocks, solves, leave-T-out blocks) is read off the factorization.
    """

    form = "dual"

    def _bind_rows(self, **per_row):
        raise NotImplementedError("The dual form's nK × nK factor belongs to its own rows.")

    def __init__(self, design, A, penalty_coef, penalty_intercept):
        if not penalty_coef > 0 or (design.fit_intercept and penalty_intercept != 0):
            raise ValueError("The dual multinomial form needs λ_w > 0 and an unpenalised intercept.")
        Curvature.__init__(self, design, None)
        self.A = np.asarray(A, dtype=float)
        n, K, _ = self.A.shape
        self.n_classes = K
        self.n_params = K * design.n_params
        self._lam = float(penalty_coef)
        X = design.X
        self._xbar = _centring_shift(design, penalty_intercept)
        self._kern = _centred_kernel(X, self._xbar)
        evals, evecs = np.linalg.eigh(self.A)
        self._R = (evecs * np.sqrt(np.clip(evals, 0.0, None))[:, None, :]) @ np.swapaxes(evecs, 1, 2)
        # F = R (XXᵀ ⊗ I_K): (nK × nK), rows/columns ordered (row, class).
        Rb = self._R  # (n, K, K)
        RK = np.einsum("ikl,ij->iljk", Rb, self._kern).reshape(n * K, n * K)
        # B = λ I + R (Kern ⊗ I) R: block (i, j) = R_i Kern_ij R_j.
        B = np.einsum("ikl,ij,jlm->ikjm", Rb, self._kern, Rb).reshape(n * K, n * K)
        B[np.diag_indices_from(B)] += self._lam
        self._chol = sla.cholesky(B, lower=True, check_finite=False)
        self._RK = RK
        self._n_null = 1 if design.fit_intercept else 0
        self._border = design.fit_intercept
        if self._border:
            # Orthonormal basis of 1_K⊥.
            Qfull = np.linalg.qr(np.hstack([np.ones((K, 1)), np.eye(K)[:, : K - 1]]))[0]
            self._Q = Qfull[:, 1:]
            AQ = self.A @ self._Q  # (n, K, K-1)
            # C = H_wβ: columns Σ_i (A_i Q e_m) ⊗ x_i, stored as (K-1, K, p).
            C = np.stack([self._Xt(AQ[:, :, m]).T for m in range(K - 1)])
            self._UC = np.stack([self._Hww_solve(C[m]) for m in range(K - 1)])  # (K-1, K, p)
            Hbb = self._Q.T @ self.A.sum(axis=0) @ self._Q
            S = Hbb - np.einsum("mkj,lkj->ml", C, self._UC)
            self._S_chol = sla.cholesky(S, lower=True, check_finite=False)
            if np.min(np.diag(self._S_chol)) ** 2 <= SINGULAR_RTOL * max(np.trace(Hbb), 1e-300):
                raise np.linalg.LinAlgError("The intercepts are undetermined (no curvature).")
        self.rank = self.n_params - self._n_null
        self._M_cache = None
        self._one_minus = None

    # -- the coefficient block ---------------------------------------------
    def _X(self, V):
        """Centred ``(X − 1x̄ᵀ) V``, shifting after the product (no copy of X)."""
        out = np.asarray(self.design.X @ V)
        return out if self._xbar is None else out - self._xbar @ V

    def _Xt(self, U):
        """Centred ``(X − 1x̄ᵀ)ᵀ U``."""
        out = np.asarray(self.design.X.T @ U)
        return out if self._xbar is None else out - np.outer(self._xbar, U.sum(axis=0))

    def _Z(self, Wv):
        """``Z v`` for ``v`` = (K, p) coefficient blocks: (n, K)."""
        return np.einsum("ikl,il->ik", self._R, self._X(Wv.T))

    def _Zt(self, U):
        """``Zᵀ u`` for ``u`` of shape (n, K): (K, p)."""
        return self._Xt(np.einsum("ikl,il->ik", self._R, U)).T

    def _Hww_solve(self, Wv):
        n, K = self.A.shape[:2]
        z = self._Z(Wv).reshape(-1)
        y = sla.cho_solve((self._chol, True), z, check_finite=False).reshape(n, K)
        return (Wv - self._Zt(y)) / self._lam

    def _Hww_solve_batch(self, Wv):
        """:meth:`_Hww_solve` for a batch ``Wv`` of shape (m, K, p): one solve with m
        columns (O(n K p m + (nK)² m)), no Python loop over the columns."""
        n, K = self.A.shape[:2]
        m, _, p = Wv.shape
        XV = self._X(Wv.reshape(m * K, p).T).reshape(n, m, K)
        z = np.einsum("ikl,iml->ikm", self._R, XV).reshape(n * K, m)
        y = sla.cho_solve((self._chol, True), z, check_finite=False).reshape(n, K, m)
        U = np.einsum("ikl,ilm->ikm", self._R, y).reshape(n, K * m)
        Zt = self._Xt(U).reshape(p, K, m).transpose(2, 1, 0)
        return (Wv - Zt) / self._lam

    def _solve_flat(self, G):
        """``H⁺ G`` for flattened columns ``G`` (K p̃, m), all columns at once."""
        K, pt = self.n_classes, self.design.n_params
        p = self.design.n_features
        T = np.asarray(G, dtype=float).T.reshape(-1, K, pt)  # (m, K, p̃)
        if not self._border:
            return self._Hww_solve_batch(T).reshape(T.shape[0], -1).T
        Gw, gb = T[:, :, :p], T[:, :, p] @ self._Q  # (m, K, p), (m, K-1)
        Hg = self._Hww_solve_batch(np.ascontiguousarray(Gw))
        rhs = gb - np.einsum("akj,bkj->ba", self._UC, Gw)
        beta = sla.cho_solve((self._S_chol, True), rhs.T, check_finite=False).T  # (m, K-1)
        W = Hg - np.einsum("akj,ba->bkj", self._UC, beta)
        out = np.concatenate([W, (beta @ self._Q.T)[:, :, None]], axis=2)
        return out.reshape(T.shape[0], -1).T

    # -- per-row blocks --------------------------------------------------------
    def _row_blocks(self, idx):
        """``V_T H⁺ V_Tᵀ`` (kK × kK), rows ordered (row, class)."""
        n, K = self.A.shape[:2]
        idx = np.asarray(idx)
        k = len(idx)
        cols = (idx[:, None] * K + np.arange(K)[None, :]).reshape(-1)
        W = sla.solve_triangular(self._chol, self._RK[:, cols], lower=True, check_finite=False)
        out = (np.kron(self._kern[np.ix_(idx, idx)], np.eye(K)) - W.T @ W) / self._lam
        if self._border:
            E = self._border_rows(idx)  # (k, K, K-1): P_i U_C − Q
            Sinv_Et = sla.cho_solve((self._S_chol, True), E.reshape(k * K, -1).T, check_finite=False)
            out += E.reshape(k * K, -1) @ Sinv_Et
        return out

    def _border_rows(self, idx):
        X = self.design.X[idx]
        X = np.asarray(X.toarray() if hasattr(X, "toarray") else X) - self._xbar
        PU = np.einsum("mkj,ij->ikm", self._UC, X)  # (k, K, K-1)
        return PU - self._Q[None]

    @property
    def _M(self):
        if self._M_cache is None:
            n, K = self.A.shape[:2]
            M = np.empty((n, K, K))
            W = sla.solve_triangular(self._chol, self._RK, lower=True, check_finite=False)
            W = W.reshape(n * K, n, K)
            M[:] = np.einsum("aik,ail->ikl", W, W)
            M = -M
            M += np.diag(self._kern)[:, None, None] * np.eye(K)[None]
            M /= self._lam
            if self._border:
                E = self._border_rows(np.arange(n))  # (n, K, K-1)
                Sinv = sla.cho_solve((self._S_chol, True), np.eye(K - 1), check_finite=False)
                M += E @ Sinv @ np.swapaxes(E, 1, 2)
            self._M_cache = M
        return self._M_cache

    def inner(self, idx):
        return self._row_blocks(idx)


def _softmax_roots(A, rtol=1e-12):
    """``b`` (n, K) with ``A_i = diag(b_i Σ_k b_ik) − b_i b_iᵀ`` — the softmax
    curvature ``w (diag(p) − ppᵀ)``, ``b = √w p`` — or ``None`` when ``A`` is not of
    that form to ``rtol`` (checked on every entry).

    ``b_k² = −A_kl A_km / A_lm`` for the two other classes l, m with the largest
    diagonal entries (their ``b`` are not tiny, so nothing underflows). O(n K²).
    """
    n, K, _ = A.shape
    if K < 3 or n == 0:
        return None
    cols = np.arange(K)
    diag = A[:, cols, cols]
    top = np.argsort(-diag, axis=1, kind="stable")[:, :3]
    rows = np.arange(n)[:, None]
    first = np.where(cols[None, :] == top[:, :1], top[:, 1:2], top[:, :1])
    second = np.where(
        (cols[None, :] == top[:, :1]) | (cols[None, :] == top[:, 1:2]), top[:, 2:3], top[:, 1:2]
    )
    with np.errstate(all="ignore"):
        b2 = -A[rows, cols[None, :], first] * A[rows, cols[None, :], second] / A[rows, first, second]
    b = np.sqrt(np.where(np.isfinite(b2) & (b2 > 0), b2, 0.0))
    rebuilt = -b[:, :, None] * b[:, None, :]
    rebuilt[:, cols, cols] += b * b.sum(axis=1, keepdims=True)
    scale = np.abs(A).max(initial=0.0)
    if not np.abs(rebuilt - A).max(initial=0.0) <= rtol * max(scale, np.finfo(float).tiny):
        return None
    return b


def _block_hessian(design, A, shift):
    """``Σ_i A_i ⊗ r_i r_iᵀ`` (K p̃ × K p̃), ``r_i = [x_i − shift, 1]``.

    Softmax curvature on dense ``X`` (:func:`_softmax_roots`): ``Σ_i diag(u_i) ⊗
    r_ir_iᵀ − ZᵀZ`` with rows ``b_i ⊗ r_i`` of Z — symmetric rank-k updates, the
    cheapest BLAS shape (n K² p̃²/2 multiply-adds). Otherwise the K(K+1)/2
    distinct blocks ``Σ_i A_i[k, m] r_ir_iᵀ`` in one pass over X
    (:meth:`~skrif._linalg.design.AugmentedDesign.weighted_grams`).
    """
    n, K, _ = A.shape
    pt = design.n_params
    b = None if design.sparse else _softmax_roots(A)
    if b is None:
        upper_k, upper_m = np.triu_indices(K)
        grams = design.weighted_grams(A[:, upper_k, upper_m], shift)
        H = np.empty((K, pt, K, pt))
        for block, k, m in zip(grams, upper_k, upper_m):
            H[k, :, m, :] = block
            H[m, :, k, :] = block.T
        return H.reshape(K * pt, K * pt)
    u = b * b.sum(axis=1, keepdims=True)
    H = np.zeros((K * pt, K * pt), order="F")
    diag = [np.zeros((pt, pt), order="F") for _ in range(K)]
    step = max(256, (1 << 21) // (K * pt))
    for start in range(0, n, step):
        sl = slice(start, min(start + step, n))
        R = design.shifted_rows(sl, shift)
        Z = (b[sl, :, None] * R[:, None, :]).reshape(R.shape[0], K * pt)
        H = blas.dsyrk(-1.0, Z.T, beta=1.0, c=H, trans=0, lower=1, overwrite_c=1)
        for k in range(K):
            Rk = R * np.sqrt(u[sl, k : k + 1])
            diag[k] = blas.dsyrk(1.0, Rk.T, beta=1.0, c=diag[k], trans=0, lower=1, overwrite_c=1)
    for k in range(K):
        H[k * pt : (k + 1) * pt, k * pt : (k + 1) * pt] += diag[k]
    _symmetrize_lower(H)
    return H


def _centring_shift(design, penalty_intercept):
    """Column means when the intercept is unpenalised, else ``None``.

    With an unpenalised intercept skrif works in the centred coordinates
    ``θ_c = (w_k, b_k + x̄·w_k)`` (rows ``[x_i − x̄, 1]``; same penalty, same null
    space ``1_K ⊗ ·``): columns with large means then cost no digits. Gradients
    enter as ``Tᵀ g`` and changes leave as ``T d`` (:meth:`BlockCurvature.solve`).
    """
    if design.fit_intercept and penalty_intercept == 0 and design.n_features:
        return column_means(design.X)
    return None


def _centred_kernel(X, shift, block=1024):
    """``(X − 1sᵀ)(X − 1sᵀ)ᵀ`` (n × n): centred row blocks for dense X; the
    expanded form (shift applied to the products) for sparse X."""
    n = X.shape[0]
    if hasattr(X, "toarray"):
        K = np.asarray((X @ X.T).toarray(), dtype=float)
        if shift is not None:
            Xs = np.asarray(X @ shift).ravel()
            K -= Xs[:, None] + Xs[None, :] - shift @ shift
        return K
    if shift is None:
        return X @ X.T
    K = np.empty((n, n))
    for a in range(0, n, block):
        A = X[a : a + block] - shift
        for b in range(0, a + 1, block):
            Bm = X[b : b + block] - shift
            K[a : a + block, b : b + block] = A @ Bm.T
            K[b : b + block, a : a + block] = K[a : a + block, b : b + block].T
    return K


def factor_block_curvature(design, A, penalty_coef, penalty_intercept, mode="auto"):
    """The cheaper of the primal and dual multinomial forms.

    "auto" uses the dual form when ``p̃ > n``, every coefficient is penalised and
    the intercept (if any) is unpenalised; it falls back to the primal form if the
    dual one cannot determine the intercepts.
    """
    if mode == "auto":
        dual_ok = penalty_coef > 0 and not (design.fit_intercept and penalty_intercept != 0)
        mode = "dual" if dual_ok and design.n_params > design.n_samples else "primal"
    if mode == "dual":
        try:
            return DualBlockCurvature(design, A, penalty_coef, penalty_intercept)
        except np.linalg.LinAlgError:
            pass
    return BlockCurvature(design, A, penalty_coef, penalty_intercept)
