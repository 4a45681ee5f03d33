"""Small input predicates shared by the public entry points."""

import numbers

import numpy as np

from .params import check_params


def is_integer(value):
    """True for Python and NumPy integers, False for booleans (which are Integral)."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def undefined_single_removals(problem):
    """Training rows whose removal *alone* leaves a model that cannot be fitted.

    E.g. the only (positive-weight) training row of a class: the classifier
    without it has fewer classes, so :meth:`~skrif.InfluenceEstimator.influence`
    refuses to remove it, and every single-row effect of that row (self-influence,
    leave-one-out prediction, its row of ``influence_scores``) is undefined too.
    Returned as sorted positions (int array, usually empty).

    Candidates are rows unique in their encoded target among positive-weight rows
    (at most one per class for classifiers; only the last positive-weight row
    otherwise); each is confirmed with the objective's own ``check_removal``.
    Cost O(n q log n).
    """
    objective, Y, weights = problem.objective, problem.Y, problem.weights
    positive = np.flatnonzero(weights > 0)
    if positive.size <= 1:
        candidates = positive
    elif objective.is_classifier:
        _, inverse, counts = np.unique(
            Y[positive], axis=0, return_inverse=True, return_counts=True
        )
        candidates = positive[counts[np.ravel(inverse)] == 1]
    else:
        return np.zeros(0, dtype=np.intp)
    undefined = []
    for i in candidates:
        kept = weights.copy()
        kept[i] = 0.0
        try:
            objective.check_removal(Y, kept)
        except ValueError:
            undefined.append(i)
    return np.asarray(undefined, dtype=np.intp)


_OVERFLOW_HINT = (
    "This happens when the data are so large that their squares overflow (e.g. "
    "|y| ≈ 1e200, or a column ≈ 1e160): rescale X or y (e.g. divide y by its "
    "standard deviation) and fit again."
)


def check_finite_state(problem, theta, d1=None, d2=None, weights=None, *, what):
    """Raise ``ValueError`` unless ``θ``, the objective value there and the per-row
    derivatives (when given) are all finite.

    An overflowed objective (``inf``/``NaN``) defeats every later check silently:
    comparisons with NaN are false, so an optimality gap of NaN would pass and a
    Newton refit would stop at once and report a zero change. Cost O(nnz(X) q).
    """
    with np.errstate(all="ignore"):
        value = problem.value(theta, weights)
    parts = (("parameters", theta), ("objective value", value), ("row gradients", d1),
             ("row curvatures", d2))
    bad = [name for name, a in parts if a is not None and not np.all(np.isfinite(a))]
    if d2 is not None and not bad and not np.all(np.isfinite(_hessian_diagonal(problem, d2))):
        bad = ["Hessian"]
    if bad:
        raise ValueError(
            f"The {', '.join(bad)} of {what} {'is' if len(bad) == 1 else 'are'} not "
            "finite (overflow or NaN), so "
            f"skrif cannot attribute it. {_OVERFLOW_HINT}"
        )


def _hessian_diagonal(problem, d2):
    """``Σ_i d_i x_ij²`` per column (summed over outputs for (n, K, K) curvature
    blocks): the data part of the Hessian's diagonal. As ``H`` is positive
    semi-definite, ``|H_jk| ≤ √(H_jj H_kk)``, so a finite diagonal means a finite
    Hessian. O(nnz(X)) time, one row block of temporary memory (dense X)."""
    import scipy.sparse as sp

    d = d2 if np.ndim(d2) == 1 else np.einsum("ikk->i", d2)
    design = problem.design
    with np.errstate(all="ignore"):
        if sp.issparse(design.X):
            return np.asarray(design.X.multiply(design.X).T @ d).ravel()
        out = np.zeros(design.n_params)
        for sl, block in design.row_chunks():
            out += (block * block).T @ d[sl]
        return out


def check_finite_values(values, name, what):
    """Raise ``ValueError`` if ``values`` (e.g. an optimality gap or leverages) are
    not all finite: the factored Hessian or a product with it overflowed."""
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"The {name} of {what} is not finite (overflow or NaN), so skrif cannot "
            f"attribute it. {_OVERFLOW_HINT}"
        )


def finite_change(parameter_change):
    """Decorate a function returning ``Δθ``: refuse a change that overflowed.

    An all-NaN change is the documented answer for rows with leverage 1 (with
    its own warning) and passes; a partly NaN or infinite one is an overflow.
    """
    import functools

    @functools.wraps(parameter_change)
    def checked(*args, **kwargs):
        delta = parameter_change(*args, **kwargs)
        nan = np.isnan(delta)
        if np.any(np.isinf(delta)) or (np.any(nan) and not np.all(nan)):
            raise ValueError(
                "The predicted parameter change is not finite (overflow): skrif "
                f"cannot compute it for this removal. {_OVERFLOW_HINT}"
            )
        return delta

    return checked



def check_class_weight_values(model, y, sample_weight):
    """Refuse a ``class_weight`` dict whose entries are not finite non-negative
    numbers, or that gives every row zero weight, before the wrapped fit runs on it.

    scikit-learn accepts ``{1: nan}`` or ``{1: -1.0}`` and then fails deep inside
    a solver (or fits a non-convex objective); the effective weights ``s_i`` define
    the objective skrif attributes, so they are checked here with the setting named.
    """
    class_weight = getattr(model, "class_weight", None)
    if not isinstance(class_weight, dict):
        return
    for label, value in class_weight.items():
        if (
            isinstance(value, (bool, np.bool_))
            or not isinstance(value, (numbers.Real, np.floating, np.integer))
            or not np.isfinite(value)
            or value < 0
        ):
            raise ValueError(
                f"class_weight[{label!r}] must be a finite non-negative number; got "
                f"{value!r} (class_weight={class_weight!r})."
            )
    labels, inverse = np.unique(np.asarray(y), return_inverse=True)
    factor = np.array([float(class_weight.get(label, 1.0)) for label in labels])
    weights = factor[np.ravel(inverse)]
    if sample_weight is not None:
        weights = weights * sample_weight
    if not np.any(weights > 0):
        raise ValueError(
            f"class_weight={class_weight!r} (with sample_weight) gives every training "
            "row zero weight: there is nothing to fit."
        )


def check_effective_weights(weights):
    """The weights ``s_i`` of the objective (sample × class weights) must be finite,
    non-negative and not all zero."""
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or not np.any(weights > 0):
        raise ValueError(
            "The effective sample weights (sample_weight times class_weight) must be "
            "finite, non-negative and not all zero; check class_weight and sample_weight."
        )


def check_eval_targets(y, n_rows, target, objective, model, classes, n_outputs):
    """The encoded, checked targets of ``n_rows`` evaluation rows for ``target``
    (``None`` when it needs none): one set of checks and messages for the in-memory
    and the Dask paths.

    Classifiers get labels the model was fitted on (``classes``); regressors a
    float array of shape (n,) or (n, n_outputs).
    """
    from sklearn.utils.validation import check_array, column_or_1d

    if not target.needs_y:
        return None
    if y is None:
        raise ValueError(
            f"target={target.name!r} needs the evaluation targets: pass y with one "
            f"entry per row of X ({n_rows} rows)."
        )
    if objective.is_classifier:
        y = column_or_1d(y, warn=True)
        unknown = np.setdiff1d(np.unique(y), classes)
        if unknown.size:
            raise ValueError(
                f"y holds labels the model was not fitted on: {unknown[:10].tolist()}; "
                f"known classes are {classes.tolist()}."
            )
    else:
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        q = n_outputs
        if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != q) or (y.ndim == 1 and q != 1):
            raise ValueError(
                f"y must have shape (n_samples,{'' if q == 1 else f' {q}'}) "
                f"for this model with {q} target(s); got {y.shape}."
            )
    if y.shape[0] != n_rows:
        raise ValueError(
            f"X and y have different numbers of rows: {n_rows} and {y.shape[0]}."
        )
    Y = objective.encode_targets(y, model)
    objective.check_targets(Y)
    return Y


def check_bool(value, name):
    """Return ``value`` as a bool; anything but True/False raises (``"no"`` is truthy)."""
    check_params({name: ["boolean"]}, {name: value}, messages={name: "True or False"})
    return bool(value)
