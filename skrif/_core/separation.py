"""Refuse objectives without a finite optimum: separable classes, pinned levels.

An unpenalised logistic (binary or multinomial) or log-link count model has no
finite minimiser when some parameter direction ``v`` never increases any row's loss
and strictly decreases some (a *recession direction*):

* binary logistic (labels ``s_i = ±1``): ``s_i x̃_i·v ≥ 0`` for every row, ``> 0`` for
  some — complete or quasi-complete separation (Albert & Anderson, 1984), which
  includes a one-hot level seen in one class only;
* multinomial: ``(v_{y_i} − v_k)·x̃_i ≥ 0`` for every row and competitor class ``k``,
  ``> 0`` for some;
* log-link count models (Poisson, Tweedie ``1 ≤ p < 2``): ``x̃_i·v = 0`` on rows with
  ``y_i > 0`` and ``≤ 0`` on rows with ``y_i = 0``, ``< 0`` for some — e.g. a level
  whose targets are all zero.

Each is one linear program (:func:`scipy.optimize.linprog`, HiGHS): maximise the sum
of the margins subject to their signs and ``margin ≤ 1``. Its optimum is 0 when no
recession direction exists and at least 1 otherwise (any such direction, scaled until
its largest margin is 1, is feasible), so the decision does not hinge on a
tolerance and is invariant to column scales. Objectives declare which program
applies through ``Objective.recession`` (``None``: always a finite optimum).

A fit that is penalised but only *effectively* so — every training row fitted with
near certainty (mean loss ≤ 1e-6) on separable data — or a polish whose Newton
iterations run the coefficients away without converging is refused the same way:
attributions at such a point are numerically zero and describe no model.
"""

import numpy as np
import scipy.sparse as sp

from ..exceptions import NoFiniteOptimumError

#: Mean training loss below which a classifier's fit counts as saturated.
SATURATED_LOSS = 1e-6
#: LP optimum above which a recession direction exists (the optimum is 0 or ≥ 1).
_LP_THRESHOLD = 0.5


def _coefficients_unpenalised(problem):
    p = problem.design.n_features
    return bool(np.all(problem.penalty[:p] == 0))


def _design_rows(problem, rows):
    """``X̃`` restricted to ``rows`` as a sparse matrix (the LP's constraint rows)."""
    X = problem.design.X[rows]
    X = sp.csr_matrix(X) if not sp.issparse(X) else X.tocsr()
    if problem.design.fit_intercept:
        X = sp.hstack([X, np.ones((X.shape[0], 1))], format="csr")
    return X


def _solve(c, A_ub, b_ub, A_eq=None, b_eq=None):
    from scipy.optimize import linprog

    res = linprog(
        c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=(None, None), method="highs"
    )
    if res.status != 0:  # cannot decide (iteration limit, numerical trouble): say nothing
        return None, 0.0
    return res.x, -res.fun


def recession_direction(problem):
    """A recession direction of ``problem``'s objective, or ``None``.

    Returns ``(v, margins, kind, M)``: ``v`` of shape (q, p̃), the margins of the
    positive-weight rows along it, the objective's ``recession`` kind and the
    margin matrix ``M`` (margins are ``M v``).

    Cost: one LP with ``n (K−1)`` inequality rows and ``K p̃`` variables (HiGHS; a
    fraction of a second for thousands of rows and tens of features).
    """
    kind = getattr(problem.objective, "recession", None)
    if kind is None:
        return None
    rows = np.flatnonzero(problem.weights > 0)
    Xr = _design_rows(problem, rows)
    Y = problem.Y[rows]
    pt = Xr.shape[1]
    if kind == "binary":
        s = np.where(Y[:, 0] > 0, 1.0, -1.0)
        M = sp.diags(s) @ Xr  # margins M v
        A_ub = sp.vstack([-M, M], format="csr")
        b_ub = np.concatenate([np.zeros(M.shape[0]), np.ones(M.shape[0])])
        v, value = _solve(-np.asarray(M.sum(axis=0)).ravel(), A_ub, b_ub)
        q = 1
    elif kind == "multinomial":
        K = Y.shape[1]
        y = np.argmax(Y, axis=1)
        blocks = []
        for k in range(K):
            others = np.flatnonzero(y != k)
            if others.size == 0:
                continue
            # margin of row i (class y_i) over class k: (v_{y_i} − v_k)·x̃_i
            own = sp.csr_matrix(
                (np.ones(others.size), (np.arange(others.size), y[others])), shape=(others.size, K)
            )
            comp = sp.csr_matrix(
                (np.ones(others.size), (np.arange(others.size), np.full(others.size, k))),
                shape=(others.size, K),
            )
            Xo = Xr[others]
            # Row-wise Kronecker product: [e_{y_i} − e_k] ⊗ x̃_i, class-major (K p̃).
            blocks.append(_row_kron(own - comp, Xo))
        M = sp.vstack(blocks, format="csr")
        A_ub = sp.vstack([-M, M], format="csr")
        b_ub = np.concatenate([np.zeros(M.shape[0]), np.ones(M.shape[0])])
        v, value = _solve(-np.asarray(M.sum(axis=0)).ravel(), A_ub, b_ub)
        q = K
    elif kind == "count":
        positive = Y[:, 0] > 0
        zero = ~positive
        if not np.any(zero):
            return None
        M = -Xr[np.flatnonzero(zero)]  # margins −x̃_i·v ≥ 0 on the zero rows
        A_ub = sp.vstack([-M, M], format="csr")
        b_ub = np.concatenate([np.zeros(M.shape[0]), np.ones(M.shape[0])])
        A_eq = Xr[np.flatnonzero(positive)] if np.any(positive) else None
        b_eq = np.zeros(A_eq.shape[0]) if A_eq is not None else None
        v, value = _solve(-np.asarray(M.sum(axis=0)).ravel(), A_ub, b_ub, A_eq, b_eq)
        q = 1
    else:  # pragma: no cover - objectives declare known kinds
        raise ValueError(f"Unknown recession kind {kind!r}.")
    if v is None or not value > _LP_THRESHOLD:
        return None
    margins = M @ v
    return v.reshape(q, pt), margins, kind, M


def _row_kron(S, X):
    """Row-wise Kronecker product of ``S`` (r, K) and sparse ``X`` (r, p̃): (r, K p̃),
    class-major (the layout of the multinomial parameters)."""
    S = np.asarray(S.toarray() if sp.issparse(S) else S)
    return sp.hstack([sp.diags(S[:, k]) @ X for k in range(S.shape[1])], format="csr")


def _feature_list(v, problem, feature_names):
    """The features carrying the direction (largest |v_j| · column scale first)."""
    p = problem.design.n_features
    X = problem.design.X
    if sp.issparse(X):
        scale = np.sqrt(np.asarray(X.multiply(X).mean(axis=0)).ravel())
    else:
        scale = np.sqrt(np.mean(X * X, axis=0))
    weight = np.max(np.abs(v[:, :p]), axis=0) * scale
    if not np.any(weight > 0):
        return "the intercept"
    order = np.argsort(-weight, kind="stable")
    order = order[weight[order] > 1e-6 * weight[order[0]]][:5]
    names = [
        repr(str(feature_names[j])) if feature_names is not None else f"column {j}" for j in order
    ]
    more = int(np.sum(weight > 1e-6 * weight.max())) - len(order)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _completely_separable(M):
    """Whether some direction gives every row a strictly positive margin (``M v ≥ 1``)."""
    from scipy.optimize import linprog

    res = linprog(
        np.zeros(M.shape[1]), A_ub=-M, b_ub=-np.ones(M.shape[0]), bounds=(None, None),
        method="highs",
    )
    return res.status == 0


def _cause(problem, found):
    v, margins, kind, M = found
    strict = int(np.sum(margins > 1e-7))
    if kind == "count":
        return (
            f"{strict} rows with target 0 are fitted ever more exactly by driving their "
            "linear predictor to −∞ along a direction that leaves every row with a "
            "positive target unchanged (e.g. a level whose targets are all zero)"
        )
    if _completely_separable(M):
        return "the classes are linearly separable (complete separation)"
    return (
        f"the classes are quasi-separable: along one direction of the parameters {strict} "
        "training rows are classified ever more confidently and no row gets worse (e.g. "
        "a one-hot level seen in one class only)"
    )


def _raise(problem, found, feature_names, model_name, situation):
    features = _feature_list(found[0], problem, feature_names)
    cause = _cause(problem, found)
    if situation == "unpenalised":
        text = (
            f"{model_name} without a penalty has no finite optimum on these data: {cause}. "
            "Its coefficients grow without bound as the solver tightens, and every "
            "influence computed at them is meaningless."
        )
        fix = "Add a penalty (e.g. C=1.0 instead of C=np.inf, or alpha > 0)"
    elif situation == "saturated":
        text = (
            f"The penalty of this {model_name} is too weak to matter on these data: "
            f"{cause}, and the fit classifies every training row with certainty (mean "
            f"training loss <= {SATURATED_LOSS:g}), so every influence is numerically zero."
        )
        fix = "Use a stronger penalty (a smaller C, a larger alpha)"
    else:
        text = (
            f"Polishing the {model_name} fit ran its coefficients away ({situation}): "
            f"{cause}, so its objective has no finite optimum."
        )
        fix = "Add a penalty"
    raise NoFiniteOptimumError(
        f"{text} The direction involves {features}. {fix} or drop those feature(s)."
    )


def _saturated(problem, theta):
    """A classifier fitted with near certainty on every training row."""
    kind = getattr(problem.objective, "recession", None)
    if kind not in ("binary", "multinomial"):
        return False
    loss = problem.objective.loss(problem.Y, problem.linear_predictor(theta)).sum(axis=1)
    w = problem.weights
    return bool(np.sum(w * loss) <= SATURATED_LOSS * np.sum(w))


def check_finite_optimum(problem, theta, feature_names=None, model_name="model", *, certified=False):
    """Raise :class:`~skrif.exceptions.NoFiniteOptimumError` if the objective has no
    finite optimum (unpenalised), or if a penalised classifier sits at a saturated
    fit on separable data (effectively unpenalised).

    ``certified`` says that ``theta`` is a converged stationary point with a
    nonsingular Hessian. A convex objective with a recession direction has no
    stationary point (its derivative along the direction is negative everywhere), and
    approaching one numerically needs coefficients so large that the fit saturates;
    so a certified, unsaturated point needs no linear program. Cost: O(nnz(X)) for
    the saturation test; one LP (:func:`recession_direction`; seconds for tens of
    thousands of rows) only when the fit is uncertified or saturated.
    """
    if getattr(problem.objective, "recession", None) is None:
        return
    saturated = _saturated(problem, theta)
    if _coefficients_unpenalised(problem):
        if certified and not saturated:
            return
        found = recession_direction(problem)
        if found is not None:
            _raise(problem, found, feature_names, model_name, "unpenalised")
    elif saturated:
        found = recession_direction(problem)
        if found is not None:
            _raise(problem, found, feature_names, model_name, "saturated")


def check_polish_bounded(problem, start, theta, converged, feature_names=None, model_name="model"):
    """Refuse a polish that ran the coefficients away instead of converging."""
    before, after = np.linalg.norm(start), np.linalg.norm(theta)
    if not converged and after > 2.0 * max(before, 1.0):
        found = recession_direction(problem)
        norms = f"norm {before:.3g} → {after:.3g}, not converged"
        if found is not None:
            _raise(problem, found, feature_names, model_name, norms)
        raise NoFiniteOptimumError(
            f"Polishing the {model_name} fit ran its coefficients away ({norms}); skrif "
            "does not attribute a point that is not an optimum. If a feature pins a "
            "class or level, add a penalty or drop it; otherwise rescale the features "
            "or fit the wrapped estimator to convergence (a tighter tol, more max_iter)."
        )
