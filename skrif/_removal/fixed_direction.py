"""Rank-one per-row Hessians whose gradients also move along one fixed direction.

Some objectives give row ``j`` a term whose gradient is not parallel to its design
row: ``g_j = d1_j x̃_j + μ_j γ`` with a direction ``γ`` shared by every row, while its
Hessian stays ``d_j x̃_j x̃_jᵀ``. The Lasso in sum form is one (each row owns the
share ``s_j α ‖w‖₁`` of the penalty, whose gradient on the support is
``s_j α sign(w)``: ``γ = α sign(w̃)``, ``μ_j = s_j``); HuberRegressor's scale
parameter is another. With ``a = H⁻¹γ`` (one solve), reweighting row ``j`` by
``1 − t`` (``ρ = ρ(t)`` of its share) changes ``θ`` by

* ``"if"``:  ``H⁻¹x̃_j t d1_j + ρ μ_j a``;
* ``"rif"``: ``H⁻¹x̃_j c_j + ρ μ_j a``, ``c_j = t (d1_j + ρ μ_j d_j x̃_j·a) / (1 − t h_j)``
  (Sherman–Morrison: the exact Newton step on the reweighted objective);
* ``"newton"`` for a set ``T``: ``(H − t X̃_TᵀD_TX̃_T)⁻¹ (t X̃_Tᵀd1_T + ρ μ_T γ)`` — the
  rank-one kind's group step for the first part plus Woodbury on ``a`` for the
  second, with the same capacitance.

All of it is the rank-one kind's algebra with modified row coefficients plus
multiples of ``a``: no new factorization, O(p̃²) more per call than the rank-one kind.
"""

import numpy as np

from .base import ADDITIVE, WrappingCurvature, _check_method


class FixedDirectionCurvature(WrappingCurvature):
    """A rank-one kind plus per-row gradient components ``μ_j γ`` (module docstring).

    Parameters
    ----------
    inner : _LinearCurvature
        The factored rank-one Hessian (``"rank_one"`` kind) on the same design.
    gamma : ndarray of shape (n_params, n_outputs)
        The fixed direction ``γ`` of each output.
    mu : ndarray of shape (n_samples,)
        Each row's multiple ``μ_j`` of ``γ``.
    share_of_fraction : callable, default=None
        ``ρ(t)``: the part of ``μ_j`` removed when the row's weight is multiplied by
        ``1 − t`` (default ``t``).
    """

    kind = "fixed_direction"

    def __init__(self, inner, gamma, mu, share_of_fraction=None):
        super().__init__(inner, inner.design)
        self.gamma = np.asarray(gamma, dtype=float)
        self.mu = np.asarray(mu, dtype=float)
        self.share_of_fraction = share_of_fraction or float
        self._a = None

    @property
    def a(self):
        """``H⁻¹γ`` (n_params, n_outputs), one solve (cached)."""
        if self._a is None:
            self._a = self.inner_kind.solve(self.gamma)
        return self._a

    def _coefficients(self, rows, d1, method, t):
        """``(d1', ρμ)``: rank-one coefficients that give ``c_j`` through the inner kind,
        and the multiples of ``a`` to add."""
        rho = self.share_of_fraction(t)
        mu = rho * self.mu[rows]
        d1 = np.asarray(d1[rows], dtype=float)
        if method == "rif" and t != 0:
            xa = self.design.rows_matvec(rows, self.a)  # (k, q)
            d1 = d1 + (mu * self.d[rows])[:, None] * xa
        return d1, mu

    def _rows_d1(self, rows, d1, method, t):
        """A full-length ``d1`` whose ``rows`` carry the modified coefficients."""
        rows = self._row_index(rows)
        mod, mu = self._coefficients(rows, d1, method, t)
        full = np.array(d1, dtype=float)
        full[rows] = mod
        return full, rows, mu

    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        """``H⁻¹x̃_j c_j + ρμ_j a`` (len(rows), q, p̃): the rank-one kind's cost."""
        _check_method(method, ADDITIVE)
        full, rows, mu = self._rows_d1(rows, d1, method, float(fraction))
        out = self.inner_kind.row_steps(rows, full, theta, method, fraction, out=out)
        out += mu[:, None, None] * self.a.T[None]
        return out

    def self_change(self, d1, theta, method, fraction=1.0):
        _check_method(method, ADDITIVE)
        full, rows, mu = self._rows_d1(slice(None), d1, method, float(fraction))
        return self.inner_kind.self_change(full, theta, method, fraction) + mu[:, None] * self.design.matvec(self.a)

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        _check_method(method, ADDITIVE)
        full, rows, mu = self._rows_d1(slice(None) if rows is None else rows, d1, method, float(fraction))
        out = self.inner_kind.row_effects(G, full, theta, method, rows=rows, fraction=fraction)
        return out + mu[:, None, None] * (self.a.T @ G)[None]

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        """``Δθ`` (q, p̃) for reweighting rows ``idx`` by ``1 − t``: additive sums, or the
        group step with the rank-one kind's capacitance (O(k p̃² + k³))."""
        idx = np.asarray(idx)
        t = float(fraction)
        if method in ADDITIVE:
            full, rows, mu = self._rows_d1(idx, d1, method, t)
            change = self.inner_kind.set_change(idx, full, theta, method, t)
            return change + mu.sum() * self.a.T
        _check_method(method, ADDITIVE + ("newton",))
        change = self.inner_kind.set_change(idx, d1, theta, "newton", t)
        mu_T = self.share_of_fraction(t) * float(self.mu[idx].sum())
        if mu_T == 0.0:
            return change
        # (H − UᵀU)⁻¹γ = a + H⁻¹Uᵀ C⁻¹ U a, U = (tD_T)^½ X̃_T: the same capacitance.
        C, root, _ = self.inner_kind.set_capacitance(idx, t)
        ua = root[:, None] * self.design.rows_matvec(idx, self.a)  # (k, q)
        y = t * root[:, None] * np.linalg.solve(C, ua)
        return change + mu_T * (self.a + self.inner_kind.rows_solve(idx, y)).T
