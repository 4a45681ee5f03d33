"""Routing from :class:`~skrif.InfluenceEstimator` to the Dask engine (no dask import).

``import skrif`` must not import dask: this module recognises dask collections by
the module of their type, and imports :mod:`skrif._dask` only when one is passed
to :meth:`fit` (or to a prediction method), or when the estimator was fitted on
one.
"""

import functools

from .._utils.dask import fitted_on_dask, is_dask

#: Methods that take new rows ``X`` first and return one value per row: with a
#: dask ``X`` they return dask arrays whatever the training data were.
_ROWWISE = ("predict", "predict_proba", "predict_log_proba", "decision_function")


def route_fit(est, X, y, sample_weight):
    """Fit on Dask when ``X`` (or ``y``) is a dask array; ``None`` otherwise.

    An in-memory fit after a Dask one drops the Dask state first.
    """
    if is_dask(X) or is_dask(y) or is_dask(sample_weight):
        from .. import _dask

        return _dask.fit(est, X, y, sample_weight)
    vars(est).pop("_dask_fit", None)
    return None


def dask_aware(method):
    """Send ``method`` to :mod:`skrif._dask` for estimators fitted on Dask, and
    row-wise prediction methods called with a dask ``X``; for a pipeline whose
    preprocessing is refitted with the rows, to :mod:`skrif._estimator.whole_pipeline`
    (one wrapper, so warnings keep their stack level)."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        rows = args[0] if args else kwargs.get("X")
        if fitted_on_dask(self) and name not in _ROWWISE or (name in _ROWWISE and is_dask(rows)):
            from .. import _dask

            return getattr(_dask, name)(self, *args, **kwargs)
        if getattr(self, "_pipeline_removal", None) is not None:
            from . import whole_pipeline

            if whole_pipeline.routes(self, name):
                return whole_pipeline.call(self, name, args, kwargs)
        return method(self, *args, **kwargs)

    return wrapper
