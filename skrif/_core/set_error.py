"""How far a set answer is likely off, and a warning when it is.

IF and RIF are additive over the removed rows: they ignore how the rows interact.
When rows of a set jointly pin a parameter direction (a one-hot level, a cluster,
near-duplicates) the set's *joint leverage* — the largest eigenvalue of
``B_T = D_T^½ X̃_T H⁻¹ X̃_Tᵀ D_T^½``, the set's block of the weighted hat matrix — is
close to 1 although each row's leverage (its diagonal) is small, and the additive
answer can be off by most of the true change (MATH.md §6). The group Newton step
``NS(T)`` sees those interactions: it is exact for least squares, but it is one
Newton step, and on a set that moves the optimum far (one that nearly separates the
classes) one step is not enough.

The **reference** ``Δ_ref`` is NS followed by one more Newton step on the
leave-T-out objective from ``θ̂ + NS`` (with the leave-T-out Hessian at θ̂: one
gradient pass over the training rows and one more solve). Every answer's estimate
is its distance to it, on the quantity the user asked for:

* an additive answer (``"if"``, ``"rif"``): ``‖Δ_add − Δ_ref‖ / ‖Δ_ref‖``;
* the group step (``"newton"``, and ``"auto"`` when it returns it):
  ``‖NS − Δ_ref‖ / ‖Δ_ref‖``, the relative size of the second step — 0 for least
  squares, where NS is exact;
* ``"refit"`` is exact and carries none.

The norm is that of the answer: for parameter changes, the Hessian metric
``‖Δ‖_H`` (:func:`skrif._core.group_step.hessian_norms`, in units of the
parameters' standard errors, so a coefficient in km and the same one in metres
count alike; outputs with their own units each on their own, the largest gap
reported); for effects on targets, the values over the evaluation rows, per output
column. For least squares it *is* the additive answer's error; otherwise it misses
what the reference still misses (small in our measurements).

There is no size cut-off: the group step of ``k`` rows costs O(k p̃² + k³) by
Woodbury or O(n p̃² + p̃³) with the kept rows' Hessian, whichever is less
(:func:`skrif._core.group_step.kept_is_cheaper`), so the estimate costs about two
group steps — at most about one Newton iteration of a refit.

When the gap exceeds :data:`SET_INTERACTION_THRESHOLD`, skrif warns with
:class:`~skrif.exceptions.SetInteractionWarning`; ``method="auto"`` then returns
the exact refit instead of the group step.
"""

from dataclasses import dataclass

import numpy as np

from .._removal.methods import ADDITIVE_METHODS
from .._utils.warn import warn
from ..exceptions import (
    NotPositiveDefiniteError,
    SetInteractionWarning,
    VerificationWarning,
)

#: A relative gap above this between an answer and its reference raises a
#: :class:`~skrif.exceptions.SetInteractionWarning` (calibrated on
#: ``validate_influence`` runs over real data sets: see the guide's
#: "Removing a group" section), and makes ``method="auto"`` refit.
SET_INTERACTION_THRESHOLD = 0.1

#: Relative gap between a verified (refitted) effect and its prediction above which
#: skrif warns (:class:`~skrif.exceptions.VerificationWarning`).
VERIFICATION_THRESHOLD = 0.1


def verification_gap(predicted, actual):
    """``(relative gap, disagrees)``: ``|predicted − actual| / |actual|``, and whether it
    exceeds :data:`VERIFICATION_THRESHOLD` or the signs differ (``False`` when either
    is not finite: nothing was verified)."""
    predicted, actual = float(predicted), float(actual)
    if not (np.isfinite(predicted) and np.isfinite(actual)):
        return np.nan, False
    gap = relative_gap(predicted, actual)
    disagrees = bool(gap > VERIFICATION_THRESHOLD or np.sign(predicted) != np.sign(actual))
    return gap, disagrees


@dataclass(frozen=True)
class SetErrorEstimate:
    """Estimated error of a set answer (``"if"``, ``"rif"`` or ``"newton"``).

    Attributes
    ----------
    relative_gap : float
        ``‖answer − reference‖ / ‖reference‖`` on the quantity the answer is about
        (the reference: the group Newton step plus one more Newton step; the
        parameters are measured in the Hessian metric, i.e. in units of their
        standard errors). ``inf`` when the group step shows that the rows pin a
        direction (the model without them is undetermined).
    joint_leverage : float
        Largest eigenvalue of the set's block of the weighted hat matrix (``nan``
        where it is not computed: coupled-output and mean-form models).
    max_leverage : float
        Largest single-row leverage ``h_i`` in the set (the diagonal of that block).
    warned : bool
        Whether ``relative_gap`` exceeds :data:`SET_INTERACTION_THRESHOLD`.
    method : str
        The answer it describes: ``"if"``, ``"rif"`` or ``"newton"``.
    active_set_changed : bool
        Whether the group step changes the model's active set (an L1 coefficient
        crossing zero or leaving its KKT bound, a row crossing a margin or a
        threshold of a piecewise loss). The local quadratic model behind every
        approximate answer and behind the reference then no longer holds:
        ``relative_gap`` is ``inf`` (undetermined) and ``warned`` is set, so
        ``method="auto"`` refits.
    """

    relative_gap: float
    joint_leverage: float
    max_leverage: float
    warned: bool
    method: str = "rif"
    active_set_changed: bool = False

    def __str__(self):
        if self.active_set_changed:
            return (
                f"{self.method!r} answer undetermined: removing these rows changes the "
                "model's active set (support, margin or threshold set); only an exact "
                f"refit answers (largest row leverage {self.max_leverage:.3g})"
            )
        if self.method == "newton":
            head = f"group Newton step {_percent(self.relative_gap)} from one more Newton step"
        else:
            head = (
                f"additive {self.method!r} answer {_percent(self.relative_gap)} from the "
                "group Newton step (plus one more Newton step)"
            )
        joint = (
            f"joint leverage {self.joint_leverage:.3g}, "
            if np.isfinite(self.joint_leverage)
            else ""
        )
        return f"{head} ({joint}largest row leverage {self.max_leverage:.3g})"


def _percent(gap):
    return "undetermined" if not np.isfinite(gap) else f"{100 * gap:.3g}%"


def _ratio(diff, scale):
    """``diff / scale`` elementwise, 0/0 = 0 and x/0 = inf."""
    diff = np.asarray(diff, dtype=float)
    scale = np.asarray(scale, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0),
                       np.where(diff > 0, np.inf, 0.0))
    return out


def warn_unverified(predicted, actual, what):
    """Warn (:class:`~skrif.exceptions.VerificationWarning`) when a refit contradicts
    the prediction it verifies; return ``(relative gap, disagrees)``."""
    gap, disagrees = verification_gap(predicted, actual)
    if disagrees:
        sign = " (opposite sign)" if np.sign(predicted) != np.sign(actual) else ""
        warn(
            f"The exact refit of {what} gives {actual:.4g} where the prediction was "
            f"{predicted:.4g}{sign}, {_percent(gap)} off: the rows interact and the "
            "refit is the answer.",
            VerificationWarning,
        )
    return gap, disagrees


def relative_gap(answer, reference):
    """``‖answer − reference‖ / ‖reference‖``: for scalars ``|a − r| / |r|``; for
    arrays of target values (m,) or (m, r), per output column over the rows, the
    largest of the columns (columns may have their own units). ``0`` if both are 0.
    """
    a = np.asarray(answer, dtype=float)
    r = np.asarray(reference, dtype=float)
    if a.ndim == 0:
        return float(_ratio(abs(a - r), abs(r)))
    if a.ndim == 1:
        a, r = a[:, None], r[:, None]
    a = a.reshape(a.shape[0], -1)
    r = r.reshape(r.shape[0], -1)
    gaps = _ratio(np.linalg.norm(a - r, axis=0), np.linalg.norm(r, axis=0))
    return float(np.max(gaps)) if gaps.size else 0.0


def parameter_gap(hessian_norms, answer, reference):
    """Relative gap of parameter changes in the Hessian metric, per independent
    output (the largest): ``max_k ‖a_k − r_k‖_H / ‖r_k‖_H``, with ``hessian_norms``
    the fit's ``‖·‖_H`` of a stack of changes."""
    norms = hessian_norms(np.stack([answer - reference, reference]))
    return float(np.max(_ratio(norms[0], norms[1])))


@dataclass
class SetAlgebra:
    """What :func:`answer_set` needs of a fitted model (in memory or on Dask).

    Attributes
    ----------
    change : callable
        ``change(idx, method)`` → the parameter change (q, p̃).
    second_step : callable or None
        ``second_step(idx, delta)`` → the next Newton step on the leave-T-out
        objective from ``θ̂ + delta``.
    hessian_norms : callable
        ``hessian_norms(deltas)`` → ``‖Δ‖_H`` of a stack of parameter changes, per
        independent output (:func:`skrif._core.group_step.hessian_norms`).
    joint_leverage : callable
        ``joint_leverage(idx)`` → the set's joint leverage (``nan`` if undefined).
    max_leverage : callable
        ``max_leverage(idx)`` → the largest single-row leverage of the set.
    active_set_changed : callable or None
        ``active_set_changed(idx, delta)`` → whether the change ``delta`` moves the
        model's active set (``None``: the model has none).
    """

    change: object
    second_step: object
    hessian_norms: object
    joint_leverage: object
    max_leverage: object
    active_set_changed: object = None


def removal_algebra(rm, fraction=1.0, change=None):
    """The :class:`SetAlgebra` of a removal model (in memory or on Dask: the
    :class:`~skrif._core.fitted.RemovalModel` protocol); ``change(rows, how)``
    overrides its parameter changes (e.g. refits that reselect a hyperparameter)."""
    if change is None:
        def change(rows, how):
            return rm.parameter_change(rows, how, fraction)

    return SetAlgebra(
        change=change,
        second_step=lambda idx, delta: rm.second_step(idx, delta, fraction),
        hessian_norms=rm.hessian_norms,
        joint_leverage=rm.joint_leverage,
        max_leverage=lambda idx: float(np.max(rm.leverages_of(idx))),
        active_set_changed=lambda idx, delta: rm.active_set_changed(idx, delta, fraction),
    )


def warn_set_interaction(est_error, n_rows, what):
    """Warn once that an answer for ``n_rows`` rows is likely off."""
    if not est_error.warned or est_error.active_set_changed:
        # An active-set change is reported by its own ActiveSetChangeWarning.
        return
    method = est_error.method
    gap = est_error.relative_gap
    if method == "newton":
        warn(
            f"The group Newton step ('newton') {what} for these {n_rows} rows is likely "
            f"off: one more Newton step on the objective without them moves it by "
            f"{_percent(gap)}. The loss is far from quadratic over this change (e.g. "
            "the rows nearly separate the classes); use method='refit' (exact).",
            SetInteractionWarning,
        )
        return
    if np.isfinite(gap):
        how = f"it differs from the group Newton step by {_percent(gap)}"
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
    warn(
        f"The additive {method!r} {what} for these {n_rows} rows is likely off: {how}"
        f"{joint}. {why[0].upper() + why[1:]}; use method='newton' (group Newton "
        "step) or method='refit' (exact).",
        SetInteractionWarning,
    )


def _estimate(algebra, idx, method, answer, reference, measure, group_step=None):
    changed = bool(
        algebra.active_set_changed is not None
        and group_step is not None
        and algebra.active_set_changed(idx, group_step)
    )
    if reference is None or changed:
        gap = np.inf
    elif measure is None:
        gap = parameter_gap(algebra.hessian_norms, answer, reference)
    else:
        gap = relative_gap(measure(answer), measure(reference))
    max_lev = algebra.max_leverage(idx) if idx.size else 0.0
    joint = algebra.joint_leverage(idx) if method in ADDITIVE_METHODS else np.nan
    warned = bool(not gap <= SET_INTERACTION_THRESHOLD) and not np.isnan(gap)
    return SetErrorEstimate(
        relative_gap=float(gap), joint_leverage=float(joint), max_leverage=max_lev,
        warned=warned, method=method, active_set_changed=changed,
    )


def _reference(algebra, idx, newton):
    # A group step of exactly 0 (rows without gradient, e.g. outside an SVM's
    # margin): nothing moves, and a second step would only measure θ̂'s rounding.
    if (
        algebra.second_step is None
        or not np.all(np.isfinite(newton))
        or not np.any(newton != 0)
    ):
        return newton
    try:
        return newton + algebra.second_step(idx, newton)
    except (ValueError, np.linalg.LinAlgError):
        return newton  # the moved point's Hessian is not usable: NS alone


def answer_set(algebra, idx, method, *, measure=None, what):
    """Answer a set query with ``method``, with an error estimate of the answer returned.

    Parameters
    ----------
    algebra : SetAlgebra
        The fitted model's removal algebra (:func:`removal_algebra`).
    idx : ndarray of int
        The removed rows.
    method : {"if", "rif", "newton", "refit", "auto"}
        ``"auto"``: RIF for one row (where it is the group step); for sets the
        group Newton step when its own estimate is within
        :data:`SET_INTERACTION_THRESHOLD`, else the exact refit.
    measure : callable, default=None
        Maps a parameter change to the quantity the user asked for (target values);
        the gap is measured on it. ``None``: the parameter change, in the Hessian
        metric.
    what : str
        Name of the answer for the warning (e.g. "parameter change").

    Returns
    -------
    delta : ndarray (q, p̃)
    used : str
        The method used.
    error : SetErrorEstimate or None
        For sets of 2 or more rows answered by ``"if"``, ``"rif"`` or ``"newton"``;
        ``None`` for single rows, refits and a singular Hessian (no group step).
    """
    if method == "refit" or idx.size < 2:
        used = "rif" if method == "auto" else method
        return algebra.change(idx, used), used, None
    if method in ADDITIVE_METHODS:
        delta = algebra.change(idx, method)
        try:
            newton = algebra.change(idx, "newton")
        except NotPositiveDefiniteError:
            reference = None
        except ValueError:
            return delta, method, None  # a singular Hessian: no group step
        else:
            reference = _reference(algebra, idx, newton)
        error = _estimate(algebra, idx, method, delta, reference, measure,
                          None if reference is None else newton)
        warn_set_interaction(error, idx.size, what)
        return delta, method, error
    try:
        newton = algebra.change(idx, "newton")
    except ValueError:
        if method == "auto":  # a singular Hessian or an undetermined set: exact or raise
            return algebra.change(idx, "refit"), "refit", None
        raise
    reference = _reference(algebra, idx, newton)
    error = _estimate(algebra, idx, "newton", newton, reference, measure, newton)
    if method == "auto":
        if error.warned:
            return algebra.change(idx, "refit"), "refit", None
        return newton, "newton", error
    warn_set_interaction(error, idx.size, what)
    return newton, "newton", error


def second_newton_step(rm, fraction=1.0):
    """A ``second_step(idx, delta)`` for :class:`SetAlgebra`.

    The next Newton step on the objective without the rows (their weights times
    ``1 − fraction``) from ``θ̂ + δ``: ``−H_{−T}⁻¹ ∇J_{−T}(θ̂ + δ)`` with the
    leave-T-out Hessian at θ̂ (a simplified Newton step): the kept rows' Hessian of
    the group step where that is the cheaper algebra (reused), Woodbury for
    rank-one removals, O(nnz(X) q) for the gradient plus a solve; otherwise
    (coupled outputs, penalty shares, reweighting, a singular ``H``) the Hessian at
    ``θ̂ + δ`` is factored afresh (one Newton iteration of a refit: O(n p̃² + p̃³)).
    """
    problem, theta, curvature = rm.problem, rm.theta, rm.curvature
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
        kept = rm.kept_solver(idx, fraction)
        if kept is not None:
            return -np.asarray(kept.solve(grad)).T
        if woodbury:
            return -curvature.solve_without(idx, grad).T
        return -problem.curvature(d2, weights).solve(grad).T

    return step
