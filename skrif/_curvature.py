"""The Hessian ``H = X̃ᵀ D X̃ + Λ`` of a linear model, factored once.

``D = diag(d)`` holds each row's curvature (``c s_i ℓ''(y_i, z_i)``) and ``Λ`` the
diagonal L2 penalty (``λ_w`` on the coefficients, ``λ_b`` on the intercept, 0 when
the intercept is unpenalised). Nothing here knows which model produced ``d``.

Two factorizations answer the same questions (solves, leverages, inner products of
rows, leave-T-out solves):

* :class:`PrimalCurvature` (``p̃ ≤ n``): Cholesky of the p̃ × p̃ Hessian, with an
  eigendecomposition pseudo-inverse when it is singular.
* :class:`DualCurvature` (``p̃ > n`` and a penalty on every coefficient): Cholesky of
  the n × n matrix ``B = I + D^½ X Λ⁻¹ Xᵀ D^½``; an unpenalised intercept is
  handled exactly by a bordered system (Schur complement). No p̃ × p̃ matrix exists.

In both, ``1 - h_i`` is produced directly (in the dual form it is the diagonal of
``B⁻¹``, free of the cancellation of ``1 - h_i`` near 1).
"""

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from ._design import AugmentedDesign

# A Cholesky pivot below this fraction of the largest diagonal entry means the
# Hessian is singular to working precision; the pseudo-inverse drops eigenvalues
# below the same fraction of the largest one.
SINGULAR_RTOL = 1e-12


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """The leave-T-out Hessian is not positive definite (T pins a direction)."""


class Curvature:
    """Common interface and the generic leave-T-out (Woodbury) solve."""

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
        y = sla.cho_solve(factor, root[:, None] * self.design.rows(idx) @ HR)
        return HR + self.solve(self.design.rows(idx).T @ (root[:, None] * y))


def _add_penalty(H, design, penalty_coef, penalty_intercept):
    p = design.n_features
    H[np.arange(p), np.arange(p)] += penalty_coef
    if design.fit_intercept:
        H[p, p] += penalty_intercept
    return H


class PrimalCurvature(Curvature):
    """Factor the p̃ × p̃ Hessian: O(n p̃² + p̃³/3) time, O(p̃²) memory."""

    def __init__(self, design, d, penalty_coef, penalty_intercept):
        super().__init__(design, d)
        H = _add_penalty(design.weighted_gram(d), design, penalty_coef, penalty_intercept)
        scale = max(np.max(np.diag(H)), np.finfo(float).tiny)
        self._chol = None
        try:
            L = sla.cholesky(H, lower=True, check_finite=False)
            if np.min(np.diag(L)) ** 2 > SINGULAR_RTOL * scale:
                self._chol = L
        except np.linalg.LinAlgError:
            pass
        if self._chol is not None:
            self.rank = self.n_params
        else:
            # Singular H (e.g. rank-deficient LinearRegression): H⁺ = F Fᵀ.
            evals, evecs = np.linalg.eigh(H)
            keep = evals > SINGULAR_RTOL * max(evals.max(), np.finfo(float).tiny)
            self._F = evecs[:, keep] / np.sqrt(evals[keep])
            self.rank = int(keep.sum())
        self.one_minus_leverage = np.empty(design.n_samples)
        for sl, rows in design.row_chunks():
            W = self._whiten(rows.T)
            self.one_minus_leverage[sl] = 1.0 - d[sl] * np.einsum("ij,ij->j", W, W)

    def _whiten(self, G):
        """``W`` with ``WᵀW = Gᵀ H⁻¹ G``: ``L⁻¹ G`` or ``Fᵀ G``."""
        if self._chol is not None:
            return sla.solve_triangular(self._chol, G, lower=True, check_finite=False)
        return self._F.T @ G

    def solve(self, G):
        if self._chol is not None:
            return sla.cho_solve((self._chol, True), G, check_finite=False)
        return self._F @ (self._F.T @ G)

    def inner(self, idx):
        W = self._whiten(self.design.rows(idx).T)
        return W.T @ W


class DualCurvature(Curvature):
    """Factor ``B = I + D^½ X_c Λ⁻¹ X_cᵀ D^½`` (n × n): O(n² p + n³) time, O(n²) memory.

    Requires ``penalty_coef > 0``. An unpenalised intercept is eliminated exactly by
    its Schur complement, which amounts to centring: with ``δ = Σ d_i`` and the
    curvature-weighted mean ``x̄ = Σ d_i x_i / δ``, ``X_c = X − 1x̄ᵀ`` and
    ``S = X_cᵀ D X_c + Λ``,

        x̃_iᵀ H⁻¹ x̃_j = (x_i − x̄)ᵀ S⁻¹ (x_j − x̄) + 1/δ.

    Centring keeps ``B`` well conditioned when columns have large means (solving
    with the uncentred kernel lost up to 7 digits of ``1 − h_i`` near ``h_i = 1``).
    ``X_c`` is never formed: its kernel is ``K − k1ᵀ − 1kᵀ + κ11ᵀ``, so sparse ``X``
    stays sparse.
    """

    def __init__(self, design, d, penalty_coef, penalty_intercept):
        super().__init__(design, d)
        if not penalty_coef > 0:
            raise ValueError("The dual form needs a positive penalty on every coefficient.")
        self._border = design.fit_intercept and not penalty_intercept > 0
        # The penalised block P: X̃ with a penalised intercept, else X alone.
        self._P = AugmentedDesign(design.X, design.fit_intercept and not self._border)
        self._inv_pen = np.full(self._P.n_params, 1.0 / penalty_coef)
        if self._P.n_params > design.n_features:
            self._inv_pen[-1] = 1.0 / penalty_intercept
        K = self._P.kernel(1.0 / penalty_coef, self._inv_pen[-1] if self._P.fit_intercept else 0)
        if self._border:
            self._delta = d.sum()
            if not self._delta > 0:
                raise np.linalg.LinAlgError("No row has curvature: the intercept is undetermined.")
            self._mean = self._P.rmatvec(d[:, None])[:, 0] / self._delta
            k = self._P.matvec((self._inv_pen * self._mean)[:, None])[:, 0]
            K -= k[:, None]
            K -= k[None, :]
            K += self._mean @ (self._inv_pen * self._mean)
        self._K = K
        self._root = np.sqrt(d)
        B = self._root[:, None] * K * self._root[None, :]
        B[np.diag_indices_from(B)] += 1.0
        self._chol = sla.cholesky(B, lower=True, check_finite=False)
        inv, info = lapack.dpotri(self._chol, lower=1)
        if info != 0:  # pragma: no cover - B ⪰ I is always invertible
            raise np.linalg.LinAlgError("dpotri failed on I + D^½KD^½")
        one_minus = np.diag(inv).copy()
        if self._border:
            one_minus -= d / self._delta
        self.one_minus_leverage = one_minus
        self.rank = self.n_params

    def _B_solve(self, R):
        return sla.cho_solve((self._chol, True), R, check_finite=False)

    def _center_matvec(self, V):
        out = self._P.matvec(V)
        return out - self._mean @ V if self._border else out

    def _center_rmatvec(self, R):
        out = self._P.rmatvec(R)
        return out - np.outer(self._mean, R.sum(axis=0)) if self._border else out

    def _S_solve(self, V):
        """``S⁻¹ V`` for the penalised block: ``Λ⁻¹[V − X_cᵀD^½B⁻¹D^½X_cΛ⁻¹V]``."""
        LV = self._inv_pen[:, None] * V
        inner = self._root[:, None] * self._B_solve(self._root[:, None] * self._center_matvec(LV))
        return LV - self._inv_pen[:, None] * self._center_rmatvec(inner)

    def solve(self, G):
        if not self._border:
            return self._S_solve(G)
        Gw, gb = G[:-1], G[-1]
        w = self._S_solve(Gw - np.outer(self._mean, gb))
        return np.vstack([w, gb / self._delta - self._mean @ w])

    def inner(self, idx):
        KT = self._K[idx]
        out = KT[:, idx] - (KT * self._root) @ self._B_solve(self._root[:, None] * KT.T)
        return out + 1.0 / self._delta if self._border else out


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
