"""Exceptions and warnings raised by skrif."""

__all__ = [
    "UnsupportedModelError",
    "OptimalityWarning",
    "HighLeverageWarning",
    "SingularHessianWarning",
    "NotPositiveDefiniteError",
    "SetInteractionWarning",
]

from ._curvature import NotPositiveDefiniteError


class UnsupportedModelError(ValueError):
    """The wrapped estimator or one of its settings has no smooth objective skrif
    can attribute (L1 terms, constraints, label-dependent weights, unknown types)."""


class OptimalityWarning(UserWarning):
    """The wrapped estimator's fit is not at the optimum of its own objective, so
    attribution would be off by as much as a single row's effect; skrif polished it."""


class HighLeverageWarning(UserWarning):
    """Some rows have leverage ``h_i ≈ 1``: removing one of them leaves a parameter
    direction undetermined, so its rescaled influence is undefined (reported as NaN)."""


class SingularHessianWarning(UserWarning):
    """The Hessian of the objective is singular (e.g. rank-deficient data without a
    penalty); skrif uses its pseudo-inverse (minimum-norm parameter changes)."""


class SetInteractionWarning(UserWarning):
    """An additive answer (IF or RIF) for a set of rows is likely off because the
    rows interact (they share a one-hot level, a cluster, near-duplicates): it differs
    from the group Newton step by more than
    :data:`skrif._set_error.SET_INTERACTION_THRESHOLD`. Use ``method="newton"`` or
    ``method="refit"``."""
