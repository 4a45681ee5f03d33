"""The result of :meth:`~skrif.InfluenceEstimator.most_influential`."""

import numpy as np

__all__ = ["InfluentialRows"]


class InfluentialRows(np.ndarray):
    """The ``k`` most influential training rows, with their predicted (and actual) effect.

    One return type for :meth:`~skrif.InfluenceEstimator.most_influential`, with or
    without ``verify``. It *is* the array of row indices (largest effect first), so
    ``X[result]``, ``result.shape`` or ``i in result`` work as before, and carries:

    Attributes
    ----------
    rows : ndarray of int of shape (k,)
        The row indices as a plain array.
    predicted : float
        The predicted (additive) change of the summed target when the rows are
        removed: the sum of their single-row effects.
    actual : float or None
        With ``verify=True``: the change after an exact refit without the rows;
        ``None`` otherwise.
    verified : bool
        Whether ``actual`` was computed.
    labels : array-like of shape (k,)
        The rows' labels: ``training_index_[rows]`` when the estimator was fitted
        on a DataFrame, else the positions (set by
        :meth:`~skrif.InfluenceEstimator.most_influential`).

    Notes
    -----
    For backward compatibility a *verified* result still unpacks as the triple
    ``rows, predicted, actual = est.most_influential(..., verify=True)``;
    prefer the attributes. Arrays derived from it (slices, sorts) are plain
    row arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from skrif._features.influential import InfluentialRows
    >>> result = InfluentialRows([4, 1, 7], predicted=2.5, actual=2.25)
    >>> result.rows, result.predicted, result.actual
    (array([4, 1, 7]), 2.5, 2.25)
    >>> rows, predicted, actual = result
    >>> int(rows[0]), 7 in result
    (4, True)
    """

    def __new__(cls, rows, predicted, actual=None):
        obj = np.asarray(rows, dtype=np.intp).view(cls)
        obj.predicted = float(predicted)
        obj.actual = None if actual is None else float(actual)
        obj.verified = actual is not None
        obj.labels = obj.view(np.ndarray)
        return obj

    def __array_finalize__(self, obj):
        # Derived arrays (slices, sorts, arithmetic) keep the numbers but not the
        # triple unpacking: only the result itself unpacks as (rows, predicted, actual).
        self.predicted = getattr(obj, "predicted", np.nan)
        self.actual = getattr(obj, "actual", None)
        self.verified = False
        self.labels = getattr(obj, "labels", None)

    @property
    def rows(self):
        return self.view(np.ndarray)

    def __iter__(self):
        if self.verified:
            return iter((self.rows, self.predicted, self.actual))
        return iter(self.rows)

    def __reduce__(self):
        return (_rebuild, (self.rows.copy(), self.predicted, self.actual if self.verified else None))

    def __repr__(self):
        shown = f"InfluentialRows(rows={self.rows.tolist()}, predicted={self.predicted:.6g}"
        if self.verified:
            shown += f", actual={self.actual:.6g}"
        return shown + ")"


def _rebuild(rows, predicted, actual):
    return InfluentialRows(rows, predicted, actual)
