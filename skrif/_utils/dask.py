"""Recognising dask collections without importing dask (``import skrif`` never does)."""


def is_dask(obj):
    """Whether ``obj`` is a dask collection (checked without importing dask)."""
    return type(obj).__module__.partition(".")[0] == "dask"


def fitted_on_dask(est):
    """Whether the InfluenceEstimator ``est`` was fitted on dask arrays."""
    return "_dask_fit" in vars(est)
