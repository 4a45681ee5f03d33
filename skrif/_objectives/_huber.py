"""HuberRegressor: robust regression fitted jointly with its scale ``σ``.

scikit-learn (``sklearn/linear_model/_huber.py``, ``_huber_loss_and_gradient``)
minimises over ``φ = (w, b, σ)``, ``σ > 0``,

    Σ_i s_i [σ + σ H_ε(r_i/σ)] + α‖w‖²,     r_i = y_i − x̃_i·θ,
    σ H_ε(r/σ) = r²/σ               if |r| ≤ εσ (inliers),
                 2ε|r| − ε²σ        otherwise (outliers),

with an unpenalised intercept and unpenalised scale (``scale_``). The residual enters
as ``r²/σ``, so the objective is not piecewise quadratic in ``σ`` — it is convex (a
perspective function) and once differentiable. An inlier's Hessian in ``φ`` is rank
one, ``(2 s_i/σ) v_i v_iᵀ`` with ``v_i = (x̃_i, r_i/σ)``; an outlier's is 0. Row
gradients are ``d1_i v_i + μ_i e_σ`` with

    inliers:   d1_i = −2 s_i r_i/σ,      μ_i = s_i (1 + r_i²/σ²),
    outliers:  d1_i = −2 s_i ε sign r_i, μ_i = s_i (1 − ε²),

so removals are the joint-scale kind's algebra (:mod:`skrif._removal.joint_scale`):
RIF with the leverage of the joint Hessian, the group step one Newton step in
``(w, b, σ)``. Neither is exact (the objective is not quadratic in ``σ``), and rows
crossing the threshold ``|r| = εσ`` (which moves with ``σ``) are flagged like a support
change (:mod:`skrif._removal.pieces`). ``"refit"`` solves to the exact optimum
(:meth:`skrif._core.scale_problem.ScaleProblem.newton`: gradient below 1e-12 of its
scale).

scikit-learn's L-BFGS-B stops short of that optimum — 1e-6 to 1e-2 (relative) even at
``tol=1e-12`` — so skrif always polishes the fit (an
:class:`~skrif.exceptions.OptimalityWarning` says so when the gap is visible) and
writes the polished ``coef_``, ``intercept_`` and ``scale_`` back (``outliers_`` is
scikit-learn's, from its own fit).

``influence()`` reports the change of ``scale_`` too (``ParameterChange.scale``). The
``"loss"`` target is the Huber loss ``σ̂ H_ε((y − z)/σ̂)`` at the model's ``scale_``.
"""

import numbers

import numpy as np
from sklearn.linear_model import HuberRegressor

from ._base import Objective


class HuberObjective(Objective):
    estimator_types = (HuberRegressor,)
    problem_kind = "scale"
    hessian_kind = "joint_scale"
    polish_tol = 1e-15
    piece_name = "the Huber threshold |y − z| = ε·scale"
    no_diagnostics_reason = (
        "HuberRegressor's loss is not a likelihood and its Hessian includes the scale: "
        "the regression-diagnostics table (leverages and Cook's distances of an "
        "exponential family) is not defined for it; use influence_scores(), "
        "self_influence() or loo_predict()"
    )

    def __init__(self, estimator):
        super().__init__(estimator)
        self.epsilon = float(estimator.epsilon)
        self.loss_scale = 1.0
        self.penalty_coef = 2.0 * float(estimator.alpha)
        self.penalty_intercept = 0.0
        # The scale of the "loss" target: the model's scale_.
        self.scale = float(getattr(estimator, "scale_", 1.0))

    @classmethod
    def check_supported(cls, estimator):
        alpha = estimator.alpha
        if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
            cls._refuse(estimator, f"alpha={alpha!r}", "Pass one scalar alpha >= 0.")

    def standard_error_family(self):
        return None, (
            "HuberRegressor is an M-estimator with a concomitant scale, not maximum "
            "likelihood or least squares: statsmodels' standard errors do not apply; use "
            "LinearRegression for significance"
        )

    @classmethod
    def optimality_advice(cls, estimator, n_samples):
        return (
            "HuberRegressor's L-BFGS-B stops 1e-6 to 1e-2 short of the optimum even at "
            "tol=1e-12; filter the warning (warnings.filterwarnings('ignore', "
            "category=OptimalityWarning)) if the polished coefficients are what you want."
        )

    # -- parameters: (w, b, σ) --------------------------------------------------------
    def multi_output(self, estimator):
        return False

    def get_theta(self, estimator):
        """``(coef_, intercept_, scale_)`` as θ (1, p̃ + 1)."""
        theta = super().get_theta(estimator)
        return np.hstack([theta, [[float(estimator.scale_)]]])

    def split_theta(self, theta, like):
        return super().split_theta(theta[:, :-1], like)

    def split_extra(self, theta):
        """The change of ``scale_`` in ``theta``."""
        return {"scale": float(theta[0, -1])}

    def set_theta(self, estimator, theta):
        super().set_theta(estimator, theta)  # coef_, intercept_ through split_theta
        estimator.scale_ = float(theta[0, -1])
        self.scale = estimator.scale_

    # -- the joint objective (skrif._core.scale_problem) -----------------------------------
    def _residuals(self, Y, Z, sigma):
        r = (Y - Z)[:, 0]
        return r, np.abs(r) > self.epsilon * sigma

    def joint_loss(self, Y, Z, sigma):
        """``σ + σ H_ε(r/σ)`` per row (n,)."""
        r, out = self._residuals(Y, Z, sigma)
        eps = self.epsilon
        return sigma + np.where(out, 2.0 * eps * np.abs(r) - eps**2 * sigma, r**2 / sigma)

    def joint_derivatives(self, Y, Z, sigma):
        """``(∂f/∂z (n, 1), d (n,), column r/σ (n,), μ (n,))`` (module docstring)."""
        r, out = self._residuals(Y, Z, sigma)
        eps = self.epsilon
        dz = np.where(out, -2.0 * eps * np.sign(r), -2.0 * r / sigma)
        d = np.where(out, 0.0, 2.0 / sigma)
        column = np.where(out, 0.0, r / sigma)
        mu = np.where(out, 1.0 - eps**2, 1.0 + (r / sigma) ** 2)
        return dz[:, None], d, column, mu

    def piece_boundaries(self, Y, Z, sigma):
        """``B = (r − εσ, −r − εσ)``: an outlier when one is positive; slopes in ``z``
        ``(−1, 1)`` and in ``σ`` ``(−ε, −ε)``."""
        r = (Y - Z)[:, 0]
        eps = self.epsilon
        n = r.shape[0]
        B = np.column_stack([r - eps * sigma, -r - eps * sigma])
        slopes = np.column_stack([-np.ones(n), np.ones(n)])
        return B, slopes, np.full((n, 2), -eps)

    # -- the "loss" target: the Huber loss at the model's scale ----------------------------
    def loss(self, Y, Z):
        sigma, eps = self.scale, self.epsilon
        r = Y - Z
        out = np.abs(r) > eps * sigma
        return np.where(out, 2.0 * eps * np.abs(r) - eps**2 * sigma, r**2 / sigma)

    def loss_derivatives(self, Y, Z):
        sigma, eps = self.scale, self.epsilon
        r = Y - Z
        out = np.abs(r) > eps * sigma
        first = np.where(out, -2.0 * eps * np.sign(r), -2.0 * r / sigma)
        return first, np.where(out[:, 0], 0.0, 2.0 / sigma)
