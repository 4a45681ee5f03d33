"""Labelled (pandas) views of skrif's outputs; numpy stays the default everywhere.

pandas is imported lazily, only when a labelled output is asked for.
"""

import dataclasses

import numpy as np
from sklearn.utils.validation import check_is_fitted


def training_index_of(X):
    """Return ``X.index`` (a copy) for a pandas DataFrame, else ``None``."""
    if hasattr(X, "columns") and hasattr(X, "index") and hasattr(X, "iloc"):
        return X.index.copy()
    return None


def _import_pandas():
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is a test dependency
        raise ImportError("Labelled outputs (as_frame=True) require pandas.") from exc
    return pd


def _training_index(est, pd):
    index = getattr(est, "training_index_", None)
    if index is None:
        index = pd.RangeIndex(est.leverages_.shape[0])
    return index


def _feature_names(est):
    names = getattr(est, "feature_names_in_", None)
    if names is None:
        names = [f"x{j}" for j in range(est.n_features_in_)]
    return list(names)


def _output_names(est, n_outputs):
    classes = getattr(est.estimator_, "classes_", None)
    if classes is not None and len(classes) == 2 and n_outputs == 1:
        return [classes[1]]  # binary logistic: the coefficients of the positive class
    return list(range(n_outputs))


def change_as_frame(est, change):
    """Label a :class:`~skrif.ParameterChange` with feature and training-row names."""
    pd = _import_pandas()
    features = _feature_names(est)
    coef, intercept = change.coef, change.intercept
    if np.ndim(coef) == 1:
        coef = pd.Series(coef, index=features, name="coef")
    else:
        outputs = _output_names(est, coef.shape[0])
        coef = pd.DataFrame(coef, index=outputs, columns=features)
        if np.ndim(intercept) == 1:
            intercept = pd.Series(intercept, index=outputs, name="intercept")
    removed = _training_index(est, pd)[change.removed]
    return dataclasses.replace(change, coef=coef, intercept=intercept, removed=removed)


def label_training_rows(estimator, values, columns=None):
    """Label an array with one entry (or row) per training row as pandas.

    Attribution results indexed by training row — ``leverages_``,
    ``rescale_factors_``, ``self_influence()``, the rows of ``influence_scores``
    — become a Series or DataFrame whose index is the row labels of the
    training DataFrame (``training_index_``), or ``0..n-1`` when ``fit`` got an
    array. numpy stays the default everywhere else in skrif.

    Parameters
    ----------
    estimator : InfluenceEstimator or Pipeline
        A fitted InfluenceEstimator, or a fitted Pipeline ending in one.
    values : array-like of shape (n_samples,) or (n_samples, n_columns)
        One value (or row of values) per training row, in training order.
        Positional row indices (e.g. from ``most_influential``) are *not*
        values: map them with ``estimator.training_index_[idx]`` instead.
    columns : array-like of shape (n_columns,), default=None
        Column labels for 2-D ``values``, e.g. ``X_eval.index`` for
        ``influence_scores(X_eval)``; ``0..n_columns-1`` when omitted.

    Returns
    -------
    labelled : pandas.Series or pandas.DataFrame
        ``values`` indexed by training row.

    Raises
    ------
    ValueError
        If ``values`` does not have one entry per training row, or is more
        than 2-D.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import Ridge
    >>> from skrif import InfluenceEstimator, label_training_rows
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(6, 2)), columns=["a", "b"],
    ...                  index=[f"r{i}" for i in range(6)])
    >>> y = pd.Series(rng.normal(size=6), index=X.index)
    >>> est = InfluenceEstimator(Ridge()).fit(X, y)
    >>> label_training_rows(est, est.leverages_).index.tolist()
    ['r0', 'r1', 'r2', 'r3', 'r4', 'r5']
    """
    pd = _import_pandas()
    est = estimator[-1] if hasattr(estimator, "steps") else estimator
    check_is_fitted(est)
    index = _training_index(est, pd)
    values = np.asarray(values)
    if values.ndim not in (1, 2) or values.shape[0] != len(index):
        raise ValueError(
            f"values must have one entry (or row) per training row, i.e. shape "
            f"({len(index)},) or ({len(index)}, k); got shape {values.shape}."
        )
    if values.ndim == 1:
        return pd.Series(values, index=index)
    return pd.DataFrame(values, index=index, columns=columns)
