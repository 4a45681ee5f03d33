"""Summaries of a validation table: slope, correlations and relative error per method
and target, and the calibration of the set-interaction estimate.
"""


import numpy as np
from scipy import stats

from .._core.set_error import (
    SET_INTERACTION_THRESHOLD,
)
from .._removal.methods import ADDITIVE_METHODS
from ._common import SUMMARY_COLUMNS, _columns, _to_table, _validated, _want_frame


def _slope_through_origin(predicted, actual):
    denom = np.sum(actual * actual)
    return float(np.sum(predicted * actual) / denom) if denom > 0 else np.nan


def _correlation(fn, a, b):
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(fn(a, b)[0])


@_validated
def summarize(results, *, as_frame="auto"):
    """Per method and target: how well predicted changes match actual ones.

    Parameters
    ----------
    results : DataFrame or dict of array-like
        A table with at least the columns ``method``, ``target``, ``predicted`` and
        ``actual`` (e.g. ``validate_influence(...)["results"]``). Rows with a
        non-finite predicted or actual value are ignored.
    as_frame : bool or "auto", default="auto"
        DataFrame (when pandas is installed) or dict of NumPy columns.

    Returns
    -------
    summary : DataFrame or dict
        One row per (method, target) in order of appearance, columns
        ``SUMMARY_COLUMNS``:

        * ``n_sets``: rows used;
        * ``slope``: least-squares slope of predicted on actual through the origin,
          ``Σ pred·act / Σ act²`` (1 is unbiased; below 1 the method underestimates);
        * ``pearson``, ``spearman``: correlations of predicted and actual;
        * ``median_relative_error``: median of ``|pred − act| / |act|`` over rows
          with ``act ≠ 0``.

    Examples
    --------
    >>> from skrif.validation import summarize
    >>> table = {"method": ["if"] * 3, "target": ["t"] * 3,
    ...          "predicted": [1.0, 2.0, 4.0], "actual": [2.0, 4.0, 8.0]}
    >>> s = summarize(table, as_frame=False)
    >>> float(s["slope"][0]), round(float(s["pearson"][0]), 12), float(s["median_relative_error"][0])
    (0.5, 1.0, 0.5)
    """
    frame = _want_frame(as_frame)
    cols = _columns(results)
    missing = [c for c in ("method", "target", "predicted", "actual") if c not in cols]
    if missing:
        raise ValueError(f"results lacks the columns {missing}.")
    method = cols["method"].astype(object)
    target = cols["target"].astype(object)
    predicted = cols["predicted"].astype(float)
    actual = cols["actual"].astype(float)
    out = {c: [] for c in SUMMARY_COLUMNS}
    keys = list(dict.fromkeys(zip(method.tolist(), target.tolist())))
    for m, t in keys:
        sel = (method == m) & (target == t) & np.isfinite(predicted) & np.isfinite(actual)
        p, a = predicted[sel], actual[sel]
        nonzero = a != 0
        rel = np.abs(p[nonzero] - a[nonzero]) / np.abs(a[nonzero])
        out["method"].append(m)
        out["target"].append(t)
        out["n_sets"].append(int(sel.sum()))
        out["slope"].append(_slope_through_origin(p, a))
        out["pearson"].append(_correlation(stats.pearsonr, p, a))
        out["spearman"].append(_correlation(stats.spearmanr, p, a))
        out["median_relative_error"].append(float(np.median(rel)) if rel.size else np.nan)
    dtypes = {"method": object, "target": object, "n_sets": np.intp}
    out = {c: np.asarray(v, dtype=dtypes.get(c, float)) for c, v in out.items()}
    return _to_table(out, frame)


def interaction_calibration(results, *, threshold=SET_INTERACTION_THRESHOLD,
                            high=0.3, low=0.05):
    """How well the additive methods' error estimate tracks their actual error.

    Parameters
    ----------
    results : DataFrame or dict of arrays
        The ``results`` table of :func:`validate_influence`.
    threshold : float, default=SET_INTERACTION_THRESHOLD
        Estimate above which skrif warns (:class:`~skrif.exceptions.SetInteractionWarning`).
    high, low : float, default=0.3, 0.05
        Actual relative errors counted as large (should be warned) and small
        (should not).

    Returns
    -------
    calibration : dict
        Per additive method (``"if"``, ``"rif"``): ``spearman`` (rank correlation
        of estimate and actual error over sets of two or more rows), ``hit_rate``
        (fraction of sets with actual error above ``high`` that would warn),
        ``false_alarm_rate`` (fraction of sets with actual error below ``low`` that
        would warn), ``n_sets``, ``n_high``, ``n_low``.
    """
    cols = _columns(results)
    out = {}
    for method in ADDITIVE_METHODS:
        keep = (
            (np.asarray(cols["method"]) == method)
            & (np.asarray(cols["size"]) > 1)
            & np.isfinite(np.asarray(cols["relative_error"], dtype=float))
        )
        if not np.any(keep):
            continue
        err = np.asarray(cols["relative_error"], dtype=float)[keep]
        estimate = np.asarray(cols["error_estimate"], dtype=float)[keep]
        warned = ~(estimate <= threshold)
        big, small = err > high, err < low
        out[method] = {
            "spearman": _correlation(stats.spearmanr, estimate, err),
            "hit_rate": float(np.mean(warned[big])) if big.any() else np.nan,
            "false_alarm_rate": float(np.mean(warned[small])) if small.any() else np.nan,
            "n_sets": int(keep.sum()),
            "n_high": int(big.sum()),
            "n_low": int(small.sum()),
        }
    return out
