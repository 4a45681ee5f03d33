"""Linear SVMs with squared losses: ``LinearSVC(loss="squared_hinge", penalty="l2")`` and
``LinearSVR(loss="squared_epsilon_insensitive")``.

liblinear (``sklearn/svm/_base.py``, ``_fit_liblinear``; solvers ``L2R_L2LOSS_SVC``
and ``L2R_L2LOSS_SVR``, primal or dual: the same optimum) minimises

    ½‖w‖² + ½ w_b² + Σ_i C_i ℓ(y_i, x_i·w + w_b · intercept_scaling),

with the intercept a penalised weight ``w_b`` of a constant feature
``intercept_scaling`` (``b = intercept_scaling · w_b``, so its penalty is
``½ (b / intercept_scaling)²``) and ``C_i = C · sample_weight_i · class_weight[y_i]``.
In skrif's terms ``c = C``, ``λ_w = 1``, ``λ_b = 1 / intercept_scaling²`` and

* ``LinearSVC``: ``ℓ = max(0, 1 − u z)²`` with ``u = ±1`` (``+1`` for ``classes_[1]``);
* ``LinearSVR``: ``ℓ = max(0, |y − z| − ε)²``.

Both are once differentiable and piecewise quadratic: ``ℓ'' = 2`` on the *margin set*
(rows with ``1 − u z > 0``, or outside the ε-tube ``|y − z| > ε``) and 0 elsewhere. At
the optimum skrif factors this generalized Hessian. A removal that moves no other row
across its margin (or the tube's edge) leaves the objective quadratic between the two
optima, so the group Newton step (and RIF for one row) is the exact refit; a removal
that moves some row across is flagged (:class:`~skrif.exceptions.ActiveSetChangeWarning`,
:mod:`skrif._removal.pieces`), and ``"refit"`` is exact (Newton's method on the
generalized Hessian, which ends on the exact piece). Rows outside the margin set have
no gradient: removing them changes nothing.

Refused, with the reason: the hinge and ε-insensitive losses (piecewise linear: no
curvature, solutions jump between vertices), ``penalty="l1"``, the Crammer–Singer
multi-class objective, one-vs-rest ``LinearSVC`` with three or more classes (each
class has its own margin set, so its own Hessian), ``class_weight="balanced"``.
"""

import numpy as np
from sklearn.svm import LinearSVC, LinearSVR

from ._base import BinaryTargets, Objective, check_class_weight

#: liblinear's stopping rules are relative to the gradient at 0; a tight tol and the
#: dual coordinate-descent solver typically get within 1e-10 of the optimum.
_TIGHT = {"dual": True, "tol": 1e-10, "max_iter": 100_000}

_NO_DIAGNOSTICS = (
    "a squared {loss} loss is not a likelihood: the regression-diagnostics table "
    "(leverages and Cook's distances of an exponential family) is not defined for it; "
    "use influence_scores(), self_influence() or loo_predict()"
)


class _LiblinearSquaredObjective(Objective):
    """What the two liblinear SVMs share: ``C``, the penalised intercept feature."""

    problem_kind = "piecewise"
    tight_fit = _TIGHT
    #: Polish any gap: the exact answers (group step, RIF) are exact at the optimum,
    #: and a single row's change would otherwise carry liblinear's 1e-13..1e-8 error.
    polish_tol = 1e-15

    def __init__(self, estimator):
        super().__init__(estimator)
        self.loss_scale = float(estimator.C)
        self.penalty_coef = 1.0
        self.penalty_intercept = (
            1.0 / float(estimator.intercept_scaling) ** 2 if self.fit_intercept else 0.0
        )

    def standard_error_family(self):
        return None, (
            f"{self.estimator_name} is a penalised fit of a loss that is not a "
            "likelihood: it has no standard error in statsmodels' sense; use "
            "LinearRegression or an unpenalised LogisticRegression for significance"
        )

    def loss(self, Y, Z):
        return np.maximum(self._margin(Y, Z), 0.0) ** 2

    def loss_derivatives(self, Y, Z):
        margin, slope = self._margin(Y, Z), self._margin_slope(Y, Z)
        active = margin > 0
        # ℓ = m₊², m = margin: ℓ' = 2 m₊ ∂m/∂z, generalized ℓ'' = 2 on the margin set.
        first = 2.0 * np.where(active, margin * slope, 0.0)
        return first, 2.0 * active.any(axis=1)

    def piece_boundaries(self, Y, Z):
        """``(B, ∂B/∂z)``, each (n, m): row ``i`` is on its curved piece when some
        ``B_ik > 0`` (:mod:`skrif._removal.pieces` watches their signs)."""
        return self._margin(Y, Z), self._margin_slope(Y, Z)


class LinearSVCObjective(BinaryTargets, _LiblinearSquaredObjective):
    """``LinearSVC(loss="squared_hinge", penalty="l2")``, binary (module docstring)."""

    estimator_types = (LinearSVC,)
    piece_name = "the squared-hinge margin"
    no_diagnostics_reason = _NO_DIAGNOSTICS.format(loss="hinge")

    @classmethod
    def check_supported(cls, estimator):
        if estimator.loss != "squared_hinge":
            cls._refuse(
                estimator,
                f"loss={estimator.loss!r}",
                "The hinge loss max(0, 1 − y·z) is piecewise linear: it has no "
                "curvature, and its solution jumps between sets of support vectors as "
                "rows are removed. Use loss='squared_hinge' (once differentiable, "
                "supported), or LogisticRegression for a smooth linear classifier.",
            )
        if estimator.penalty != "l2":
            cls._refuse(
                estimator,
                f"penalty={estimator.penalty!r}",
                "liblinear's L1-penalised squared hinge (which penalises the intercept "
                "feature's |weight| too) is not reconstructed. Use penalty='l2', or "
                "LogisticRegression(l1_ratio=1, solver='liblinear') for a sparse "
                "linear classifier (supported on its active set).",
            )
        if getattr(estimator, "multi_class", "ovr") != "ovr":
            cls._refuse(
                estimator,
                f"multi_class={estimator.multi_class!r}",
                "The Crammer–Singer objective couples the classes through a "
                "non-smooth maximum. Use multi_class='ovr' with two classes, or "
                "LogisticRegression for several classes.",
            )
        check_class_weight(cls, estimator)

    def check_classes(self, estimator):
        if len(estimator.classes_) > 2:
            self._refuse(
                estimator,
                f"{len(estimator.classes_)} classes",
                "One-vs-rest fits one binary problem per class, each with its own "
                "margin set and so its own Hessian. Wrap one binary LinearSVC per "
                "class (y == label), or use LogisticRegression for several classes.",
            )

    @staticmethod
    def _margin(Y, Z):
        return 1.0 - (2.0 * Y - 1.0) * Z

    @staticmethod
    def _margin_slope(Y, Z):
        return -(2.0 * Y - 1.0) * np.ones_like(Z)


class LinearSVRObjective(_LiblinearSquaredObjective):
    """``LinearSVR(loss="squared_epsilon_insensitive")`` (module docstring)."""

    estimator_types = (LinearSVR,)
    piece_name = "the edge of the ε-tube"
    no_diagnostics_reason = _NO_DIAGNOSTICS.format(loss="ε-insensitive")

    def __init__(self, estimator):
        super().__init__(estimator)
        self.epsilon = float(estimator.epsilon)

    @classmethod
    def check_supported(cls, estimator):
        if estimator.loss != "squared_epsilon_insensitive":
            cls._refuse(
                estimator,
                f"loss={estimator.loss!r}",
                "The ε-insensitive loss max(0, |y − z| − ε) is piecewise linear: it "
                "has no curvature, and its solution jumps between vertices as rows are "
                "removed. Use loss='squared_epsilon_insensitive' (once differentiable, "
                "supported), or HuberRegressor / Ridge for a smooth robust fit.",
            )

    def piece_boundaries(self, Y, Z):
        # Two edges: z − y − ε > 0 (above the tube) and y − z − ε > 0 (below it).
        r = Z - Y
        n = Y.shape[0]
        B = np.hstack([r - self.epsilon, -r - self.epsilon])
        slope = np.hstack([np.ones((n, 1)), -np.ones((n, 1))])
        return B, slope

    def loss(self, Y, Z):
        return np.maximum(np.abs(Z - Y) - self.epsilon, 0.0) ** 2

    def loss_derivatives(self, Y, Z):
        r = Z - Y
        excess = np.abs(r) - self.epsilon
        active = excess > 0
        first = 2.0 * np.where(active, np.sign(r) * excess, 0.0)
        return first, 2.0 * active[:, 0]
