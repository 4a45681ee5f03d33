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
    names = est._coef_names() if hasattr(est, "_coef_names") else None
    if names is None and getattr(est, "_preprocessing", None) is not None:
        names = [f"x{j}" for j in range(est._removal.design.n_features)]
    if names is None:
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
        One value (or row of values) per training row, in training order. A
        pandas Series is aligned to the training rows by its index (refused if
        its labels are not exactly the training rows). Positional row indices (e.g. from ``most_influential``) are *not*
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
    values = np.asarray(
        align_to_training_rows(values, getattr(est, "training_index_", None), len(index), "values")
    )
    if values.ndim not in (1, 2) or values.shape[0] != len(index):
        raise ValueError(
            f"values must have one entry (or row) per training row, i.e. shape "
            f"({len(index)},) or ({len(index)}, k); got shape {values.shape}."
        )
    if values.ndim == 1:
        return pd.Series(values, index=index)
    return pd.DataFrame(values, index=index, columns=columns)


# -- pandas inputs indexed by training row ---------------------------------------
def _is_series(obj):
    return (
        hasattr(obj, "index")
        and hasattr(obj, "to_numpy")
        and not hasattr(obj, "columns")
        and not hasattr(obj, "get_indexer")
    )


def _is_default_index(index, n_samples):
    """Whether labels are positions: ``index`` is ``0..n-1`` in order."""
    return len(index) == n_samples and np.array_equal(np.asarray(index), np.arange(n_samples))


def align_to_training_rows(values, training_index, n_samples, name):
    """Values of a pandas Series keyed by training row, in training order (NumPy).

    A Series carries its own row labels; applying it by position silently
    mismatches rows when its index is in another order (e.g. after sorting or a
    shuffled split). It is therefore reordered to ``training_index`` — every
    training label exactly once — and refused when that is impossible, or when
    the estimator was fitted without row labels and the Series index is not
    ``0..n-1`` in order. Anything but a Series is returned unchanged.

    Cost O(n) (a hash lookup per label).
    """
    if not _is_series(values):
        return values
    index = values.index
    if training_index is None:
        if _is_default_index(index, n_samples):
            return values.to_numpy()
        raise ValueError(
            f"{name} is a pandas Series whose index is not 0..{n_samples - 1} in order, "
            "but the training data had no row labels (it was not a DataFrame): skrif "
            "cannot tell which training row each entry belongs to. Pass a NumPy array "
            f"in training order (e.g. {name}.to_numpy()), or fit on a DataFrame."
        )
    if index.equals(training_index):
        return values.to_numpy()
    if not (index.is_unique and training_index.is_unique):
        raise ValueError(
            f"{name} is a pandas Series whose index differs from the training "
            "DataFrame's, and duplicate labels make aligning them ambiguous. Pass a "
            f"NumPy array in training order (e.g. {name}.to_numpy())."
        )
    missing = training_index.difference(index, sort=False)
    extra = index.difference(training_index, sort=False)
    if len(missing) or len(extra):
        raise ValueError(
            f"{name} is a pandas Series whose index does not match the training rows "
            f"(est.training_index_): training labels missing from it: "
            f"{list(missing[:5])}, labels not in the training data: {list(extra[:5])}. "
            "Give one entry per training row, labelled like the training DataFrame."
        )
    return values.reindex(training_index).to_numpy()


def removed_rows_from_pandas(X_removed_idx, training_index, n_samples):
    """Turn a pandas ``X_removed_idx`` into positions or a positional mask (NumPy).

    * a boolean Series is a mask keyed by row label: aligned to the training rows
      (:func:`align_to_training_rows`);
    * a boolean Index is a positional mask (it has no labels of its own);
    * any other Index or Series holds row *labels* (``X_train.index[...]``,
      ``df.index.to_series()``): they are positions only for a training index
      ``0..n-1``, and refused otherwise;
    * anything else is returned unchanged.
    """
    is_index = hasattr(X_removed_idx, "get_indexer")
    if not (is_index or _is_series(X_removed_idx)):
        return X_removed_idx
    pd = _import_pandas()
    if pd.api.types.is_bool_dtype(X_removed_idx.dtype):
        if pd.isna(X_removed_idx).any():
            raise ValueError("The boolean mask X_removed_idx contains missing values.")
        if is_index:
            return np.asarray(X_removed_idx, dtype=bool)
        mask = align_to_training_rows(X_removed_idx, training_index, n_samples, "X_removed_idx")
        return np.asarray(mask, dtype=bool)
    if training_index is not None and not _is_default_index(training_index, n_samples):
        kind = "pandas Index" if is_index else "pandas Series of (non-boolean) values"
        raise ValueError(
            f"X_removed_idx is a {kind}, i.e. row labels, but skrif takes row "
            "positions and the training DataFrame's index is not 0..n-1. Convert "
            "labels with np.flatnonzero(est.training_index_.isin(labels)), or pass "
            "a boolean mask (a boolean Series is aligned to the training rows)."
        )
    return np.asarray(X_removed_idx)


def check_same_row_order(X, values, name):
    """Refuse a pandas ``values`` (``y``, ``sample_weight``) holding the same row
    labels as DataFrame ``X`` in another order.

    scikit-learn applies such inputs by position, which then pairs rows with
    another row's target or weight. Labels that differ altogether (e.g. ``y``
    was re-indexed) are left to that positional convention; the same labels in
    another order can only be a mismatch. Cost O(n).
    """
    index = training_index_of(X)
    other = getattr(values, "index", None)
    if index is None or other is None or hasattr(values, "get_indexer"):
        return
    if len(other) != len(index) or other.equals(index):
        return
    if index.is_unique and other.is_unique and len(index.symmetric_difference(other)) == 0:
        raise ValueError(
            f"{name} holds the same row labels as X in a different order; scikit-learn "
            f"pairs them by position, so rows would get another row's {name}. Align "
            f"them first, e.g. {name}.loc[X.index]."
        )
