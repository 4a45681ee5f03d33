"""An Objective evaluated on training data: value, gradients, Hessian, Newton solves.

Parameters are handled as ``θ`` of shape (n_outputs, n_params) with the intercept
last; solves work on column blocks (n_params, n_outputs), i.e. ``θᵀ``.
"""


import numpy as np

from .._linalg.design import AugmentedDesign
from .._utils.warn import warn
from .newton import NewtonSteps, Point, newton


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
    solver : {"direct", "iterative"}, default="direct"
        How the Hessian is solved (:func:`skrif._removal.choose_solver`).
    """

    #: Whether Newton steps may be solved by conjugate gradients on Hessian products
    #: preconditioned by nearby factorizations (:mod:`skrif._core.newton`); objectives
    #: with their own Newton driver (an L1 term's support, a scale parameter) do not.
    matrix_free_steps = True

    def __init__(self, objective, X, Y, weights, solver="direct"):
        self.solver = solver
        self.objective = objective
        self.design = AugmentedDesign(X, objective.fit_intercept)
        self.Y = Y
        self.weights = weights
        self.shares = (
            objective.penalty_shares(weights, weights) if objective.mean_form else None
        )
        self.penalty = self.penalty_for(None)

    def __getstate__(self):
        # The kept linear predictor is a cache: not shipped to worker processes.
        state = self.__dict__.copy()
        state.pop("_last_predictor", None)
        return state

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
        """``Z = X̃ θᵀ`` (n, q), read-only: the last one is kept, since the value, the
        row derivatives and the checks at one point all need it (one O(nnz q)
        product instead of two or three)."""
        theta = np.asarray(theta, dtype=float)
        key = (theta.shape, theta.tobytes())
        cached = getattr(self, "_last_predictor", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        Z = self.design.matvec(theta.T)
        Z.flags.writeable = False
        self._last_predictor = (key, Z)
        return Z

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
        return make_hessian(
            self.objective, self.design, d2, coef, intercept, shares, solver=self.solver
        )

    def hessian_operator(self, d2, weights=None):
        """``H`` of ``J(·; weights)`` for per-row curvature ``d2`` as an operator
        (:class:`~skrif._removal.HessianOperator`: products, diagonal; never formed)."""
        from .._removal import HessianOperator

        return HessianOperator(self.design, d2, self.penalty_for(weights))

    def newton(self, theta, weights=None, *, tol=1e-11, max_iter=100, curvature=None, steps=None):
        """Minimise ``J(·; weights)`` by damped Newton steps from ``theta``
        (:func:`skrif._core.newton.newton`).

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
            A factorization of the Hessian at or near ``theta`` (e.g. the full-data
            Hessian for a refit without a few rows): it preconditions the steps, so
            that typically no new factorization is needed.
        steps : NewtonSteps, default=None
            The step strategy (overrides ``curvature``).

        Returns
        -------
        theta : ndarray (n_outputs, n_params)
        n_iter : int
        converged : bool
        """
        s = self.weights if weights is None else weights
        theta = np.array(theta, dtype=float)
        start = Point(self, theta, s)
        # A start far out where the loss saturates (e.g. SGD on unscaled columns) can
        # have numerically zero curvature along directions the gradient points to,
        # which no (pseudo-inverse) Newton step can follow: start from θ = 0 when it
        # is already better (never the case for warm starts near the optimum).
        origin = Point(self, np.zeros_like(theta), s)
        if origin.value < start.value:
            start, curvature = origin, None
            if steps is not None:
                steps.factor = None
        if steps is None:
            steps = NewtonSteps(self, s, factor=curvature)
        return newton(
            lambda th: Point(self, th, s), start, steps=steps, tol=tol,
            max_iter=max_iter,
        )

    def optimality_gap(self, theta, curvature, d1):
        """Relative Newton step ``‖H⁻¹∇J(θ)‖ / max(‖θ‖, 1e-300)``: distance to the optimum."""
        step = curvature.solve(self.gradient(theta, d1))
        return float(np.linalg.norm(step) / max(np.linalg.norm(theta), 1e-300))


def warn_not_converged(n_iter, what):
    """Emit a :class:`~skrif.exceptions.NotConvergedWarning` (a scikit-learn
    ``ConvergenceWarning``, and a ``RuntimeWarning`` as before)."""
    from ..exceptions import NotConvergedWarning

    warn(
        f"skrif's Newton solve for {what} did not converge in {n_iter} iterations; "
        "the result may be inaccurate.",
        NotConvergedWarning,
    )
