"""Shared by the validation modules: the table columns, parameter constraints and
small checks, and the check that an estimator is a fitted InfluenceEstimator.
"""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._removal.methods import PREDICTED_METHODS
from .._utils.checks import is_integer
from .._utils.dask import is_dask
from .._utils.params import Integer, check_params, validate_arguments

#: Removal-set strategies, see :func:`removal_sets`.
STRATEGIES = ("random", "feature", "distance", "top_score")


#: Targets of :func:`validate_influence`. The first is ``"test_proba"`` for
#: classifiers with ``predict_proba``, ``"test_margin"`` for other classifiers and
#: ``"test_prediction"`` for regressors.
VALIDATION_TARGETS = ("test_proba", "test_loss", "self_loss")


#: Columns of the tidy table returned by :func:`validate_influence`.
RESULT_COLUMNS = (
    "set_id",
    "strategy",
    "size",
    "fraction",
    "target",
    "method",
    "predicted",
    "actual",
    "relative_error",
    "error_estimate",
)


#: Columns of the table returned by :func:`summarize`.
SUMMARY_COLUMNS = (
    "method",
    "target",
    "n_sets",
    "slope",
    "pearson",
    "spearman",
    "median_relative_error",
)


#: Most removal sets :func:`removal_sets` and :func:`validate_influence` build: each
#: set costs an exact refit, so more is never a validation run that finishes.
MAX_N_SETS = 100_000


#: Most row indices all sets may hold together (8 bytes each: 800 MB).
MAX_SET_ROWS = 10**8


def check_influence_estimator(est, caller):
    """Raise a clear ``TypeError`` unless ``est`` is an InfluenceEstimator, and
    ``NotFittedError`` unless it is fitted (a plain scikit-learn model has none
    of the fitted removal state these functions read)."""
    from sklearn.utils.validation import check_is_fitted

    from .._estimator.estimator import InfluenceEstimator

    if not isinstance(est, InfluenceEstimator):
        hint = ""
        if hasattr(est, "steps"):
            hint = (
                " For a Pipeline ending in one, pass pipeline[-1] and data transformed "
                "with skrif.transform_through(pipeline, X)."
            )
        elif hasattr(est, "fit"):
            hint = (
                f" Wrap the model first: InfluenceEstimator({type(est).__name__}(...))"
                ".fit(X, y)."
            )
        # InvalidParameterError is both a TypeError and a ValueError, like the
        # errors of scikit-learn's own parameter validation.
        from sklearn.utils._param_validation import InvalidParameterError

        raise InvalidParameterError(
            f"{caller} needs a fitted skrif.InfluenceEstimator; got "
            f"{type(est).__name__}.{hint}"
        )
    check_is_fitted(est)


def _check_int(value, name, low, high=None):
    if (
        not is_integer(value)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bound}; got {value!r}.")
    return int(value)


def _check_total_rows(n_samples, n_sets, n_strategies, min_fraction, max_fraction):
    """Refuse sets that would hold more than ``MAX_SET_ROWS`` row indices in total
    (computed from their sizes before any set is drawn: O(n_sets))."""
    counts = np.full(n_strategies, n_sets // n_strategies)
    counts[: n_sets % n_strategies] += 1
    total = sum(
        int(_sizes(n_samples, c, min_fraction, max_fraction).sum()) for c in counts if c
    )
    if total > MAX_SET_ROWS:
        raise ValueError(
            f"These {n_sets} removal sets would hold {total} row indices in total "
            f"(more than {MAX_SET_ROWS:.0e}, i.e. 800 MB), and each costs an exact refit: "
            "use fewer sets or a smaller max_fraction."
        )


# -- parameter constraints (scikit-learn's declarative vocabulary) ----------------
_FLAG = [StrOptions({"auto"}), "boolean"]


_FRACTION = [Interval(Real, 0, 1, closed="neither")]


_CONSTRAINTS = {
    # Checked by _removal_state, with hints for pipelines and plain models.
    "est": "no_validation",
    "n_sets": [Integer(1, None, closed="left")],
    "n_rows": [Integer(1, None, closed="left")],
    "min_fraction": _FRACTION,
    "max_fraction": _FRACTION,
    "progress": _FLAG,
    "as_frame": _FLAG,
    "random_state": ["random_state"],
    "n_jobs": [Integer(None, None, closed="neither"), None],
    "verbose": [Integer(0, None, closed="left"), "boolean"],
}


_MESSAGES = {
    "est": "a fitted skrif.InfluenceEstimator (wrap the model: InfluenceEstimator(model).fit(X, y))",
    "n_sets": "an integer >= 1",
    "n_rows": "an integer >= 1",
    "min_fraction": "a number in (0, 1)",
    "max_fraction": "a number in (0, 1)",
    "progress": "'auto', True or False",
    "as_frame": "'auto', True or False",
    "verbose": "an integer >= 0",
}


def _validated(func):
    return validate_arguments(_CONSTRAINTS, _MESSAGES)(func)


# -- small helpers -------------------------------------------------------------
def _check_fractions(min_fraction, max_fraction):
    if min_fraction > max_fraction:
        raise ValueError(
            f"min_fraction ({min_fraction}) must not exceed max_fraction ({max_fraction})."
        )


def _check_strategies(strategies):
    if isinstance(strategies, str):
        strategies = (strategies,)
    strategies = tuple(strategies)
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or not strategies:
        raise ValueError(f"strategies must be a non-empty subset of {STRATEGIES}; got {strategies!r}.")
    return strategies


def _check_methods(methods):
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(dict.fromkeys(methods))
    bad = [m for m in methods if m not in PREDICTED_METHODS]
    if bad or not methods:
        raise ValueError(
            f"methods must be a non-empty subset of {PREDICTED_METHODS} (the exact "
            f"refit is always computed as the actual value); got {methods!r}."
        )
    return methods


def _want_frame(as_frame):
    check_params(_CONSTRAINTS, {"as_frame": as_frame}, messages=_MESSAGES)
    if as_frame is False:
        return False
    try:
        import pandas  # noqa: F401
    except ImportError:
        if as_frame is True:
            raise ImportError(
                "as_frame=True needs pandas; install it (pip install pandas) or use "
                "as_frame=False for a dict of NumPy columns."
            ) from None
        return False
    return True


def _to_table(columns, as_frame):
    if as_frame:
        import pandas as pd

        return pd.DataFrame(columns)
    return columns


def _columns(table):
    """Return a dict of NumPy columns from a DataFrame or a dict of columns."""
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        return {c: table[c].to_numpy() for c in table.columns}
    return {c: np.asarray(v) for c, v in dict(table).items()}


def _in_memory(data):
    """A dask collection computed (small evaluation data, per-row vectors); else as is."""
    return data.compute() if is_dask(data) else data


def _sizes(n_samples, n_sets, min_fraction, max_fraction):
    """``n_sets`` set sizes log-spaced from ``min_fraction·n`` to ``max_fraction·n`` (≥ 1)."""
    low = max(1.0, min_fraction * n_samples)
    high = max(low, max_fraction * n_samples)
    sizes = np.rint(np.geomspace(low, high, n_sets)).astype(int)
    return np.clip(sizes, 1, n_samples - 1)
