"""How close a wrapped estimator's fit is to the optimum of its objective, and what
to do about it: the polishing tolerances and the checks of a prefit model.

Shared by the in-memory and the Dask fit: one polishing rule (:data:`POLISH_TOL`,
:data:`WARN_TOL`, :func:`optimality_gap`, :func:`optimality_message`) and the same
warnings about the fitted state.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._utils.warn import warn

#: Below this relative distance to the optimum the fit is used as is; above it,
#: skrif polishes with Newton steps (one or two reach machine precision).
POLISH_TOL = 1e-10
#: Above this distance, polishing changes attributions visibly: say so.
WARN_TOL = 1e-6


def check_prefit(model, n_features, feature_names):
    """Check that a frozen model is fitted and matches the training data's columns."""
    check_is_fitted(model)
    fitted_width = getattr(model, "n_features_in_", n_features)
    if fitted_width != n_features:
        raise ValueError(
            f"The frozen {type(model).__name__} was fitted on {fitted_width} features "
            f"but X has {n_features}: pass the data the model was trained on."
        )
    fitted_names = getattr(model, "feature_names_in_", None)
    if (
        fitted_names is not None
        and feature_names is not None
        and not np.array_equal(fitted_names, feature_names)
    ):
        raise ValueError(
            f"The frozen {type(model).__name__} was fitted on columns "
            f"{list(fitted_names)} but X has columns {list(feature_names)}: pass the "
            "data the model was trained on, with its columns in the same order."
        )


def polish_tol(objective):
    """The gap above which the fit is polished: :data:`POLISH_TOL`, unless the family
    declares its own (``Objective.polish_tol``)."""
    return POLISH_TOL if objective.polish_tol is None else objective.polish_tol


def optimality_gap(factor, gradient, theta):
    """Relative Newton step ``‖H⁻¹∇J(θ)‖ / max(‖θ‖, 1e-300)``: the distance of ``θ``
    to the optimum, from the factored Hessian and the gradient there."""
    step = factor.solve(gradient)
    return float(np.linalg.norm(step) / max(np.linalg.norm(theta), 1e-300))


def optimality_message(fitted, objective, gap, frozen, polish, n_samples):
    """The :class:`~skrif.exceptions.OptimalityWarning` text for a fit ``gap`` away from
    the optimum of its objective (``None`` up to :data:`WARN_TOL`); ``fitted`` is the
    estimator's ``estimator_`` (a FrozenEstimator when ``frozen``)."""
    if not gap > WARN_TOL:
        return None
    if frozen and polish:
        action = (
            "the model is frozen, so its coefficients and predictions are kept "
            "and attributions are computed at the optimum skrif reached with "
            "Newton steps (polish=False computes them at the model's own "
            "coefficients). If this gap is large, check that you passed the "
            "data the model was trained on"
        )
    elif polish:
        action = (
            "skrif polished it with Newton steps on that objective; predictions use "
            "the polished coefficients (polish=False keeps the original ones)"
        )
    else:
        action = "attributions are computed at these coefficients (polish=False)"
    return (
        f"The fitted {type(fitted).__name__} is {gap:.2g} "
        "(relative Newton step) away from the optimum of its own objective, as "
        f"large as a single row's effect; {action}. "
        + objective.optimality_advice(fitted, n_samples)
    )


def warn_singular(rank, n_params):
    """The :class:`~skrif.exceptions.SingularHessianWarning` of a fit."""

    from ..exceptions import SingularHessianWarning

    warn(
        f"The Hessian of the objective is singular (rank {rank} < "
        f"{n_params} parameters): the data do not determine every "
        "parameter. skrif uses its pseudo-inverse (minimum-norm changes); add "
        "a penalty for well-defined attributions.",
        SingularHessianWarning,
    )


def warn_leverage_one_rows(rows, tol):
    """The :class:`~skrif.exceptions.HighLeverageWarning` of a fit with leverage-one rows."""

    from ..exceptions import HighLeverageWarning

    warn(
        f"{rows.size} training rows have leverage 1 (1 - h_i <= {tol:g}), "
        f"e.g. rows {rows[:10].tolist()}: each alone determines a parameter "
        "direction, so their rescaled influence is undefined (NaN).",
        HighLeverageWarning,
    )
