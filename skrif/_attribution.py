"""Effects of removing training rows on targets: set effects, score matrices, top-k.

All functions take the fitted state of an :class:`~skrif.InfluenceEstimator`:
``problem`` (the objective on the training data), ``theta`` (θ̂, shape (q, p̃)),
``d1`` (``c s_i ℓ'_ik``, shape (n, q)) and the factored ``curvature`` of ``H``, plus a
:class:`~skrif._targets.Target` and evaluation rows ``X_eval`` (with encoded targets
``Y_eval`` when the target needs them). They return arrays with a trailing output
axis of length ``target.n_outputs``; the estimator's wrappers drop it for
single-output targets.

Sign convention everywhere: **value without the rows minus value with them**.

For a target ``F_j(θ) = φ(z_j(θ))`` of evaluation row ``j`` and the single-row change
``Δ_i = H⁻¹ x̃_i c_i`` (``c_i = d1_i`` for IF, ``d1_i / (1 − h_i)`` for RIF; one
column per output, all outputs share ``H``), removing row ``i`` moves the linear
predictor of row ``j`` by

    δz_ij = c_i · x̃_i H⁻¹ x̃_jᵀ = c_i · M_ij,    M = X̃ H⁻¹ X̃_evalᵀ,

so the linearized effect is ``A[i, j] = ∇F_j·Δ_i = J_j δz_ij`` (``J_j = ∂φ/∂z`` at
``z_j``) and the effect at the predicted parameters is ``φ(z_j + δz_ij) − φ(z_j)``.
``M`` is never formed whole: one solve ``S = H⁻¹ X̃_evalᵀ`` (p̃ × m), then products
``X̃_chunk S`` over blocks of training rows.

That shortcut needs rank-one per-row Hessians ``d_i x̃_i x̃_iᵀ``. Mean-form objectives
(GLMs, SGD: each row owns a share of the penalty) and multinomial logistic regression
(K × K blocks per row) have others; their curvature objects provide the exact
single-row changes (``curvature.parameter_change``), and the functions here then
compute ``δz_ij = x̃_j·Δ_i`` from those (:func:`row_changes`) — same results, same
O(n p̃ m) order for the score matrix.
"""


import numpy as np

from ._checks import is_integer
from ._design import AugmentedDesign
from ._influence import parameter_change
from ._leverage import LEVERAGE_TOL, warn_leverage_one

#: Methods whose single-row effects are additive (usable for score matrices/top-k).
ADDITIVE_METHODS = ("if", "rif")
DIRECTIONS = ("increase", "decrease")

# Floats per temporary block of influence_scores (chunk × m × outputs): 8 MB.
_BLOCK_FLOATS = 1 << 20
_MIN_CHUNK = 16


def _check_additive(method, what):
    if method not in ADDITIVE_METHODS:
        raise ValueError(
            f"{what} uses additive single-row effects, so method must be one of "
            f"{ADDITIVE_METHODS} (or None); got {method!r}. For a group Newton step "
            "or an exact refit of a set, use removal_effect(..., method='newton' or "
            "'refit')."
        )


def row_coefficients(curvature, d1, method, one_minus=None, rows=None):
    """Per-row, per-output step coefficients ``c_i`` (shape (n, q)): ``Δ_i = H⁻¹ x̃_i c_i``.

    "if": ``d1_i``; "rif": ``d1_i / (1 − h_i)``, NaN (with a
    :class:`~skrif.exceptions.HighLeverageWarning`) where ``1 − h_i ≤ LEVERAGE_TOL``.
    ``one_minus`` and ``rows`` restrict to a subset of rows (default: all).
    Only valid for rank-one per-row Hessians (``not structured(curvature)``).
    """
    _check_additive(method, "This computation")
    if method == "if":
        return np.array(d1, dtype=float)
    if one_minus is None:
        one_minus = curvature.one_minus_leverage
    degenerate = one_minus <= LEVERAGE_TOL
    coef = d1 / np.where(degenerate, 1.0, one_minus)[:, None]
    if np.any(degenerate):
        bad = np.flatnonzero(degenerate)
        rows = bad if rows is None else np.asarray(rows)[bad]
        warn_leverage_one(rows, stacklevel=3)
        coef[bad] = np.nan
    return coef


def structured(curvature):
    """Whether per-row Hessians are not rank one ``d_i x̃_i x̃_iᵀ`` (mean-form penalty
    shares, coupled multinomial outputs): the curvature then computes parameter
    changes itself (``curvature.parameter_change``) and single-row changes are no
    longer multiples of ``H⁻¹ x̃_i``."""
    return hasattr(curvature, "parameter_change")


def row_changes(problem, theta, d1, curvature, rows, method):
    """Single-row parameter changes ``Δ_i`` for ``rows`` (a slice or int array):
    shape (len(rows), q, p̃). Rank-one curvature: one solve with ``len(rows)``
    columns; structured curvature: its own exact per-row algebra, row by row."""
    rows = np.arange(problem.design.n_samples)[rows]
    if structured(curvature):
        _check_additive(method, "This computation")
        return np.stack(
            [
                curvature.parameter_change(problem, theta, d1, rows[i : i + 1], method)
                for i in range(len(rows))
            ]
        )
    coef = row_coefficients(curvature, d1[rows], method, curvature.one_minus_leverage[rows], rows)
    S = curvature.solve(problem.design.rows(rows).T)  # (p̃, c)
    return coef[:, :, None] * S.T[:, None, :]


def _apply(target, Z, dZ, Y, J, linearized):
    """Effect of moving the linear predictor from ``Z`` by ``dZ`` (shapes (..., m, q))."""
    if linearized:
        if target.is_identity:  # the raw output: J is the identity, skip the product
            return dZ
        return np.einsum("...mq,mrq->...mr", dZ, J)
    return target.value(Z + dZ, Y) - target.value(Z, Y)


def removal_effect(
    problem, theta, d1, curvature, idx, X_eval, Y_eval, target, method, linearized=False,
    fraction=1.0,
):
    """Change of the target on each evaluation row when rows ``idx`` are removed.

    Parameters
    ----------
    problem, theta, d1, curvature
        The fitted state (see the module docstring).
    idx : ndarray of int
        Removed training rows (validated, unique).
    X_eval : ndarray or sparse matrix of shape (m, n_features)
    Y_eval : ndarray of shape (m, q) or None
        Encoded evaluation targets (needed by ``target.needs_y``).
    target : Target
    method : {"if", "rif", "newton", "refit"}
    linearized : bool
        ``False``: ``F(θ̂ + Δ) − F(θ̂)``; ``True``: ``∇F(θ̂)·Δ``.
    fraction : float
        Reweight the rows by ``1 − fraction`` instead of removing them (see
        :func:`~skrif._influence.reweighted_change`).

    Returns
    -------
    effect : ndarray of shape (m, r)

    Notes
    -----
    Cost: the parameter change (see :func:`~skrif._influence.parameter_change`)
    plus two products with ``X̃_eval`` (O(nnz(X_eval) q)).
    """
    delta = parameter_change(problem, theta, d1, curvature, idx, method, fraction)
    design = AugmentedDesign(X_eval, problem.design.fit_intercept)
    Z = design.matvec(theta.T)
    dZ = design.matvec(delta.T)
    J = target.derivative(Z, Y_eval) if linearized else None
    return _apply(target, Z, dZ, Y_eval, J, linearized)


def _chunk_rows(per_row):
    return max(_MIN_CHUNK, _BLOCK_FLOATS // max(per_row, 1))


def influence_scores(
    problem, theta, d1, curvature, X_eval, Y_eval, target, method, linearized=True
):
    """Matrix ``A[i, j, r]``: effect of removing training row ``i`` alone on output
    ``r`` of the target at evaluation row ``j``.

    Returns
    -------
    scores : ndarray of shape (n, m, r)

    Notes
    -----
    One solve with ``m`` right-hand sides (``S = H⁻¹ X̃_evalᵀ``: O(p̃² m) primal,
    O(n p̃ m + n² m) dual), then ``X̃_chunk S`` over blocks of training rows: O(n p̃ m)
    time in total. Temporary memory O(p̃ m + chunk · m · max(q, r)) beyond the
    (n, m, r) result. With structured per-row Hessians (mean-form GLM/SGD) each
    ``Δ_i`` comes from the curvature's exact per-row algebra (O(p̃²) per row) and
    the products are ``X̃_eval Δ_chunkᵀ``: the same O(n p̃ m).
    """
    fit_intercept = problem.design.fit_intercept
    design_eval = AugmentedDesign(X_eval, fit_intercept)
    m = design_eval.n_samples
    n, q = d1.shape
    r = target.n_outputs
    Z = design_eval.matvec(theta.T)
    J = target.derivative(Z, Y_eval) if linearized else None
    out = np.empty((n, m, r))
    chunk = _chunk_rows(m * max(q, r))
    if structured(curvature):
        for start in range(0, n, chunk):
            sl = slice(start, min(start + chunk, n))
            D = row_changes(problem, theta, d1, curvature, sl, method)  # (c, q, p̃)
            c = D.shape[0]
            dZ = design_eval.matvec(D.reshape(c * q, -1).T).reshape(m, c, q).transpose(1, 0, 2)
            out[sl] = _apply(target, Z, dZ, Y_eval, J, linearized)
        return out
    coef = row_coefficients(curvature, d1, method)
    S = curvature.solve(design_eval.rows(slice(None)).T)  # (p̃, m)
    X = problem.design.X
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        M = AugmentedDesign(X[sl], fit_intercept).matvec(S)  # (c, m)
        dZ = M[:, :, None] * coef[sl, None, :]
        out[sl] = _apply(target, Z, dZ, Y_eval, J, linearized)
    return out


def self_quadratic(design, curvature):
    """``x̃_i H⁻¹ x̃_iᵀ`` for every training row, by chunked solves.

    Cost O(n p̃²) primal, O(n² p̃ + n³) dual; memory O(chunk · p̃). Linear
    curvatures have it already as a by-product of their leverages (O(n) then).
    """
    fast = getattr(curvature, "self_quadratic", None)
    if fast is not None and curvature.design is design:
        return fast()
    quad = np.empty(design.n_samples)
    for sl, rows in design.row_chunks():
        quad[sl] = np.einsum("ij,ji->i", rows, curvature.solve(rows.T))
    return quad


def self_influence(problem, theta, d1, curvature, target, method, linearized=False):
    """Effect of removing each training row on its own target: shape (n, r).

    Row ``i``'s own linear predictor moves by ``δz_i = c_i x̃_i H⁻¹ x̃_iᵀ``; the result
    is ``φ(z_i + δz_i; y_i) − φ(z_i; y_i)`` (or ``J_i δz_i`` when linearized), with
    the training targets. No n × n matrix is formed; cost as
    :func:`self_quadratic`.
    """
    Z = problem.linear_predictor(theta)
    if structured(curvature):
        dZ = np.empty_like(Z)
        for sl, rows in problem.design.row_chunks():
            D = row_changes(problem, theta, d1, curvature, sl, method)  # (c, q, p̃)
            dZ[sl] = np.einsum("cp,cqp->cq", rows, D)
    else:
        coef = row_coefficients(curvature, d1, method)
        dZ = coef * self_quadratic(problem.design, curvature)[:, None]
    Y = problem.Y if target.needs_y else None
    if linearized:
        return np.einsum("mq,mrq->mr", dZ, target.derivative(Z, Y))
    return target.value(Z + dZ, Y) - target.value(Z, Y)


def check_output(target, output):
    """Validate ``output`` (which column of a multi-output target to sum); return int."""
    r = target.n_outputs
    if output is None:
        if r > 1:
            raise ValueError(
                f"target={target.name!r} has {r} outputs per row here; pass output=<index "
                f"in 0..{r - 1}> to choose which one to sum (e.g. the class column of "
                "predict_proba, or the target column of a multi-target regressor)."
            )
        return 0
    if (
        not is_integer(output)
        or not -r <= output < r
    ):
        raise ValueError(
            f"output must be an integer in 0..{r - 1} (negative values count from the "
            f"end) for target={target.name!r}; got {output!r}."
        )
    return int(output) % r


def additive_scores(problem, theta, d1, curvature, X_eval, Y_eval, target, method, output=0):
    """Linearized effect of removing each training row on ``Σ_j F_{j, output}``: shape (n,).

    Equal to ``influence_scores(...)[:, :, output].sum(axis=1)`` but needs a single
    solve with ``q`` columns: ``G_k = Σ_j J_{j,output,k} x̃_j``, ``s_i = Σ_k c_ik
    x̃_i·H⁻¹G_k``. Cost O(nnz(X_eval) q + p̃² q + nnz(X) q) after the factorization.
    """
    design_eval = AugmentedDesign(X_eval, problem.design.fit_intercept)
    Z = design_eval.matvec(theta.T)
    J = target.derivative(Z, Y_eval)[:, output, :]  # (m, q)
    G = design_eval.rmatvec(np.ascontiguousarray(J))  # (p̃, q)
    if structured(curvature):
        scores = np.empty(problem.design.n_samples)
        for sl, _ in problem.design.row_chunks():
            D = row_changes(problem, theta, d1, curvature, sl, method)  # (c, q, p̃)
            scores[sl] = np.einsum("cqp,pq->c", D, G)
        return scores
    coef = row_coefficients(curvature, d1, method)
    M = problem.design.matvec(curvature.solve(G))  # (n, q)
    return np.sum(coef * M, axis=1)


def check_k(k, n_samples):
    if (
        not is_integer(k)
        or not 1 <= k <= n_samples
    ):
        raise ValueError(
            f"k must be an integer between 1 and the number of training rows "
            f"({n_samples}); got {k!r}."
        )
    return int(k)


def check_direction(direction):
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}; got {direction!r}.")
    return direction


def top_k(scores, k, direction):
    """Indices of the ``k`` largest (``"increase"``) or smallest (``"decrease"``)
    scores, best first; NaN scores rank last. Ties keep the lower index first."""
    key = -scores if direction == "increase" else np.array(scores, dtype=float)
    key = np.where(np.isnan(key), np.inf, key)
    return np.argsort(key, kind="stable")[:k]


def most_influential(
    problem,
    theta,
    d1,
    curvature,
    X_eval,
    Y_eval,
    target,
    k,
    direction,
    method,
    output=0,
    verify=False,
):
    """The ``k`` training rows whose joint removal most increases/decreases
    ``Σ_j F_{j, output}`` under additivity (the true top-k of the additive scores).

    Returns
    -------
    rows : ndarray of int, shape (k,)
        Best first.
    predicted : float
        Only if ``verify``: ``Σ_{i ∈ rows} s_i``, the additive predicted change.
    actual : float
        Only if ``verify``: the change of the summed target after an exact refit
        without ``rows``.
    """
    scores = additive_scores(problem, theta, d1, curvature, X_eval, Y_eval, target, method, output)
    rows = top_k(scores, k, direction)
    if not verify:
        return rows
    predicted = float(np.sum(scores[rows]))
    actual = removal_effect(
        problem, theta, d1, curvature, np.sort(rows), X_eval, Y_eval, target, "refit"
    )
    return rows, predicted, float(np.sum(actual[:, output]))
