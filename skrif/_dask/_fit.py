"""Fitting an InfluenceEstimator on dask arrays: input checks, the distributed fit,
the removal model at θ̂ (:func:`build`)."""


import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.multiclass import type_of_target

from .._core.fitting import (
    check_prefit,
    optimality_gap,
    optimality_message,
    polish_tol,
)
from .._core.problem import warn_not_converged
from .._objectives import objective_class_for
from .._objectives._registry import dask_estimator_names
from .._utils.dask import is_dask
from .._utils.warn import warn
from ..exceptions import OptimalityWarning, UnsupportedModelError
from . import _blocks
from ._engine import DaskDesign, Objective
from ._removal import build

# Attributes of an earlier fit, removed before a new one so that a failed fit
# leaves no fitted model behind.
_FITTED = (
    "estimator_", "n_features_in_", "feature_names_in_", "training_index_", "leverages_",
    "rescale_factors_", "optimality_gap_", "n_polish_steps_", "hessian_rank_",
    "_removal", "_frozen_names", "_dask_fit", "_model_theta", "_attributed",
    "_preprocessing", "_pipeline_removal", "_fit_targets",
)


# -- input validation -----------------------------------------------------------------


def _check_chunks(A, name):
    if any(np.isnan(c) for dim in A.chunks for c in dim):
        raise ValueError(
            f"{name} has unknown chunk sizes (NaN), e.g. from a dask DataFrame's "
            f".values: skrif needs the number of rows of every block. Call "
            f"{name}.compute_chunk_sizes() first, or use df.to_dask_array(lengths=True)."
        )


def check_dask_X(X, n_features=None, name="X"):
    """A 2-D float dask array chunked along rows only (columns rechunked, lazily)."""
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{name} must be a dask.array.Array on Dask (got {type(X).__name__}); a dask "
            "DataFrame converts with .to_dask_array(lengths=True)."
        )
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array for {name}; got {X.ndim} dimension(s).")
    _check_chunks(X, name)
    meta = getattr(X, "_meta", None)
    if not sp.issparse(meta) and type(meta).__module__.startswith("sparse"):
        raise TypeError(
            f"{name} has pydata/sparse blocks: skrif on Dask supports NumPy and "
            "scipy.sparse blocks; convert them (X.map_blocks(lambda b: b.tocsr())) or "
            "fit in memory."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric; got dtype {X.dtype}.")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name} has shape {X.shape}: need at least one row and one column.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but InfluenceEstimator is expecting "
            f"{n_features} features as input."
        )
    if len(X.chunks[1]) > 1:
        # Row blocks must hold whole rows: one column chunk (lazy rechunk).
        X = X.rechunk({1: -1})
    if X.dtype != np.float64:
        X = X.astype(np.float64)
    return X


def as_rows(v, X, name, ndim=(1,)):
    """``v`` as a dask array chunked like ``X``'s rows (numpy input wrapped lazily)."""
    if is_dask(v):
        if not isinstance(v, da.Array):
            v = v.to_dask_array(lengths=True)
        _check_chunks(v, name)
    else:
        v = np.asarray(v)
    if v.ndim == 2 and v.shape[1] == 1 and 2 not in ndim:
        v = v[:, 0]
    if v.ndim not in ndim:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in ndim)}; got shape {v.shape}.")
    if v.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and {name} have different numbers of rows: {X.shape[0]} and {v.shape[0]}."
        )
    chunks = (X.chunks[0],) + tuple((s,) for s in v.shape[1:])
    if isinstance(v, da.Array):
        # Blocks of y must line up with the row blocks of X (lazy rechunk).
        return v if v.chunks == chunks else v.rechunk(chunks)
    return da.from_array(v, chunks=chunks)


def encode_block(yb, *, objective, model, q):
    yb = np.asarray(yb)
    if yb.shape[0] == 0:  # an empty chunk (e.g. from a filter): nothing to encode
        return np.zeros((0, q))
    return objective.encode_targets(yb, model).reshape(-1, q)


def _weights_block(yb, wb, *, objective, model):
    return np.asarray(objective.effective_weights(np.asarray(yb), np.asarray(wb, dtype=float), model), dtype=float)[:, None]


def _init_shapes(model, q, p, y_ndim, classifier):
    """Give a fresh clone ``coef_``/``intercept_`` of the shapes scikit-learn uses."""
    if classifier or y_ndim == 2:
        model.coef_ = np.zeros((q, p))
        model.intercept_ = np.zeros(q)
    else:
        model.coef_ = np.zeros(p)
        model.intercept_ = 0.0


# -- fit --------------------------------------------------------------------------------


def fit(est, X, y, sample_weight=None):
    """Fit ``est`` on dask arrays: distributed Newton on the wrapped estimator's objective.

    The wrapped estimator's solver, ``tol`` and ``max_iter`` are not used: skrif
    minimises the same objective (penalty, intercept, weights, ``C``/``alpha``
    scaling) with its Newton solver to machine precision, one pass over ``X`` per
    iteration, and writes the result into a fitted clone. A FrozenEstimator is
    checked, polished (internally only) and attributed as in memory, by the same
    polishing rule (:mod:`skrif._polish`).
    """
    for name in _FITTED:
        vars(est).pop(name, None)
    est._check_params()
    estimator = est._get_estimator()
    frozen = isinstance(estimator, FrozenEstimator)
    model = estimator.estimator if frozen else estimator
    objective_cls = objective_class_for(model)
    if type(model) not in objective_cls.dask_estimators:
        raise UnsupportedModelError(
            f"skrif cannot fit {type(model).__name__} on Dask: the Dask engine supports "
            f"{', '.join(dask_estimator_names())}. Fit in memory (NumPy or SciPy sparse X) "
            "for the other models."
        )
    if objective_cls(model).problem_kind != "smooth":
        raise UnsupportedModelError(
            f"skrif cannot fit {type(model).__name__} with an L1 term on Dask: the active-set "
            "algebra runs in memory only. Fit in memory (NumPy or SciPy sparse X), or use "
            "an L2 penalty (l1_ratio=0) on Dask."
        )
    classifier = objective_cls.is_classifier
    if not is_dask(X):
        X = da.from_array(np.asarray(X, dtype=float), chunks=(max(1, len(X) // 4) if len(X) else 1, -1))
    X = check_dask_X(X)
    n, p = X.shape
    y = as_rows(y, X, "y", ndim=(1,) if classifier or objective_cls.mean_form else (1, 2))
    if sample_weight is None:
        w = da.ones((n,), chunks=(X.chunks[0],))
    elif np.ndim(sample_weight) == 0 and not is_dask(sample_weight):
        w = da.full((n,), float(sample_weight), chunks=(X.chunks[0],))
    else:
        w = as_rows(sample_weight, X, "sample_weight").astype(float)

    if frozen:
        check_prefit(model, p, None)
        fitted = model
    else:
        fitted = clone(model)
    classes = None
    if classifier:
        classes = fitted.classes_ if frozen else np.unique(np.asarray(da.unique(y).compute()))
        if type_of_target(classes) not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: {type_of_target(classes)!r} (labels {classes[:5]}).")
        if len(classes) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the "
                f"data contain only one class: {classes[0]!r}."
            )
        if not frozen:
            fitted.classes_ = classes
    objective = objective_cls(fitted)
    if classifier:
        objective.check_classes(fitted)
    if objective.hessian_kind == "block":
        q = len(classes)
    else:
        q = 1 if classifier or y.ndim == 1 else y.shape[1]
    Y = y.map_blocks(
        encode_block, objective=objective, model=fitted, q=q,
        chunks=(X.chunks[0], (q,)), dtype=float, new_axis=1 if y.ndim == 1 else None,
    )
    S = da.map_blocks(
        _weights_block, y if y.ndim == 1 else y[:, 0], w, objective=objective, model=fitted,
        chunks=(X.chunks[0], (1,)), dtype=float, new_axis=1,
    )
    design = DaskDesign(X, Y, S, objective)
    n_classes = 0 if not classifier else len(classes)

    # Pass 0: validation, column means (the centring shift), totals; the encoded
    # targets and weights stay on the workers (n (q + 1) floats), read by every pass.
    check = design.reduce(
        _blocks.check_block, p + 3 + max(n_classes, 1), objective=objective, n_classes=n_classes
    )
    Y, S, check = dask.persist(Y, S, check)
    design = DaskDesign(X, Y, S, objective)
    sums = check.compute()
    weight_total, share_total, counts = float(sums[p + 1]), float(sums[p + 2]), sums[p + 3 :]
    if not weight_total > 0:
        raise ValueError("All sample weights are zero: there is nothing to fit.")
    if objective.fit_intercept and objective.penalty_intercept == 0:
        design.shift = sums[:p] / n
    problem = Objective(design, weight_total, share_total)

    n_polish_steps, converged = 0, True
    if frozen:
        theta = objective.get_theta(model)
    else:
        _init_shapes(fitted, q, p, y.ndim, classifier)
        theta, n_iter, converged = problem.minimize(problem.pilot())
        if not converged:
            warn_not_converged(n_iter, "the distributed fit")
    point = problem.point(theta, hessian=True)
    gap = optimality_gap(point.factor(), point.gradient, theta)
    if frozen:
        message = optimality_message(model, objective, gap, True, est.polish, n)
        if message is not None:
            warn(message, OptimalityWarning)
        if est.polish and gap > polish_tol(objective):
            theta, n_polish_steps, converged = problem.minimize(theta)
            if not converged:
                warn_not_converged(n_polish_steps, "polishing the fit")
            point = problem.point(theta, hessian=True)
    else:
        objective.set_theta(fitted, theta)
        objective.set_fitted_attributes(fitted, n_iter)
        fitted.n_features_in_ = p
    rm = build(design, problem, theta, counts, classes, point=point)

    # Everything succeeded: only now does the estimator become fitted.
    est.estimator_ = estimator if frozen else fitted
    est.n_features_in_ = p
    est.n_polish_steps_ = n_polish_steps
    est.optimality_gap_ = float(gap)
    est.hessian_rank_ = int(rm.curvature.rank)
    one_minus = rm.one_minus_leverage
    tol = rm.curvature.leverage_tol
    est.leverages_ = da.clip(1.0 - one_minus, 0.0, 1.0)
    est.rescale_factors_ = da.where(one_minus <= tol, np.inf, 1.0 / da.maximum(one_minus, tol))
    est._removal = rm
    est._model_theta = objective.get_theta(model if frozen else fitted)
    est._dask_fit = True
    return est
