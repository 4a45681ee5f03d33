"""Kernel ridge regression on training data, in dual coefficients.

``J(α) = Σ_i s_i (y_i − z_i)² + λ αᵀKα`` with ``z = Kα`` (``KernelRidge``: no ½, no
1/n, no intercept; ``sklearn/kernel_ridge.py`` and ``sklearn/linear_model/_ridge.py``'s
``_solve_cholesky_kernel``, where ``sample_weight`` scales the rows of the system).
The parameters ``θ`` (q, n) are ``dual_coef_`` transposed; the design is the kernel
(:class:`~skrif._linalg.kernel.KernelDesign`); the Hessian kind is the dual one of
:mod:`skrif._removal.kernel`. Gradients are returned in representer form
(``∇_α J = K g``, ``g = d1 + 2λα``), which the kind's ``solve`` turns into Newton
steps, so :meth:`~skrif._core.problem.Problem.newton` solves a refit exactly in one
step (a fresh factorization on the kept rows: the refit's ground truth does not
share the removal algebra's Woodbury identities).
"""

import numpy as np

from .._linalg.kernel import KernelDesign
from .._removal.kernel import DualKernelCurvature
from .problem import Problem


class KernelProblem(Problem):
    """:class:`~skrif._core.problem.Problem` of ``KernelRidge`` (module docstring)."""

    matrix_free_steps = False  # a representer-form gradient: steps by its factor

    def __init__(self, objective, X, Y, weights):
        super().__init__(objective, X, Y, weights)
        self.design = KernelDesign(X, X, objective.kernel)
        self.penalty = self.penalty_for(None)

    @property
    def alpha(self):
        """``λ``."""
        return 0.5 * self.objective.penalty_coef

    def value(self, theta, weights=None):
        s = self.weights if weights is None else weights
        Z = self.linear_predictor(theta)
        fit = float(np.sum(s[:, None] * self.objective.loss(self.Y, Z)))
        return fit + self.alpha * float(np.sum(theta.T * Z))

    def gradient(self, theta, d1, weights=None):
        """``g = d1 + 2λα`` (n, q), with ``∇_α J = K g`` (representer form)."""
        return d1 + 2.0 * self.alpha * theta.T

    def curvature(self, d2, weights=None, theta=None):
        return DualKernelCurvature(self.design, d2, self.objective.penalty_coef)
