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
:func:`skrif._removal.product_cost`); :func:`newton` is skrif's one damped Newton
driver, for the in-memory problems and the Dask fit alike.
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

    #: Every step solves the Newton system at its own point (to ``STEP_RTOL``).
    exact = True

    def step(self, point):
        """:meth:`solve` at a :class:`Point` (the step strategy of :func:`newton`)."""
        return self.solve(point.theta, point.d2, point.gradient)

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


class Point:
    """The objective of a :class:`~skrif._core.problem.Problem` at one ``θ``: its
    value at once, its row derivatives and gradient when first asked for (a
    rejected line-search trial costs one evaluation of the loss only).

    The Dask fit has its own point (:mod:`skrif._dask._engine`: value, gradient and
    Gram from one pass over the blocks); :func:`newton` reads only ``theta``,
    ``value`` and ``gradient``.
    """

    def __init__(self, problem, theta, weights):
        self.problem, self.theta, self.weights = problem, theta, weights
        self.value = problem.value(theta, weights)
        self._derivatives = None
        self._gradient = None

    def _row_derivatives(self):
        if self._derivatives is None:
            self._derivatives = self.problem.row_derivatives(self.theta, self.weights)
        return self._derivatives

    @property
    def d2(self):
        """Per-row curvature ``c s_i ℓ''_i``."""
        return self._row_derivatives()[1]

    @property
    def gradient(self):
        """``∇J`` as columns (n_params, n_outputs)."""
        if self._gradient is None:
            self._gradient = self.problem.gradient(
                self.theta, self._row_derivatives()[0], self.weights
            )
        return self._gradient


def newton(point_at, start, *, steps, tol=1e-11, max_iter=100):
    """skrif's one Newton driver: damped Newton steps from ``start``.

    Used by the in-memory fit, polish and refits
    (:meth:`~skrif._core.problem.Problem.newton`, steps by :class:`NewtonSteps`) and
    by the distributed ones on Dask (:mod:`skrif._dask._engine`, steps by the factor
    of a pass's Gram), each with its own evaluation of the objective.

    Parameters
    ----------
    point_at : callable
        ``point_at(theta)`` → the objective at ``theta``: an object with ``theta``,
        ``value`` and ``gradient`` (columns, (n_params, n_outputs)).
    start : point
        ``point_at`` of the starting ``θ``.
    steps : object
        The step strategy: ``steps.step(point)`` → a Newton step ``−H̃⁻¹∇J`` there,
        as columns; ``steps.exact`` whether that step used the Hessian at the point
        itself (else a nearby one: a simplified-Newton step, which contracts only
        linearly); ``steps.refactor()`` (strategies with such steps only) makes
        the next step exact.
    tol : float
        Stop once a step is below ``tol · max(1, ‖θ‖)`` (``1e-3 · tol`` for a
        simplified step): an exact Newton step of that size leaves an error of
        order its square (below rounding), so a step computed that small is taken
        without evaluating the objective there.
    max_iter : int

    Returns
    -------
    theta : ndarray (n_outputs, n_params)
    n_iter : int
        Newton steps taken.
    converged : bool

    Notes
    -----
    Backtracking is Armijo's; near the optimum the full step is taken, so
    convergence is quadratic. A simplified step that does not decrease the
    objective is retried with the Hessian at the point. Cost: one ``step`` and one
    or more evaluations per step.
    """
    point = start
    for it in range(1, max_iter + 1):
        theta = point.theta
        step = steps.step(point).T
        size = np.linalg.norm(step)
        threshold = tol if steps.exact else 1e-3 * tol
        if size <= threshold * max(1.0, np.linalg.norm(theta)):
            return theta + step, it, True
        slope = float(np.sum(point.gradient.T * step))
        t, trial = backtrack(point_at, theta, step, point.value, slope, 1e-8)
        if trial is None:
            if not steps.exact:  # the nearby Hessian misled the step: refactor here
                steps.refactor()
                continue
            # No decrease along an exact Newton step larger than the tolerance:
            # the solve has stalled (rounding dominates the gradient); say so.
            return theta, it, False
        point = trial
        if t * size <= threshold * max(1.0, np.linalg.norm(point.theta)):
            return point.theta, it, True
    return point.theta, max_iter, False


def backtrack(point_at, theta, step, value, slope, smallest):
    """Armijo backtracking along ``step`` from ``theta`` (objective ``value``,
    directional derivative ``slope``): ``(t, point_at(θ + t·step))`` for the first
    halving ``t ≥ smallest`` that decreases the objective enough, ``(t, None)`` if
    none does. A point where it is infinite (outside its domain) is never taken."""
    t = 1.0
    while t >= smallest:
        trial = point_at(theta + t * step)
        if trial.value <= value + 1e-4 * t * slope + 1e-13 * abs(value):
            return t, trial
        t *= 0.5
    return t, None
