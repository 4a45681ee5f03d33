"""A linear model fitted jointly with a scale: value, gradients, the joint Hessian and
an exact Newton solver in ``φ = (w, b, σ)``.

The objective (``problem_kind = "scale"``; HuberRegressor) is

    J(φ) = Σ_i s_i f(y_i, z_i, σ) + ½ θᵀΛθ,     z_i = x̃_i·θ,  σ > 0,

with the scale unpenalised. The family declares ``joint_loss(Y, Z, σ)`` (the per-row
``f``) and ``joint_derivatives(Y, Z, σ)``: ``∂f/∂z``, the curvature ``d`` and the
scale's column ``c`` of the rank-one row Hessian ``d (x̃, c)(x̃, c)ᵀ``, and ``μ``, the
part of ``∂f/∂σ`` beyond ``(∂f/∂z) c``; and, for a piecewise ``f``,
``piece_boundaries(Y, Z, σ)`` (:mod:`skrif._removal.pieces`). The Hessian kind is
:class:`~skrif._removal.joint_scale.JointScaleCurvature`.

:meth:`ScaleProblem.newton` reaches the exact optimum: damped Newton steps on the
generalized joint Hessian keeping ``σ > 0``, stopped when the step is below ``tol``
*and* the gradient is below :data:`GRADIENT_TOL` of its scale (not a step size alone).
"""

import numpy as np

from .._linalg.design import ExtraParameterDesign
from .._removal.joint_scale import JointScaleCurvature
from .._removal.pieces import PiecewiseCurvature
from .newton import Point, backtrack
from .problem import Problem

#: A point is optimal when ``|∇J|`` is below this fraction of the sum of the absolute
#: per-row gradient terms, entry by entry (rounding of the sum is ~1e-16 of it).
GRADIENT_TOL = 1e-12
#: A scale below this fraction of the targets' range has collapsed (an unconverged
#: solve there is refused: :meth:`ScaleProblem._check_scale_collapse`).
COLLAPSED_SCALE = 1e-8


class ScaleProblem(Problem):
    """:class:`~skrif._core.problem.Problem` with a scale parameter (module docstring).

    ``θ`` has shape (1, p̃ + 1): ``(w, b, σ)``; its design is an
    :class:`~skrif._linalg.design.ExtraParameterDesign` (σ enters no linear predictor).
    """

    matrix_free_steps = False  # its own Newton driver

    def __init__(self, objective, X, Y, weights):
        super().__init__(objective, X, Y, weights)
        self.design = ExtraParameterDesign(X, objective.fit_intercept)
        self.penalty = self.penalty_for(None)

    def penalty_for(self, weights=None):
        penalty = super().penalty_for(weights)
        if isinstance(self.design, ExtraParameterDesign):
            penalty[-1] = 0.0  # the scale is not penalised
        return penalty

    @staticmethod
    def scale_of(theta):
        return float(theta[0, -1])

    def _parts(self, theta, weights=None):
        """``(d1, d2, column, mu)`` at ``theta``: weighted row terms (module docstring)."""
        s = self.weights if weights is None else weights
        dz, dzz, column, mu = self.objective.joint_derivatives(
            self.Y, self.linear_predictor(theta), self.scale_of(theta)
        )
        return s[:, None] * dz, s * dzz, column, s * mu

    def value(self, theta, weights=None):
        sigma = self.scale_of(theta)
        if not sigma > 0:
            return np.inf
        s = self.weights if weights is None else weights
        penalty = self.penalty if weights is None else self.penalty_for(weights)
        rows = self.objective.joint_loss(self.Y, self.linear_predictor(theta), sigma)
        return float(np.sum(s * rows) + 0.5 * np.sum(penalty * theta**2))

    def row_derivatives(self, theta, weights=None):
        """``(d1, d2)``: ``s_i ∂f/∂z`` (n, 1) and the curvature ``s_i d_i`` (n,)."""
        d1, d2, _, _ = self._parts(theta, weights)
        return d1, d2

    def gradient(self, theta, d1, weights=None):
        """``∇J`` (p̃ + 1, 1): ``X̃ᵀd1``, the scale's ``Σ (d1_i c_i + μ_i)``, the penalty."""
        _, _, column, mu = self._parts(theta, weights)
        penalty = self.penalty if weights is None else self.penalty_for(weights)
        grad = self.design.rmatvec(d1)
        grad[-1] = np.sum(d1[:, 0] * column) + np.sum(mu)
        return grad + penalty[:, None] * theta.T

    def relative_gradient(self, theta, weights=None):
        """``max_j |∂_j J| / Σ_i |∂_j (row i's term)|`` (penalty included): 0 at the
        optimum, ~1e-16 of rounding. O(nnz(X))."""
        d1, _, column, mu = self._parts(theta, weights)
        penalty = self.penalty if weights is None else self.penalty_for(weights)
        grad = self.gradient(theta, d1, weights)[:, 0]
        absolute = np.abs(self.design.X).T @ np.abs(d1[:, 0])
        scale = np.zeros_like(grad)
        scale[: self.design.n_features] = np.asarray(absolute).ravel()
        if self.design.fit_intercept:
            scale[self.design.n_features] = np.sum(np.abs(d1))
        scale[-1] = np.sum(np.abs(d1[:, 0] * column)) + np.sum(np.abs(mu))
        scale = scale + np.abs(penalty * theta[0])
        return float(np.max(np.abs(grad) / np.maximum(scale, 1e-300)))

    def curvature(self, d2, weights=None, theta=None):
        """The joint Hessian at ``theta`` (required: its scale column depends on it);
        for the training objective wrapped with its rows' pieces."""
        if theta is None:
            raise ValueError("The joint Hessian depends on the residuals and the scale: pass theta.")
        _, d2, column, mu = self._parts(theta, weights)
        penalty = self.penalty if weights is None else self.penalty_for(weights)
        inner = JointScaleCurvature(self.design, column, d2, penalty, mu)
        if weights is not None:
            return inner
        B, slopes, scale_slopes = self.objective.piece_boundaries(
            self.Y, self.linear_predictor(theta), self.scale_of(theta)
        )
        return PiecewiseCurvature(
            inner, self.design, B, slopes, self.weights, scale_slopes=scale_slopes,
            scale_index=self.design.n_params - 1, piece_name=self.objective.piece_name,
        )

    def newton(self, theta, weights=None, *, tol=1e-11, max_iter=100, curvature=None):
        """Minimise ``J(·; weights)`` from ``theta`` by damped Newton steps with ``σ > 0``.

        Each step factors the joint Hessian (O(n p̃² + p̃³)); the backtracking search
        halves steps that leave ``σ ≤ 0`` or do not decrease ``J``. Stops when a
        full step is below ``tol · max(1, ‖φ‖)``; converged when the gradient is
        also below :data:`GRADIENT_TOL` of its scale (:meth:`relative_gradient`).
        Near an optimum a warm start needs two or three steps.

        Returns ``(theta, n_iter, converged)`` like
        :meth:`~skrif._core.problem.Problem.newton`.
        """
        s = self.weights if weights is None else weights
        theta = np.array(theta, dtype=float)
        value = self.value(theta, s)
        for it in range(1, max_iter + 1):
            d1, d2 = self.row_derivatives(theta, s)
            if not np.any(d2[s > 0] > 0):
                # No row on the curved piece: the Hessian has no curvature along the
                # scale, so no Newton step moves it. Minimise over the scale alone
                # first (a scale that collapsed in a previous fit, or a far start).
                theta = self.best_scale(theta, s)
                value = self.value(theta, s)
                d1, d2 = self.row_derivatives(theta, s)
                curvature = None
            grad = self.gradient(theta, d1, s)
            factor = curvature if it == 1 and curvature is not None else self.curvature(d2, s, theta)
            step = -factor.solve(grad).T
            factor = None
            # ``value`` is infinite for σ ≤ 0: such steps are halved.
            t, trial = backtrack(
                lambda th: Point(self, th, s), theta, step, value,
                float(np.sum(grad.T * step)), 1e-12,
            )
            if trial is None:
                break
            theta, value = trial.theta, trial.value
            if t * np.linalg.norm(step) <= tol * max(1.0, np.linalg.norm(theta)):
                break
        converged = self.relative_gradient(theta, s) <= GRADIENT_TOL
        if not converged:
            self._check_scale_collapse(theta, s)
        return theta, it, converged

    def best_scale(self, theta, weights):
        """``theta`` with its scale replaced by the minimiser of ``J`` over the scale
        alone (the coefficients fixed): the root of ``∂J/∂σ = Σ_i s_i (∂f/∂z · c_i +
        μ_i)``, increasing in ``σ`` for a convex ``J`` (for Huber
        ``Σ_i s_i (1 − min(r_i²/σ², ε²))``), by Brent's method on ``log σ`` between
        scales where every row is an outlier and where every row is an inlier.
        O(n) per evaluation after one O(nnz(X)) product; ``theta`` unchanged if the
        slope does not change sign there."""
        from scipy.optimize import brentq

        Z = self.linear_predictor(theta)

        def slope(log_sigma):
            dz, _, column, mu = self.objective.joint_derivatives(self.Y, Z, np.exp(log_sigma))
            return float(np.sum(weights * (dz[:, 0] * column + mu)))

        r = np.abs(self.Y - Z)[weights > 0]
        positive = r[r > 0]
        if positive.size == 0:
            return theta
        low, high = np.log(positive.min()) - 5.0, np.log(positive.max()) + 5.0
        if not (slope(low) < 0 < slope(high)):
            return theta
        out = np.array(theta)
        out[0, -1] = np.exp(brentq(slope, low, high, xtol=1e-14, rtol=1e-15))
        return out

    def _check_scale_collapse(self, theta, weights):
        """Raise :class:`~skrif.exceptions.NoFiniteOptimumError` when an unconverged
        solve ended with the scale collapsing: no row on the curved piece (every row
        an outlier: the scale's gradient ``Σ s_i μ_i`` is then not 0, so no interior
        optimum is near), or a scale below :data:`COLLAPSED_SCALE` of the targets'
        spread (the coefficients fit the inliers exactly; the curvature ``2/σ`` swamps
        the penalty and no solve is accurate)."""
        _, d2, _, _ = self._parts(theta, weights)
        kept = weights > 0
        spread = float(np.ptp(self.Y[kept])) if np.any(kept) else 0.0
        if np.any(d2[kept] > 0) and self.scale_of(theta) > COLLAPSED_SCALE * spread:
            return
        from ..exceptions import NoFiniteOptimumError

        rows = int(np.sum(weights > 0))
        raise NoFiniteOptimumError(
            f"The {self.objective.estimator_name} objective has no interior optimum on "
            f"these rows ({rows} sample{'' if rows == 1 else 's'}, "
            f"{self.design.n_params - 1} coefficients and intercept): its scale shrinks to 0 "
            f"(scale {self.scale_of(theta):.3g}, every row an outlier), which happens when "
            "the coefficients fit the rows (almost) exactly, e.g. with as many features "
            "as rows. Its limit is a non-smooth "
            "absolute-loss fit that skrif cannot attribute; use fewer features or a "
            "larger alpha."
        )
