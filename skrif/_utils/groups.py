"""Group labels of training rows: validation and the rows of every group.

Several questions are asked about *groups* of training rows rather than single rows:
removing a whole cluster (a household, a village, a patient's visits), or clustering
standard errors by those labels. This module turns a user's label array into
integer codes and the row indices of each group, once, with the checks every such
feature needs. It is shared by the robustness audit
(:meth:`~skrif.InfluenceEstimator.removal_to_flip` with ``groups=``) and meant for
any other group-level API.

Example
-------
>>> import numpy as np
>>> from skrif._utils.groups import check_groups
>>> g = check_groups(["b", "a", "b", "c"], 4)
>>> g.labels.tolist(), g.codes.tolist(), g.n_groups
(['a', 'b', 'c'], [1, 0, 1, 2], 3)
>>> [m.tolist() for m in g.members]
[[1], [0, 2], [3]]
>>> g.rows([0, 2]).tolist()
[1, 3]
"""

from dataclasses import dataclass

import numpy as np

from .frames import align_to_training_rows


@dataclass(frozen=True)
class Groups:
    """Validated group labels of ``n_samples`` rows.

    Attributes
    ----------
    labels : ndarray of shape (n_groups,)
        The distinct labels, in sorted order (``numpy.unique``); group ``g`` is
        ``labels[g]``.
    codes : ndarray of int of shape (n_samples,)
        The group of every row (an index into ``labels``).
    members : tuple of ndarray of int
        Row indices of each group, ascending; ``members[g]`` has the rows of group
        ``g``.
    """

    labels: np.ndarray
    codes: np.ndarray
    members: tuple

    @property
    def n_groups(self):
        return len(self.members)

    @property
    def n_samples(self):
        return self.codes.shape[0]

    @property
    def sizes(self):
        """Number of rows in each group, shape (n_groups,)."""
        return np.bincount(self.codes, minlength=self.n_groups)

    def rows(self, groups):
        """Row indices (ascending) of the union of ``groups`` (group codes)."""
        groups = np.asarray(groups, dtype=np.intp).ravel()
        if groups.size == 0:
            return np.empty(0, dtype=np.intp)
        return np.sort(np.concatenate([self.members[g] for g in groups]))

    def label(self, g):
        """The user's label of group code ``g`` (a Python scalar where possible)."""
        value = self.labels[g]
        return value.item() if isinstance(value, np.generic) else value


def _is_missing(values):
    """Mask of None / NaN / pandas NA entries in a 1-D array of any dtype."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind in "iub":
        return np.zeros(values.shape, dtype=bool)
    if values.dtype.kind == "M" or values.dtype.kind == "m":
        return np.isnat(values)
    out = np.zeros(values.shape, dtype=bool)
    for i, v in enumerate(values):
        # None, float NaN, and pandas' NA/NaT (which compare unequal to themselves or
        # raise on comparison) are all missing.
        if v is None:
            out[i] = True
            continue
        try:
            out[i] = bool(v != v)
        except (TypeError, ValueError):
            out[i] = True
    return out


def check_groups(
    groups, n_samples, *, classes=None, removable=True, name="groups", training_index=None
):
    """Validate group labels of ``n_samples`` training rows.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        One label per training row (numbers or strings). Rows with equal labels
        form a group. A pandas Series is aligned by its index to
        ``training_index`` (or must be indexed ``0..n-1`` when that is ``None``).
    n_samples : int
        Number of training rows.
    classes : array-like of shape (n_samples,), default=None
        Class of every row for a classifier. With ``removable=True``, a group holding
        every row of one class is refused: removing it leaves a model without that
        class.
    removable : bool, default=True
        Whether groups will be removed. Then no group may hold every row (removing
        it leaves nothing to fit); otherwise at least two groups are still required
        (a single cluster has no between-cluster variation).
    name : str, default="groups"
        The parameter name used in error messages.
    training_index : pandas.Index, default=None
        Row labels of the training data (``training_index_``), to align a Series.

    Returns
    -------
    groups : Groups

    Raises
    ------
    ValueError
        Wrong length, not one-dimensional, missing labels (None/NaN), unsortable
        labels, a single group, or (``classes`` given) a group that is a whole class.

    Notes
    -----
    O(n log n) time (a sort), O(n) memory.
    """
    groups = align_to_training_rows(groups, training_index, n_samples, name)
    if hasattr(groups, "to_numpy"):
        groups = groups.to_numpy()
    values = np.asarray(groups)
    if values.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional (one label per training row); got an "
            f"array of shape {values.shape}."
        )
    if values.shape[0] != n_samples:
        raise ValueError(
            f"{name} must have one label per training row: expected length "
            f"{n_samples}, got {values.shape[0]}."
        )
    missing = _is_missing(values)
    if np.any(missing):
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"{name} has missing labels (None or NaN) at {rows.size} rows, e.g. rows "
            f"{rows[:10].tolist()}: give every row a group."
        )
    try:
        labels, codes = np.unique(values, return_inverse=True)
    except TypeError as exc:
        raise ValueError(
            f"{name} labels must be sortable (all numbers or all strings); got mixed "
            f"types such as {sorted({type(v).__name__ for v in values[:100]})}."
        ) from exc
    codes = codes.reshape(-1).astype(np.intp)
    if labels.size < 2:
        what = (
            "removing it leaves no training row"
            if removable
            else "cluster-robust errors need at least two clusters"
        )
        raise ValueError(
            f"{name} has a single group ({labels[0]!r}) holding every row: {what}."
        )
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=labels.size))[:-1]
    members = tuple(np.split(order, bounds))
    result = Groups(labels=labels, codes=codes, members=members)
    if removable and classes is not None:
        classes = np.asarray(classes).reshape(-1)
        class_labels, class_codes = np.unique(classes, return_inverse=True)
        class_codes = class_codes.reshape(-1)
        class_sizes = np.bincount(class_codes, minlength=class_labels.size)
        # Rows of class c in group g, for every (g, c): a whole class is a full count.
        counts = np.zeros((labels.size, class_labels.size), dtype=np.intp)
        np.add.at(counts, (codes, class_codes), 1)
        whole = np.argwhere(counts == class_sizes[None, :])
        if whole.size:
            g, c = whole[0]
            cls = class_labels[c]
            cls = cls.item() if isinstance(cls, np.generic) else cls
            raise ValueError(
                f"Group {result.label(g)!r} of {name} holds every training row of class "
                f"{cls!r}: removing it leaves a classifier without that class."
            )
    return result


def _label_key(value):
    """A hashable key under which only labels of the same kind are equal: numbers
    with numbers (``1 == 1.0``), strings with strings, booleans with booleans —
    never ``"1"`` with ``1`` or ``True`` with ``1`` (NumPy casts would)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, (str, bytes)):
        return ("text", value)
    try:
        hash(value)
    except TypeError:
        return ("unhashable", id(value))
    return (type(value).__name__, value)


def codes_of_labels(groups, selected, name="groups"):
    """Group codes of the labels ``selected`` (one label or a list), matched exactly.

    A label matches only a group label of its own kind and value: no casting to
    the labels' dtype (``"california"`` is not ``"ca"``, ``1.5`` not ``1``, ``"1"``
    not ``1``, ``"x"`` not ``True``). Unknown or repeated labels raise
    ``ValueError``. Cost O(G + len(selected)).
    """
    if isinstance(selected, (str, bytes)) or np.ndim(selected) == 0:
        selected = [selected]
    elif hasattr(selected, "tolist"):
        if np.ndim(selected) != 1:
            raise ValueError(f"Pass the labels of the {name} to remove as a 1-D list.")
        selected = selected.tolist()
    else:
        selected = list(selected)
    lookup = {_label_key(v): g for g, v in enumerate(groups.labels)}
    codes, unknown = [], []
    for v in selected:
        if isinstance(v, (list, tuple, np.ndarray)):
            raise ValueError(f"Pass the labels of the {name} to remove as a 1-D list.")
        g = lookup.get(_label_key(v))
        if g is None:
            unknown.append(v)
        else:
            codes.append(g)
    if unknown:
        shown = groups.labels[:10].tolist()
        raise ValueError(
            f"Unknown group labels {unknown[:10]!r} (labels are matched exactly, with "
            f"their type); the {name} are {shown}{' ...' if groups.n_groups > 10 else ''}."
        )
    codes = np.asarray(codes, dtype=np.intp)
    if np.unique(codes).size != codes.size:
        raise ValueError(f"The labels to remove list some of the {name} more than once.")
    return codes
