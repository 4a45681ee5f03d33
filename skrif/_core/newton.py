"""Newton's method on an objective, with as few Hessian factorizations as it needs.

Near an optimum consecutive Hessians differ little, so a factorization made at one
point preconditions the exact Newton system at the next: conjugate gradients on
Hessian-vector products (two passes over ``X``) with the old factor as
preconditioner converge in a few iterations to machine precision, and Newton keeps
its quadratic convergence without refactoring. The same holds for refits: the
factor of the full-data Hessian preconditions the Hessian without a few rows
(a low-rank change). When factoring is much dearer than a product (sparse or
wide problems, coupled outputs) the first steps try the diagonal as preconditioner
within a budget of products worth most of a factorization.

:class:`NewtonSteps` is that strategy, decided once per objective (cost model:
:func:`skrif._removal.factorization_cost` against
:func:`skrif._removal.product_cost`); :func:`newton` is the damped Newton driver.
"""

import numpy as np

from .._linalg.cg import pcg
from .._removal import factorization_cost, product_cost
from .._removal.iterative import MAX_ITER as ITERATIVE_MAX_ITER

#: Relative preconditioned residual at which a step's conjugate gradients stop:
#: the step is then exact to working precision for the stopping rule below.
STEP_RTOL = 1e-10
#: Iterations allowed with a factor of a nearby Hessian as preconditioner before
#: refactoring (it converges in a few when the Hessians are close).
FACTOR_PCG_ITER = 25
#: Diagonal-preconditioned steps are tried only when a factorization costs at least
#: this many Hessian-vector products, within a budget of products worth
#: ``MATRIX_FREE_BUDGET`` factorizations (well-conditioned problems need 10–100
#: products per step, and polishing a few steps; a failed attempt costs less than
#: the factorization it saves when it succeeds).
MATRIX_FREE_RATIO = 300.0
MATRIX_FREE_BUDGET = 0.75
#: Diagonal-preconditioned steps stop (and a factorization is made) when the budget
#: left cannot pay for this many more steps like the last one.
STEPS_AHEAD = 3


class NewtonSteps:
    """Solves the Newton systems ``H(θ) s = −∇J(θ)`` of one objective.

    Parameters
    ----------
    problem : Problem
    weights : ndarray of shape (n,) or None
        ``None``: the training objective, whose factorization (if one is made) is the
        removal-capable kind (:meth:`Problem.curvature` without weights), so it can
        serve as the fitted state when no polishing follows.
    factor : Curvature or None
        A factorization of a nearby Hessian (preconditioner).
    matrix_free : bool
        Allow diagonal-preconditioned steps when the cost model favours them.

    Attributes
    ----------
    factor : Curvature or None
        The latest factorization.
    current : bool
        Whether ``factor`` is the Hessian at the point of the last solve.
    n_factorizations, n_products : int
    """

    def __init__(self, problem, weights=None, factor=None, *, matrix_free=False):
        self.problem = problem
        self.weights = weights
        # An iterative curvature solves by CG itself: not a fixed preconditioner.
        self.factor = factor if getattr(factor, "factored", True) else None
        self.iterative = problem.solver == "iterative"
        self.current = False
        self.n_factorizations = 0
        self.n_products = 0
        self._last = None
        self._theta = None
        self.budget = np.inf if self.iterative else 0.0
        if matrix_free and not self.iterative:
            objective = problem.objective
            q = problem.Y.shape[1]
            kind = objective.hessian_kind
            coef, _ = problem._penalty_scalars(weights)
            ratio = factorization_cost(kind, problem.design, q, coef) / product_cost(
                kind, problem.design, q
            )
            if ratio >= MATRIX_FREE_RATIO:
                self.budget = MATRIX_FREE_BUDGET * ratio

    def _factor(self, d2):
        weights = self.weights
        self.factor = None  # one factorization alive at a time
        if weights is None:
            self.factor = self.problem.curvature(d2, theta=self._theta)
        else:
            self.factor = self.problem.curvature(d2, weights)
        self.n_factorizations += 1
        self.current = True
        return self.factor

    def solve(self, theta, d2, grad):
        """The Newton step ``−H⁻¹∇J`` at ``theta`` (θᵀ-shaped, (n_params, q)).

        In order: PCG preconditioned by the last factor (if any), PCG preconditioned
        by the diagonal (within the budget), a new factorization. Cached for a
        repeated call at the same point.
        """
        key = np.asarray(theta, dtype=float).tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        self._theta = theta
        if not self.problem.matrix_free_steps:
            # Steps by a factorization at every point (the objective's gradient is
            # not the Hessian operator's: e.g. kernel ridge's representer form).
            step = -self._factor(d2).solve(np.asarray(grad, dtype=float))
        else:
            step = self._solve(d2, grad)
        self._last = (key, step)
        return step

    def _solve(self, d2, grad):
        self.current = False
        rhs = -np.asarray(grad, dtype=float)
        operator = None
        if self.factor is not None:
            operator = self.problem.hessian_operator(d2, self.weights)
            result = pcg(
                operator.matvec, rhs, self.factor.solve, rtol=STEP_RTOL,
                maxiter=FACTOR_PCG_ITER, project=operator.null_projection(),
            )
            self.n_products += result.n_iter
            if result.converged:
                return result.x
        if self.budget >= 1:
            operator = operator or self.problem.hessian_operator(d2, self.weights)
            diag = operator.diagonal(rhs.shape[1])
            result = pcg(
                operator.matvec, rhs, lambda r: r / diag, rtol=STEP_RTOL,
                maxiter=ITERATIVE_MAX_ITER if self.iterative else int(self.budget),
                project=operator.null_projection(),
            )
            if self.iterative:  # never factor: the step is the CG answer
                self.n_products += result.n_iter
                return result.x
            self.n_products += result.n_iter
            self.budget -= result.n_iter
            if self.budget < STEPS_AHEAD * result.n_iter:
                self.budget = 0.0  # would run out before the optimum: factor next time
            if result.converged:
                return result.x
            self.budget = 0.0  # ill-conditioned for the diagonal: factor from now on
        return -self._factor(d2).solve(np.asarray(grad, dtype=float))


def newton(problem, theta, weights=None, *, tol=1e-11, max_iter=100, steps=None):
    """Minimise ``J(·; weights)`` by damped Newton steps from ``theta``.

    Every step solves the exact Newton system (:class:`NewtonSteps`: conjugate
    gradients preconditioned by a nearby factorization or the diagonal, or a new
    factorization), so convergence is quadratic near the optimum; typically no
    factorization beyond the one given, or one. Stops once a step is below
    ``tol · max(1, ‖θ‖)`` (the next would be at machine precision for these
    self-concordant-like losses).

    Returns ``(theta, n_iter, converged)``.
    """
    s = problem.weights if weights is None else weights
    steps = NewtonSteps(problem, weights) if steps is None else steps
    theta = np.array(theta, dtype=float)
    value = problem.value(theta, s)
    # A start far out where the loss saturates (e.g. SGD on unscaled columns) can
    # have numerically zero curvature along directions the gradient points to,
    # which no (pseudo-inverse) Newton step can follow: start from θ = 0 when it
    # is already better (never the case for warm starts near the optimum).
    origin_value = problem.value(np.zeros_like(theta), s)
    if origin_value < value:
        theta, value = np.zeros_like(theta), origin_value
        steps.factor = None
    for it in range(1, max_iter + 1):
        d1, d2 = problem.row_derivatives(theta, s)
        grad = problem.gradient(theta, d1, s)
        step = steps.solve(theta, d2, grad).T
        size = np.linalg.norm(step)
        # Backtracking (Armijo); near the optimum the full step is taken.
        t, trial, trial_value = backtrack(problem, theta, step, value, grad, s, 1e-8)
        if trial is None:
            # No decrease along an exact Newton step: this is the optimum only if
            # the step is negligible, otherwise the solve has stalled: say so.
            converged = size <= tol * max(1.0, np.linalg.norm(theta))
            return theta, it, converged
        theta, value = trial, trial_value
        # An exact Newton step of this size leaves an error of order size² (below
        # rounding).
        if t * size <= tol * max(1.0, np.linalg.norm(theta)):
            return theta, it, True
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
