"""Removal algebra of kernel ridge regression in the dual (the "kernel" Hessian kind).

``KernelRidge`` minimises ``Σ_i s_i (y_i − z_i)² + λ αᵀKα`` over the dual coefficients
``α`` (n, q), with ``z = Kα`` and no intercept; its optimum solves
``(SK + λI) α = S y``. In the feature space of the kernel this is ridge regression
(per-row curvature ``d_i = 2 s_i``, penalty ``2λ``), and every removal answer is the
ridge answer written in dual coefficients. With ``r = s^½`` and

    B = I + diag(r) K diag(r) / λ        (n × n; B ⪰ I for a positive semi-definite K),

``M = (SK + λI)⁻¹ = diag(r) B⁻¹ diag(r)⁻¹ / λ`` on the rows with ``s_i > 0``:

* ``1 − h_i = (B⁻¹)_ii`` — no subtraction (the regularized-kernel identity);
* at the optimum the gradient coefficients are ``d1_i = 2 s_i (z_i − y_i) = −2λα_i``;
* a single-row change is ``Δα_i = c_i M e_i / 2`` with ``c_i = t d1_i`` ("if") or
  ``t d1_i / (1 − t h_i)`` ("rif": the exact leave-one-out change at ``t = 1``, where
  the row's own coefficient becomes exactly 0);
* reweighting rows ``T`` by ``1 − t`` changes ``α`` by exactly
  ``Δα = −t r ∘ B⁻¹_{:,T} W⁻¹ (α_T / r_T)``, ``W = (1 − t) I + t (B⁻¹)_TT``
  ("newton" — exact, it is least squares);
* a Newton solve ``H⁻¹G`` takes gradients in representer form, ``G = d1 + 2λα`` for
  ``∇_α J = K G``: :meth:`DualKernelCurvature.solve` returns ``M G / 2``.

Cost: building and factoring ``B`` O(n² p + n³/3) (kernel evaluations and a Cholesky;
the factor is the one n × n array kept); leverages another n³/3 on first use; ``k``
row steps O(n² k); effects on ``m`` evaluation rows one solve, O(n² m).

A kernel that is not positive semi-definite (``sigmoid``, some precomputed ones) can
make ``B`` indefinite: the objective is then not convex (KernelRidge's solution is a
saddle point) and :class:`~skrif.exceptions.NotPositiveDefiniteError` is raised; with
``B`` positive definite such kernels are handled like any other.
"""

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from ..exceptions import NotPositiveDefiniteError
from .base import ADDITIVE, Curvature, _check_method, _step_table

_COLUMNS = 256


class DualKernelCurvature(Curvature):
    """Factored ``B = I + S^½ K S^½ / λ`` (Cholesky) answering removal questions in the dual.

    Parameters
    ----------
    design : KernelDesign
        The training kernel rows.
    d : ndarray of shape (n_samples,)
        Per-row curvature ``2 s_i``.
    penalty : float
        ``2λ``, the penalty of the equivalent ridge problem.
    """

    kind = "kernel"

    def __init__(self, design, d, penalty):
        super().__init__(design, np.asarray(d, dtype=float))
        self._lam = 0.5 * float(penalty)
        self._root = np.sqrt(np.clip(0.5 * self.d, 0.0, None))
        B = design.gram()
        B *= self._root[:, None] / self._lam
        B *= self._root[None, :]
        B[np.diag_indices_from(B)] += 1.0
        if not np.allclose(B, B.T, rtol=1e-10, atol=1e-12 * np.abs(B).max()):
            raise NotPositiveDefiniteError(
                "The kernel matrix is not symmetric (a precomputed kernel?): kernel ridge "
                "regression needs a symmetric kernel."
            )
        L, info = lapack.dpotrf(B, lower=1, clean=1, overwrite_a=1)
        if info != 0:
            raise NotPositiveDefiniteError(
                "K + λ S⁻¹ is not positive definite: the kernel is not positive "
                "semi-definite on these rows (e.g. 'sigmoid'), so the objective is not "
                "convex and KernelRidge's solution is a saddle point whose removal "
                "effects skrif does not define. Increase alpha, or use a positive "
                "semi-definite kernel."
            )
        self._chol = L
        self.rank = self.n_params

    # -- the factor -----------------------------------------------------------------
    def _B_solve(self, R):
        return sla.cho_solve((self._chol, True), R, check_finite=False)

    def _compute_one_minus_leverage(self):
        Linv, _ = lapack.dtrtri(self._chol, lower=1)
        out = np.einsum("ij,ij->j", Linv, Linv)  # diag(B⁻¹): sums of squares
        out[self.d == 0] = 1.0
        return out

    def _M_columns(self, idx, coeffs):
        """``M E_idx C`` (n, m) for rows ``idx`` with ``s > 0`` and coefficients ``C``."""
        root = self._root
        E = np.zeros((self.design.n_samples, coeffs.shape[1]))
        np.add.at(E, idx, coeffs / root[idx, None])
        return root[:, None] * self._B_solve(E) / self._lam

    def solve(self, G):
        """``M G / 2`` (n, m): a Newton step for a gradient ``G`` in representer form.

        Rows without weight (``s_i = 0``) are eliminated first: ``x_0 = G_0 / λ``.
        """
        G = np.array(G, dtype=float)
        zero = self._root == 0
        out = np.zeros_like(G)
        if np.any(zero) and np.any(G[zero]):
            x0 = G[zero] / self._lam
            out[zero] = x0
            G[~zero] -= (0.5 * self.d[~zero])[:, None] * self.design.rows(np.flatnonzero(~zero))[:, zero] @ x0
        pos = np.flatnonzero(~zero)
        if pos.size:
            out += self._M_columns(pos, G[pos])
        return 0.5 * out

    def inverse_diagonal(self):
        raise NotImplementedError(
            "diag(H⁻¹) is not defined for kernel ridge regression in dual coefficients."
        )

    def inner(self, idx):
        """``K_T M_{:,T} / 2``-form inner products are not used by the kernel kind."""
        raise NotImplementedError

    # -- the protocol ---------------------------------------------------------------
    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        """``Δα_i = c_i M e_i / 2`` (len(rows), q, n): O(n² len(rows))."""
        rows = self._row_index(rows)
        coef = self.row_coefficients(rows, d1, method, fraction)
        out = _step_table(out, rows.size, d1.shape[1], self.n_params)
        for start in range(0, rows.size, _COLUMNS):
            sl = slice(start, min(start + _COLUMNS, rows.size))
            r = rows[sl]
            pos = self._root[r] > 0
            V = np.zeros((self.n_params, r.size))
            if np.any(pos):
                V[:, pos] = 0.5 * self._M_columns(r[pos], np.eye(r.size)[pos][:, pos])
            out[sl] = coef[sl, :, None] * V.T[:, None, :]
        return out

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        """``c_i (Mᵀ G)_i / 2`` (len(rows), q, m): one solve with ``G``'s m columns."""
        rows = self._row_index(slice(None) if rows is None else rows)
        coef = self.row_coefficients(rows, d1, method, fraction)
        root = self._root
        MG = self._B_solve(root[:, None] * np.asarray(G, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            P = np.where(root[rows, None] > 0, MG[rows] / root[rows, None], 0.0)
        return coef[:, :, None] * (P / (2.0 * self._lam))[:, None, :]

    def self_change(self, d1, theta, method, fraction=1.0):
        """``K_i·Δα_i = c_i h_i / d_i`` (n, q): O(n q) after the leverages."""
        coef = self.row_coefficients(slice(None), d1, method, fraction)
        with np.errstate(divide="ignore", invalid="ignore"):
            quad = np.where(self.d > 0, (1.0 - self.one_minus_leverage) / self.d, 0.0)
        return coef * quad[:, None]

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        """``Δα`` (q, n): additive sums, or the exact change (module docstring),
        O(n² k + k³) for ``k`` rows."""
        idx = np.asarray(idx)
        t = float(fraction)
        if method in ADDITIVE:
            coef = self.row_coefficients(idx, d1, method, t)
            if np.isnan(coef).any():
                return np.full_like(np.asarray(theta, dtype=float), np.nan)
            pos = self._root[idx] > 0
            if not np.any(pos):
                return np.zeros_like(theta)
            return 0.5 * self._M_columns(idx[pos], coef[pos]).T
        _check_method(method, ADDITIVE + ("newton",))
        root = self._root
        T = idx[root[idx] > 0]
        if T.size == 0:
            return np.zeros_like(theta)
        BT = self._B_solve(_unit_columns(self.design.n_samples, T))  # (n, k)
        W = t * BT[T]
        W[np.diag_indices_from(W)] += 1.0 - t
        alpha_T = np.asarray(theta, dtype=float)[:, T].T  # (k, q): the optimum's α_T
        try:
            y = np.linalg.solve(W, alpha_T / root[T, None])
        except np.linalg.LinAlgError:
            raise NotPositiveDefiniteError(
                "Removing these rows leaves a kernel system that is singular."
            ) from None
        return (-t * root[:, None] * (BT @ y)).T


def _unit_columns(n, idx):
    E = np.zeros((n, idx.size))
    E[idx, np.arange(idx.size)] = 1.0
    return E
