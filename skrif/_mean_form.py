"""Exact removal algebra for mean-form objectives (GLMs, SGD).

In sum form these objectives read ``J(θ) = Σ_i s_i ℓ_i + (α/2) Σ_i m_i ‖w‖²``: every row
owns a share ``m_i`` of the penalty (``m_i = s_i`` for the GLMs, 1 for SGD). Removing
row j removes ``f_j = s_j ℓ_j + (α/2) m_j ‖w‖²``, whose gradient and Hessian are

    g_j = d1_j x̃_j + ε_j w̃,      H_j = d_j x̃_j x̃_jᵀ + ε_j P,      ε_j = α m_j,

with ``w̃`` the coefficients with a 0 for the intercept and ``P`` the identity on the
coefficients, 0 on the intercept. ``H_j`` is not rank one, but ``H − ε P`` is ``H``
with a smaller penalty, so one generalized eigendecomposition handles every row
exactly: with ``V`` solving ``P V = H V diag(π)``, ``Vᵀ H V = I``,

    (H − ε P)⁻¹ = V diag(1 / (1 − ε π)) Vᵀ,

and Sherman–Morrison adds the rank-one ``d_j x̃_j x̃_jᵀ``. With ``u_j = Vᵀ x̃_j`` and
``D_j = diag(1 / (1 − ε_j π))`` the leave-one-out Newton step (= RIF) is

    RIF_j = V [D_j a_j + D_j u_j · d_j (u_jᵀ D_j a_j) / (1 − h_j)],
    a_j = Vᵀ g_j,   1 − h_j = 1 − d_j u_jᵀ D_j u_j,

O(p̃²) per removed row (forming ``u_j``), after an O(n p̃² + p̃³) setup. The group
Newton step uses ``ε_T = α Σ_T m_j`` and a k × k Woodbury system. No bound or
approximation is involved. This is the primal form (p̃ × p̃ memory, any shares, any
sign of ``d``). When ``p̃ > n`` and every row owning a share owns the same one (SGD;
GLMs without ``sample_weight``), :class:`UniformShareCurvature` does the same exactly
with two n × n dual factorizations (:func:`mean_form_curvature` chooses).
"""

import numpy as np
import scipy.linalg as sla

from ._curvature import SINGULAR_RTOL, Curvature, NotPositiveDefiniteError, factor_curvature
from ._leverage import LEVERAGE_TOL, warn_leverage_one

_CHUNK_ROWS = 2048


def column_means(X):
    """Column means of dense or sparse ``X`` (the centring shift)."""
    return np.asarray(X.mean(axis=0), dtype=float).ravel()


def signed_gram(design, d, shift=None):
    """``X̃ᵀ diag(d) X̃`` for any sign of ``d``, with rows ``[x_i − shift, 1]`` if given.

    O(n p̃²) dense (centred row blocks: no digits lost to large column means),
    O(nnz·p̃) sparse (the shift is applied to the products).
    """
    p = design.n_features
    G = np.empty((design.n_params, design.n_params))
    if design.sparse:
        G[:p, :p] = (design.X.T @ design.X.multiply(d[:, None]).tocsr()).toarray()
        col = np.asarray(design.X.T @ d).ravel()
        if shift is not None:
            G[:p, :p] -= np.outer(col, shift) + np.outer(shift, col) - d.sum() * np.outer(shift, shift)
            col = col - d.sum() * shift
    else:
        G[:p, :p] = 0.0
        col = np.zeros(p)
        for start in range(0, design.n_samples, _CHUNK_ROWS):
            sl = slice(start, min(start + _CHUNK_ROWS, design.n_samples))
            rows = design.X[sl] if shift is None else design.X[sl] - shift
            G[:p, :p] += (rows * d[sl, None]).T @ rows
            col += rows.T @ d[sl]
    if design.fit_intercept:
        G[:p, p] = col
        G[p, :p] = col
        G[p, p] = d.sum()
    return G


class MeanFormCurvature(Curvature):
    """Factored Hessian of a mean-form objective, with exact per-row removals.

    Parameters
    ----------
    design : AugmentedDesign
    d : ndarray of shape (n_samples,)
        Per-row loss curvature ``s_i ℓ''_i`` (may be negative for some rows).
    penalty_coef, penalty_intercept : float
        Total diagonal penalty (``α Σ m_i`` on the coefficients).
    share_coef : float
        ``α``.
    shares : ndarray of shape (n_samples,) or None
        Penalty shares ``m_i``; ``None`` when only solves are needed (Newton steps).

    Raises
    ------
    NotPositiveDefiniteError
        If ``H`` has a negative eigenvalue: the objective is not convex at this point
        (e.g. ``TweedieRegressor(power > 2)`` with the log link). A singular ``H``
        (collinear features without a penalty, separable classes with an
        unpenalised intercept) is handled on its range, as a pseudo-inverse, and
        reported through ``rank``.
    """

    def __init__(self, design, d, penalty_coef, penalty_intercept, share_coef, shares=None):
        super().__init__(design, np.asarray(d, dtype=float))
        # An unpenalised intercept lets us work in centred coordinates θ_c = (w, b + x̄·w)
        # (rows [x_i − x̄, 1], same penalty): large column means cost no digits.
        self._xbar = None
        if design.fit_intercept and penalty_intercept == 0 and design.n_features:
            self._xbar = column_means(design.X)
        H = signed_gram(design, self.d, self._xbar)
        p = design.n_features
        H[np.arange(p), np.arange(p)] += penalty_coef
        if design.fit_intercept:
            H[p, p] += penalty_intercept
        scale = max(np.max(np.abs(np.diag(H))), np.finfo(float).tiny)
        self._chol, self._basis = None, None
        try:
            L = sla.cholesky(H, lower=True, check_finite=False)
            if np.min(np.diag(L)) ** 2 > SINGULAR_RTOL * scale:
                self._chol = L
        except np.linalg.LinAlgError:
            pass
        if self._chol is not None:
            self.rank = self.n_params
        else:
            evals, evecs = np.linalg.eigh(H)
            if evals[0] < -1e-8 * max(evals[-1], np.finfo(float).tiny):
                raise NotPositiveDefiniteError(
                    "The Hessian of the objective is not positive semi-definite at the "
                    f"fitted parameters (eigenvalues from {evals[0]:.3g} to "
                    f"{evals[-1]:.3g}): it has a negative eigenvalue, so the objective "
                    "is not convex there (e.g. TweedieRegressor with power > 2 and a log "
                    "link) and removal effects are not defined. Use a power in [1, 2] "
                    "or a larger alpha."
                )
            # Singular (e.g. separable classes with an unpenalised intercept, or
            # collinear features without a penalty): work on the range of H, the
            # same pseudo-inverse convention as the rank-one curvatures.
            keep = evals > SINGULAR_RTOL * max(evals[-1], np.finfo(float).tiny)
            self._basis, self._evals = evecs[:, keep], evals[keep]
            self.rank = int(keep.sum())
        self.share_coef = float(share_coef)
        self.shares = shares
        if shares is None:
            return
        # Generalized eigenproblem P v = π H v with VᵀHV = I (P singular is fine);
        # on the range of H when it is singular (then V Vᵀ = H⁺).
        Pdiag = np.ones(self.n_params)
        if design.fit_intercept:
            Pdiag[p] = 0.0
        if self._basis is None:
            self._pi, self._V = sla.eigh(np.diag(Pdiag), H, check_finite=False)
        else:
            Q = self._basis
            self._pi, Vr = sla.eigh((Q.T * Pdiag) @ Q, np.diag(self._evals), check_finite=False)
            self._V = Q @ Vr
        self._eps = self.share_coef * np.asarray(shares, dtype=float)
        self.one_minus_leverage = np.empty(design.n_samples)
        for start in range(0, design.n_samples, _CHUNK_ROWS):
            sl = slice(start, min(start + _CHUNK_ROWS, design.n_samples))
            U = self._rows(sl) @ self._V
            Dinv = self._shift(self._eps[sl])
            self.one_minus_leverage[sl] = 1.0 - self.d[sl] * np.einsum("ij,ij->i", U * Dinv, U)

    def _shift(self, eps):
        """Rows of ``1 / (1 − ε π)`` for each ``ε`` in ``eps``: shape (len(eps), p̃)."""
        return 1.0 / (1.0 - np.multiply.outer(eps, self._pi))

    def _whiten(self, G):
        if self._chol is not None:
            return sla.solve_triangular(self._chol, G, lower=True, check_finite=False)
        return (self._basis.T @ G) / np.sqrt(self._evals)[:, None]

    def _rows(self, idx):
        """Design rows in the centred coordinates: ``[x_i − x̄, 1]``."""
        rows = self.design.rows(idx)
        if self._xbar is not None:
            rows[:, : self.design.n_features] -= self._xbar
        return rows

    def _to_centred(self, G):
        """Gradient-like columns (n_params, m) into centred coordinates (``Tᵀ G``)."""
        if self._xbar is None:
            return G
        G = np.array(G, dtype=float)
        G[:-1] -= np.outer(self._xbar, G[-1])
        return G

    def _from_centred(self, D):
        """Parameter-like columns (n_params, m) back from centred coordinates (``T D``)."""
        if self._xbar is None:
            return D
        D = np.array(D, dtype=float)
        D[-1] -= self._xbar @ D[:-1]
        return D

    def _solve_centred(self, G):
        if self._chol is not None:
            return sla.cho_solve((self._chol, True), G, check_finite=False)
        return self._basis @ ((self._basis.T @ G) / self._evals[:, None])

    def solve(self, G):
        return self._from_centred(self._solve_centred(self._to_centred(G)))

    def inner(self, idx):
        W = self._whiten(self._rows(idx).T)
        return W.T @ W

    def parameter_change(self, problem, theta, d1, idx, method):
        """``Δθ`` (n_outputs, n_params) for removing ``idx`` by "if", "rif" or "newton"."""
        wt = np.array(theta, dtype=float)
        if self.design.fit_intercept:
            wt[:, -1] = 0.0
        rows = self._rows(idx)
        eps = self._eps[idx]
        if method == "if":
            G = rows.T @ d1[idx] + np.sum(eps) * wt.T
            return self._from_centred(self._solve_centred(G)).T
        U = rows @ self._V  # (k, p̃)
        omega = self._V.T @ wt.T  # (p̃, q)
        dT = self.d[idx]
        if method == "rif":
            Dinv = self._shift(eps)  # (k, p̃)
            a = d1[idx][:, :, None] * U[:, None, :] + eps[:, None, None] * omega.T[None]
            Da = Dinv[:, None, :] * a  # (k, q, p̃)
            Du = Dinv * U
            one_minus = 1.0 - dT * np.einsum("kp,kp->k", U, Du)
            degenerate = one_minus <= LEVERAGE_TOL
            if np.any(degenerate):
                warn_leverage_one(idx[degenerate], stacklevel=4)
                return np.full_like(wt, np.nan)
            proj = np.einsum("kp,kqp->kq", U, Da)
            coords = Da + Du[:, None, :] * (dT[:, None] * proj / one_minus[:, None])[:, :, None]
            return self._from_centred(self._V @ coords.sum(axis=0).T).T
        # Group Newton step: (H − ε_T P − X̃_Tᵀ D_T X̃_T)⁻¹ Σ_T g_j, Woodbury in V coords.
        Dinv = self._shift(np.array([np.sum(eps)]))[0]  # (p̃,)
        a = self._V.T @ (rows.T @ d1[idx]) + np.sum(eps) * omega  # (p̃, q)
        Da = Dinv[:, None] * a
        DU = U * Dinv  # (k, p̃)
        M = DU @ U.T  # X̃_T (H − ε_T P)⁻¹ X̃_Tᵀ
        C = np.eye(len(idx)) - dT[:, None] * M
        if np.all(dT >= 0):
            root = np.sqrt(dT)
            smallest = np.linalg.eigvalsh(np.eye(len(idx)) - root[:, None] * M * root)[0]
        else:
            smallest = np.min(np.abs(np.linalg.eigvals(C)))
        if not smallest > SINGULAR_RTOL:
            raise NotPositiveDefiniteError(
                "Removing these rows leaves a Hessian that is not positive definite: "
                "the remaining rows do not determine every parameter."
            )
        y = np.linalg.solve(C, dT[:, None] * (U @ Da))
        coords = Da + DU.T @ y
        return self._from_centred(self._V @ coords).T


class UniformShareCurvature(Curvature):
    """Mean-form removals in the dual form when every row owns the same share.

    When all rows that carry a penalty share carry the same ``ε = α m`` (SGD always;
    GLMs without ``sample_weight``), every leave-one-out Hessian is
    ``H_ε − d_j x̃_j x̃_jᵀ`` with the *same* ``H_ε = H − εP`` (``H`` with penalty
    ``λ − ε``), so two standard factorizations (of ``H`` and ``H_ε``; n × n dual
    forms when ``p̃ > n``, see :mod:`skrif._curvature`) answer everything. With
    ``a = H_ε⁻¹ w̃`` and ``1 − h_j = 1 − d_j x̃_jᵀ H_ε⁻¹ x̃_j``, Sherman–Morrison gives

        RIF_j = H_ε⁻¹ x̃_j c_j + ε a,    c_j = (d1_j + ε d_j x̃_j·a) / (1 − h_j),

    and ``RIF(T) = H_ε⁻¹ X̃_Tᵀ c_T + |T| ε a`` is one solve. The group Newton step
    factors ``H − ε_T P`` once more and uses its Woodbury update. Requires
    ``d ≥ 0`` (convex loss) and ``λ > ε``. Rows without a share (GLM rows of weight
    0) have ``d = d1 = 0``: their change is 0 whichever matrix is used.
    """

    def __init__(self, design, d, penalty_coef, penalty_intercept, eps_rows):
        super().__init__(design, np.asarray(d, dtype=float))
        self._coef, self._intercept = float(penalty_coef), float(penalty_intercept)
        self._eps_rows = np.asarray(eps_rows, dtype=float)
        self._eps = float(self._eps_rows.max())
        self._full = factor_curvature(design, self.d, self._coef, self._intercept)
        self._loo = factor_curvature(design, self.d, self._coef - self._eps, self._intercept)
        self.rank = self._full.rank
        self.one_minus_leverage = self._loo.one_minus_leverage
        self._a = None

    def solve(self, G):
        return self._full.solve(G)

    def inner(self, idx):
        return self._full.inner(idx)

    def parameter_change(self, problem, theta, d1, idx, method):
        """``Δθ`` (n_outputs, n_params) for removing ``idx`` by "if", "rif" or "newton"."""
        wt = np.array(theta, dtype=float)
        if self.design.fit_intercept:
            wt[:, -1] = 0.0
        rows = self.design.rows(idx)
        eps = self._eps_rows[idx]
        if method == "if":
            return self._full.solve(rows.T @ d1[idx] + np.sum(eps) * wt.T).T
        if method == "rif":
            one_minus = self.one_minus_leverage[idx]
            degenerate = one_minus <= LEVERAGE_TOL
            if np.any(degenerate):
                warn_leverage_one(idx[degenerate], stacklevel=4)
                return np.full_like(wt, np.nan)
            if self._a is None:
                self._a = self._loo.solve(wt.T)  # (p̃, q)
            c = (d1[idx] + (eps * self.d[idx])[:, None] * (rows @ self._a)) / one_minus[:, None]
            return (self._loo.solve(rows.T @ c) + np.sum(eps) * self._a).T
        eps_T = float(np.sum(eps))
        if not self._coef - eps_T > 0:
            raise NotPositiveDefiniteError(
                "Removing these rows removes the whole penalty: the remaining rows do "
                "not determine every parameter."
            )
        factor = factor_curvature(self.design, self.d, self._coef - eps_T, self._intercept)
        return factor.solve_without(idx, rows.T @ d1[idx] + eps_T * wt.T).T


def mean_form_curvature(design, d, penalty_coef, penalty_intercept, share_coef, shares=None):
    """Factor a mean-form Hessian in the cheapest exact form.

    The dual form (no p̃ × p̃ matrix) applies when ``p̃ > n``, the coefficients are
    penalised and ``d ≥ 0``: plain :func:`~skrif._curvature.factor_curvature` for
    solves (``shares=None``), :class:`UniformShareCurvature` for removals when the
    penalty shares are uniform. Everything else uses :class:`MeanFormCurvature`
    (primal, any shares, any sign of ``d``).
    """
    d = np.asarray(d, dtype=float)
    dual = design.n_params > design.n_samples and penalty_coef > 0 and np.all(d >= 0)
    if dual:
        try:
            if shares is None:
                return factor_curvature(design, d, penalty_coef, penalty_intercept)
            eps_rows = share_coef * np.asarray(shares, dtype=float)
            owners = eps_rows > 0
            eps = eps_rows.max() if owners.any() else 0.0
            uniform = (
                owners.any()
                and np.ptp(eps_rows[owners]) <= 1e-12 * eps
                and np.all(d[~owners] == 0)
                and penalty_coef - eps > 0
            )
            if uniform:
                return UniformShareCurvature(design, d, penalty_coef, penalty_intercept, eps_rows)
        except np.linalg.LinAlgError:
            pass
    return MeanFormCurvature(design, d, penalty_coef, penalty_intercept, share_coef, shares)
