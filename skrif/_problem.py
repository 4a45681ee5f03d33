"""An Objective evaluated on training data: value, gradients, Hessian, Newton solves.

Parameters are handled as ``θ`` of shape (n_outputs, n_params) with the intercept
last; solves work on column blocks (n_params, n_outputs), i.e. ``θᵀ``.
"""

import warnings

import numpy as np

from ._curvature import factor_curvature
from ._design import AugmentedDesign


class Problem:
    """``J(θ; s) = c Σ s_i Σ_k ℓ(y_ik, z_ik) + ½ θᵀΛθ`` on fixed ``(X, Y)``.

    Parameters
    ----------
    objective : Objective
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Encoded targets (``objective.encode_targets``).
    weights : ndarray of shape (n_samples,)
        Effective sample weights ``s_i``; a removal sets some of them to zero.
    """

    def __init__(self, objective, X, Y, weights):
        self.objective = objective
        self.design = AugmentedDesign(X, objective.fit_intercept)
        self.Y = Y
        self.weights = weights
        p = self.design.n_features
        self.penalty = np.full(self.design.n_params, objective.penalty_coef)
        if objective.fit_intercept:
            self.penalty[p] = objective.penalty_intercept

    def linear_predictor(self, theta):
        return self.design.matvec(theta.T)

    def value(self, theta, weights=None):
        s = self.weights if weights is None else weights
        loss = self.objective.loss(self.Y, self.linear_predictor(theta))
        return self.objective.loss_scale * np.sum(s[:, None] * loss) + 0.5 * np.sum(
            self.penalty * theta**2
        )

    def row_derivatives(self, theta, weights=None):
        """Return ``(d1, d2)``: ``c s_i ℓ'_ik`` (n, n_outputs) and ``c s_i ℓ''_i`` (n,).

        The gradient of row i's term is ``d1[i, k] x̃_i`` for output k and its
        Hessian ``d2[i] x̃_i x̃_iᵀ`` (rank one).
        """
        s = self.weights if weights is None else weights
        dl, d2l = self.objective.loss_derivatives(self.Y, self.linear_predictor(theta))
        c = self.objective.loss_scale
        return c * s[:, None] * dl, c * s * d2l

    def gradient(self, theta, d1):
        """``∇J`` as columns (n_params, n_outputs), from precomputed ``d1``."""
        return self.design.rmatvec(d1) + self.penalty[:, None] * theta.T

    def curvature(self, d2):
        return factor_curvature(
            self.design, d2, self.objective.penalty_coef, self.objective.penalty_intercept
        )

    def newton(self, theta, weights=None, *, tol=1e-11, max_iter=100):
        """Minimise ``J(·; weights)`` by damped Newton steps from ``theta``.

        Stops once a step is below ``tol · max(1, ‖θ‖)`` (the next would be at
        machine precision for these self-concordant-like losses). Each step
        refactors the Hessian: O(n p̃² + p̃³) primal, O(n² p̃ + n³) dual.

        Returns
        -------
        theta : ndarray (n_outputs, n_params)
        n_iter : int
        converged : bool
        """
        s = self.weights if weights is None else weights
        theta = np.array(theta, dtype=float)
        value = self.value(theta, s)
        for it in range(1, max_iter + 1):
            d1, d2 = self.row_derivatives(theta, s)
            grad = self.gradient(theta, d1)
            step = -self.curvature(d2).solve(grad).T
            size = np.linalg.norm(step)
            # Backtracking (Armijo); near the optimum the full step is taken.
            slope = np.sum(grad.T * step)
            t = 1.0
            while True:
                trial = theta + t * step
                trial_value = self.value(trial, s)
                if trial_value <= value + 1e-4 * t * slope + 1e-13 * abs(value) or t < 1e-8:
                    break
                t *= 0.5
            theta, value = trial, trial_value
            if t * size <= tol * max(1.0, np.linalg.norm(theta)):
                return theta, it, True
        return theta, max_iter, False

    def optimality_gap(self, theta, curvature, d1):
        """Relative Newton step ``‖H⁻¹∇J(θ)‖ / max(‖θ‖, 1e-300)``: distance to the optimum."""
        step = curvature.solve(self.gradient(theta, d1))
        return float(np.linalg.norm(step) / max(np.linalg.norm(theta), 1e-300))


def warn_not_converged(n_iter, what):
    warnings.warn(
        f"skrif's Newton solve for {what} did not converge in {n_iter} iterations; "
        "the result may be inaccurate.",
        RuntimeWarning,
        stacklevel=3,
    )
