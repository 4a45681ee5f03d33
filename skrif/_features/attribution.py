"""Effects of removing training rows on targets: set effects, score matrices, top-k.

All functions take the fitted :class:`~skrif._core.fitted.RemovalModel` ``rm`` of an
:class:`~skrif.InfluenceEstimator` (the objective on the training data, ``θ̂`` and the
factored Hessian), plus a :class:`~skrif._core.targets.Target` and evaluation rows
``X_eval`` (with encoded targets ``Y_eval`` when the target needs them). They return
arrays with a trailing output axis of length ``target.n_outputs``; the estimator's
wrappers drop it for single-output targets.

Sign convention everywhere: **value without the rows minus value with them**.

For a target ``F_j(θ) = φ(z_j(θ))`` of evaluation row ``j`` and the single-row change
``Δ_i`` (:meth:`RemovalModel.row_steps`), removing row ``i`` moves the linear
predictor of row ``j`` by ``δz_ij = x̃_j·Δ_i`` (:meth:`RemovalModel.predictor_changes`),
so the linearized effect is ``A[i, j] = J_j δz_ij`` (``J_j = ∂φ/∂z`` at ``z_j``) and
the effect at the predicted parameters is ``φ(z_j + δz_ij) − φ(z_j)``. With rank-one
per-row Hessians ``δz_ij = c_i · x̃_i H⁻¹ x̃_jᵀ``, and the n × m matrix
``X̃ H⁻¹ X̃_evalᵀ`` is never formed whole: one solve ``S = H⁻¹ X̃_evalᵀ`` (p̃ × m),
then products ``X̃_chunk S`` over blocks of training rows. The RemovalModel chooses
that shortcut or the exact per-row algebra of mean-form and multinomial Hessians;
nothing here knows which.
"""


import numpy as np
from sklearn.utils._param_validation import StrOptions

from .._core.fitted import top_k  # noqa: F401  (re-exported)
from .._removal.methods import ADDITIVE_METHODS  # noqa: F401  (re-exported)
from .._utils.checks import is_integer
from .._utils.params import Integer, check_params

DIRECTIONS = ("increase", "decrease")

# Floats per p̃ × block array of influence_scores' solves (32 MB): the evaluation
# rows are densified and solved this many columns at a time, so memory stays
# O(p̃ · block) however many evaluation rows there are (sparse text-like data has
# p̃ in the 10⁵–10⁶ range, where all rows at once would take gigabytes).
_SOLVE_FLOATS = 1 << 22


def _apply(target, Z, dZ, Y, J, linearized):
    """Effect of moving the linear predictor from ``Z`` by ``dZ`` (shapes (..., m, q))."""
    if linearized:
        if target.is_identity:  # the raw output: J is the identity, skip the product
            return dZ
        return np.einsum("...mq,mrq->...mr", dZ, J)
    return target.value(Z + dZ, Y) - target.value(Z, Y)


def removal_effect(rm, idx, X_eval, Y_eval, target, method, linearized=False, fraction=1.0):
    """Change of the target on each evaluation row when rows ``idx`` are removed.

    Parameters
    ----------
    rm : RemovalModel
        The fitted state.
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
        :func:`~skrif._core.influence.reweighted_change`).

    Returns
    -------
    effect : ndarray of shape (m, r)

    Notes
    -----
    Cost: the parameter change (see :meth:`RemovalModel.parameter_change`)
    plus two products with ``X̃_eval`` (O(nnz(X_eval) q)).
    """
    delta = rm.parameter_change(idx, method, fraction)
    design = rm.design.for_rows(X_eval)
    Z = design.matvec(rm.theta.T)
    dZ = design.matvec(delta.T)
    J = target.derivative(Z, Y_eval) if linearized else None
    return _apply(target, Z, dZ, Y_eval, J, linearized)


def _eval_blocks(m, n_params, per_column=1):
    """Slices of evaluation rows solved together: at most ``_SOLVE_FLOATS / p̃`` rows,
    and at most ``_SOLVE_FLOATS / per_column`` (the temporary per evaluation row)."""
    step = max(1, min(m, _SOLVE_FLOATS // max(n_params, per_column, 1)))
    return [slice(start, min(start + step, m)) for start in range(0, m, step)]


def _effect_blocks(rm, X_eval, Y_eval, target, method, linearized):
    """Yield ``(training rows, evaluation rows, effects (c, b, r))`` block by block:
    the effect of removing each training row alone on each evaluation row."""
    design_eval = rm.design.for_rows(X_eval)
    m = design_eval.n_samples
    n, q = rm.n_samples, rm.n_outputs
    Z = design_eval.matvec(rm.theta.T)
    J = target.derivative(Z, Y_eval) if linearized else None
    for block in _eval_blocks(m, design_eval.n_params, n * max(q, target.n_outputs)):
        sub = rm.design.for_rows(X_eval[block])
        Y_b = None if Y_eval is None else Y_eval[block]
        J_b = None if J is None else J[block]
        for sl, dZ in rm.predictor_changes(sub, method, n):
            yield sl, block, _apply(target, Z[block], dZ, Y_b, J_b, linearized)


def influence_scores(rm, X_eval, Y_eval, target, method, linearized=True):
    """Matrix ``A[i, j, r]``: effect of removing training row ``i`` alone on output
    ``r`` of the target at evaluation row ``j``.

    Returns
    -------
    scores : ndarray of shape (n, m, r)

    Notes
    -----
    Blocks of ``b`` evaluation rows (only those rows are densified; ``b ≤ 2²² / p̃``),
    each answered by the Hessian kind's vectorized ``row_effects`` on ``X̃_blockᵀ``:
    for rank-one kinds one solve ``H⁻¹ X̃_blockᵀ`` (O(p̃² b) primal, O(n p̃ b + n² b)
    dual) and one product with the training rows (O(nnz(X) b)); for structured
    kinds (mean-form GLM/SGD, multinomial) their exact per-row algebra. O(n p̃ m)
    in total; temporary memory O(p̃ b + n b q) beyond the (n, m, r) result —
    independent of ``m``; sparse ``X_eval`` is never densified whole.
    """
    out = np.empty((rm.n_samples, X_eval.shape[0], target.n_outputs))
    into = getattr(rm.curvature, "row_effects_into", None)
    if linearized and rm.n_outputs == 1 and target.n_outputs == 1 and into is not None:
        # One output, and a kind that writes row effects in place: the target's
        # derivative folds into the evaluation rows (A_j = J_j x̃_j), each block of
        # evaluation rows is one solve and one product per block of training rows,
        # written straight into the result (as one GEMM would).
        rm.check_data()
        design_eval = rm.design.for_rows(X_eval)
        J = target.derivative(design_eval.matvec(rm.theta.T), Y_eval)[:, 0, 0]
        for block in _eval_blocks(X_eval.shape[0], design_eval.n_params):
            G = rm.design.for_rows(X_eval[block]).rows(slice(None)).T * J[block]
            into(G, rm.d1, rm.theta, method, out[:, block, :].transpose(0, 2, 1))
        return out
    for rows, block, values in _effect_blocks(rm, X_eval, Y_eval, target, method, linearized):
        out[rows, block] = values
    return out


def total_effects(rm, X_eval, Y_eval, target, method, linearized=False):
    """Effect of removing each training row alone on ``Σ_j F_j`` over the evaluation
    rows: shape (n, r).

    By default each evaluation row's target is evaluated at the row's predicted
    parameters, ``Σ_j [F_j(θ̂ + Δ_i) − F_j(θ̂)]`` — with ``"rif"`` the exact
    leave-one-out change for least squares — where :func:`additive_scores` gives
    the linearized sum ``Σ_j ∇F_j·Δ_i`` from one solve. The blocks of
    :func:`influence_scores` (O(n p̃ m) time), keeping only the (n, r) sums.
    """
    out = np.zeros((rm.n_samples, target.n_outputs))
    for rows, _, values in _effect_blocks(rm, X_eval, Y_eval, target, method, linearized):
        out[rows] += values.sum(axis=1)
    return out


def self_influence(rm, target, method, linearized=False):
    """Effect of removing each training row on its own target: shape (n, r).

    Row ``i``'s own linear predictor moves by ``δz_i``
    (:meth:`RemovalModel.self_change`); the result is ``φ(z_i + δz_i; y_i) −
    φ(z_i; y_i)`` (or ``J_i δz_i`` when linearized), with the training targets. No
    n × n matrix is formed.
    """
    Z = rm.linear_predictor()
    dZ = rm.self_change(method)
    Y = rm.Y if target.needs_y else None
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


def additive_scores(rm, X_eval, Y_eval, target, method, output=0):
    """Linearized effect of removing each training row on ``Σ_j F_{j, output}``: shape (n,).

    Equal to ``influence_scores(...)[:, :, output].sum(axis=1)`` but needs a single
    solve with ``q`` columns: ``G_k = Σ_j J_{j,output,k} x̃_j`` is one linear functional
    of the parameters (:meth:`RemovalModel.functional_changes`). Cost
    O(nnz(X_eval) q + p̃² q + nnz(X) q) after the factorization (rank-one per-row
    Hessians; O(n p̃²) otherwise).
    """
    design_eval = rm.design.for_rows(X_eval)
    Z = design_eval.matvec(rm.theta.T)
    J = target.derivative(Z, Y_eval)[:, output, :]  # (m, q)
    G = design_eval.rmatvec(np.ascontiguousarray(J))  # (p̃, q)
    return rm.functional_changes(G.T[None], method)[:, 0]


def check_k(k, n_samples):
    check_params(
        {"k": [Integer(1, n_samples, closed="both")]}, {"k": k},
        messages={"k": f"an integer between 1 and the number of training rows ({n_samples})"},
    )
    return int(k)


def check_direction(direction):
    check_params(
        {"direction": [StrOptions(set(DIRECTIONS))]}, {"direction": direction},
        messages={"direction": f"one of {DIRECTIONS}"},
    )
    return direction


def most_influential(
    rm, X_eval, Y_eval, target, k, direction, method, output=0, verify=False,
    with_predicted=False,
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
    scores = rm.rowwise(additive_scores, X_eval, Y_eval, target, method, output)
    rows = rm.top_k(scores, k, direction)
    predicted = float(np.sum(scores[rows]))
    if not verify:
        # with_predicted: (rows, predicted, None), the estimator's one result type.
        return (rows, predicted, None) if with_predicted else rows
    actual = removal_effect(rm, np.sort(rows), X_eval, Y_eval, target, "refit")
    return rows, predicted, float(np.sum(actual[:, output]))
