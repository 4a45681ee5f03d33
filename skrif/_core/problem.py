"""An Objective evaluated on training data: value, gradients, Hessian, Newton solves.

Parameters are handled as ``θ`` of shape (n_outputs, n_params) with the intercept
last; solves work on column blocks (n_params, n_outputs), i.e. ``θᵀ``.
"""

import warnings

import numpy as np

from .._linalg.design import AugmentedDesign


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
        self.shares = (
            objective.penalty_shares(weights, weights) if objective.mean_form else None
        )
        self.penalty = self.penalty_for(None)

    def _penalty_scalars(self, weights=None):
        """``(λ_w, λ_b)`` for ``weights``; mean-form objectives add ``α Σ_i m_i``."""
        coef = self.objective.penalty_coef
        if self.objective.mean_form:
            shares = (
                self.shares
                if weights is None
                else self.objective.penalty_shares(weights, self.weights)
            )
            coef = coef + self.objective.penalty_share_coef * float(np.sum(shares))
        return coef, self.objective.penalty_intercept

    def penalty_for(self, weights=None):
        """Diagonal ``Λ`` (n_params,) of the objective with sample weights ``weights``.

        Sum-form objectives have a fixed penalty; for mean-form ones it scales with
        the penalty shares of the kept rows (a removed row takes its share along).
        """
        coef, intercept = self._penalty_scalars(weights)
        penalty = np.full(self.design.n_params, coef)
        if self.objective.fit_intercept:
            penalty[self.design.n_features] = intercept
        return penalty

    def check_optimum(self, theta):
        """Warn about a fitted optimum ``theta`` the removal questions should know of
        (nothing for smooth objectives)."""

    def linear_predictor(self, theta):
        return self.design.matvec(theta.T)

    def value(self, theta, weights=None):
        s = self.weights if weights is None else weights
        loss = self.objective.loss(self.Y, self.linear_predictor(theta))
        penalty = self.penalty if weights is None else self.penalty_for(weights)
        return self.objective.loss_scale * np.sum(s[:, None] * loss) + 0.5 * np.sum(
            penalty * theta**2
        )

    def row_derivatives(self, theta, weights=None):
        """Return ``(d1, d2)``: ``c s_i ℓ'_ik`` (n, n_outputs) and ``c s_i ℓ''_i`` (n,).

        The gradient of row i's term is ``d1[i, k] x̃_i`` for output k and its
        Hessian ``d2[i] x̃_i x̃_iᵀ`` (rank one).
        """
        s = self.weights if weights is None else weights
        dl, d2l = self.objective.loss_derivatives(self.Y, self.linear_predictor(theta))
        c = self.objective.loss_scale
        # d2l is (n,) for a shared curvature, (n, K, K) for coupled outputs (multinomial).
        return c * s[:, None] * dl, c * s.reshape((-1,) + (1,) * (d2l.ndim - 1)) * d2l

    def gradient(self, theta, d1, weights=None):
        """``∇J`` as columns (n_params, n_outputs), from precomputed ``d1``."""
        penalty = self.penalty if weights is None else self.penalty_for(weights)
        return self.design.rmatvec(d1) + penalty[:, None] * theta.T

    def curvature(self, d2, weights=None, theta=None):
        """Factor ``H`` for per-row curvature ``d2`` (at ``theta``, which only objectives
        whose Hessian depends on more than ``d2`` read, e.g. an L1 term's support).

        ``weights=None`` means the training objective itself: the factor then also
        answers removal questions (for mean-form and coupled-output objectives it
        is a specialised curvature that knows their per-row Hessians). With
        ``weights`` (Newton steps of a refit) only solves are needed.
        """
        from .._removal import make_hessian

        coef, intercept = self._penalty_scalars(weights)
        shares = self.shares if weights is None else None
        return make_hessian(self.objective, self.design, d2, coef, intercept, shares)

    def newton(self, theta, weights=None, *, tol=1e-11, max_iter=100, curvature=None):
        """Minimise ``J(·; weights)`` by damped Newton steps from ``theta``.

        Stops once a step is below ``tol · max(1, ‖θ‖)`` (the next would be at
        machine precision for these self-concordant-like losses). A factorization
        costs O(n p̃² + p̃³) primal, O(n² p̃ + n³) dual; it is reused for the next
        step (a simplified-Newton step: gradient and solve only, O(nnz(X) + p̃²))
        as long as steps shrink at least 8-fold and need no damping, and
        refactored otherwise. The fixed point (``∇J = 0``) and the stopping rule
        are those of Newton's method; near the optimum this typically needs one
        or two factorizations instead of one per step.

        Parameters
        ----------
        theta : ndarray (n_outputs, n_params)
            Starting point.
        weights : ndarray (n_samples,), default=None
            Sample weights of the objective (``None``: the training weights).
        tol : float
            Relative step size at which to stop.
        max_iter : int
            Maximum number of steps.
        curvature : Curvature, default=None
            A factorization of the Hessian of ``J(·; weights)`` at ``theta``, if
            the caller has one (saves the first factorization).

        Returns
        -------
        theta : ndarray (n_outputs, n_params)
        n_iter : int
        converged : bool
        """
        s = self.weights if weights is None else weights
        theta = np.array(theta, dtype=float)
        value = self.value(theta, s)
        # A start far out where the loss saturates (e.g. SGD on unscaled columns) can
        # have numerically zero curvature along directions the gradient points to,
        # which no (pseudo-inverse) Newton step can follow: start from θ = 0 when it
        # is already better (never the case for warm starts near the optimum).
        origin_value = self.value(np.zeros_like(theta), s)
        if origin_value < value:
            theta, value, curvature = np.zeros_like(theta), origin_value, None
        factor, fresh, previous = curvature, True, None
        for it in range(1, max_iter + 1):
            d1, d2 = self.row_derivatives(theta, s)
            grad = self.gradient(theta, d1, s)
            if factor is None:
                factor, fresh = self.curvature(d2, s), True
            step = -factor.solve(grad).T
            size = np.linalg.norm(step)
            if not fresh and not size <= 0.125 * previous:
                # The reused factorization no longer contracts fast: refactor here
                # (releasing the old one first: one factorization alive at a time).
                factor = None
                factor, fresh = self.curvature(d2, s), True
                step = -factor.solve(grad).T
                size = np.linalg.norm(step)
            # Backtracking (Armijo); near the optimum the full step is taken.
            t, trial, trial_value = backtrack(self, theta, step, value, grad, s, 1e-8)
            if trial is None:
                # No decrease along the step. With a reused factorization, refactor and
                # retry; with a fresh one this is the optimum only if the full Newton
                # step is negligible, otherwise the solve has stalled: say so.
                if not fresh:
                    factor, previous = None, np.inf
                    continue
                converged = size <= tol * max(1.0, np.linalg.norm(theta))
                return theta, it, converged
            theta, value = trial, trial_value
            # A fresh Newton step of this size leaves an error of order size² (below
            # rounding); a step with a reused factorization only contracts linearly,
            # so it must be 1000× smaller before the error is equally negligible.
            threshold = tol if fresh else 1e-3 * tol
            if t * size <= threshold * max(1.0, np.linalg.norm(theta)):
                return theta, it, True
            previous, fresh = t * size, False
            if t < 1.0:
                factor = None  # damped: still far from the optimum, refactor
        return theta, max_iter, False

    def optimality_gap(self, theta, curvature, d1):
        """Relative Newton step ``‖H⁻¹∇J(θ)‖ / max(‖θ‖, 1e-300)``: distance to the optimum."""
        step = curvature.solve(self.gradient(theta, d1))
        return float(np.linalg.norm(step) / max(np.linalg.norm(theta), 1e-300))


def backtrack(problem, theta, step, value, grad, weights, smallest):
    """Armijo backtracking along ``step`` from ``theta`` (objective ``value``, gradient
    ``grad`` as columns): ``(t, θ + t·step, J there)`` for the first halving
    ``t ≥ smallest`` that decreases ``J(·; weights)`` enough, ``(t, None, None)`` if
    none does. A point where ``J`` is infinite (outside its domain) is never taken."""
    slope = float(np.sum(grad.T * step))
    t = 1.0
    while t >= smallest:
        trial = theta + t * step
        trial_value = problem.value(trial, weights)
        if trial_value <= value + 1e-4 * t * slope + 1e-13 * abs(value):
            return t, trial, trial_value
        t *= 0.5
    return t, None, None


def warn_not_converged(n_iter, what, stacklevel=3):
    """Emit a :class:`~skrif.exceptions.NotConvergedWarning` (a scikit-learn
    ``ConvergenceWarning``, and a ``RuntimeWarning`` as before)."""
    from ..exceptions import NotConvergedWarning

    warnings.warn(
        f"skrif's Newton solve for {what} did not converge in {n_iter} iterations; "
        "the result may be inaccurate.",
        NotConvergedWarning,
        stacklevel=stacklevel,
    )
