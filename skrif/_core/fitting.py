"""How close a wrapped estimator's fit is to the optimum of its objective, and what
to do about it: the polishing tolerances and the checks of a prefit model.

Shared by the in-memory and the Dask fit.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

#: Below this relative distance to the optimum the fit is used as is; above it,
#: skrif polishes with Newton steps (one or two reach machine precision).
POLISH_TOL = 1e-10
#: Above this distance, polishing changes attributions visibly: say so.
WARN_TOL = 1e-6


def tighter_fit_params(model):
    """Parameters that fit ``model`` to the optimum of its objective, or ``None``.

    What :class:`~skrif.exceptions.OptimalityWarning` advises: with them the wrapped
    estimator stops within skrif's tolerance, so the warning is silenced (checked
    for every supported family in the tests). ``None`` for SGD models, which do
    not converge to the optimum at any tolerance.
    """
    from sklearn.linear_model import (
        GammaRegressor,
        LogisticRegression,
        PoissonRegressor,
        Ridge,
        RidgeClassifier,
        TweedieRegressor,
    )

    if isinstance(model, (LogisticRegression, PoissonRegressor, GammaRegressor, TweedieRegressor)):
        # lbfgs stops short of 1e-10 whatever its tol; Newton–Cholesky converges.
        return {"solver": "newton-cholesky", "tol": 1e-10}
    if isinstance(model, (Ridge, RidgeClassifier)):
        # Iterative solvers (sparse_cg, lsqr, sag, saga for sparse X) honour tol.
        return {"tol": 1e-10}
    return None


def optimality_advice(model, n_samples):
    """The "how to silence it" sentence of the OptimalityWarning, for this model."""
    params = tighter_fit_params(model)
    name = type(model).__name__
    if params is not None:
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"Fit {name}({shown}) to reach the optimum and silence this warning."
    alpha = getattr(model, "alpha", None)
    if getattr(model, "loss", None) == "log_loss" and alpha:
        twin = f"LogisticRegression(C={1 / (n_samples * alpha):.6g}, solver='newton-cholesky', tol=1e-10)"
    elif alpha:
        twin = f"Ridge(alpha={n_samples * alpha:.6g})"
    else:
        twin = None
    if twin is not None:
        return (
            f"{name} does not reach the optimum at any tolerance; {twin} minimises the "
            "same objective exactly (same coefficients as a converged run) and does not warn."
        )
    return (
        f"{name} does not reach the optimum at any tolerance; filter the warning "
        "(warnings.filterwarnings('ignore', category=OptimalityWarning)) if the polished "
        "coefficients are what you want."
    )


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
