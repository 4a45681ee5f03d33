"""InfluenceEstimator on dask arrays: fit, attribution and refits (the public methods).

Each function mirrors the :class:`~skrif.InfluenceEstimator` method of the same name
(same parameters, same validation, same sign convention) for an estimator fitted
on a row-chunked ``dask.array.Array``. Per-row results stay lazy dask arrays
chunked like ``X``; p̃-sized results are NumPy arrays.
"""

import warnings

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
)
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted

from .._core.fitting import POLISH_TOL, WARN_TOL, check_prefit
from .._core.influence import ParameterChange, check_fraction, check_removed_rows
from .._core.problem import warn_not_converged
from .._core.targets import make_target
from .._features import attribution as _attribution
from .._objectives import objective_class_for
from .._objectives._multinomial import MultinomialObjective
from .._removal.leverage import LEVERAGE_TOL, warn_leverage_one
from .._utils.checks import check_bool, check_eval_targets
from .._utils.dask import is_dask
from .._utils.frames import change_as_frame
from ..exceptions import (
    NotPositiveDefiniteError,
    OptimalityWarning,
    SingularHessianWarning,
    UnsupportedModelError,
)
from . import _blocks
from ._engine import (
    DaskDesign,
    DaskObjective,
    set_change,
    solve_theta,
    to_centred,
    to_original,
)

#: Estimators whose exact objective the Dask engine solves.
SUPPORTED = (LogisticRegression, Ridge, LinearRegression, PoissonRegressor)
_SUPPORTED_NAMES = (
    "LogisticRegression (binary or multinomial), Ridge, LinearRegression and PoissonRegressor"
)
# Attributes of an earlier fit, removed before a new one so that a failed fit
# leaves no fitted model behind.
_FITTED = (
    "estimator_", "n_features_in_", "feature_names_in_", "training_index_", "leverages_",
    "rescale_factors_", "optimality_gap_", "n_polish_steps_", "hessian_rank_",
    "_removal", "_frozen_names", "_dask_fit",
)


class DaskFit:
    """The fitted state on Dask: data operator, objective, factored Hessian at θ̂."""

    def __init__(self, design, objective, state, counts, classes):
        self.design, self.objective, self.state = design, objective, state
        self.spec = design.spec
        self.counts, self.classes = counts, classes


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
    if sp.issparse(meta) or type(meta).__module__.startswith("sparse"):
        raise TypeError(
            f"{name} has sparse blocks: skrif on Dask supports dense blocks only; "
            "densify them (X.map_blocks(lambda b: b.toarray())) or fit in memory."
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


def _as_rows(v, X, name, ndim=(1,)):
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


def _encode_block(yb, *, objective, model, q):
    return objective.encode_targets(np.asarray(yb), model).reshape(-1, q)


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


def _clear(est):
    for name in _FITTED:
        vars(est).pop(name, None)


# -- fit --------------------------------------------------------------------------------


def fit(est, X, y, sample_weight=None):
    """Fit ``est`` on dask arrays: distributed Newton on the wrapped estimator's objective.

    The wrapped estimator's solver, ``tol`` and ``max_iter`` are not used: skrif
    minimises the same objective (penalty, intercept, weights, ``C``/``alpha``
    scaling) by Newton's method to machine precision, one pass over ``X`` per
    iteration, and writes the result into a fitted clone. A FrozenEstimator is
    checked, polished (internally only) and attributed as in memory.
    """
    _clear(est)
    est._check_params()
    estimator = est._get_estimator()
    frozen = isinstance(estimator, FrozenEstimator)
    model = estimator.estimator if frozen else estimator
    objective_cls = objective_class_for(model)
    if type(model) not in SUPPORTED:
        raise UnsupportedModelError(
            f"skrif cannot fit {type(model).__name__} on Dask: the Dask engine supports "
            f"{_SUPPORTED_NAMES}. Fit in memory (NumPy or SciPy sparse X) for the other "
            "models."
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
    y = _as_rows(y, X, "y", ndim=(1,) if classifier or isinstance(model, PoissonRegressor) else (1, 2))
    if sample_weight is None:
        w = da.ones((n,), chunks=(X.chunks[0],))
    elif np.ndim(sample_weight) == 0 and not is_dask(sample_weight):
        w = da.full((n,), float(sample_weight), chunks=(X.chunks[0],))
    else:
        w = _as_rows(sample_weight, X, "sample_weight").astype(float)

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
    if isinstance(objective, MultinomialObjective):
        kind, q = "block", len(classes)
    else:
        kind = "mean" if objective.mean_form else "linear"
        q = 1 if classifier or y.ndim == 1 else y.shape[1]
    Y = y.map_blocks(
        _encode_block, objective=objective, model=fitted, q=q,
        chunks=(X.chunks[0], (q,)), dtype=float, new_axis=1 if y.ndim == 1 else None,
    )
    S = da.map_blocks(
        _weights_block, y if y.ndim == 1 else y[:, 0], w, objective=objective, model=fitted,
        chunks=(X.chunks[0], (1,)), dtype=float, new_axis=1,
    )
    spec = _blocks.Spec(objective, kind, p, q)
    design = DaskDesign(X, Y, S, spec)
    n_classes = 0 if not classifier else len(classes)

    # Pass 0: validation, column means (the centring shift), totals.
    sums = design._reduce(_blocks.check_block, p + 2 + max(n_classes, 1), spec=spec, n_classes=n_classes).compute()
    weight_total, counts = float(sums[p + 1]), sums[p + 2 :]
    if not weight_total > 0:
        raise ValueError("All sample weights are zero: there is nothing to fit.")
    if objective.fit_intercept and objective.penalty_intercept == 0:
        spec.shift = sums[:p] / n
    problem = DaskObjective(design, weight_total)

    n_polish_steps = 0
    if frozen:
        theta = to_centred(spec, objective.get_theta(model))
        state, gap, _ = problem.state(theta)
        optimality_gap = gap
        _warn_gap(est, gap)
        if est.polish and gap > _polish_tol():
            theta, n_steps, _, converged = problem.newton(theta)
            n_polish_steps = n_steps
            if not converged:
                warn_not_converged(n_steps, "polishing the fit")
            state, _, _ = problem.state(theta)
    else:
        _init_shapes(fitted, q, p, y.ndim, classifier)
        theta, n_iter, _, converged = problem.newton(problem.pilot())
        if not converged:
            warn_not_converged(n_iter, "the distributed fit")
        objective.set_theta(fitted, to_original(spec, theta))
        if isinstance(fitted, LogisticRegression):
            fitted.n_iter_ = np.array([n_iter], dtype=np.int32)
        elif isinstance(fitted, PoissonRegressor):
            fitted.n_iter_ = int(n_iter)
            fitted._base_loss = fitted._get_loss()
        elif isinstance(fitted, Ridge):
            fitted.n_iter_ = None
        fitted.n_features_in_ = p
        state, optimality_gap, _ = problem.state(theta)

    if state.factor.singular:
        warnings.warn(
            f"The Hessian of the objective is singular (rank {state.factor.rank} < "
            f"{spec.n_params * (q if kind == 'block' else 1)} parameters): the data do "
            "not determine every parameter. skrif uses its pseudo-inverse (minimum-norm "
            "changes); add a penalty for well-defined attributions.",
            SingularHessianWarning,
            stacklevel=3,
        )
    # Everything succeeded: only now does the estimator become fitted.
    shipped = _constant_state(state)
    quad = None
    if kind == "linear":
        # x̃_i H⁻¹ x̃_i for every row, computed once and kept on the workers (n
        # floats): leverages, self-influence, LOO and scores then need no solves.
        quad = design.per_row(_blocks.quad_block, state=shipped).persist()
    one_minus = design.per_row(_blocks.leverage_block, rows=quad, state=shipped)
    est.estimator_ = estimator if frozen else fitted
    est.n_features_in_ = p
    est.n_polish_steps_ = n_polish_steps
    est.optimality_gap_ = float(optimality_gap)
    est.hessian_rank_ = int(state.factor.rank)
    est.leverages_ = da.clip(1.0 - one_minus, 0.0, 1.0)
    est.rescale_factors_ = da.where(one_minus <= LEVERAGE_TOL, np.inf, 1.0 / da.maximum(one_minus, LEVERAGE_TOL))
    fit_state = DaskFit(design, problem, state, counts, classes)
    fit_state.shipped, fit_state.quad = shipped, quad
    est._dask_fit = fit_state
    return est


def _constant_state(state):
    from ._engine import constant

    return constant(state)


def _polish_tol():
    return POLISH_TOL


def _warn_gap(est, gap):
    if gap > WARN_TOL:
        action = (
            "the model is frozen, so its coefficients and predictions are kept and "
            "attributions are computed at the optimum skrif reached with Newton steps "
            "(polish=False computes them at the model's own coefficients). If this gap "
            "is large, check that you passed the data the model was trained on"
            if est.polish
            else "attributions are computed at these coefficients (polish=False)"
        )
        warnings.warn(
            f"The fitted {type(est._get_estimator().estimator).__name__} is {gap:.2g} "
            "(relative Newton step) away from the optimum of its own objective, as "
            f"large as a single row's effect; {action}. Fit the wrapped estimator "
            "with a tighter tolerance (e.g. tol=1e-10) to silence this warning.",
            OptimalityWarning,
            stacklevel=4,
        )


# -- helpers for the attribution methods -------------------------------------------------


def _fit_state(est):
    check_is_fitted(est)
    return est._dask_fit


def _target(est, name):
    fs = _fit_state(est)
    q = fs.spec.q
    objective = fs.spec.objective
    multi_output = q > 1 if objective.is_classifier else np.ndim(est.estimator_.coef_) == 2
    return make_target(name, objective, q, multi_output, probabilistic=hasattr(est.estimator_, "predict_proba"))


def eval_data(est, X, y, target):
    """Evaluation rows as NumPy (computed if dask): ``(X, Y)``, ``Y`` the encoded
    targets (``None`` when ``target`` needs none). The checks of the in-memory
    ``InfluenceEstimator._validate_eval``."""
    fs = _fit_state(est)
    if is_dask(X):
        X = check_dask_X(X, fs.spec.n_features).compute()
    Xe = check_array(X, dtype=np.float64, input_name="X")
    if Xe.shape[1] != fs.spec.n_features:
        raise ValueError(
            f"X has {Xe.shape[1]} features, but InfluenceEstimator is expecting "
            f"{fs.spec.n_features} features as input."
        )
    if target.needs_y and is_dask(y):
        y = y.compute()
    Ye = check_eval_targets(
        y, Xe.shape[0], target, fs.spec.objective, est.estimator_, fs.classes, fs.spec.q
    )
    if Ye is not None:
        Ye = Ye.reshape(Xe.shape[0], -1)
    return Xe, Ye


def _eval_rows(est, X, y, target):
    """Evaluation rows as NumPy (computed if dask): centred rows, encoded targets."""
    Xe, Ye = eval_data(est, X, y, target)
    return _blocks.augment(_fit_state(est).spec, Xe), Ye


def _check_removal(fs, B, Y, s):
    """Refuse removals the in-memory path refuses (no rows left, a class gone)."""
    pos = s > 0
    if fs.classes is None:
        Ysyn, kept = np.zeros((1, fs.spec.q)), np.array([fs.counts[0] - pos.sum()])
    elif len(fs.classes) == 2:
        ones = np.sum(pos & (Y[:, 0] == 1))
        Ysyn = np.array([[0.0], [1.0]])
        kept = np.array([fs.counts[0] - (pos.sum() - ones), fs.counts[1] - ones])
    else:
        Ysyn, kept = np.eye(len(fs.classes)), fs.counts - pos @ Y
    fs.spec.objective.check_removal(Ysyn, kept)


def _check_identified(fs, idx, rows):
    """Refuse a refit whose remaining rows leave a parameter undetermined (a column
    nonzero only in the removed rows, without a penalty), as in memory
    (:meth:`skrif._core.fitted.RemovalModel.check_identified`): the refit would return
    one arbitrary solution among many.

    Without a penalty on every coefficient the curvatures ``d_j`` are positive, so
    ``H_{−T}`` at θ̂ is singular exactly when the kept rows do not identify the
    model; that is the capacitance test of the group Newton step on the gathered
    rows, O(k p̃² + k³) on the client, no pass over ``X``. A model that was
    rank-deficient to begin with (served by a pseudo-inverse, warned at fit) is
    not refused again.
    """
    pen = fs.objective.penalty(0.0)
    coef = pen[:-1] if fs.spec.fit_intercept else pen
    if (coef.size and np.all(coef > 0)) or fs.state.factor.singular:
        return
    try:
        set_change(fs.state, *rows, "newton")
    except NotPositiveDefiniteError:
        raise NotPositiveDefiniteError(
            f"Removing these {len(idx)} rows leaves a model that is not identified: the "
            "remaining rows do not determine every parameter direction the full data "
            "determine (e.g. a column that is nonzero only in the removed rows). The "
            "refit has no unique answer; add a penalty, or remove fewer rows."
        ) from None


def _delta(est, idx, method, fraction=1.0, rows=None):
    """``Δθ`` in original coordinates (q, p̃) for removing (or reweighting) rows ``idx``.

    ``rows``: ``design.rows(idx)`` if the caller already gathered them (validation
    asks several methods about one set: the rows are read once).
    """
    fs = _fit_state(est)
    theta = fs.state.theta
    if idx.size == 0 or fraction == 0.0:
        return np.zeros_like(theta)
    if fraction != 1.0 and method != "refit":
        raise ValueError(
            f"On Dask, fraction != 1 (reweighting instead of removal) is available for "
            f"method='refit' only; got method={method!r} with fraction={fraction!r}."
        )
    B, Y, s = fs.design.rows(idx) if rows is None else rows
    if fraction == 1.0:
        _check_removal(fs, B, Y, s)
    if method == "refit":
        if fraction == 1.0:
            _check_identified(fs, idx, (B, Y, s))
        share = fraction * float(np.sum(fs.spec.objective.penalty_shares(s, s)))
        refit, n_iter, _, converged = fs.objective.newton(
            theta, removed=idx, removed_share=share if fs.spec.objective.mean_form else 0.0,
            scale=1.0 - fraction,
        )
        if not converged:
            warn_not_converged(n_iter, "the exact refit")
        delta = refit - theta
    else:
        delta, degenerate = set_change(fs.state, B, Y, s, method)
        if np.any(degenerate):
            warn_leverage_one(idx[degenerate], stacklevel=4)
    return to_original(fs.spec, delta)


def _removed(est, X_removed_idx):
    return check_removed_rows(X_removed_idx, _fit_state(est).design.n_samples)


# -- public methods ----------------------------------------------------------------------


def influence(est, X_removed_idx, *, method=None, as_frame=False, fraction=1.0):
    """Parameter change for removing rows: gathers only the removed rows."""

    fs = _fit_state(est)
    method = est._resolve_method(method)
    idx = _removed(est, X_removed_idx)
    fraction = check_fraction(fraction)
    as_frame = check_bool(as_frame, "as_frame")
    delta = _delta(est, idx, method, fraction)
    coef, intercept = fs.spec.objective.split_theta(delta, est.estimator_)
    change = ParameterChange(coef=coef, intercept=intercept, method=method, removed=idx)
    return change_as_frame(est, change) if as_frame else change


def _effect_block(Xb, Yb=None, *, spec, theta, delta, target, linearized):
    B = _blocks.augment(spec, Xb)
    Z = B @ theta.T
    dZ = B @ delta.T
    Y = None if Yb is None else np.asarray(Yb, dtype=float)
    J = target.derivative(Z, Y) if linearized else None
    return _attribution._apply(target, Z, dZ, Y, J, linearized)


def removal_effect(
    est, X_removed_idx, X, y=None, *, target="decision_function", method=None,
    linearized=False, fraction=1.0,
):
    """Change of the target on evaluation rows; lazy (dask) when ``X`` is a dask array."""

    fs = _fit_state(est)
    target = _target(est, target)
    method = est._resolve_method(method)
    linearized = check_bool(linearized, "linearized")
    idx = _removed(est, X_removed_idx)
    fraction = check_fraction(fraction)
    spec = fs.spec
    kwargs = dict(spec=spec, theta=fs.state.theta, target=target, linearized=linearized)
    if is_dask(X):
        Xd = check_dask_X(X, spec.n_features)
        if target.needs_y and y is None:
            raise ValueError(f"target={target.name!r} needs the evaluation targets y.")
        delta = to_centred_change(spec, _delta(est, idx, method, fraction))
        r = target.n_outputs
        if target.needs_y:
            yd = _as_rows(y, Xd, "y", ndim=(1, 2))
            q = spec.q
            Yd = yd.map_blocks(
                _encode_block, objective=spec.objective, model=est.estimator_, q=q,
                chunks=(Xd.chunks[0], (q,)), dtype=float, new_axis=1 if yd.ndim == 1 else None,
            )
            out = da.blockwise(
                _effect_block, "ir", Xd, "ij", Yd, "ik", new_axes={"r": r}, concatenate=True,
                dtype=float, meta=np.empty((0, 0)), delta=delta, **kwargs,
            )
        else:
            out = da.blockwise(
                _effect_block, "ir", Xd, "ij", new_axes={"r": r}, concatenate=True,
                dtype=float, meta=np.empty((0, 0)), delta=delta, **kwargs,
            )
        return target.finalize(out)
    B, Y = _eval_rows(est, X, y, target)
    delta = to_centred_change(spec, _delta(est, idx, method, fraction))
    Z, dZ = B @ fs.state.theta.T, B @ delta.T
    J = target.derivative(Z, Y) if linearized else None
    return target.finalize(_attribution._apply(target, Z, dZ, Y, J, linearized))


def to_centred_change(spec, delta):
    """A parameter change in original coordinates into centred ones (linear map)."""
    return to_centred(spec, delta)


def self_influence(est, *, target="loss", method=None, linearized=False):
    """Lazy self-influence of every training row, chunked like ``X``."""

    fs = _fit_state(est)
    target = _target(est, target)
    method = est._additive_method(method, "self_influence")
    values = fs.design.per_row(
        _blocks.self_block, (target.n_outputs,), rows=fs.quad, state=fs.shipped, method=method,
        target=target, linearized=check_bool(linearized, "linearized"), loo=False,
    )
    return target.finalize(values)


def loo_predict(est, *, target="decision_function", method=None):
    """Lazy approximate leave-one-out values of ``target`` for every training row."""
    fs = _fit_state(est)
    target = _target(est, target)
    method = est._additive_method(method, "loo_predict")
    values = fs.design.per_row(
        _blocks.self_block, (target.n_outputs,), rows=fs.quad, state=fs.shipped, method=method,
        target=target, linearized=False, loo=True,
    )
    return target.finalize(values)


def loo_score(est, *, method=None):
    """Leave-one-out accuracy (classifiers) or R² (regressors), computed on the cluster."""
    fs = _fit_state(est)
    classifier = fs.spec.objective.is_classifier
    loo = est.loo_predict(target="decision_function" if classifier else "predict", method=method)
    loo2 = loo.reshape(loo.shape[0], -1)
    Y = fs.design.Y
    if classifier:
        pred = (loo2[:, 0] > 0).astype(int) if fs.spec.q == 1 else da.argmax(loo2, axis=1)
        true = (Y[:, 0] > 0).astype(int) if fs.spec.q == 1 else da.argmax(Y, axis=1)
        bad, score = dask.compute(da.isnan(loo2).any(), (pred == true).mean())
    else:
        resid = ((Y - loo2) ** 2).sum(axis=0)
        total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        bad, resid, total = dask.compute(da.isnan(loo2).any(), resid, total)
        score = np.mean(1.0 - resid / total)
    if bad:
        raise ValueError(
            "Some leave-one-out predictions are undefined (rows with leverage 1); "
            "use method='if' or add a penalty."
        )
    return float(score)


def influence_scores(est, X, y=None, *, target="decision_function", method=None):
    """Lazy (n_train, n_eval[, r]) matrix of single-row linearized effects, chunked like X."""
    fs = _fit_state(est)
    target = _target(est, target)
    method = est._additive_method(method, "influence_scores")
    B_eval, Y_eval = _eval_rows(est, X, y, target)
    theta = fs.state.theta
    Z_eval = B_eval @ theta.T
    J = np.ascontiguousarray(target.derivative(Z_eval, Y_eval))
    S_eval = fs.state.factor.solve(B_eval.T) if fs.spec.kind == "linear" else None
    from ._engine import constant

    scores = fs.design.per_row(
        _blocks.scores_block, (B_eval.shape[0], target.n_outputs), rows=fs.quad, state=fs.shipped,
        method=method, target=target, Z_eval=None, Y_eval=None, J=constant(J),
        S_eval=constant(S_eval) if S_eval is not None else None, B_eval=constant(B_eval),
    )
    return target.finalize(scores)


def _additive_scores(est, B_eval, Y_eval, target, method, output):
    fs = _fit_state(est)
    Z_eval = B_eval @ fs.state.theta.T
    J = target.derivative(Z_eval, Y_eval)[:, output, :]
    G = B_eval.T @ np.ascontiguousarray(J)  # (p̃, q)
    u = solve_theta(fs.state, G) if fs.spec.kind == "linear" else None
    return fs.design.per_row(
        _blocks.additive_block, (), with_start=True, rows=fs.quad, state=fs.shipped, method=method, G=G, u=u,
    )


def most_influential(
    est, X, y=None, *, k, target="loss", direction="increase", method=None, output=None,
    verify=False,
):
    """Top-k rows by additive effect: blockwise candidates, merged on the client."""

    fs = _fit_state(est)
    target = _target(est, target)
    method = est._additive_method(method, "most_influential")
    k = _attribution.check_k(k, fs.design.n_samples)
    direction = _attribution.check_direction(direction)
    output = _attribution.check_output(target, output)
    verify = check_bool(verify, "verify")
    B_eval, Y_eval = _eval_rows(est, X, y, target)
    scores = _additive_scores(est, B_eval, Y_eval, target, method, output)
    candidates = da.blockwise(
        _blocks.topk_block, "iz", scores, "i", fs.design.starts, "i", new_axes={"z": 2},
        adjust_chunks={"i": lambda c: min(c, k)}, concatenate=True, dtype=float, meta=np.empty((0, 0)),
        k=k, direction=direction,
    ).compute()
    order = np.lexsort((candidates[:, 1], candidates[:, 0]))[:k]
    rows = candidates[order, 1].astype(np.intp)
    if not verify:
        return rows
    keys = candidates[order, 0]
    sign = -1.0 if direction == "increase" else 1.0
    predicted = float(np.sum(np.where(np.isinf(keys), np.nan, sign * keys)))
    delta = to_centred_change(fs.spec, _delta(est, np.sort(rows), "refit"))
    Z = B_eval @ fs.state.theta.T
    actual = target.value(Z + B_eval @ delta.T, Y_eval) - target.value(Z, Y_eval)
    return rows, predicted, float(np.sum(actual[:, output]))


def removal_to_flip(est, *args, **kwargs):
    raise NotImplementedError(
        "removal_to_flip is not available for models fitted on Dask yet; fit in memory "
        "(e.g. on a sample or on X.compute()) to audit a conclusion."
    )


# -- predictions on dask input -------------------------------------------------------------


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
