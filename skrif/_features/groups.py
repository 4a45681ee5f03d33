"""Whole groups of training rows as removal units: a category, a site, a user, a day.

A group is removed as a set, so its effect is a *set* effect: the additive methods
(IF, RIF) sum its rows' single-row effects and miss how they interact, which is
exactly what goes wrong for a group (its rows share the group's level, cluster or
source: their joint leverage is large although each row's is small). Per-group
answers therefore use the **group Newton step** by default — a Woodbury update of
the factored Hessian per group, exact for least squares — and fall back to the
additive sum (saying so) only for groups too large for its k × k system.

Cost for groups of sizes ``k_g``: Σ_g O(k_g p̃² + k_g³) in the primal form
(O(k_g n² + k_g³) in the dual form), plus O(G p̃ m) for ``G`` groups and ``m``
evaluation rows; never an n × n or G × n matrix.
"""

import warnings

import numpy as np

from .._core.set_error import MAX_ESTIMATE_ROWS
from .._removal.methods import PREDICTED_METHODS
from .._utils.groups import check_groups
from ..exceptions import SetInteractionWarning

#: Methods a per-group answer can use.
#: Per-group answers: the predicted methods of the table (a refit per group is
#: ``method="refit"`` of the set queries).
GROUP_METHODS = PREDICTED_METHODS


def training_groups(groups, n_samples):
    """Validated :class:`~skrif._utils.groups.Groups` of the training rows (the one groups
    mechanism of skrif, shared with the robustness audit)."""
    return check_groups(groups, n_samples)


def rows_of_labels(groups, selected):
    """Training rows of the groups named by ``selected`` (one label or a list)."""
    labels = groups.labels
    selected = np.atleast_1d(np.asarray(selected, dtype=labels.dtype if labels.dtype != object else object))
    if selected.ndim != 1:
        raise ValueError("Pass the labels of the groups to remove as a 1-D list.")
    if selected.size == 0:
        return np.zeros(0, dtype=np.intp)
    pos = np.clip(np.searchsorted(labels, selected), 0, labels.size - 1)
    unknown = selected[labels[pos] != selected]
    if unknown.size:
        raise ValueError(
            f"Unknown group labels {unknown[:10].tolist()}; the groups are "
            f"{labels[:10].tolist()}{' ...' if labels.size > 10 else ''}."
        )
    if np.unique(pos).size != pos.size:
        raise ValueError("The group labels to remove list some group more than once.")
    return groups.rows(pos)


def group_method(method, groups):
    """Method of a per-group answer: ``None`` means the group Newton step."""
    if method is None:
        return "newton"
    if method not in GROUP_METHODS:
        raise ValueError(
            f"Per-group answers use method in {GROUP_METHODS} (or None: the group "
            f"Newton step, exact for least squares); got {method!r}."
        )
    return method


def group_changes(parameter_change, groups, method, stacklevel=2):
    """Parameter change (q, p̃) of removing each group: shape (n_groups, q, p̃).

    ``parameter_change(rows, method)`` is the fitted model's removal answer. Groups
    larger than :data:`~skrif._core.set_error.MAX_ESTIMATE_ROWS` get the additive RIF
    (with a :class:`~skrif.exceptions.SetInteractionWarning` naming them); groups
    whose removal leaves the model undetermined get NaN (with the same warning).
    """
    out, too_large, undetermined = [], [], []
    for g, rows in enumerate(groups.members):
        use = method
        if method == "newton" and rows.size > MAX_ESTIMATE_ROWS:
            use = "rif"
            too_large.append(groups.labels[g])
        try:
            out.append(parameter_change(rows, use))
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
    if too_large:
        warnings.warn(
            f"Groups {list(too_large)[:10]} have more than {MAX_ESTIMATE_ROWS} rows: their "
            "effect is the additive RIF sum (the group Newton step's k × k system is "
            "too large); use method='refit' on them for the exact answer.",
            SetInteractionWarning,
            stacklevel=stacklevel + 1,
        )
    if undetermined:
        warnings.warn(
            f"Removing group(s) {list(undetermined)[:10]} on its own leaves a model that "
            "is not determined (or not defined, e.g. a whole class): their effects are NaN.",
            SetInteractionWarning,
            stacklevel=stacklevel + 1,
        )
    return out


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


def own_rows_change(changes, design, theta, groups):
    """Each training row's linear predictor moved by removing its own group: (n, q).

    Row ``i`` of group ``g`` gets ``x̃_i·Δ_g``: O(nnz(X) q) in total.
    """
    n = design.n_samples
    dZ = np.empty((n, theta.shape[0]))
    for g, rows in enumerate(groups.members):
        dZ[rows] = design.rows_matvec(rows, changes[g].T)
    return dZ


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
