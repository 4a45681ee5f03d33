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

from .._linalg.design import AugmentedDesign
from .._linalg.factor import SINGULAR_RTOL, SPDFactor
from .._linalg.woodbury import check_capacitance
from ..exceptions import NotPositiveDefiniteError
from .base import (
    _ROW_BLOCK,
    ADDITIVE,
    Curvature,
    _check_method,
    _fraction_one_minus,
    _step_table,
    solve_block_rows,
)
from .dual import factor_curvature
from .rank_one import REFINE_BELOW


def _full_share(fraction):
    """Default share rule: reweighting by ``1 − t`` removes ``t`` of the row's share."""
    return float(fraction)

_CHUNK_ROWS = 2048


def column_means(X):
    """Column means of dense or sparse ``X`` (the centring shift)."""
    return np.asarray(X.mean(axis=0), dtype=float).ravel()


def signed_gram(design, d, shift=None):
    """``X̃ᵀ diag(d) X̃`` for any sign of ``d``, with rows ``[x_i − shift, 1]`` if given
    (:meth:`~skrif._linalg.design.AugmentedDesign.weighted_grams`): O(n p̃²) dense,
    O(nnz·p̃) sparse."""
    return design.weighted_grams(np.asarray(d, dtype=float)[:, None], shift)[0]


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

    kind = "penalty_share"

    def __init__(
        self, design, d, penalty_coef, penalty_intercept, share_coef, shares=None,
        share_of_fraction=None,
    ):
        super().__init__(design, np.asarray(d, dtype=float))
        # An unpenalised intercept lets us work in centred coordinates θ_c = (w, b + x̄·w)
        # (rows [x_i − x̄, 1], same penalty): large column means cost no digits.
        xbar = None
        if design.fit_intercept and penalty_intercept == 0 and design.n_features:
            xbar = column_means(design.X)
        self._factor(lambda: signed_gram(design, self.d, xbar), xbar, penalty_coef,
                     penalty_intercept, share_coef, bool(np.all(self.d >= 0)),
                     share_of_fraction)
        self.shares = shares
        if shares is not None:
            self._bind_rows(shares=shares)

    @classmethod
    def from_gram(cls, gram, n_features, fit_intercept, penalty_coef, penalty_intercept,
                  share_coef, *, shift=None, convex=True, removals=True,
                  share_of_fraction=None):
        """The factorization from the summed Gram ``Σ d_i b_i b_iᵀ`` over rows
        ``b_i = [x_i − shift, 1]`` instead of the rows (Dask).

        ``shift`` must be the column means when the intercept is fitted and
        unpenalised, else ``None``; ``convex`` whether every ``d_i ≥ 0``;
        ``removals``: rows (with their penalty shares) will be bound by
        :meth:`on_rows` for removals, not only solves. O(p̃³).
        """
        design = AugmentedDesign(np.zeros((0, n_features)), fit_intercept)
        self = cls.__new__(cls)
        Curvature.__init__(self, design, np.zeros(0))
        xbar = None if shift is None else np.asarray(shift, dtype=float)
        gram = np.asarray(gram, dtype=float)
        self._factor(lambda: gram.copy(), xbar, penalty_coef, penalty_intercept,
                     share_coef, convex, share_of_fraction)
        self.shares = np.zeros(0) if removals else None
        return self

    def _factor(self, gram, xbar, penalty_coef, penalty_intercept, share_coef, convex,
                share_of_fraction):
        """Factor ``gram() + Λ`` (``gram()``: a fresh unpenalised Gram, centred by
        ``xbar``; built again instead of kept when the rank test needs it twice)."""
        design = self.design
        #: ``ρ(t)``: the fraction of a row's penalty share that reweighting it by
        #: ``1 − t`` removes (``t`` for the GLMs; for SGD 1 at ``t = 1``, else 0).
        self.share_of_fraction = share_of_fraction or _full_share
        self._xbar = xbar
        p = design.n_features
        self._penalty = (float(penalty_coef), float(penalty_intercept))

        def penalised_gram():
            H = gram()
            H[np.arange(p), np.arange(p)] += penalty_coef
            if design.fit_intercept:
                H[p, p] += penalty_intercept
            return H

        penalised = penalty_coef > 0 and (not design.fit_intercept or penalty_intercept > 0)
        # Scale-invariant rank decision; refuses a Hessian with a negative eigenvalue
        # (the objective is not convex there, e.g. Tweedie power > 2 with a log link).
        self._spd = SPDFactor(
            penalised_gram(), penalised=penalised and convex, rebuild=penalised_gram,
            check_psd=True,
        )
        self._chol = self._spd.chol
        self.rank = self._spd.rank
        self.share_coef = float(share_coef)
        self._convex = convex
        self._spectrum = None

    def _spectral(self):
        """``(π, V, P)`` of the generalized eigenproblem ``P v = π H v``, ``VᵀHV = I``
        (on the range of ``H`` when singular: then ``V Vᵀ = H⁺``), from the factor:
        with ``H = LLᵀ``, ``V = L⁻ᵀY`` for the eigenvectors ``Y`` of ``L⁻¹PL⁻ᵀ``.
        Computed on first use (solves and Newton steps never need it): O(p̃³)."""
        if self._spectrum is None:
            p = self.design.n_features
            Pdiag = np.ones(self.n_params)
            if self.design.fit_intercept:
                Pdiag[p] = 0.0
            if self._chol is not None:
                # L⁻¹P^½ (P diagonal 0/1): the columns of L⁻¹ on the coefficients.
                W = sla.solve_triangular(self._chol, np.diag(Pdiag), lower=True, check_finite=False)
                pi, Y = np.linalg.eigh(W @ W.T)
                V = sla.solve_triangular(self._chol, Y, lower=True, trans=1, check_finite=False)
            else:
                F = self._spd.F  # H⁺ = F Fᵀ and FᵀHF = I
                pi, Vr = np.linalg.eigh((F.T * Pdiag) @ F)
                V = F @ Vr
            self._spectrum = (pi, V, Pdiag)
        return self._spectrum

    @property
    def _pi(self):
        return self._spectral()[0]

    @property
    def _V(self):
        return self._spectral()[1]

    @property
    def _Pdiag(self):
        return self._spectral()[2]

    @property
    def _pen(self):
        """The diagonal of ``Λ``."""
        coef, intercept = self._penalty
        return np.where(self._Pdiag > 0, coef, intercept)

    def _bind_rows(self, shares=None, s1=None):
        """Per-row parts of the rows (bound by :meth:`on_rows` or the constructor):
        penalty shares ``ε_j = α m_j`` and, if known, ``s1_j`` (:attr:`_s1`)."""
        self.shares = shares
        self._eps = self.share_coef * np.asarray(shares, dtype=float)
        self._s3_cache = None
        self._single_row_cache = None
        self._s1_cache = None if s1 is None else np.asarray(s1, dtype=float)

    @property
    def _s1(self):
        """``s1_j = x̃_jᵀ(H − ε_jP)⁻¹x̃_j`` for every bound row (on first use):
        O(n p̃²)."""
        if self._s1_cache is None:
            n = self.design.n_samples
            s1 = np.empty(n)
            for start in range(0, n, _CHUNK_ROWS):
                sl = slice(start, min(start + _CHUNK_ROWS, n))
                U = self._rows(sl) @ self._V
                Dinv = self._shift(self._eps[sl])
                s1[sl] = np.einsum("ij,ij->i", U * Dinv, U)
            self._s1_cache = s1
        return self._s1_cache

    def _compute_one_minus_leverage(self):
        """The cheap ``1 − d_j s1_j``, refined where it lost digits when every
        training row is bound (:meth:`refine_candidates`)."""
        if self.shares is None:
            raise ValueError("This factorization was made for solves only (no penalty shares).")
        one_minus = 1.0 - self.d * self._s1
        if not self._bound:
            refine = self.refine_candidates(one_minus)
            for start in range(0, refine.size, _ROW_BLOCK):
                R = refine[start : start + _ROW_BLOCK]
                one_minus[R] = self._exact_one_minus(R)
        return one_minus

    def refine_candidates(self, one_minus):
        """Rows whose cheap ``1 − h_j`` is below ``REFINE_BELOW`` (convex rows of a
        nonsingular Hessian): :meth:`_exact_one_minus` recomputes them."""
        if self._chol is None or not self._convex:
            return np.zeros(0, dtype=np.intp)
        return np.flatnonzero((one_minus < REFINE_BELOW) & (self.d > 0))

    def _exact_one_minus(self, R):
        """Cancellation-free ``1 − h_j`` for rows ``R`` (convex rows).

        With ``v_j = (H − ε_jP)⁻¹x̃_j`` and ``H_{−j} = Σ_{i≠j} d_i x̃_ix̃_iᵀ + Λ − ε_jP``
        (what remains without row j), ``1 − h_j = v_jᵀH_{−j}v_j / (x̃_j·v_j)``: a ratio
        of sums of squares. O(nnz(X) + p̃²) per refined row: one pass over the
        training rows (:meth:`sum_over_rows`).
        """
        U = self._rows(R) @ self._V
        eps = self._eps[R]
        Wv = self._V @ (self._shift(eps) * U).T  # (p̃, r): v_j, centred coordinates
        W = self._from_centred(Wv)
        num, q = self.own_row_sums(self._ids(R), lambda view: view.design.matvec(W))
        lam = self._pen[:, None] - eps[None, :] * self._Pdiag[:, None]  # Λ − ε_jP per column
        return (num + np.einsum("ij,ij->j", Wv, lam * Wv)) / q

    def _shift(self, eps):
        """Rows of ``1 / (1 − ε π)`` for each ``ε`` in ``eps``: shape (len(eps), p̃)."""
        return 1.0 / (1.0 - np.multiply.outer(eps, self._pi))

    def _whiten(self, G):
        return self._spd.whiten(G)

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
        return self._spd.solve(G)

    def solve(self, G):
        return self._from_centred(self._solve_centred(self._to_centred(G)))

    def inner(self, idx):
        W = self._whiten(self._rows(idx).T)
        return W.T @ W

    def _coefs_omega(self, theta):
        wt = np.array(theta, dtype=float)
        if self.design.fit_intercept:
            wt[:, -1] = 0.0
        return self._V.T @ wt.T  # (p̃, q): Vᵀ w̃ (w̃ is unchanged by centring)

    def _from_centred_steps(self, D):
        """Parameter changes (..., p̃) back from centred coordinates (``T d``)."""
        if self._xbar is not None:
            D[..., -1] -= D[..., :-1] @ self._xbar
        return D

    def _row_coords(self, rows, d1, theta, method, fraction):
        """V-coordinates ``c_j`` (k, q, p̃) of the single-row steps ``Δ_j = T V c_j``
        and the rows' ``U = X̃_c V`` (k, p̃). Vectorized Sherman–Morrison on
        ``H − ρ ε_j P`` (module docstring), ``ρ = share_of_fraction(t)``."""
        _check_method(method, ADDITIVE)
        t = float(fraction)
        rho = self.share_of_fraction(t)
        U = self._rows(rows) @ self._V  # (k, p̃)
        omega = self._coefs_omega(theta)
        eps = rho * self._eps[rows]
        a = t * d1[rows][:, :, None] * U[:, None, :] + eps[:, None, None] * omega.T[None]
        if method == "if":
            return a, U
        Dinv = self._shift(eps)  # (k, p̃)
        Da = Dinv[:, None, :] * a  # (k, q, p̃)
        Du = Dinv * U
        td = t * self.d[rows]
        one_minus = 1.0 - td * np.einsum("kp,kp->k", U, Du)
        bad = self._guard(one_minus, rows)
        proj = np.einsum("kp,kqp->kq", U, Da)
        coords = Da + Du[:, None, :] * (td[:, None] * proj / np.where(bad, 1.0, one_minus)[:, None])[:, :, None]
        coords[bad] = np.nan
        return coords, U

    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        """Single-row changes (len(rows), q, p̃), vectorized: O(len(rows) p̃² q)."""
        rows = self._row_index(rows)
        out = _step_table(out, rows.size, d1.shape[1], self.n_params)
        for start in range(0, rows.size, _ROW_BLOCK):
            sl = slice(start, min(start + _ROW_BLOCK, rows.size))
            coords, _ = self._row_coords(rows[sl], d1, theta, method, fraction)
            out[sl] = self._from_centred_steps(coords @ self._V.T)
        return out

    def _s3(self, theta, rows, eps, rho_t_default):
        """``s3_jk = u_jᵀ D_j ω_k`` (len(rows), q); cached for all rows at ``t = 1``."""
        omega = self._coefs_omega(theta)
        key = np.asarray(theta, dtype=float).tobytes()
        if rho_t_default and self._s3_cache is not None and self._s3_cache[0] == key:
            return self._s3_cache[1][rows]
        rows_all = np.arange(self.design.n_samples) if rho_t_default else rows
        eps_all = self._eps if rho_t_default else eps
        out = np.empty((rows_all.size, omega.shape[1]))
        for start in range(0, rows_all.size, _CHUNK_ROWS):
            sl = slice(start, min(start + _CHUNK_ROWS, rows_all.size))
            U = self._rows(rows_all[sl]) @ self._V
            out[sl] = (U * self._shift(eps_all[sl])) @ omega
        if rho_t_default:
            self._s3_cache = (key, out)
            return out[rows]
        return out

    def self_change(self, d1, theta, method, fraction=1.0):
        """``x̃_j·Δ_j = (t d1_j s1_j + ρε_j s3_j) / (1 − t d_j s1_j)`` (n, q) with
        ``s1_j = u_jᵀD_ju_j`` and ``s3_j = u_jᵀD_jω`` (``u·c = u·Da / (1 − t h)``).

        O(n q) once ``s1`` (at construction) and ``s3`` (first call, O(n p̃²)) are
        known for ``t = 1``; O(n p̃²) for other fractions.
        """
        _check_method(method, ADDITIVE)
        t = float(fraction)
        rho = self.share_of_fraction(t)
        n = self.design.n_samples
        rows = np.arange(n)
        if method == "if":
            return self._own_if_change(d1, theta, t, rho)
        eps = rho * self._eps
        if rho == 1.0:
            s1 = self._s1
        else:
            s1 = np.empty(n)
            for start in range(0, n, _CHUNK_ROWS):
                sl = slice(start, min(start + _CHUNK_ROWS, n))
                U = self._rows(sl) @ self._V
                s1[sl] = np.einsum("ij,ij->i", U * self._shift(eps[sl]), U)
        s3 = self._s3(theta, rows, eps, rho == 1.0) if np.any(eps) else 0.0
        one_minus = 1.0 - t * self.d * s1
        bad = self._guard(one_minus, rows)
        out = (t * d1 * s1[:, None] + eps[:, None] * s3) / np.where(bad, 1.0, one_minus)[:, None]
        out[bad] = np.nan
        return out

    def _row_effects_uniform(self, rows, Gamma, OG, d1, theta, method, out):
        """:meth:`row_effects` when every row owns the same share and ``t = 1``:
        ``D_j = D`` for all rows, so ``D u_j·Γ = x̃_j·(T V D Γ)`` is one product with
        the design (sparse-friendly) and ``s1``, ``s3`` are cached: O(nnz(X) m)."""
        q, m = out.shape[1], out.shape[2]
        eps0 = float(self._eps[0]) if method == "rif" else 0.0
        Dinv = self._shift(np.array([eps0]))[0] if method == "rif" else np.ones(self.n_params)
        GV = self._from_centred(self._V @ (Dinv[:, None] * Gamma))  # parameter-like (p̃, m)
        P2 = (Dinv @ OG).reshape(q, m)
        eps_rows = self._eps
        if method == "rif":
            s3 = self._s3(theta, rows, eps_rows[rows], True)
        for start in range(0, rows.size, _CHUNK_ROWS):
            sl = rows[start : start + _CHUNK_ROWS]
            P1 = self.design.rows_matvec(sl, GV)  # (c, m)
            eps = eps_rows[sl]
            d1s = np.asarray(d1[sl], dtype=float)
            res = d1s[:, :, None] * P1[:, None, :] + eps[:, None, None] * P2[None]
            if method == "rif":
                s1 = self._s1[sl]
                one_minus = 1.0 - self.d[sl] * s1
                bad = self._guard(one_minus, sl)
                uDa = d1s * s1[:, None] + eps[:, None] * s3[start : start + sl.size]
                beta = self.d[sl][:, None] * uDa / np.where(bad, 1.0, one_minus)[:, None]
                res += beta[:, :, None] * P1[:, None, :]
                res[bad] = np.nan
            out[start : start + sl.size] = res
        return out

    def _own_if_change(self, d1, theta, t, rho):
        """IF self-change ``x̃_j·H⁻¹(t d1_j x̃_j + ρε_j w̃)``: O(n p̃²) in row blocks."""
        n = self.design.n_samples
        omega = self._coefs_omega(theta)
        out = np.empty((n, d1.shape[1]))
        for start in range(0, n, _CHUNK_ROWS):
            sl = slice(start, min(start + _CHUNK_ROWS, n))
            U = self._rows(sl) @ self._V
            out[sl] = t * d1[sl] * np.einsum("ij,ij->i", U, U)[:, None] + (
                rho * self._eps[sl]
            )[:, None] * (U @ omega)
        return out

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        """``Δ_j[k]·G[:, i]`` (len(rows), q, m) without forming the steps:
        with ``Γ = Vᵀ Tᵀ G``, ``c_jk·Γ = t d1_jk (D_ju_j·Γ) + ρε_j (D_jω_k·Γ) +
        β_jk (D_ju_j·Γ)``. O(n p̃ (p̃ + q m) + p̃² m), in row blocks.
        """
        _check_method(method, ADDITIVE)
        t = float(fraction)
        rho = self.share_of_fraction(t)
        rows = self._row_index(slice(None) if rows is None else rows)
        omega = self._coefs_omega(theta)  # (p̃, q)
        q = omega.shape[1]
        Gamma = self._V.T @ self._to_centred(np.asarray(G, dtype=float))  # (p̃, m)
        m = Gamma.shape[1]
        OG = (omega[:, :, None] * Gamma[:, None, :]).reshape(-1, q * m)  # (p̃, q m)
        out = np.empty((rows.size, q, m))
        uniform_all = self._eps.size and np.ptp(self._eps) == 0
        if uniform_all and (method == "if" or (t == 1.0 and rho == 1.0)):
            return self._row_effects_uniform(rows, Gamma, OG, d1, theta, method, out)
        for start in range(0, rows.size, _CHUNK_ROWS):
            sl = rows[start : start + _CHUNK_ROWS]
            U = self._rows(sl) @ self._V
            eps = rho * self._eps[sl]
            tdl = t * np.asarray(d1[sl], dtype=float)
            uniform = sl.size and np.ptp(eps) == 0
            if method == "if":
                Dinv = np.ones((1, U.shape[1]))
            else:
                # One row of D_j when the rows share ε (SGD; GLMs without weights).
                Dinv = self._shift(eps[:1]) if uniform else self._shift(eps)
            DU = Dinv * U
            P1 = DU @ Gamma  # (c, m)
            if not np.any(eps):
                P2 = 0.0
            elif uniform or method == "if":
                P2 = (Dinv[:1] @ OG).reshape(1, q, m)
            else:
                P2 = (Dinv @ OG).reshape(-1, q, m)
            res = tdl[:, :, None] * P1[:, None, :] + eps[:, None, None] * P2
            if method == "rif":
                s1 = np.einsum("ij,ij->i", U, DU)
                one_minus = 1.0 - t * self.d[sl] * s1
                bad = self._guard(one_minus, sl)
                uDa = tdl * s1[:, None] + eps[:, None] * (DU @ omega)
                beta = (t * self.d[sl])[:, None] * uDa / np.where(bad, 1.0, one_minus)[:, None]
                res = res + beta[:, :, None] * P1[:, None, :]
                res[bad] = np.nan
            out[start : start + sl.size] = res
        return out

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        """``Δθ`` (n_outputs, n_params) for reweighting ``idx`` by ``1 − t``.

        "if"/"rif": sums of single-row steps; "newton": Woodbury on
        ``H − ρ ε_T P − t X̃_TᵀD_TX̃_T`` in V coordinates, O(k p̃² + k³).
        """
        idx = np.asarray(idx)
        if method in ADDITIVE:
            coords, _ = self._row_coords(idx, d1, theta, method, fraction)
            if np.isnan(coords).any():
                return np.full_like(np.asarray(theta, dtype=float), np.nan)
            return self._from_centred_steps(coords.sum(axis=0) @ self._V.T)
        _check_method(method, ADDITIVE + ("newton",))
        t = float(fraction)
        rho = self.share_of_fraction(t)
        rows = self._rows(idx)
        eps_T = rho * float(np.sum(self._eps[idx]))
        U = rows @ self._V  # (k, p̃)
        omega = self._coefs_omega(theta)  # (p̃, q)
        dT = t * self.d[idx]
        Dinv = self._shift(np.array([eps_T]))[0]  # (p̃,)
        a = t * (self._V.T @ (rows.T @ d1[idx])) + eps_T * omega  # (p̃, q)
        Da = Dinv[:, None] * a
        DU = U * Dinv  # (k, p̃)
        M = DU @ U.T  # X̃_T (H − ε_T P)⁻¹ X̃_Tᵀ
        C = np.eye(len(idx)) - dT[:, None] * M
        if np.all(dT >= 0) and np.all(Dinv > 0):
            root = np.sqrt(dT)
            Cs = np.eye(len(idx)) - root[:, None] * M * root
            check_capacitance(Cs, "Removing these rows" if t == 1 else "Reweighting these rows")
        elif not np.min(np.abs(np.linalg.eigvals(C))) > SINGULAR_RTOL or not np.all(Dinv > 0):
            raise NotPositiveDefiniteError(
                "Removing these rows leaves a Hessian that is not positive definite: "
                "the remaining rows do not determine every parameter."
            )
        y = np.linalg.solve(C, dT[:, None] * (U @ Da))
        coords = Da + DU.T @ y
        return self._from_centred_steps((self._V @ coords).T)


class UniformShareCurvature(Curvature):
    """Mean-form removals in the dual form when every row owns the same share.

    When all rows that carry a penalty share carry the same ``ε = α m`` (SGD always;
    GLMs without ``sample_weight``), every leave-one-out Hessian is
    ``H_ε − d_j x̃_j x̃_jᵀ`` with the *same* ``H_ε = H − εP`` (``H`` with penalty
    ``λ − ε``), so two standard factorizations (of ``H`` and ``H_ε``; n × n dual
    forms when ``p̃ > n``, see :mod:`skrif._removal.rank_one`) answer everything. With
    ``a = H_ε⁻¹ w̃`` and ``1 − h_j = 1 − d_j x̃_jᵀ H_ε⁻¹ x̃_j``, Sherman–Morrison gives

        RIF_j = H_ε⁻¹ x̃_j c_j + ε a,    c_j = (d1_j + ε d_j x̃_j·a) / (1 − h_j),

    and ``RIF(T) = H_ε⁻¹ X̃_Tᵀ c_T + |T| ε a`` is one solve. The group Newton step
    factors ``H − ε_T P`` once more and uses its Woodbury update. Requires
    ``d ≥ 0`` (convex loss) and ``λ > ε``. Rows without a share (GLM rows of weight
    0) have ``d = d1 = 0``: their change is 0 whichever matrix is used.
    """

    form = "dual"

    kind = "penalty_share"
    share_of_fraction = staticmethod(_full_share)

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

    def _factor_without_share(self, eps):
        """The rank-one factorization of ``H − ε P`` (cached for the LOO share)."""
        if eps == 0.0:
            return self._full
        if eps == self._eps:
            return self._loo
        if not self._coef - eps > 0:
            raise NotPositiveDefiniteError(
                "Removing these rows removes the whole penalty: the remaining rows do "
                "not determine every parameter."
            )
        return factor_curvature(self.design, self.d, self._coef - eps, self._intercept)

    @staticmethod
    def _w_tilde(theta, fit_intercept):
        wt = np.array(theta, dtype=float)
        if fit_intercept:
            wt[:, -1] = 0.0
        return wt

    def _row_parts(self, rows, d1, theta, method, fraction):
        """``(A, c, ρε_rows, a)``: single-row steps ``Δ_j = A⁻¹x̃_j c_j + ρε_j a``."""
        _check_method(method, ADDITIVE)
        t = float(fraction)
        rho = self.share_of_fraction(t)
        wt = self._w_tilde(theta, self.design.fit_intercept)
        eps = rho * self._eps_rows[rows]
        if method == "if":
            # H⁻¹ t g_j with the full Hessian.
            a_full = self._full.solve(wt.T)
            return self._full, t * np.asarray(d1[rows], dtype=float), eps, a_full
        A = self._factor_without_share(rho * self._eps)
        a = A.solve(wt.T)  # (p̃, q)
        coef = t * (d1[rows] + (eps * self.d[rows])[:, None] * self.design.rows_matvec(rows, a))
        one_minus = _fraction_one_minus(A.one_minus_leverage[rows], t)
        bad = self._guard(one_minus, rows)
        coef = coef / np.where(bad, 1.0, one_minus)[:, None]
        coef[bad] = np.nan
        return A, coef, eps, a

    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        """Single-row changes (len(rows), q, p̃): O(n² len(rows)) dual, in row blocks."""
        rows = self._row_index(rows)
        out = _step_table(out, rows.size, d1.shape[1], self.n_params)
        block = solve_block_rows(self.n_params)
        for start in range(0, rows.size, block):
            sl = rows[start : start + block]
            A, coef, eps, a = self._row_parts(sl, d1, theta, method, fraction)
            V = A.rows_solve(sl)  # (p̃, c)
            out[start : start + sl.size] = (
                coef[:, :, None] * V.T[:, None, :] + eps[:, None, None] * a.T[None]
            )
        return out

    def self_change(self, d1, theta, method, fraction=1.0):
        """``x̃_j·Δ_j = c_j x̃_jA⁻¹x̃_j + ρε_j x̃_j·a`` (n, q): O(n q) after the leverages."""
        rows = self._row_index(slice(None))
        A, coef, eps, a = self._row_parts(rows, d1, theta, method, fraction)
        return coef * A.self_quadratic()[:, None] + eps[:, None] * self.design.matvec(a)

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        """``Δθ`` (n_outputs, n_params) for reweighting ``idx`` by ``1 − t``.

        "newton": factors ``A = H − ρ ε_T P`` (O(n² p̃ + n³) dual) and applies the
        exact capacitance of :class:`~skrif._removal.dual.DualCurvature` to
        ``(A − t X̃_TᵀD_TX̃_T)⁻¹ (t X̃_Tᵀd1_T + ρ ε_T w̃)``.
        """
        idx = np.asarray(idx)
        if method in ADDITIVE:
            A, coef, eps, a = self._row_parts(idx, d1, theta, method, fraction)
            if np.isnan(coef).any():
                return np.full_like(np.asarray(theta, dtype=float), np.nan)
            return (A.rows_solve(idx, coef) + np.sum(eps) * a).T
        _check_method(method, ADDITIVE + ("newton",))
        t = float(fraction)
        rho = self.share_of_fraction(t)
        eps_T = rho * float(np.sum(self._eps_rows[idx]))
        A = self._factor_without_share(eps_T)
        wt = self._w_tilde(theta, self.design.fit_intercept)
        G = t * self.design.rows_rmatvec(idx, d1[idx]) + eps_T * wt.T
        HG = A.solve(G)
        C, root, _ = A.set_capacitance(idx, t)  # A has the same per-row curvature d
        y = t * root[:, None] * sla.solve(
            C, root[:, None] * self.design.rows_matvec(idx, HG), assume_a="pos"
        )
        return (HG + A.rows_solve(idx, y)).T


def mean_form_curvature(
    design, d, penalty_coef, penalty_intercept, share_coef, shares=None, share_of_fraction=None
):
    """Factor a mean-form Hessian in the cheapest exact form.

    The dual form (no p̃ × p̃ matrix) applies when ``p̃ > n``, the coefficients are
    penalised and ``d ≥ 0``: plain :func:`~skrif._removal.dual.factor_curvature` for
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
                curv = UniformShareCurvature(design, d, penalty_coef, penalty_intercept, eps_rows)
                curv.share_of_fraction = share_of_fraction or _full_share
                return curv
        except np.linalg.LinAlgError:
            pass
    return MeanFormCurvature(
        design, d, penalty_coef, penalty_intercept, share_coef, shares, share_of_fraction
    )
