"""Exceptions and warnings raised by skrif.

Every warning has its own class, so callers filter by class (``warnings.filterwarnings(
"ignore", category=...)``), never by message text. Warnings that report an iterative
solve that did not reach its optimum subclass scikit-learn's
:class:`~sklearn.exceptions.ConvergenceWarning`.
"""

__all__ = [
    "UnsupportedModelError",
    "NoFiniteOptimumError",
    "DataChangedError",
    "OptimalityWarning",
    "NotConvergedWarning",
    "HighLeverageWarning",
    "SingularHessianWarning",
    "NotPositiveDefiniteError",
    "UndefinedRemovalWarning",
    "SetInteractionWarning",
    "VerificationWarning",
    "DiagnosticsWarning",
    "ActiveSetChangeWarning",
    "LeverageEstimateWarning",
]

import numpy as np
from sklearn.exceptions import ConvergenceWarning


class NotPositiveDefiniteError(np.linalg.LinAlgError):
    """The leave-T-out Hessian is not positive definite (T pins a direction)."""


class UnsupportedModelError(ValueError):
    """The wrapped estimator or one of its settings has no smooth objective skrif
    can attribute (L1 terms, constraints, label-dependent weights, unknown types)."""


class NoFiniteOptimumError(ValueError):
    """The model's objective has no finite minimiser on these data.

    Raised in :meth:`~skrif.InfluenceEstimator.fit` for unpenalised (or effectively
    unpenalised) models whose loss can be driven down forever along some parameter
    direction: linearly separable or quasi-separable classes, or a class or level
    that a single feature pins (a one-hot level seen in one class only; a count
    model's level whose targets are all zero). The coefficients of such a fit grow
    without bound as the solver's tolerance tightens, and every influence computed
    at them is meaningless. Also raised for a HuberRegressor whose scale shrinks to 0
    (its coefficients fit every row: an optimum on the boundary). Add a penalty (e.g. ``C=1.0``, ``alpha>0``) or drop the
    feature(s) named in the message.
    """


class DataChangedError(ValueError):
    """The training data or the attributed model changed after :meth:`fit`.

    The estimator keeps the training ``X`` by reference, and a
    :class:`~sklearn.frozen.FrozenEstimator` keeps the user's model: editing either
    after ``fit`` would silently change what refits and row gathers read. skrif
    records a checksum of ``X`` and the model's coefficients at ``fit`` and refuses to
    answer once they differ; fit again on the changed data or model.
    """


class OptimalityWarning(ConvergenceWarning):
    """The wrapped estimator's fit is not at the optimum of its own objective, so
    attribution would be off by as much as a single row's effect, and skrif could
    not (or was told not to) fix it: ``polish=False``, a polish that did not
    converge, or a frozen model that is kept as it is. A successful polish — the
    documented behaviour for default-tolerance fits — is silent (the gap stays in
    ``optimality_gap_``).

    A :class:`~sklearn.exceptions.ConvergenceWarning`: filtering that class also
    silences this one."""


class NotConvergedWarning(ConvergenceWarning, RuntimeWarning):
    """skrif's own Newton solve (polishing the fit, or an exact refit) did not reach
    machine precision within its iteration budget; the result may be inaccurate.

    A :class:`~sklearn.exceptions.ConvergenceWarning` and, as before, a
    ``RuntimeWarning``."""


class HighLeverageWarning(UserWarning):
    """Some rows have leverage ``h_i ≈ 1``: removing one of them leaves a parameter
    direction undetermined, so its rescaled influence is undefined (reported as NaN)."""


class SingularHessianWarning(UserWarning):
    """The Hessian of the objective is singular (e.g. rank-deficient data without a
    penalty); skrif uses its pseudo-inverse (minimum-norm parameter changes)."""


class UndefinedRemovalWarning(UserWarning):
    """Removing some training row alone leaves a model that cannot be fitted (e.g.
    it is the only training row of its class): that row's single-row effects
    (self-influence, leave-one-out prediction, influence scores) are NaN."""


class SetInteractionWarning(UserWarning):
    """An answer for a set of rows is likely off: an additive one (IF or RIF)
    because the rows interact (they share a one-hot level, a cluster,
    near-duplicates), or the group Newton step because one step is not enough; it
    differs from its reference (the group Newton step plus one more Newton step) by
    more than :data:`skrif._core.set_error.SET_INTERACTION_THRESHOLD`, measured on
    what was asked (parameters in units of their standard errors, or the target).
    Use ``method="newton"`` or ``method="refit"``."""


class DiagnosticsWarning(UserWarning):
    """Some regression diagnostics are unreliable or undefined: an (essentially)
    perfect fit, whose residuals are rounding noise (R's ``summary.lm`` warns the
    same), or rows whose fitted probability or mean is exactly at the edge of its
    range (0 or 1), where the variance and every residual-based measure vanish."""


class VerificationWarning(UserWarning):
    """A predicted effect checked by an exact refit (``verify=True``, the report's
    refits, the sets ``removal_to_flip`` chose) differs from the refit by more than
    :data:`skrif._core.set_error.VERIFICATION_THRESHOLD` (relative) or in sign: the
    refit is the answer, the prediction was off for this set."""


class ActiveSetChangeWarning(UserWarning):
    """A removal would change the active set of a piecewise-smooth model — an L1 /
    elastic-net coefficient crossing zero or an off-support coordinate leaving its KKT
    bound, a row crossing a squared-hinge margin or the Huber threshold — so the
    predicted change (IF, RIF or the group Newton step, all computed with the active
    set held fixed) is only a first-order answer; ``method="refit"`` is exact.
    The message names the coordinates or rows."""


class LeverageEstimateWarning(UserWarning):
    """With ``solver="iterative"`` the all-row leverages are randomized estimates
    (each with a confidence interval, ``leverage_bounds_``); for some rows the
    interval leaves the rescale factor ``1 / (1 − h_i)`` uncertain by more than 25%
    (typically near ``h_i = 1``), so their RIF values are uncertain too. Requested
    rows and sets (``influence``, ``removal_effect``) use exact leverages."""
