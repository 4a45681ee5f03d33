"""KernelRidge: least squares in the kernel's feature space, attributed in the dual.

scikit-learn (``sklearn/kernel_ridge.py``, ``_solve_cholesky_kernel``) solves
``(S^½ K S^½ + λI) α' = S^½ y`` and returns ``dual_coef_ = S^½ α'``: the minimiser of

    Σ_i s_i (y_i − z_i)² + λ αᵀKα,     z = Kα,  K = kernel(X, X),

no ½, no 1/n, no intercept; predictions are ``kernel(x, X_fit) α``. In skrif's terms the
parameters ``θ`` are ``dual_coef_`` (one per training row and output), the design rows
are kernel rows, ``ℓ = (y − z)²`` (``ℓ'' = 2``) and the penalty ``2λ``. A weight of 0
removes a row exactly (its coefficient is 0). Every removal answer is exact — IF,
RIF, the group step and the refit are ridge answers written in dual coefficients
(:mod:`skrif._removal.kernel`); ``influence()`` returns the change of ``dual_coef_``
(exact answers set the removed rows' coefficients to 0).

Kernels: any of scikit-learn's (``linear``, ``poly``, ``rbf``, ``laplacian``,
``sigmoid``, ``cosine``, ``chi2``, ...), ``precomputed`` (``X`` is the kernel between
the rows and the training rows) and callables (with ``kernel_params``). ``alpha``
must be one positive number (``alpha=0`` interpolates: no unique solution; one alpha
per target is refused like Ridge's).
"""

import numbers

import numpy as np
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import pairwise_kernels

from ._base import Objective


class KernelRidgeObjective(Objective):
    estimator_types = (KernelRidge,)
    hessian_kind = "kernel"
    problem_kind = "kernel"
    no_diagnostics_reason = (
        "KernelRidge's parameters are dual coefficients (one per training row), for which "
        "the regression-diagnostics table is not defined; use influence_scores() or "
        "loo_predict()"
    )

    def __init__(self, estimator):
        super().__init__(estimator)
        self.fit_intercept = False
        self.loss_scale = 1.0
        self.penalty_coef = 2.0 * float(estimator.alpha)
        self.penalty_intercept = 0.0
        if callable(estimator.kernel):
            params = estimator.kernel_params or {}
        else:
            params = {"gamma": estimator.gamma, "degree": estimator.degree, "coef0": estimator.coef0}
        metric = estimator.kernel

        def kernel(A, B):
            # KernelRidge._get_kernel, between any rows and the training rows.
            return pairwise_kernels(A, B, metric=metric, filter_params=True, **params)

        self.kernel = kernel

    @classmethod
    def check_supported(cls, estimator):
        alpha = estimator.alpha
        if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
            cls._refuse(
                estimator,
                f"a per-target alpha {np.asarray(alpha).shape}",
                "Fit one InfluenceEstimator per target, each with a scalar alpha.",
            )
        if not alpha > 0:
            cls._refuse(
                estimator,
                f"alpha={alpha!r}",
                "Without a penalty the kernel system interpolates the targets and its "
                "solution is not unique; use alpha > 0.",
            )

    # -- parameters: the dual coefficients ----------------------------------------------
    def get_theta(self, estimator):
        """``dual_coef_`` as θ (q, n)."""
        return np.atleast_2d(np.asarray(estimator.dual_coef_, dtype=float).T).copy()

    def multi_output(self, estimator):
        return np.ndim(estimator.dual_coef_) == 2

    def split_theta(self, theta, like):
        """A change of θ as ``(Δdual_coef, 0.0)`` shaped like ``like.dual_coef_``."""
        coef = np.asarray(theta).T.reshape(np.shape(like.dual_coef_))
        return coef, 0.0

    def set_theta(self, estimator, theta):
        estimator.dual_coef_ = self.split_theta(theta, estimator)[0]

    def loss(self, Y, Z):
        return (Y - Z) ** 2

    def loss_derivatives(self, Y, Z):
        return 2.0 * (Z - Y), np.full(Y.shape[0], 2.0)
