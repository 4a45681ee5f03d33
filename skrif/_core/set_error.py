"""How far an additive answer for a *set* of rows is likely off, and a warning when it is.

IF and RIF are additive over the removed rows: they ignore how the rows interact.
When rows of a set jointly pin a parameter direction (a one-hot level, a cluster,
near-duplicates) the set's *joint leverage* — the largest eigenvalue of
``B_T = D_T^½ X̃_T H⁻¹ X̃_Tᵀ D_T^½``, the set's block of the weighted hat matrix — is
close to 1 although each row's leverage (its diagonal) is small, and the additive
answer can be off by most of the true change (MATH.md §6).

The group Newton step ``NS(T)`` sees those interactions: it is exact for least
squares and second order in the step otherwise. The reference ``Δ_ref`` is NS
followed, for models with rank-one per-row Hessians (least squares, binary
logistic), by one more (simplified) Newton step on the leave-T-out objective with
the same Woodbury-updated Hessian: it costs one gradient pass over the training
rows and catches the sets on which one step is not enough (a set that nearly
separates the classes moves the optimum far: one step was measured 100% off, two
steps 0.01%). The estimate of an additive answer's error is its distance to it,

    gap(T) = ‖Δ_add(T) − Δ_ref(T)‖ / ‖Δ_ref(T)‖,

measured on the quantity the user asked for (the parameter vector for
:meth:`~skrif.InfluenceEstimator.influence`, the target values for
:meth:`~skrif.InfluenceEstimator.removal_effect` and in
:func:`skrif.validation.validate_influence`). For least squares it *is* the additive
answer's error; for other losses it misses what the reference still misses (small
in our measurements). Its cost is about two group steps: O(k p̃² + k³) in the
primal form, O(k n² + k³) in the dual form, for ``k`` rows, plus O(nnz(X) q).

When the gap exceeds :data:`SET_INTERACTION_THRESHOLD`, skrif warns with
:class:`~skrif.exceptions.SetInteractionWarning`.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from .._removal.methods import ADDITIVE_METHODS
from ..exceptions import SetInteractionWarning, VerificationWarning

#: A relative gap above this between the additive answer and the group Newton step
#: raises a :class:`~skrif.exceptions.SetInteractionWarning` (calibrated on
#: ``validate_influence`` runs over real data sets: see the guide's
#: "Removing a group" section).
SET_INTERACTION_THRESHOLD = 0.1

#: Sets larger than this get no error estimate: the group step's k × k system
#: (O(k³)) would cost more than the additive answer is worth.
MAX_ESTIMATE_ROWS = 4096


@dataclass(frozen=True)
class SetErrorEstimate:
    """Estimated error of an additive (IF/RIF) answer for a set of removed rows.

    Attributes
    ----------
    relative_gap : float
        ``‖additive − group Newton step‖ / ‖group Newton step‖`` on the quantity the
        answer is about (``inf`` when the group step shows that the rows pin a
        direction: the model without them is undetermined; ``nan`` when the group
        step is 0).
    joint_leverage : float
        Largest eigenvalue of the set's block of the weighted hat matrix (``nan``
        where it is not computed: coupled-output and mean-form models).
    max_leverage : float
        Largest single-row leverage ``h_i`` in the set (the diagonal of that block).
    warned : bool
        Whether ``relative_gap`` exceeds :data:`SET_INTERACTION_THRESHOLD`.
    """

    relative_gap: float
    joint_leverage: float
    max_leverage: float
    warned: bool

    def __str__(self):
        return (
            f"additive answer {_percent(self.relative_gap)} from the group Newton step "
            f"(joint leverage {self.joint_leverage:.3g}, largest row leverage "
            f"{self.max_leverage:.3g})"
        )


def _percent(gap):
    return "undetermined" if not np.isfinite(gap) else f"{100 * gap:.3g}%"


def relative_gap(additive, reference):
    """``‖additive − reference‖ / ‖reference‖`` over all entries (``nan`` if both 0)."""
    additive = np.asarray(additive, dtype=float)
    reference = np.asarray(reference, dtype=float)
    scale = np.linalg.norm(reference)
    diff = np.linalg.norm(additive - reference)
    if scale == 0:
        return 0.0 if diff == 0 else np.inf
    return float(diff / scale)


#: Relative gap between a verified (refitted) effect and its prediction above which
#: skrif warns (:class:`~skrif.exceptions.VerificationWarning`).
VERIFICATION_THRESHOLD = 0.1


def verification_gap(predicted, actual):
    """``(relative gap, disagrees)``: ``|predicted − actual| / |actual|``, and whether it
    exceeds :data:`VERIFICATION_THRESHOLD` or the signs differ."""
    predicted, actual = float(predicted), float(actual)
    gap = relative_gap(predicted, actual)
    disagrees = bool(gap > VERIFICATION_THRESHOLD or np.sign(predicted) != np.sign(actual))
    return gap, disagrees


def warn_unverified(predicted, actual, what, stacklevel):
    """Warn (:class:`~skrif.exceptions.VerificationWarning`) when a refit contradicts
    the prediction it verifies; return ``(relative gap, disagrees)``."""
    gap, disagrees = verification_gap(predicted, actual)
    if disagrees:
        sign = " (opposite sign)" if np.sign(predicted) != np.sign(actual) else ""
        warnings.warn(
            f"The exact refit of {what} gives {actual:.4g} where the prediction was "
            f"{predicted:.4g}{sign}, {_percent(gap)} off: the rows interact and the "
            "refit is the answer.",
            VerificationWarning,
            stacklevel=stacklevel + 1,
        )
    return gap, disagrees


def joint_leverage(curvature, idx):
    """``λ_max(D_T^½ X̃_T H⁻¹ X̃_Tᵀ D_T^½)`` for rank-one per-row Hessians; ``nan`` else.

    Cost O(k p̃²) primal (O(k n² + k² n) dual) plus O(k³).
    """
    if curvature.kind != "rank_one":
        return np.nan
    d = curvature.d
    root = np.sqrt(np.clip(np.asarray(d, dtype=float)[idx], 0.0, None))
    B = curvature.inner(idx)
    B *= root[:, None]
    B *= root[None, :]
    return float(np.linalg.eigvalsh(B)[-1])


def estimate(leverages, curvature, idx, additive, reference):
    """A :class:`SetErrorEstimate` from the additive and group-step answers.

    ``reference`` is ``None`` when the group step found the leave-T-out Hessian not
    positive definite (the gap is then infinite).
    """
    gap = np.inf if reference is None else relative_gap(additive, reference)
    joint = joint_leverage(curvature, idx) if idx.size <= MAX_ESTIMATE_ROWS else np.nan
    max_lev = float(np.max(leverages[idx])) if idx.size else 0.0
    warned = bool(not gap <= SET_INTERACTION_THRESHOLD) and not np.isnan(gap)
    return SetErrorEstimate(
        relative_gap=float(gap), joint_leverage=joint, max_leverage=max_lev, warned=warned
    )


def warn_set_interaction(est_error, method, n_rows, what, stacklevel):
    """Warn once that an additive answer for ``n_rows`` rows is likely off."""
    if not est_error.warned:
        return
    if np.isfinite(est_error.relative_gap):
        how = (
            f"it differs from the group Newton step by {_percent(est_error.relative_gap)}"
        )
    else:
        how = (
            "the group Newton step shows that these rows together pin a parameter "
            "direction (the model without them is undetermined)"
        )
    joint = (
        f"; the set's joint leverage is {est_error.joint_leverage:.3g} while each row's "
        f"is at most {est_error.max_leverage:.3g}"
        if np.isfinite(est_error.joint_leverage)
        else ""
    )
    # RIF is exact for one row, so its gap is the rows' interaction; IF also
    # misses each row's own rescaling 1 / (1 − h_i).
    # Interaction shows as a joint amplification 1 / (1 − joint) above the rows' own.
    interacting = not (1.0 - est_error.max_leverage) <= 1.05 * (1.0 - est_error.joint_leverage)
    if method == "if":
        why = "IF ignores each row's leverage and how the rows interact"
    elif interacting:
        why = "the rows interact (e.g. they share a one-hot level or a cluster)"
    else:
        why = "the loss is far from quadratic over this change, so one Newton step per row is not enough"
    warnings.warn(
        f"The additive {method!r} {what} for these {n_rows} rows is likely off: {how}"
        f"{joint}. {why[0].upper() + why[1:]}; use method='newton' (group Newton "
        "step) or method='refit' (exact).",
        SetInteractionWarning,
        stacklevel=stacklevel + 1,
    )


def answer_set(
    change, idx, method, *, leverages, curvature, second_step=None, measure=None, what,
    stacklevel,
):
    """Answer a set query with ``method``, with an error estimate for additive answers.

    Parameters
    ----------
    change : callable
        ``change(idx, method)`` → the fitted model's parameter change (q, p̃).
    idx : ndarray of int
        The removed rows.
    method : {"if", "rif", "newton", "refit", "auto"}
        ``"auto"``: the group Newton step for sets of 2 to
        :data:`MAX_ESTIMATE_ROWS` rows (it sees the rows' interactions; exact for
        least squares), RIF for single rows (the two coincide there) and larger sets.
    leverages : ndarray of shape (n_samples,)
    curvature : the factored Hessian (for the joint leverage)
    second_step : callable, default=None
        ``second_step(idx, delta)`` → the next Newton step on the leave-T-out
        objective from ``θ̂ + delta`` (see :func:`second_newton_step`); ``None``:
        the reference is the group Newton step alone.
    measure : callable, default=None
        Maps a parameter change to the quantity the user asked for (target values);
        the gap is measured on it. ``None``: the parameter change itself.
    what : str
        Name of the answer for the warning (e.g. "parameter change").

    Returns
    -------
    delta : ndarray (q, p̃)
    used : str
        The method used.
    error : SetErrorEstimate or None
        For additive answers (and ``"auto"``) of sets of 2 to ``MAX_ESTIMATE_ROWS``
        rows whose group step is defined; ``None`` otherwise.
    """
    from ..exceptions import NotPositiveDefiniteError

    additive = "rif" if method == "auto" else method
    if additive not in ADDITIVE_METHODS or not 2 <= idx.size <= MAX_ESTIMATE_ROWS:
        return change(idx, additive), additive, None
    delta = change(idx, additive)
    try:
        newton = change(idx, "newton")
    except NotPositiveDefiniteError:
        newton = reference = None
    except ValueError:
        # A singular Hessian: the group step is not available, so no estimate.
        return delta, additive, None
    else:
        reference = newton
        # A group step of exactly 0 (rows without gradient, e.g. outside an SVM's
        # margin): nothing moves, and a second step would only measure θ̂'s rounding.
        if second_step is not None and np.any(newton != 0):
            try:
                reference = newton + second_step(idx, newton)
            except (ValueError, np.linalg.LinAlgError):
                pass  # the moved point's Hessian is not usable: NS alone
    measure = (lambda d: d) if measure is None else measure
    error = estimate(
        leverages, curvature, idx, measure(delta), None if reference is None else measure(reference)
    )
    if method == "auto" and newton is not None:
        return newton, "newton", error
    warn_set_interaction(error, additive, idx.size, what, stacklevel=stacklevel + 1)
    return delta, additive, error


def second_newton_step(problem, theta, curvature, fraction=1.0):
    """A ``second_step(idx, delta)`` for :func:`answer_set`.

    The next Newton step on the objective without the rows (their weights times
    ``1 − fraction``) from ``θ̂ + δ``: ``−H_{−T}⁻¹ ∇J_{−T}(θ̂ + δ)``. For rank-one
    per-row Hessians and removal, ``H_{−T}`` is the Hessian at θ̂ updated by
    Woodbury as in the group step (a simplified Newton step: O(nnz(X) q) for the
    gradient plus O(k p̃² + k³)); otherwise (coupled outputs, penalty shares,
    reweighting, a singular ``H``) the Hessian at ``θ̂ + δ`` is factored afresh
    (one Newton iteration of a refit: O(n p̃² + p̃³)).
    """
    woodbury = (
        fraction == 1.0
        and curvature.kind == "rank_one"
        and not curvature.singular
    )

    def step(idx, delta):
        weights = problem.weights.copy()
        weights[idx] *= 1.0 - fraction
        moved = theta + delta
        d1, d2 = problem.row_derivatives(moved, weights)
        grad = problem.gradient(moved, d1, weights)
        if not np.all(np.isfinite(grad)):
            return np.zeros_like(delta)
        if woodbury:
            return -curvature.solve_without(idx, grad).T
        return -problem.curvature(d2, weights).solve(grad).T

    return step
