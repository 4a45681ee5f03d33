"""A linear model fitted jointly with a scale parameter: the "joint_scale" kind.

Some objectives estimate a scale ``σ`` together with ``θ = (w, b)``, each row
contributing ``f(r_i, σ)`` with ``r_i = y_i − x̃_i·θ`` (HuberRegressor:
``σ + σ H_ε(r/σ)``). Written in ``φ = (w, b, σ)``, a row's Hessian is still rank one
when ``f`` is a perspective function ``σ g(r/σ)`` of a quadratic ``g`` on its current
piece: for ``f = σ + r²/σ`` it is ``d_i v_i v_iᵀ`` with

    d_i = 2 s_i / σ,    v_i = (x̃_i, r_i/σ),

and its gradient ``d1_i v_i + μ_i e_σ`` (``d1_i = ∂f/∂z``, ``μ_i`` the rest of
``∂f/∂σ``) has a component along the fixed direction ``e_σ``. So the joint Hessian is
the rank-one kind on the *extended* design ``V = [X, r/σ, 1]`` with the scale's column
unpenalised, and removals are :class:`~skrif._removal.fixed_direction.FixedDirectionCurvature`'s
algebra on it: RIF uses the leverage of the joint Hessian ``h_i = d_i v_iᵀH⁻¹v_i``, the
group step is one Newton step in ``(w, b, σ)``. Neither is exact: the objective is not
quadratic in ``σ``.

Parameters are ordered ``(w, b, σ)`` (scikit-learn's order); the extended design
orders them ``(w, σ, b)`` (its intercept is last), and this kind permutes between the
two. Predictions see ``θ`` only: changes of linear predictors use the design of the
model (:class:`~skrif._linalg.design.ExtraParameterDesign`, a zero for ``σ``).
The extended design is a copy of ``X`` with one more column: O(nnz(X) + n) memory.
"""

import numpy as np
import scipy.sparse as sp

from .._linalg.design import AugmentedDesign
from .base import Curvature, _step_table
from .dual import factor_curvature
from .fixed_direction import FixedDirectionCurvature


class JointScaleCurvature(Curvature):
    """The factored joint Hessian in ``(w, b, σ)`` (module docstring).

    Parameters
    ----------
    design : ExtraParameterDesign
        The model's design (``n_params = p̃ + 1``, ``σ`` last).
    column : ndarray of shape (n_samples,)
        The scale's column of the extended design, ``r_i/σ`` (0 where ``d_i = 0``).
    d : ndarray of shape (n_samples,)
        Per-row curvature ``d_i``.
    penalty : ndarray of shape (n_params,)
        Diagonal L2 penalty in ``(w, b, σ)`` order.
    mu : ndarray of shape (n_samples,)
        Each row's gradient component along ``e_σ`` beyond ``d1_i v_i``.
    """

    kind = "joint_scale"

    def __init__(self, design, column, d, penalty, mu):
        super().__init__(design, np.asarray(d, dtype=float))
        p, fit_intercept = design.n_features, design.fit_intercept
        column = np.asarray(column, dtype=float)[:, None]
        X = design.X
        extended = sp.hstack([X, column], format="csr") if sp.issparse(X) else np.hstack([X, column])
        self.extended = AugmentedDesign(extended, fit_intercept)
        self.column = column[:, 0]
        # Extended order (w, σ, b) ← model order (w, b, σ).
        self._to_extended = np.r_[np.arange(p), design.n_params - 1, np.arange(p, design.n_params - 1)]
        self._to_model = np.argsort(self._to_extended)
        penalty = np.asarray(penalty, dtype=float)[self._to_extended]
        gamma = np.zeros((self.n_params, 1))
        gamma[p] = 1.0
        base = factor_curvature(
            self.extended, self.d, penalty[: p + 1], penalty[p + 1] if fit_intercept else 0.0,
            mode="primal",
        )
        self.joint = FixedDirectionCurvature(base, gamma, mu)
        self.rank = base.rank
        self._scale_at = p  # σ's position in the extended order

    # -- permutations ---------------------------------------------------------------
    def _extended(self, G):
        return np.asarray(G)[self._to_extended]

    def _model(self, V):
        return np.asarray(V)[self._to_model]

    # -- the protocol ---------------------------------------------------------------
    @property
    def one_minus_leverage(self):
        """``1 − h_i`` of the joint Hessian, ``h_i = d_i v_iᵀH⁻¹v_i``."""
        return self.joint.one_minus_leverage

    def solve(self, G):
        return self._model(self.joint.solve(self._extended(G)))

    def inverse_diagonal(self):
        return self._model(self.joint.inverse_diagonal())

    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        """Single-row changes in ``(w, b, σ)``: the fixed-direction kind's (O(p̃²) each)."""
        steps = self.joint.row_steps(rows, d1, theta, method, fraction)
        rows = self._row_index(rows)
        out = _step_table(out, rows.size, d1.shape[1], self.n_params)
        out[...] = steps[:, :, self._to_model]
        return out

    def self_change(self, d1, theta, method, fraction=1.0):
        """``x̃_i·Δθ_i`` (n, q) with the model's rows (σ enters no linear predictor).

        With ``Δ_i = H⁻¹v_i c_i + ρμ_i a`` (``a = H⁻¹e_σ``): ``v_i·Δ_i = c_i v_iᵀH⁻¹v_i +
        ρμ_i v_i·a`` and ``Δσ_i = c_i v_i·a + ρμ_i a_σ``, and ``x̃_i·Δθ_i = v_i·Δ_i −
        (r_i/σ) Δσ_i``: O(nnz(X)) after the leverages (no per-row solve).
        """
        joint = self.joint
        full, rows, mu = joint._rows_d1(slice(None), d1, method, float(fraction))
        coef = joint.inner_kind.row_coefficients(rows, full, method, fraction)  # (n, q)
        va = self.extended.matvec(joint.a)  # (n, 1): v_i·a
        quad = joint.inner_kind.self_quadratic()[:, None]
        scale_change = coef * va + mu[:, None] * float(joint.a[self._scale_at, 0])
        return coef * quad + mu[:, None] * va - self.column[:, None] * scale_change

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        return self.joint.row_effects(self._extended(G), d1, theta, method, rows=rows, fraction=fraction)

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        return self.joint.set_change(idx, d1, theta, method, fraction)[:, self._to_model]

    # -- reaches for the piece checks (:mod:`skrif._removal.pieces`) --------------------
    def _scale_variance(self):
        """``(H⁻¹)_σσ = e_σᵀH⁻¹e_σ`` (one solve, cached by the fixed-direction kind)."""
        return max(float(self.joint.a[self._scale_at, 0]), 0.0)

    def prediction_reach(self):
        """Upper bounds of ``‖x̃_i‖_{H⁻¹}`` for the model's rows ``(x̃_i, 0)``:
        ``‖v_i‖_{H⁻¹} + |r_i/σ| ‖e_σ‖_{H⁻¹}`` (triangle inequality), O(n) after the
        leverages."""
        quad = np.maximum(self.joint.inner_kind.self_quadratic(), 0.0)
        return np.sqrt(quad) + np.abs(self.column) * np.sqrt(self._scale_variance())

    def step_reach(self, rows, d1, method, fraction=1.0):
        """Upper bounds of ``‖Δ_j‖_H`` for the single-row changes
        ``Δ_j = H⁻¹(v_j c_j + ρμ_j e_σ)``: ``|c_j| ‖v_j‖_{H⁻¹} + |ρμ_j| ‖e_σ‖_{H⁻¹}``."""
        full, rows, mu = self.joint._rows_d1(rows, d1, method, float(fraction))
        coef = self.joint.inner_kind.row_coefficients(rows, full, method, fraction)
        quad = np.maximum(self.joint.inner_kind.self_quadratic()[rows], 0.0)
        return np.max(np.abs(coef), axis=1) * np.sqrt(quad) + np.abs(mu) * np.sqrt(self._scale_variance())

    def scale_reach(self, rows, d1, method, fraction=1.0):
        """Upper bounds of ``|Δσ_j| ≤ ‖e_σ‖_{H⁻¹} ‖Δ_j‖_H``."""
        return np.sqrt(self._scale_variance()) * self.step_reach(rows, d1, method, fraction)
