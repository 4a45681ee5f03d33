"""InfluenceEstimator(pipeline, preprocessing="refit"): the public methods in
whole-pipeline semantics.

Each function mirrors the method of the same name (same parameters, validation and
sign convention), answering through :class:`~skrif._preprocess.removal.PipelineRemoval`:
removing rows removes them from every step's fit. Methods that describe the final
model given its features (regression diagnostics, conformal intervals, the AMIP
audit) are refused with the way out (``preprocessing="fixed"``).
"""

import numpy as np

from .._core.influence import ParameterChange, check_fraction
from .._core.set_error import SetAlgebra, answer_set
from .._features import attribution as _attribution
from .._features.audit import true_classes
from .._features.groups import fold_splits, group_method
from .._features.influential import InfluentialRows
from .._utils.checks import check_bool
from .._utils.frames import change_as_frame

#: Methods answered here for a pipeline fitted with preprocessing="refit".
ROUTED = (
    "influence", "removal_effect", "influence_scores", "self_influence", "most_influential",
    "loo_predict", "cv_predict",
)
#: Methods that keep the final model's own semantics: refused under "refit".
REFUSED = (
    "diagnostics", "predict_interval", "predict_set", "removal_to_flip", "amip_summary",
    "functional_influence", "functional_effect",
)


def routes(est, name):
    """Whether ``est.<name>`` is answered here (or refused): the estimator wraps a
    pipeline whose preprocessing is refitted with the rows."""
    return (name in ROUTED or name in REFUSED) and getattr(est, "_pipeline_removal", None) is not None


def call(est, name, args, kwargs):
    """Answer ``est.<name>(*args, **kwargs)`` in whole-pipeline semantics."""
    if name in REFUSED:
        refuse(name)
    return globals()[name](est, *args, **kwargs)


def refuse(name):
    raise ValueError(
        f"{name} is defined on the final model given the features it was fitted on; for a "
        "Pipeline it is available with preprocessing='fixed' (the final model with "
        "the preprocessing held fixed), not with preprocessing='refit' (the whole "
        "pipeline refitted without the rows)."
    )


def _state(est):
    est._fitted_removal()
    return est._pipeline_removal


def _method(est, method, idx=None, allow_auto=True):
    """The canonical method; ``"auto"`` is the group Newton step (a single row's
    preprocessing moves too, so RIF is not the one-row Newton step here)."""
    method = est._resolve_method(method, allow_auto=allow_auto)
    if method == "auto" and idx is not None:
        return "newton"
    return method


def _no_fraction(fraction):
    fraction = check_fraction(fraction)
    if fraction != 1.0:
        raise ValueError(
            "fraction reweights rows in the final model, but the preprocessing of a "
            "pipeline is fitted without weights, so a partial removal has no "
            "whole-pipeline meaning: use fraction=1.0, or preprocessing='fixed'."
        )


def _answer(est, idx, method, measure=None, what="parameter change"):
    pr = _state(est)
    leverages = np.asarray(est.leverages_)
    # Answers are the pipeline's (parameters and features move together): the
    # estimate compares them on ``measure`` (by default the parameter change), with
    # the group step as the reference (no second step through the preprocessing).
    algebra = SetAlgebra(
        change=pr.answer, second_step=None, hessian_norms=None,
        joint_leverage=lambda rows: np.nan,
        max_leverage=lambda rows: float(np.max(leverages[rows])),
    )
    # The parameters as one vector (their units move with the preprocessing; the
    # Hessian metric of the final model is not theirs).
    measure = (lambda a: np.ravel(a.parameter_change())) if measure is None else measure
    return answer_set(algebra, idx, method, measure=measure, what=what)


def _eval(est, X, y, target):
    """Validated evaluation rows as :class:`EvalRows`, and their encoded targets."""
    Z, Y = est._validate_eval(X, y, target)
    return _state(est).eval_rows(X, Z), Y


# -- attribution ----------------------------------------------------------------------
def influence(est, X_removed_idx, *, method=None, as_frame=False, fraction=1.0, groups=None):
    pr = _state(est)
    idx = est._set_rows(X_removed_idx, groups)
    method = _method(est, method, idx)
    _no_fraction(fraction)
    as_frame = check_bool(as_frame, "as_frame")
    answer, used, error = _answer(est, idx, method)
    delta = answer.parameter_change()
    coef, intercept = pr.rm.objective.split_theta(delta, est._attributed.holder)
    change = ParameterChange(coef=coef, intercept=intercept, method=used, removed=idx,
                             error_estimate=error, **pr.rm.objective.split_extra(delta))
    return change_as_frame(est, change) if as_frame else change


def removal_effect(
    est, X_removed_idx, X, y=None, *, target="decision_function", method=None,
    linearized=False, fraction=1.0, groups=None, as_frame=False,
):
    target = est._target(target)
    as_frame = check_bool(as_frame, "as_frame")
    ev, Y = _eval(est, X, y, target)
    idx = est._set_rows(X_removed_idx, groups)
    method = _method(est, method, idx)
    _no_fraction(fraction)
    linearized = check_bool(linearized, "linearized")
    Z = ev.base
    J = target.derivative(Z, Y) if linearized else None

    def effect_of(answer):
        return _attribution._apply(target, Z, answer.predictor_change(ev), Y, J, linearized)

    answer, _, _ = _answer(est, idx, method, effect_of, "effect")
    return est._rows_output(target.finalize(effect_of(answer)), target.name, as_frame, X=X)


def _row_changes(est, ev, method):
    """Per-row linear predictor changes (n, m, q) of evaluation rows ``ev``."""
    return _state(est).row_predictor_changes(ev, method)


#: Floats of one block of per-row effects (training rows × evaluation rows × outputs).
_EFFECT_BLOCK_FLOATS = 1 << 22


def effect_blocks(est, X, y, target, method):
    """Yield ``(training rows, effects (b, m, r))``: the change of ``target`` on each
    evaluation row when each training row alone is removed from the whole pipeline,
    evaluated at the row's predicted model (``F(z + δz_i) − F(z)``, not linearized;
    with RIF the exact leave-one-out change for least squares behind affine steps).

    ``method`` is ``"rif"`` or ``"if"``. Blocks of training rows keep the temporary
    memory at O(2²² + m p̃); time O(n m p̃) beyond the per-row steps.
    """
    pr = _state(est)
    ev, Y = _eval(est, X, y, target)
    pr.check_method(method)
    n, m, q = pr.n_samples, ev.n_samples, pr.rm.n_outputs
    step = max(1, min(n, _EFFECT_BLOCK_FLOATS // max(1, m * max(q, target.n_outputs))))
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        dZ = pr.row_predictor_changes(ev, method, rows=rows)
        yield rows, _attribution._apply(target, ev.base, dZ, Y, None, False)


def total_effects(est, X, y, target, method):
    """``Σ_j [F_j(z_j + δz_ij) − F_j(z_j)]`` over evaluation rows ``X`` (raw) for each
    training row ``i`` removed alone from the whole pipeline: shape (n, r). The
    whole-pipeline counterpart of :func:`skrif._features.attribution.total_effects`."""
    out = np.zeros((_state(est).n_samples, target.n_outputs))
    for rows, values in effect_blocks(est, X, y, target, method):
        out[rows] = values.sum(axis=1)
    return out


def _group_answers(est, groups, method):
    """One :class:`Answer` per group (in label order) and the groups."""
    pr = _state(est)
    groups = est._groups(groups)
    method = group_method(method, groups)
    if method == "auto":
        method = "newton"
    return [pr.answer(groups.rows(g), method) for g in range(groups.n_groups)], groups


def influence_scores(est, X, y=None, *, target="decision_function", method=None, groups=None,
                     as_frame=False):
    target = est._target(target)
    as_frame = check_bool(as_frame, "as_frame")
    index = None
    if groups is not None:
        ev, Y = _eval(est, X, y, target)
        answers, group_labels = _group_answers(est, groups, method)
        index = group_labels.labels
        dZ = np.stack([a.predictor_change(ev) for a in answers])
    else:
        method = est._additive_method(method, "influence_scores")
        ev, Y = _eval(est, X, y, target)
        _state(est).check_method(method)
        dZ = _row_changes(est, ev, method)
    J = target.derivative(ev.base, Y)
    scores = _attribution._apply(target, ev.base, dZ, Y, J, True)
    if groups is None:
        scores = est._nan_undefined_removals(scores)
    scores = target.finalize(scores)
    if not as_frame:
        return scores
    from .._utils.frames import row_labels

    return est._rows_output(scores, target.name, True, index=index,
                            columns=row_labels(X, scores.shape[1]))


def _training_eval(est):
    """The training rows as evaluation rows (their base features and encoded targets)."""
    pr = _state(est)
    return pr.eval_rows(pr.X, pr.rm.design.X), pr.rm.problem.Y


def _own_group_changes(est, groups, method):
    """Each group's own rows' linear predictor change when the group goes (n, q)."""
    pr = _state(est)
    answers, groups = _group_answers(est, groups, method)
    from .._preprocess.sets import rows_of

    dZ = np.empty((pr.n_samples, pr.rm.n_outputs))
    for g, answer in enumerate(answers):
        rows = groups.rows(g)
        sub = pr.eval_rows(rows_of(pr.X, rows), pr.rm.design.X[rows])
        dZ[rows] = answer.predictor_change(sub)
    return dZ, groups


def _own_changes(est, groups, method, name):
    """``(dZ (n, q), groups)``: each training row's own linear predictor change when
    its group goes (``groups``) or it goes alone (``method``, additive; ``groups``
    then ``None``)."""
    if groups is not None:
        return _own_group_changes(est, groups, method)
    method = est._additive_method(method, name)
    pr = _state(est)
    pr.check_method(method)
    return pr.own_predictor_changes(method), None


def self_influence(est, *, target="loss", method=None, linearized=False, groups=None,
                   as_frame=False):
    target = est._target(target)
    as_frame = check_bool(as_frame, "as_frame")
    linearized = check_bool(linearized, "linearized")
    pr = _state(est)
    Z = pr.rm.linear_predictor()
    Y = pr.rm.problem.Y if target.needs_y else None
    dZ, groups = _own_changes(est, groups, method, "self_influence")
    J = target.derivative(Z, Y) if linearized else None
    with np.errstate(invalid="ignore"):
        values = _attribution._apply(target, Z, dZ, Y, J, linearized)
    if groups is None:
        values = target.finalize(est._nan_undefined_removals(values))
        return est._rows_output(values, target.name, as_frame)
    totals = np.zeros((groups.n_groups, values.shape[1]))
    np.add.at(totals, groups.codes, values)
    return est._rows_output(target.finalize(totals), target.name, as_frame, index=groups.labels)


def most_influential(
    est, X, y=None, *, k, target=None, direction="increase", method=None, output=None,
    verify=False, groups=None, functional=None, as_frame=False,
):
    if functional is not None:
        refuse("most_influential(functional=...)")
    target = est._target("loss" if target is None else target)
    direction = _attribution.check_direction(direction)
    output = _attribution.check_output(target, output)
    verify = check_bool(verify, "verify")
    ev, Y = _eval(est, X, y, target)
    J = target.derivative(ev.base, Y)
    if groups is not None:
        answers, groups = _group_answers(est, groups, method)
        dZ = np.stack([a.predictor_change(ev) for a in answers])
        k = _attribution.check_k(k, groups.n_groups)
    else:
        method = est._additive_method(method, "most_influential")
        _state(est).check_method(method)
        k = _attribution.check_k(k, _state(est).n_samples)
        dZ = _row_changes(est, ev, method)
    scores = _attribution._apply(target, ev.base, dZ, Y, J, True)[:, :, output].sum(axis=1)
    best = _attribution.top_k(scores, k, direction)
    rows = best if groups is None else groups.rows(np.sort(best))
    predicted = float(np.sum(scores[best]))
    actual = None
    if verify:
        refit = _state(est).answer(np.sort(rows), "refit")
        effect = _attribution._apply(target, ev.base, refit.predictor_change(ev), Y, None, False)
        actual = float(np.sum(effect[:, output]))
    result = InfluentialRows(rows, predicted, actual)
    if groups is not None:
        result.groups = groups.labels[best]
    return est._with_labels(result, check_bool(as_frame, "as_frame"))


# -- audit and model selection ------------------------------------------------------
def loo_predict(est, *, target="predict", method=None, groups=None, as_frame=False, verbose=0):
    name = target
    target, labels_out = est._row_target(target)
    as_frame = check_bool(as_frame, "as_frame")
    pr = _state(est)
    Z = pr.rm.linear_predictor()
    Y = pr.rm.problem.Y if target.needs_y else None
    dZ, _ = _own_changes(est, groups, method, "loo_predict")
    if groups is not None:
        with np.errstate(invalid="ignore"):
            values = target.finalize(target.value(Z + dZ, Y))
    else:
        values = target.finalize(est._nan_undefined_removals(target.value(Z + dZ, Y)))
    if labels_out:
        values = est._class_labels(values)
    return est._rows_output(values, name, as_frame)


def cv_predict(est, *, cv=5, groups=None, target="predict", method="auto", as_frame=False,
               verbose=0):
    from .._preprocess.sets import rows_of
    from .._removal.methods import METHODS

    name = target
    target, labels_out = est._row_target(target)
    as_frame = check_bool(as_frame, "as_frame")
    if method == "auto":  # the group step through the preprocessing (no cost model here)
        method = "newton"
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    pr = _state(est)
    problem = pr.rm.problem
    labels = problem.Y
    if problem.objective.is_classifier:
        labels = est.classes_[true_classes(problem.Y)]
    if groups is not None:
        groups = est._groups(groups).codes
    splits = fold_splits(cv, problem.design.X, labels, groups)
    Z = pr.rm.linear_predictor()
    dZ = np.empty_like(Z)
    for _, test in splits:
        test = np.sort(test)
        answer = pr.answer(test, method)
        dZ[test] = answer.predictor_change(pr.eval_rows(rows_of(pr.X, test), problem.design.X[test]))
    Y = problem.Y if target.needs_y else None
    values = target.finalize(target.value(Z + dZ, Y))
    if labels_out:
        values = est._class_labels(values)
    return est._rows_output(values, name, as_frame)


