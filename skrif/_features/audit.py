"""Auditing a fitted model: leave-one-out predictions and removals that flip a conclusion.

Both build on the additive single-row effects of :mod:`skrif._features.attribution`
(sign convention: **value without the rows minus value with them**).

**Leave-one-out predictions.** Row ``i``'s prediction by the model fitted without
it is ``F_i(θ̂ + Δ_{−i}) = F_i(θ̂) + self-influence_i``
(:func:`skrif._features.attribution.self_influence`). With ``"rif"`` the parameter change is
one exact Newton step on the leave-one-out objective, so for least squares (Ridge,
LinearRegression) these are the exact leave-one-out predictions (the closed form
``(z_i − h_i y_i) / (1 − h_i)``); for other losses they are the Newton approximation.

**Removals that flip a conclusion** (robustness auditing, the "approximate maximum
influence perturbation" of Broderick, Giordano & Meager). The conclusion is the sign
of a quantity linear in the parameters, ``Q(θ) = ⟨A, θ⟩``: the decision function of
one evaluation row (``A = x̃`` in the output's row) or one coefficient (``A = e_j``);
for a classifier with several outputs, "the predicted class changes" is "some margin
``z_k − z_c`` to a competitor class ``c`` reaches zero". Removing row ``i`` alone
changes ``Q`` by ``s_i = ⟨A, Δ_i⟩`` (one solve for all rows); rows are taken in
order of their effect towards zero until the additive prediction ``Q + Σ s_i``
reaches zero (if no set within ``max_rows`` is predicted to, the rows with the
largest effects are tried anyway: additive effects of rows pushing the same way
usually underestimate their joint effect). The set is then refitted exactly
(Newton's method to machine precision). If the refit does not flip, the effects are
recomputed at the refitted model on the remaining rows and the set is extended the
same way; once it flips, the set is shortened by bisection on its length (rows are
ordered by effect) and then row by row (last added first) while the refit still
flips. Everything is bounded by ``max_refits`` exact refits, and the result says
honestly whether the final set was verified to flip.
"""

from dataclasses import dataclass

import numpy as np

from .._utils.checks import is_integer
from .._utils.params import Integer, check_params
from .attribution import self_influence


def loo_predict(rm, target, method):
    """Approximate leave-one-out values of ``target`` for every training row: (n, r).

    ``F_i(θ̂) + [F_i(θ̂ + Δ_{−i}) − F_i(θ̂)]`` with the self-influence of
    :func:`~skrif._features.attribution.self_influence` (no n × n matrix; cost as
    :meth:`~skrif._core.fitted.RemovalModel.self_change`: O(n p̃²) primal, O(n² p̃ + n³)
    dual, O(n) beyond the factorization for linear curvatures).
    """
    Z = rm.linear_predictor()
    Y = rm.problem.Y if target.needs_y else None
    return target.value(Z, Y) + self_influence(rm, target, method)


def true_classes(Y):
    """Class indices of encoded classifier targets ``Y`` (n, q)."""
    if Y.shape[1] == 1:
        return (Y[:, 0] > 0).astype(int)
    return np.argmax(Y, axis=1)


def predicted_classes(Z):
    """Class indices predicted from decision values ``Z`` (n, q), as scikit-learn does."""
    if Z.shape[1] == 1:
        return (Z[:, 0] > 0).astype(int)
    return np.argmax(Z, axis=1)


# -- removals that flip a conclusion -------------------------------------------


@dataclass(frozen=True)
class FlipResult:
    """Outcome of :meth:`~skrif.InfluenceEstimator.removal_to_flip`.

    Attributes
    ----------
    rows : ndarray of int
        Training rows whose removal is proposed, in the order they were chosen
        (largest effect towards zero first). Empty when no set was found.
    flipped : bool
        Whether the exact refit without ``rows`` flips the conclusion (verified,
        not predicted).
    quantity : str
        What was audited, e.g. ``"decision_function"``, ``"coef[2]"`` or
        ``"margin of class 1 over class 0"``.
    initial : float
        The quantity on the fitted model.
    predicted_change : float
        Its predicted change without ``rows`` (sum of the single-row effects at the
        fitted model; NaN when ``rows`` is empty).
    actual_change : float
        Its change after the exact refit without ``rows`` (NaN if no refit was made).
    n_refits : int
        Exact refits performed.
    message : str
        How the search ended.
    conclusion : str
        ``"sign"``, ``"significance"`` or ``"opposite_significance"``.
    cov_type : str or None
        Covariance of the standard errors (``None`` when the model has none).
    alpha : float
        Significance level.
    estimate, se, p_value : float
        Refit-verified coefficient (or decision function), its standard error and
        p-value without ``rows`` (at the fitted model if ``rows`` is empty; NaN where
        the model has no standard errors).
    initial_se, initial_p_value : float
        The same at the full data.
    unit : str
        ``"rows"`` or ``"groups"``: what was removed.
    groups : list or None
        Labels of the removed groups (``unit="groups"``); ``rows`` then holds all
        their rows.
    n_units : int
        Number of rows (or groups) that could be removed.
    cap : int or None
        Largest number of units the search could remove (``max_rows`` /
        ``max_fraction``).
    certificate : Certificate or None
        Lower bound on any flipping set (least squares), see the user guide.
    predicted_statistic : str
        What ``predicted_change`` predicts: the ``"coefficient"`` (or decision
        function) for sign flips, its ``"t-statistic"`` for significance, the
        ``"functional"`` for ``conclusion="threshold"``.
    threshold : float
        For a functional (``conclusion="threshold"``): the value it had to reach
        or pass; NaN otherwise.
    """

    rows: np.ndarray
    flipped: bool
    quantity: str
    initial: float
    predicted_change: float
    actual_change: float
    n_refits: int
    message: str
    # -- added by the significance audit (skrif/_features/amip.py); defaults keep old callers --
    conclusion: str = "sign"
    cov_type: object = None
    alpha: float = 0.05
    estimate: float = float("nan")
    se: float = float("nan")
    p_value: float = float("nan")
    initial_se: float = float("nan")
    initial_p_value: float = float("nan")
    unit: str = "rows"
    groups: object = None
    n_units: int = 0
    cap: object = None
    certificate: object = None
    predicted_statistic: str = "coefficient"
    threshold: float = float("nan")

    @property
    def n_removed(self):
        """Number of removed units (rows, or groups for ``unit="groups"``)."""
        return len(self.groups) if self.groups is not None else int(self.rows.size)

    @property
    def fraction(self):
        """``n_removed`` as a fraction of the removable units."""
        return self.n_removed / self.n_units if self.n_units else float("nan")

    def __repr__(self):
        extra = ""
        if self.cov_type is not None:
            extra = (
                f", conclusion={self.conclusion!r}, cov_type={self.cov_type!r}, "
                f"estimate={self.estimate:.4g}, se={self.se:.4g}, p_value={self.p_value:.3g}"
            )
        return (
            f"FlipResult(rows={self.rows.tolist()}, flipped={self.flipped}, "
            f"quantity={self.quantity!r}, initial={self.initial:.4g}, "
            f"predicted_change={self.predicted_change:.4g}, "
            f"actual_change={self.actual_change:.4g}, n_refits={self.n_refits}{extra})"
        )


def linear_scores(rm, A, method):
    """Effect ``s_i = ⟨A_j, Δ_i⟩`` of removing each row alone on each functional.

    Parameters
    ----------
    rm : RemovalModel
    A : ndarray of shape (m, q, p̃)
        ``m`` linear functionals of the parameters.

    Returns
    -------
    scores : ndarray of shape (n, m)

    Notes
    -----
    See :meth:`~skrif._core.fitted.RemovalModel.functional_changes`: O(p̃² m q + nnz(X) m q)
    for rank-one per-row Hessians, O(n p̃²) for mean-form and multinomial ones.
    """
    return rm.functional_changes(A, method)


def _greedy_prefix(scores, values, available, max_rows):
    """Rows to remove so that some functional's additive prediction reaches zero.

    ``values`` (m,) are positive; ``scores`` (n, m). For each functional, rows with
    negative, finite effect are taken most negative first until ``value + Σ s ≤ 0``;
    the shortest such prefix over functionals wins (ties: the largest overshoot).
    Returns ``(rows, j)`` or ``(None, None)`` if no prefix of at most ``max_rows``
    rows reaches zero.
    """
    best, best_j, best_end = None, None, None
    for j in range(values.size):
        s = scores[:, j]
        usable = available & np.isfinite(s) & (s < 0)
        cand = np.flatnonzero(usable)
        if cand.size == 0:
            continue
        cand = cand[np.argsort(s[cand], kind="stable")][:max_rows]
        end = values[j] + np.cumsum(s[cand])
        hit = np.flatnonzero(end <= 0)
        if hit.size == 0:
            continue
        k = hit[0] + 1
        if best is None or k < best.size or (k == best.size and end[k - 1] < best_end):
            best, best_j, best_end = cand[:k], j, end[k - 1]
    return best, best_j


def _all_helpful(scores, values, max_rows):
    """Up to ``max_rows`` rows with negative effect, most negative first, for the
    functional whose additive prediction gets closest to zero; ``(None, None)`` if
    no row has a negative effect."""
    best, best_j, best_end = None, None, None
    for j in range(values.size):
        s = scores[:, j]
        cand = np.flatnonzero(np.isfinite(s) & (s < 0))
        if cand.size == 0:
            continue
        cand = cand[np.argsort(s[cand], kind="stable")][:max_rows]
        end = values[j] + np.sum(s[cand])
        if best is None or end < best_end:
            best, best_j, best_end = cand, j, end
    return best, best_j


def _quantity(A, theta):
    return np.einsum("mqp,qp->m", A, theta)


def removal_to_flip(rm, A, names, method, max_rows, max_refits):
    """Greedy smallest removal set that flips the sign of ``⟨A_j, θ⟩`` for some ``j``.

    Parameters
    ----------
    rm : RemovalModel
        The fitted state.
    A : ndarray of shape (m, q, p̃)
        Functionals, all nonzero at ``theta``. The conclusion flips when one of
        them reaches zero or changes sign (``m > 1``: margins to competitor classes).
    names : list of str
        A description of each functional (for :class:`FlipResult`).
    max_rows : int
        Largest set considered.
    max_refits : int
        Budget of exact refits (verification, extension and pruning).

    Returns
    -------
    FlipResult

    Notes
    -----
    Each scoring pass costs as :func:`linear_scores`; each exact refit a few
    Hessian factorizations; each extension after a failed refit one more
    factorization (re-scoring on the remaining rows).
    """
    return flip_search(
        rm,
        lambda theta: _quantity(A, theta),
        np.zeros(A.shape[0]),
        lambda state: linear_scores(state, A, method),
        names, max_rows, max_refits,
    )


#: How the search's messages name its goal: crossing zero (a sign) by default.
SIGN_GOAL = ("zero", "flip the sign", "flips the sign", "flip its sign")


def flip_search(rm, quantity, offset, score, names, max_rows, max_refits, goal=SIGN_GOAL):
    """Greedy smallest removal set that moves some quantity ``Q_j(θ)`` past
    ``offset[j]`` (reaching it counts).

    ``quantity(theta)`` returns the ``m`` quantities (m,); ``score(state)`` the
    single-row effects (n_state, m) of the rows of a RemovalModel ``state`` (the
    fitted one, or the remaining rows at a refitted optimum: ``state.theta``) on
    them. ``goal`` names the crossing in the messages (what, verb, verbs, verb
    with "its"). See the module docstring for the search.
    """
    n, theta = rm.n_samples, rm.theta
    initial = quantity(theta)
    sign = np.where(initial >= offset, 1.0, -1.0)

    def distance(th):  # positive until the quantity reaches its offset
        return sign * (quantity(th) - offset)

    scores0 = score(rm) * sign
    available = np.ones(n, dtype=bool)
    rows, j = _greedy_prefix(scores0, sign * (initial - offset), available, max_rows)
    predicted_to_flip = rows is not None
    if rows is None:
        # Additive effects underestimate groups that push the same way: still try the
        # rows that help most (up to max_rows); verification decides.
        rows, j = _all_helpful(scores0, sign * (initial - offset), max_rows)
    toward, verb, verbs, its = goal

    def result(rows, j, flipped, actual, n_refits, message):
        rows = np.asarray([] if rows is None else rows, dtype=np.intp)
        j = 0 if j is None else j
        predicted = float(sign[j] * np.sum(scores0[rows, j])) if rows.size else float("nan")
        return FlipResult(
            rows=rows,
            flipped=bool(flipped),
            quantity=names[j],
            initial=float(initial[j]),
            predicted_change=predicted,
            actual_change=float(actual),
            n_refits=int(n_refits),
            message=message,
        )

    if rows is None:
        return result(
            None, None, False, np.nan, 0,
            f"No training row's removal moves the quantity towards {toward}: no set is "
            f"predicted to {its}.",
        )

    n_refits = 0

    def refit(removed, start):
        nonlocal n_refits
        n_refits += 1
        return rm.refit_without(removed, start)

    chosen = list(rows)
    start = theta
    n_kept = 0  # length of the last set that could be refitted
    while True:
        try:
            theta_s = refit(np.array(chosen), start)
        except (ValueError, np.linalg.LinAlgError) as exc:
            # The removal leaves an undefined model (e.g. a single class, or an
            # unidentified parameter): keep the rows with the largest effects only.
            if len(chosen) <= max(1, n_kept):
                return result(chosen, j, False, np.nan, n_refits, f"Stopped: {exc}")
            chosen = chosen[: max(n_kept, len(chosen) // 2)]
            continue
        n_kept = len(chosen)
        values = distance(theta_s)
        if np.min(values) <= 0:
            j = int(np.argmin(values))
            break
        if n_refits >= max_refits or len(chosen) >= max_rows:
            actual = (quantity(theta_s) - initial)[j]
            return result(
                chosen, j, False, actual, n_refits,
                f"The exact refit without the {len(chosen)} chosen rows does not {verb}, "
                f"and the budget (max_refits={max_refits}, max_rows={max_rows}) is "
                "exhausted."
                + ("" if predicted_to_flip else " No set within max_rows was predicted to "
                   f"{verb} either."),
            )
        # Re-score on the remaining rows at the refitted model and extend the set.
        kept = np.ones(n, dtype=bool)
        kept[chosen] = False
        kept_idx = np.flatnonzero(kept)
        sub_scores = score(rm.subset(kept_idx, theta_s)) * sign
        extra, j_new = _greedy_prefix(
            sub_scores, values, np.ones(kept_idx.size, dtype=bool), max_rows - len(chosen)
        )
        if extra is None:
            extra, j_new = _all_helpful(sub_scores, values, max_rows - len(chosen))
        if extra is None:
            return result(
                chosen, j, False, (quantity(theta_s) - initial)[j], n_refits,
                f"The exact refit does not {verb} and, at the refitted model, no "
                f"remaining row's removal moves the quantity towards {toward}.",
            )
        chosen.extend(kept_idx[extra].tolist())
        j, start = j_new, theta_s
    # Flipped. Additive effects of a group are often smaller than its actual effect
    # (the set overshoots): bisect on the prefix length (rows are ordered by effect),
    # then drop single rows (smallest effect first) while the refit still flips.
    best_theta = theta_s
    lo, hi = 0, len(chosen)  # a prefix of length lo does not flip, of length hi does
    while hi - lo > 1 and n_refits < max_refits:
        mid = (lo + hi) // 2
        try:
            theta_t = refit(np.array(chosen[:mid]), theta)
        except (ValueError, np.linalg.LinAlgError):
            lo = mid
            continue
        values = distance(theta_t)
        if np.min(values) <= 0:
            hi, best_theta, j = mid, theta_t, int(np.argmin(values))
        else:
            lo = mid
    chosen = chosen[:hi]
    for row in list(reversed(chosen)):
        if n_refits >= max_refits or len(chosen) == 1:
            break
        trial = [r for r in chosen if r != row]
        try:
            theta_t = refit(np.array(trial), best_theta)
        except (ValueError, np.linalg.LinAlgError):
            continue
        values = distance(theta_t)
        if np.min(values) <= 0:
            chosen, best_theta, j = trial, theta_t, int(np.argmin(values))
    actual = (quantity(best_theta) - initial)[j]
    return result(
        chosen, j, True, actual, n_refits,
        f"The exact refit without these {len(chosen)} rows {verbs}.",
    )


def check_positive_int(value, name, upper=None):
    bound = "" if upper is None else f" and at most {upper}"
    check_params(
        {name: [Integer(1, upper, closed="both" if upper is not None else "left")]},
        {name: value},
        messages={name: f"an integer >= 1{bound}"},
    )
    return int(value)


def flip_functionals(design, theta, X_row, coef, output, classes=None):
    """The functionals ``A`` (m, q, p̃) and their names for :func:`removal_to_flip`.

    ``X_row`` (one evaluation row, validated) or ``coef`` (a feature index) chooses
    the quantity; ``output`` the model output; ``classes`` (classifiers) turns
    "the predicted class" of a model with several outputs into margins to every
    competitor class. Raises ``ValueError`` for an ambiguous or zero quantity.
    """
    q, pt = theta.shape
    if output is not None:
        if (
            not is_integer(output)
            or not -q <= output < q
        ):
            raise ValueError(
                f"output must be an integer in 0..{q - 1} (negative values count from "
                f"the end; the model has {q} output(s)); got {output!r}."
            )
        output = int(output) % q
    if X_row is not None:

        xt = design.for_rows(X_row).rows(slice(None))[0]
        z = theta @ xt
        if q == 1 or output is not None:
            k = 0 if output is None else output
            A = np.zeros((1, q, pt))
            A[0, k] = xt
            names = ["decision_function" if q == 1 else f"decision_function[{k}]"]
        elif classes is not None:
            k = int(np.argmax(z))
            others = [c for c in range(q) if c != k]
            A = np.zeros((len(others), q, pt))
            for m, c in enumerate(others):
                A[m, k] = xt
                A[m, c] = -xt
            label = [c.item() if isinstance(c, np.generic) else c for c in classes]
            names = [f"margin of class {label[k]!r} over class {label[c]!r}" for c in others]
        else:
            raise ValueError(
                f"This model has {q} outputs: pass output=<index in 0..{q - 1}> to choose "
                "whose sign to flip."
            )
    else:
        n_features = design.n_features
        if (
            not is_integer(coef)
            or not -n_features <= coef < n_features
        ):
            raise ValueError(
                f"coef must be a feature index in 0..{n_features - 1} (negative values "
                f"count from the end); got {coef!r}."
            )
        coef = int(coef) % n_features
        if q > 1 and output is None:
            raise ValueError(
                f"coef_ has {q} rows here: pass output=<index in 0..{q - 1}> to choose "
                "which row's coefficient to flip."
            )
        k = 0 if output is None else output
        A = np.zeros((1, q, pt))
        A[0, k, coef] = 1.0
        names = [f"coef[{coef}]" if q == 1 else f"coef[{k}, {coef}]"]
    values = np.einsum("mqp,qp->m", A, theta)
    if np.any(values == 0):
        raise ValueError(
            f"{names[int(np.argmin(np.abs(values)))]} is exactly 0 on the fitted model: "
            "it has no sign to flip."
        )
    return A, names
