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
