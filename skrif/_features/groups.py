"""Whole groups of training rows as removal units: a category, a site, a user, a day.

A group is removed as a set, so its effect is a *set* effect: the additive methods
(IF, RIF) sum its rows' single-row effects and miss how they interact, which is
exactly what goes wrong for a group (its rows share the group's level, cluster or
source: their joint leverage is large although each row's is small). Per-group
answers are therefore exact or set steps by default (``method=None`` or
``"auto"``): for least squares the group Newton step, which is exact; for other
losses the exact refit where it costs at most a few group steps (few large groups),
else the group step (:func:`skrif._core.group_step.group_method_by_cost`).

Cost per group of ``k`` rows: the group step by the cheaper of Woodbury
(O(k p̃² + k³) primal, O(k n² + k³) dual) and the kept rows' Hessian (O(n p̃² + p̃³),
primal), or a refit (a few O(n p̃² + p̃³) factorizations); plus O(G p̃ m) for ``G``
groups and ``m`` evaluation rows. Never an n × n or G × n matrix, nor a k × k one
where the p̃ × p̃ form is cheaper.
"""


import numpy as np

from .._core.group_step import group_method_by_cost
from .._removal.methods import METHODS
from .._utils.groups import check_groups, codes_of_labels
from .._utils.warn import warn
from ..exceptions import SetInteractionWarning

#: Methods a per-group answer can use: the method table's, and "auto" (by cost, see
#: :func:`group_changes`).
GROUP_METHODS = ("auto", *METHODS)


def training_groups(groups, n_samples, training_index=None):
    """Validated :class:`~skrif._utils.groups.Groups` of the training rows (the one groups
    mechanism of skrif, shared with the robustness audit); a pandas Series is aligned
    to ``training_index`` by its index."""
    return check_groups(groups, n_samples, training_index=training_index)


def rows_of_labels(groups, selected):
    """Training rows of the groups named by ``selected`` (one label or a list),
    matched exactly (:func:`skrif._utils.groups.codes_of_labels`)."""
    codes = codes_of_labels(groups, selected)
    if codes.size == 0:
        return np.zeros(0, dtype=np.intp)
    return groups.rows(codes)


def group_method(method, groups=None):
    """Method of a per-group answer: ``None`` means ``"auto"`` (exact, or the group
    step where refits would cost far more)."""
    if method is None:
        return "auto"
    if method not in GROUP_METHODS:
        raise ValueError(
            f"Per-group answers use method in {GROUP_METHODS} (or None: 'auto', exact "
            f"for least squares, refits where they are cheap); got {method!r}."
        )
    return method


def group_changes(rm, groups, method):
    """Parameter changes of removing each group on its own.

    Returns ``(changes, used)``: ``changes`` (n_groups, q, p̃), ``used`` a dict of
    how many groups each method answered (``"auto"`` chooses per group by
    :func:`skrif._core.group_step.group_method_by_cost`). Groups whose removal
    leaves the model undetermined (or without a class) get NaN, with a
    :class:`~skrif.exceptions.SetInteractionWarning` naming them.
    """
    rm.prefetch(groups.members, method)
    out, undetermined, used = [], [], {}
    for g, rows in enumerate(groups.members):
        how = group_method_by_cost(rm, rows.size) if method == "auto" else method
        used[how] = used.get(how, 0) + 1
        try:
            out.append(rm.parameter_change(rows, how))
        except (np.linalg.LinAlgError, ValueError):
            # The rows left cannot be fitted (a whole class removed) or do not
            # determine every parameter (the group step's Hessian is not PD).
            undetermined.append(groups.labels[g])
            out.append(None)
    like = next((d for d in out if d is not None), None)
    if like is None:
        raise ValueError(
            "No group can be removed on its own: removing any one of them leaves a "
            "model that is not determined (or not defined)."
        )
    out = np.stack([np.full_like(like, np.nan) if d is None else d for d in out])
    if undetermined:
        warn(
            f"Removing group(s) {list(undetermined)[:10]} on its own leaves a model that "
            "is not determined (or not defined, e.g. a whole class): their effects are NaN.",
            SetInteractionWarning,
        )
    return out, used


def describe_methods(used):
    """``"5 by the group Newton step (exact for least squares), 2 by exact refits"``."""
    names = {"newton": "the group Newton step", "refit": "exact refits", "rif": "RIF sums",
             "if": "IF sums"}
    return ", ".join(f"{count} by {names.get(m, m)}" for m, count in used.items())


# Floats per temporary block (groups × evaluation rows × outputs): 8 MB.
_BLOCK_FLOATS = 1 << 20


def _apply(target, Z, dZ, Y, J, linearized):
    if linearized:
        return np.einsum("...mq,mrq->...mr", dZ, J)
    return target.value(Z + dZ, Y) - target.value(Z, Y)


def group_scores(changes, design_eval, theta, target, Y_eval, linearized=True):
    """Effect of removing each group on each evaluation row: (n_groups, m, r).

    ``changes`` are the groups' parameter changes (n_groups, q, p̃). Blocks of
    groups keep temporaries at O(block · m · q); cost O(n_groups p̃ m q).
    """
    G, q, _ = changes.shape
    m = design_eval.n_samples
    Z = design_eval.matvec(theta.T)
    J = target.derivative(Z, Y_eval) if linearized else None
    out = np.empty((G, m, target.n_outputs))
    block = max(1, _BLOCK_FLOATS // max(m * max(q, target.n_outputs), 1))
    for start in range(0, G, block):
        sl = slice(start, min(start + block, G))
        D = changes[sl]
        c = D.shape[0]
        dZ = design_eval.matvec(D.reshape(c * q, -1).T).reshape(m, c, q).transpose(1, 0, 2)
        out[sl] = _apply(target, Z, dZ, Y_eval, J, linearized)
    return out


def own_rows_change(changes, design, codes):
    """Each row's linear predictor moved by removing its own group: (n, q).

    Row ``i`` (of ``design``) in group ``codes[i]`` gets ``x̃_i·Δ_{codes[i]}``:
    O(nnz(X) q + n log n) in total.
    """
    codes = np.asarray(codes)
    dZ = np.empty((design.n_samples, changes.shape[1]))
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for rows in np.split(order, bounds):
        if rows.size:
            dZ[rows] = design.rows_matvec(rows, changes[codes[rows[0]]].T)
    return dZ


def own_group_values(rm, changes, target, linearized, codes):
    """Per training row (of ``rm``): its target after removing its own group
    (``linearized=None``), or the change of its target (``False``: at the changed
    parameters; ``True``: first order). Shape (n, r); NaN for undefined groups."""
    Z = rm.linear_predictor()
    dZ = own_rows_change(changes, rm.design, codes)
    Y = rm.Y if target.needs_y else None
    with np.errstate(invalid="ignore"):
        if linearized is None:
            return target.value(Z + dZ, Y)
        if linearized:
            return np.einsum("mq,mrq->mr", dZ, target.derivative(Z, Y))
        return target.value(Z + dZ, Y) - target.value(Z, Y)


def fold_splits(cv, X, y, groups):
    """``(train, test)`` index pairs of ``cv`` (an int or a scikit-learn splitter).

    An int gives ``GroupKFold(cv)`` when ``groups`` are given, else ``KFold(cv)``.
    """
    import numbers

    from sklearn.model_selection import GroupKFold, KFold

    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds; got {cv}.")
        cv = GroupKFold(n_splits=cv) if groups is not None else KFold(n_splits=cv)
    splits = list(cv.split(X, y, groups))
    n = X.shape[0]
    seen = np.zeros(n, dtype=int)
    for _, test in splits:
        seen[test] += 1
    if np.any(seen != 1):
        raise ValueError(
            "cv must put every training row in exactly one test fold (a partition, like "
            f"KFold or GroupKFold); {int(np.sum(seen != 1))} rows are not."
        )
    return splits
