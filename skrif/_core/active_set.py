"""An L1 / elastic-net objective on training data: its value, KKT conditions and an
exact active-set Newton solver.

In sum form (see :mod:`skrif._objectives._enet`, :mod:`skrif._objectives._logistic_l1`)

    J(θ) = c Σ_i s_i ℓ(y_i, z_i) + Σ_i m_i ρ(w) + λ₁ ‖w‖₁ + ½ λ₂ ‖w‖² (+ λ₁ᵇ |b|),
    ρ(w) = α₁ ‖w‖₁ + ½ α₂ ‖w‖²,

the smooth part being :class:`~skrif._core.problem.Problem`'s objective. ``θ̂`` is
optimal when the KKT conditions hold: ``∂_j J_smooth + λ₁ⱼ sign θ_j = 0`` on the
support and ``|∂_j J_smooth| ≤ λ₁ⱼ`` off it. :meth:`L1Problem.gradient` returns the
minimum-norm subgradient, zero exactly at the optimum, so the optimality gap and the
stopping rule measure the KKT conditions, not a step size alone.
"""


import numpy as np

from .._removal import make_hessian
from .._removal.active_set import ActiveSetCurvature, KKTBounds, reduced_design
from .._removal.dual import factor_curvature
from .._removal.fixed_direction import FixedDirectionCurvature
from .._utils.warn import warn
from ..exceptions import ActiveSetChangeWarning
from .problem import Problem

#: The KKT conditions count as met when the minimum-norm subgradient is below this
#: fraction of the largest L1 weight (or gradient entry).
KKT_TOL = 1e-9


class L1Problem(Problem):
    """:class:`~skrif._core.problem.Problem` with an L1 term (module docstring).

    The objective declares ``l1_coef`` (``λ₁``), ``l1_share_coef`` (``α₁``, mean form)
    and ``l1_intercept`` (``λ₁ᵇ``, liblinear's penalised intercept).
    """

    matrix_free_steps = False  # its own Newton driver

    def l1_weights(self, weights=None):
        """L1 weight of every parameter (n_params,) under sample ``weights``."""
        objective = self.objective
        coef = float(objective.l1_coef)
        if objective.mean_form and objective.l1_share_coef:
            shares = (
                self.shares if weights is None else objective.penalty_shares(weights, self.weights)
            )
            coef += objective.l1_share_coef * float(np.sum(shares))
        out = np.full(self.design.n_params, coef)
        if objective.fit_intercept:
            out[self.design.n_features] = objective.l1_intercept
        return out

    def value(self, theta, weights=None):
        l1 = self.l1_weights(weights)
        return super().value(theta, weights) + float(np.sum(l1 * np.abs(theta)))

    def smooth_gradient(self, theta, d1, weights=None):
        """Gradient of the smooth part (loss and L2 terms), (n_params, n_outputs)."""
        return super().gradient(theta, d1, weights)

    def gradient(self, theta, d1, weights=None):
        """The minimum-norm subgradient of ``J`` (n_params, n_outputs): 0 at the optimum."""
        g = self.smooth_gradient(theta, d1, weights)
        l1 = self.l1_weights(weights)[:, None]
        nonzero = theta.T != 0
        return np.where(
            nonzero, g + l1 * np.sign(theta.T), np.sign(g) * np.maximum(np.abs(g) - l1, 0.0)
        )

    def check_optimum(self, theta):
        """Warn (:class:`~skrif.exceptions.ActiveSetChangeWarning`) when the fitted
        optimum ``theta`` has no non-zero coefficient."""
        coefs = theta[:, : self.design.n_features]
        if coefs.size and not np.any(coefs):
            warn(
                "Every coefficient is zero at this penalty (the L1 term dominates): "
                "only the intercept is fitted, and removals that make a coefficient "
                "enter the model change its active set (flagged). Lower the penalty "
                "for attributions of the coefficients.",
                ActiveSetChangeWarning,
            )

    def kkt_violation(self, theta, d1, weights=None):
        """Largest KKT violation relative to the largest L1 weight or gradient entry."""
        g = self.gradient(theta, d1, weights)
        scale = max(
            float(np.max(self.l1_weights(weights), initial=0.0)),
            float(np.max(np.abs(self.design.rmatvec(d1)), initial=0.0)),
            1e-300,
        )
        return float(np.max(np.abs(g), initial=0.0)) / scale

    # -- the Hessian on the support -------------------------------------------------
    def _factory(self, d2, theta, weights):
        """``factory(reduced_design, outputs, params)`` for :class:`ActiveSetCurvature`."""
        objective = self.objective
        coef, intercept = self._penalty_scalars(weights)
        removal = weights is None

        def factory(reduced, outputs, params):
            if getattr(reduced, "intercept_only", False):
                return factor_curvature(reduced, d2, intercept, 0.0)
            if not removal:  # Newton steps: solves only
                return make_hessian(objective, reduced, d2, coef, intercept, None)
            if objective.mean_form and objective.penalty_share_coef == 0:
                # The Lasso: no Hessian share, its L1 share is a fixed direction.
                gamma = objective.l1_share_coef * np.sign(theta[np.ix_(outputs, params)]).T
                if reduced.fit_intercept:
                    gamma[-1] = 0.0
                inner = factor_curvature(reduced, d2, coef, intercept)
                return FixedDirectionCurvature(
                    inner, gamma, self.shares, share_of_fraction=objective.removed_share
                )
            return make_hessian(objective, reduced, d2, coef, intercept, self.shares)

        return factory

    def curvature(self, d2, weights=None, theta=None):
        """Factor ``H`` on the support of ``theta`` (an :class:`ActiveSetCurvature`).

        ``weights=None`` (the training objective) also prepares the removal
        questions: the KKT bounds of the support-change checks and, for the elastic
        net's penalty shares, the shifted point of the share gradients.
        """
        if theta is None:
            raise ValueError("The Hessian of an L1 objective depends on its support: pass theta.")
        theta = np.asarray(theta, dtype=float)
        objective = self.objective
        kkt = shift = None
        if weights is None:
            d1, _ = self.row_derivatives(theta)
            kkt = KKTBounds(
                self.l1_weights(), self.smooth_gradient(theta, d1).T,
                share_l1=objective.l1_share_coef if objective.mean_form else 0.0,
                shares=self.shares, share_of_fraction=objective.removed_share,
            )
            if objective.mean_form and objective.penalty_share_coef > 0:
                shift = (objective.l1_share_coef / objective.penalty_share_coef) * np.sign(theta)
                if objective.fit_intercept:
                    shift[:, -1] = 0.0
        return ActiveSetCurvature(
            self.design, d2, theta, self._factory(d2, theta, weights), self.l1_weights(weights),
            kkt=kkt, theta_shift=shift,
        )

    # -- solving ----------------------------------------------------------------------
    def newton(self, theta, weights=None, *, tol=1e-11, max_iter=100, curvature=None):
        """Minimise ``J(·; weights)`` from ``theta`` by active-set Newton steps.

        Each step is a Newton step of the smooth objective on the free set — the
        non-zero coordinates, the unpenalised ones, and the zero ones whose KKT bound
        is violated (entering with the sign that decreases ``J``) — with the L1 term's
        signs fixed, followed by a backtracking search that projects onto the
        orthant of those signs (a coordinate that would cross 0 stops at 0). For
        least squares this reaches the exact optimum in finitely many steps; near an
        optimum a warm start needs one or two. Stops when the step is below
        ``tol · max(1, ‖θ‖)`` *and* the KKT conditions hold to :data:`KKT_TOL`.
        Cost per step: one factorization on the free set, O(n |A|² + |A|³).

        Returns ``(theta, n_iter, converged)`` like
        :meth:`~skrif._core.problem.Problem.newton`.
        """
        s = self.weights if weights is None else weights
        theta = np.array(theta, dtype=float)
        l1 = self.l1_weights(weights)
        penalised = l1 > 0
        value = self.value(theta, s)
        for it in range(1, max_iter + 1):
            d1, d2 = self.row_derivatives(theta, s)
            g = self.smooth_gradient(theta, d1, s).T  # (q, p̃)
            nonzero = theta != 0
            enter = ~nonzero & penalised & (np.abs(g) > l1 * (1 + 1e-12))
            free = nonzero | ~penalised[None, :] | enter
            sign = np.where(penalised, np.sign(theta), 0.0)
            sign[enter] = -np.sign(g[enter])
            G = np.where(free, g + l1 * sign, 0.0)
            step = np.zeros_like(theta)
            for key in np.unique(free, axis=0):
                outputs = np.flatnonzero(np.all(free == key, axis=1))
                params = np.flatnonzero(key)
                if params.size == 0:
                    continue
                factor = self._factory(d2, theta, weights if weights is not None else s)(
                    reduced_design(self.design, params), outputs, params
                )
                step[np.ix_(outputs, params)] = -factor.solve(G[np.ix_(outputs, params)].T).T
            slope = float(np.sum(G * step))
            t, accepted = 1.0, False
            while t >= 1e-10:
                trial = theta + t * step
                crossed = (sign != 0) & (np.sign(trial) != sign)
                trial[crossed] = 0.0
                trial_value = self.value(trial, s)
                if trial_value <= value + 1e-4 * t * slope + 1e-13 * abs(value):
                    accepted = True
                    break
                t *= 0.5
            if not accepted:
                d1, _ = self.row_derivatives(theta, s)
                return theta, it, self.kkt_violation(theta, d1, weights) <= KKT_TOL
            moved = np.linalg.norm(trial - theta)
            theta, value = trial, trial_value
            if moved <= tol * max(1.0, np.linalg.norm(theta)):
                d1, _ = self.row_derivatives(theta, s)
                if self.kkt_violation(theta, d1, weights) <= KKT_TOL:
                    return theta, it, True
        d1, _ = self.row_derivatives(theta, s)
        return theta, max_iter, self.kkt_violation(theta, d1, weights) <= KKT_TOL

    def optimality_gap(self, theta, curvature, d1):
        """Distance to the optimum: the relative Newton step on the support (with the
        L1 signs fixed), or the relative KKT violation off it if that is larger."""
        g = self.gradient(theta, d1)  # (p̃, q)
        support = curvature.support.T
        step = curvature.solve_outputs(np.where(support, g, 0.0))
        gap = float(np.linalg.norm(step) / max(np.linalg.norm(theta), 1e-300))
        off = np.where(support, 0.0, np.abs(g))
        if np.any(off > 0):
            l1 = self.l1_weights()
            gap = max(gap, float(np.max(off / np.maximum(l1, 1e-300)[:, None])))
        return gap
