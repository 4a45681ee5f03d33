"""The two things an estimator does differently with dask inputs: lazy row-wise
predictions and lazy effects on dask evaluation rows.

Every other public method of :class:`~skrif.InfluenceEstimator` runs the same code
for a Dask fit as in memory, on the fit's removal model
(:class:`~skrif._dask._removal.DaskRemovalModel`).
"""

import dask.array as da
import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._features import attribution as _attribution
from .._linalg.design import AugmentedDesign
from . import _blocks
from ._fit import as_rows, check_dask_X, encode_block


def _rowwise(est, X, method):
    check_is_fitted(est)
    X = check_dask_X(X, est.n_features_in_)
    model = est.estimator_
    func = getattr(model, method)
    probe = func(np.zeros((1, X.shape[1])))
    if probe.ndim == 1:
        return X.map_blocks(func, drop_axis=1, dtype=probe.dtype, meta=np.empty((0,), probe.dtype))
    return X.map_blocks(func, chunks=(X.chunks[0], (probe.shape[1],)), dtype=probe.dtype)


def predict(est, X):
    """``estimator_.predict`` blockwise: a lazy dask array chunked like ``X``."""
    return _rowwise(est, X, "predict")


def predict_proba(est, X):
    """``estimator_.predict_proba`` blockwise (lazy, chunked like ``X``)."""
    return _rowwise(est, X, "predict_proba")


def predict_log_proba(est, X):
    """``estimator_.predict_log_proba`` blockwise (lazy, chunked like ``X``)."""
    return _rowwise(est, X, "predict_log_proba")


def decision_function(est, X):
    """``estimator_.decision_function`` blockwise (lazy, chunked like ``X``)."""
    return _rowwise(est, X, "decision_function")


def _effect_block(Xb, Yb=None, *, fit_intercept, theta, delta, target, linearized):
    design = AugmentedDesign(_blocks.block_rows(Xb), fit_intercept)
    Z = design.matvec(theta.T)
    Y = None if Yb is None else np.asarray(Yb, dtype=float)
    J = target.derivative(Z, Y) if linearized else None
    return _attribution._apply(target, Z, design.matvec(delta.T), Y, J, linearized)


def lazy_effect(est, X, y, target, delta, linearized):
    """``removal_effect`` on dask evaluation rows ``X``: lazy, chunked like ``X``."""
    rm = est._removal
    X = check_dask_X(X, est.n_features_in_)
    if target.needs_y and y is None:
        raise ValueError(f"target={target.name!r} needs the evaluation targets y.")
    kwargs = dict(fit_intercept=rm.objective.fit_intercept, theta=rm.theta, delta=delta,
                  target=target, linearized=linearized)
    args = [X, "ij"]
    if target.needs_y:
        yd = as_rows(y, X, "y", ndim=(1, 2))
        q = rm.n_outputs
        Y = yd.map_blocks(
            encode_block, objective=rm.objective, model=est.estimator_, q=q,
            chunks=(X.chunks[0], (q,)), dtype=float, new_axis=1 if yd.ndim == 1 else None,
        )
        args += [Y, "ik"]
    out = da.blockwise(
        _effect_block, "ir", *args, new_axes={"r": target.n_outputs}, concatenate=True,
        dtype=float, meta=np.empty((0, 0)), **kwargs,
    )
    return target.finalize(out)
