"""An Objective evaluated on training data: value, gradients, Hessian, Newton solves.

Parameters are handled as ``θ`` of shape (n_outputs, n_params) with the intercept
last; solves work on column blocks (n_params, n_outputs), i.e. ``θᵀ``.
"""

import warnings

import numpy as np

from .._linalg.design import AugmentedDesign


def row_derivatives(objective, Y, Z, weights):
    """``(d1, d2)`` of rows with encoded targets ``Y``, linear predictors ``Z`` and
    weights ``s``: ``c s_i ℓ'_ik`` (n, q) and ``c s_i ℓ''_i`` ((n,), or (n, K, K)
    blocks for coupled outputs). O(n q) (O(n K²) for blocks)."""
    dl, d2l = objective.loss_derivatives(Y, Z)
    c = objective.loss_scale
    s = np.asarray(weights, dtype=float)
    return c * s[:, None] * dl, c * s.reshape((-1,) + (1,) * (np.ndim(d2l) - 1)) * d2l


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
        return row_derivatives(self.objective, self.Y, self.linear_predictor(theta), s)

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
        """Minimise ``J(·; weights)`` by damped Newton steps from ``theta``
        (:func:`newton`, skrif's one Newton solver).

        A factorization costs O(n p̃² + p̃³) primal, O(n² p̃ + n³) dual; it is reused
        (a simplified-Newton step: gradient and solve only, O(nnz(X) + p̃²)) as long
        as steps shrink at least 8-fold, so near the optimum this typically needs
        one or two factorizations instead of one per step.

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
        start = _Point(self, theta, s)
        # A start far out where the loss saturates (e.g. SGD on unscaled columns) can
        # have numerically zero curvature along directions the gradient points to,
        # which no (pseudo-inverse) Newton step can follow: start from θ = 0 when it
        # is already better (never the case for warm starts near the optimum).
        origin = _Point(self, np.zeros_like(theta), s)
        if origin.value < start.value:
            start, curvature = origin, None
        return newton(
            lambda th, hessian: _Point(self, th, s), start, tol=tol, max_iter=max_iter,
            factor=curvature,
        )

    def optimality_gap(self, theta, curvature, d1):
        """Relative Newton step ``‖H⁻¹∇J(θ)‖ / max(‖θ‖, 1e-300)``: distance to the optimum."""
        step = curvature.solve(self.gradient(theta, d1))
        return float(np.linalg.norm(step) / max(np.linalg.norm(theta), 1e-300))


class _Point:
    """The objective of a :class:`Problem` at one ``θ``: its value at once, its
    gradient and factored Hessian when first asked for (a rejected line-search
    trial costs one evaluation of the loss only)."""

    has_hessian = False

    def __init__(self, problem, theta, weights):
        self.problem, self.theta, self.weights = problem, theta, weights
        self.value = problem.value(theta, weights)
        self._derivatives = None

    def _row_derivatives(self):
        if self._derivatives is None:
            self._derivatives = self.problem.row_derivatives(self.theta, self.weights)
        return self._derivatives

    @property
    def gradient(self):
        return self.problem.gradient(self.theta, self._row_derivatives()[0], self.weights)

    def factor(self):
        return self.problem.curvature(self._row_derivatives()[1], self.weights)


def newton(point_at, start, *, tol=1e-11, max_iter=100, factor=None):
    """skrif's one Newton solver: damped Newton steps with factor reuse.

    Used by the in-memory fit, polish and refits (:meth:`Problem.newton`) and by the
    distributed ones on Dask (:mod:`skrif._dask`), each with its own evaluation of
    the objective.

    Parameters
    ----------
    point_at : callable
        ``point_at(theta, hessian)`` → the objective at ``theta``: an object with
        ``value``, ``gradient`` (n_params, n_outputs), ``factor()`` (the factored
        Hessian there, with ``solve``) and ``has_hessian`` (whether ``factor()``
        costs no more evaluation). ``hessian`` says whether ``factor()`` will
        probably be asked for (an evaluation that gets the Hessian in the same pass
        over the data, as on Dask, computes it then).
    start : point or ndarray
        Starting point (a ``point_at`` result or ``θ`` (n_outputs, n_params)).
    tol : float
        Stop once a Newton step is below ``tol · max(1, ‖θ‖)`` with a fresh factor
        (``1e-3 · tol`` with a reused one, which only contracts linearly): a step
        computed that small is taken without evaluating the objective there, a step
        accepted that small (possibly damped, where rounding dominates the
        gradient) ends the search at the accepted point.
    max_iter : int
    factor : Curvature, default=None
        The factored Hessian at ``start``, if the caller has one.

    Returns
    -------
    theta : ndarray (n_outputs, n_params)
    n_iter : int
        Newton steps taken.
    converged : bool

    Notes
    -----
    A factorization is reused (gradient and solve only) while steps shrink at
    least 8-fold and need no damping; a point evaluated with its Hessian (Dask)
    brings a fresh factor instead. Backtracking is Armijo's. The fixed point
    (``∇J = 0``) and the stopping rule are those of Newton's method.
    """
    point = start if hasattr(start, "value") else point_at(np.array(start, dtype=float), factor is None)
    theta = point.theta
    fresh, previous = True, None
    if factor is None:
        factor = point.factor()
    it = 0
    while it < max_iter:
        it += 1
        grad = point.gradient
        step = -factor.solve(grad).T
        size = np.linalg.norm(step)
        if not fresh and not size <= 0.125 * previous:
            # The reused factorization no longer contracts fast: refactor here.
            factor, fresh = point.factor(), True
            step = -factor.solve(grad).T
            size = np.linalg.norm(step)
        threshold = tol if fresh else 1e-3 * tol
        if size <= threshold * max(1.0, np.linalg.norm(theta)):
            return theta + step, it, True
        slope = np.sum(grad.T * step)
        t, accepted = 1.0, False
        while t >= 1e-8:
            trial_theta = theta + t * step
            # The Hessian at the trial point is needed unless Newton is already
            # contracting quadratically (then the factorization is reused).
            quadratic = t == 1.0 and previous is not None and size <= 0.125 * previous
            trial = point_at(trial_theta, not quadratic)
            if trial.value <= point.value + 1e-4 * t * slope + 1e-13 * abs(point.value):
                accepted = True
                break
            if not fresh:
                break
            t *= 0.5
        if not accepted:
            if not fresh:  # no decrease with a reused factorization: refactor at θ
                factor, fresh, previous = point.factor(), True, np.inf
                continue
            return theta, it, size <= tol * max(1.0, np.linalg.norm(theta))
        theta, point = trial_theta, trial
        previous = t * size
        if previous <= threshold * max(1.0, np.linalg.norm(theta)):
            return theta, it, True
        if t < 1.0 or trial.has_hessian:
            factor, fresh = trial.factor(), True
        else:
            fresh = False
    return theta, max_iter, False


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
