"""Robustness audit: the fewest rows (or groups) whose removal flips a conclusion
about a coefficient — its sign, its significance, or both — verified by refits.

This is the "approximate maximum influence perturbation" (AMIP) of Broderick,
Giordano & Meager, with the standard errors statsmodels defines
(:mod:`skrif._features.robust_se`). The conclusion is a threshold on a statistic ``g`` of the
fit, ``g > 0`` at the full data and flipped once ``g ≤ 0``:

* ``"sign"``: ``g = σ₀ θ_j`` (``σ₀`` the sign of the fitted coefficient);
* ``"significance"``: ``g = |t_j| − t*`` (``t*`` the two-sided critical value at
  level α): the coefficient is significant and loses it; flipped means ``p ≥ α``
  (a removal that jumps over the band into the opposite significance is not a flip;
  the search then moves back);
* ``"opposite_significance"``: ``g = σ₀ t_j + t*``: flipped means significant with
  the opposite sign (``σ₀ θ_j < 0`` and ``p < α``).

**Search.** Every removal unit (row or group) is scored by the first-order change
of ``g`` when its weight goes from 1 to 0: ``−dg/dε`` with ``dt/dε`` from
:meth:`skrif._features.robust_se.CoefficientFit.t_derivative` (for ``"sign"`` the influence
on ``θ_j``; for penalised models the additive single-row effects of
:mod:`skrif._features.audit`). Units are taken most helpful first until the predicted
``g`` reaches 0 (or, if no prefix within the cap is predicted to, half the room
left), the model is **refitted exactly** without them and the standard error
recomputed. If it has not flipped the batch is accepted and the remaining units
are re-scored at the refitted model; once a batch flips, the shortest flipping
prefix of that batch is found by bisection and units are then dropped one at a
time (last added first) while the refit still flips. Every reported number comes
from an exact refit; the set is not guaranteed minimal.

**Certificate** (:func:`certificate`). For least squares, either exact
enumeration (tiny problems: every set smaller than the greedy one is refitted),
or, for the sign of one coefficient, a sound lower bound from the exact
Sherman–Morrison–Woodbury form of a removal (stated there). Otherwise "no
certificate".
"""

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from .robust_se import COV_TYPES, CoefficientFit, family_of

CONCLUSIONS = ("sign", "significance", "opposite_significance")
UNITS = ("rows", "groups")
#: Exact enumeration is used as a certificate up to this many candidate sets.
ENUMERATION_LIMIT = 20_000


# -- the one adapter to the fitted state -------------------------------------


class RemovalState:
    """What the audit needs from a fitted :class:`~skrif.InfluenceEstimator`: its
    :class:`~skrif._core.fitted.RemovalModel` (``est._removal``) and a few views of it.
    Nothing else in this module touches the estimator's private state.
    """

    def __init__(self, est):
        self._removal = est._fitted_removal()
        self.problem, self.theta = self._removal.problem, self._removal.theta
        self.objective = self.problem.objective
        self.design = self.problem.design
        self.n_samples = self.design.n_samples
        self.n_outputs = self.theta.shape[0]
        self.weights = self.problem.weights
        self.Y = self.problem.Y

    def dense_design(self):
        """``X̃`` as a dense (n, p̃) array (intercept column last)."""
        return self.design.rows(slice(None))

    def refit(self, keep, start):
        """Exact optimum without the rows where ``keep`` is 0; ``ValueError`` if the
        rows left cannot be fitted (e.g. a single class)."""
        weights = self.weights * keep
        self.objective.check_removal(self.Y, weights)
        return self._removal.refit(weights, start=start)

    def linear_effects(self, theta, keep, A, method):
        """Additive effect of removing each row on ``⟨A, θ⟩`` (n,) at the model
        ``theta`` fitted on the kept rows (NaN for removed rows)."""
        if np.all(keep > 0) and theta is self.theta:
            return self._removal.functional_changes(A[None], method)[:, 0]
        out = np.full(self.n_samples, np.nan)
        kept = np.flatnonzero(keep > 0)
        sub = self._removal.subset(kept, theta)
        out[kept] = sub.functional_changes(A[None], method)[:, 0]
        return out


# -- conclusions ---------------------------------------------------------------


@dataclass
class Evaluation:
    """A conclusion's statistic at one (exact) fit."""

    g: float
    flipped: bool
    estimate: float
    se: float
    t: float
    p_value: float
    df: float
    theta: np.ndarray
    fit: object = None
    #: Whether the statistic has passed the threshold from the fitted side (for
    #: significance: ``σ₀ t ≤ t*``, possibly beyond the band); ``None``: ``flipped``.
    crossed: object = None

    @property
    def passed(self):
        return self.flipped or bool(self.crossed)


class StandardErrorCriterion:
    """Sign or significance of coefficient ``j`` with statsmodels' standard errors."""

    def __init__(self, state, j, conclusion, alpha, cov_type, clusters, use_t, family):
        self.state, self.j, self.conclusion, self.alpha = state, j, conclusion, alpha
        self.cov_type, self.clusters, self.use_t, self.family = cov_type, clusters, use_t, family
        self.Xt = state.dense_design()
        self.y = state.Y[:, 0]
        self.sigma0 = 1.0

    def evaluate(self, theta, keep):
        fit = CoefficientFit(
            self.Xt, self.y, self.state.weights, keep, theta[0], self.family,
            self.cov_type, self.clusters, self.use_t,
        )
        est, se, t, p, df = fit.inference(self.j)
        crit = fit.critical_value(self.alpha)
        s0 = self.sigma0
        if self.conclusion == "sign":
            g, flipped = s0 * est, s0 * est <= 0
        elif self.conclusion == "significance":
            # |t| − t*: a removal that jumps over the non-significant band into the
            # opposite significance is still "not flipped", and the next ranking
            # (by sign(t)·dt) moves back towards the band.
            g, flipped = abs(t) - crit, p >= self.alpha
        else:
            g, flipped = s0 * t + crit, (s0 * est < 0) and (p < self.alpha)
        crossed = s0 * t <= crit if self.conclusion == "significance" else None
        return Evaluation(float(g), bool(flipped), est, se, t, p, df, theta, fit, crossed)

    def row_scores(self, ev, keep):
        """Predicted change of ``g`` when each row is removed (first order)."""
        if self.conclusion == "sign":
            d = ev.fit.beta_derivative(self.j)
        else:
            d = ev.fit.t_derivative(self.j)
        direction = np.sign(ev.t) if self.conclusion == "significance" else self.sigma0
        scores = -direction * d
        scores[keep == 0] = np.nan
        return scores

    def group_extra(self, ev):
        """Extra first-order change of ``g`` on removing a whole cluster (``G`` drops)."""
        if self.conclusion == "sign" or self.cov_type != "cluster":
            return 0.0
        direction = np.sign(ev.t) if self.conclusion == "significance" else self.sigma0
        return -direction * ev.fit.cluster_count_term(self.j)


class LinearCriterion:
    """Sign of ``⟨A, θ⟩`` for any supported model (additive single-row effects)."""

    def __init__(self, state, A, method):
        self.state, self.A, self.method = state, A, method
        self.sigma0 = 1.0

    def evaluate(self, theta, keep):
        est = float(np.sum(self.A * theta))
        g = self.sigma0 * est
        nan = float("nan")
        return Evaluation(g, g <= 0, est, nan, nan, nan, nan, theta)

    def row_scores(self, ev, keep):
        return self.state.linear_effects(ev.theta, keep, self.sigma0 * self.A, self.method)

    def group_extra(self, ev):
        return 0.0


# -- the search ----------------------------------------------------------------


@dataclass
class SearchResult:
    units: list
    flipped: bool
    evaluation: Evaluation
    n_refits: int
    message: str
    predicted_change: float = float("nan")
    history: list = field(default_factory=list)


class _Units:
    """Removal units: single rows, or the groups of a :class:`~skrif._utils.groups.Groups`."""

    def __init__(self, n_samples, groups=None):
        self.n_samples, self.groups = n_samples, groups
        self.n_units = n_samples if groups is None else groups.n_groups

    def keep(self, units):
        keep = np.ones(self.n_samples)
        if len(units):
            rows = (
                np.asarray(units, dtype=np.intp)
                if self.groups is None
                else self.groups.rows(units)
            )
            keep[rows] = 0.0
        return keep

    def scores(self, row_scores, extra):
        if self.groups is None:
            return row_scores
        finite = np.where(np.isfinite(row_scores), row_scores, 0.0)
        out = np.bincount(self.groups.codes, weights=finite, minlength=self.n_units) + extra
        return out


def greedy_search(criterion, units, theta0, ev0, cap, max_refits):
    """Greedy verified search (see the module docstring).

    Returns a :class:`SearchResult`. Cost per accepted batch: one exact refit (a few
    Hessian factorizations, O(n p̃²) each) and one scoring pass (O(n p̃²) for
    standard-error criteria; HC2/HC3 add a p̃ × p̃ quadratic form per row).
    """
    state_n_refits = 0
    removed = []
    ev = ev0
    exhausted = set()
    history = []

    def refit(unit_list, start):
        nonlocal state_n_refits
        keep = units.keep(unit_list)
        state_n_refits += 1
        theta = criterion.state.refit(keep, start)
        return criterion.evaluate(theta, keep)

    first_scores = None
    limit = None  # batch size after a refit that could not be made
    while True:
        keep = units.keep(removed)
        scores = units.scores(criterion.row_scores(ev, keep), criterion.group_extra(ev))
        scores = np.array(scores, dtype=float)
        if first_scores is None:
            first_scores = scores.copy()
        if removed:
            scores[np.asarray(removed, dtype=np.intp)] = np.nan
        if exhausted:
            scores[list(exhausted)] = np.nan
        helpful = np.flatnonzero(np.isfinite(scores) & (scores < 0))
        room = cap - len(removed)
        if helpful.size == 0:
            return _ended(removed, False, ev, state_n_refits, first_scores, history,
                          "no remaining unit's removal moves the statistic towards the flip "
                          "(first-order effects at the last refit)")
        order = helpful[np.argsort(scores[helpful], kind="stable")][:room]
        cum = ev.g + np.cumsum(scores[order])
        hit = np.flatnonzero(cum <= 0)
        if hit.size:
            k = int(hit[0]) + 1
        else:
            # Not predicted to flip within the cap: accept half the room, re-rank.
            k = order.size if order.size <= 1 or room <= 2 else max(1, order.size // 2)
        if limit is not None:
            k = min(k, limit)
        batch = order[:k].tolist()
        try:
            ev_new = refit(removed + batch, ev.theta)
        except ValueError as exc:
            history.append(f"refit failed: {exc}")
            if len(batch) == 1:
                exhausted.add(batch[0])  # this unit cannot go (e.g. its class's last row)
            else:
                limit = len(batch) // 2  # it removed too much (e.g. a class): halve it
            if state_n_refits >= max_refits:
                return _ended(removed, False, ev, state_n_refits, first_scores, history,
                              f"the refit budget (max_refits={max_refits}) is exhausted")
            continue
        history.append((len(removed) + len(batch), ev_new.g, ev_new.flipped))
        if ev_new.passed:
            # The batch crossed the threshold (flipped, or for significance possibly
            # jumped over the non-significant band into the opposite significance):
            # bisect for the shortest crossing prefix.
            lo, ev_lo, hi, ev_hi, flip_len, ev_flip = _bisect(
                removed, batch, ev, ev_new, refit, lambda: state_n_refits, max_refits
            )
            if ev_flip is not None:
                return _prune(removed + batch[:flip_len], ev_flip, refit,
                              lambda: state_n_refits, max_refits, first_scores, history)
            # Even the shortest crossing prefix jumps over the band: keep the rows
            # before it, set aside the unit that jumps, and go on.
            removed = removed + batch[:lo]
            ev = ev_lo
            exhausted.add(batch[lo])
            limit = 1
            if state_n_refits >= max_refits:
                return _ended(removed, False, ev, state_n_refits, first_scores, history,
                              f"the refit budget (max_refits={max_refits}) is exhausted "
                              "before a flip")
            continue
        if ev_new.g >= ev.g:
            # The batch moved the statistic away from the flip (first order misled,
            # e.g. tiny samples): reject it and try a smaller one; a single unit that
            # does so is set aside.
            if len(batch) == 1:
                exhausted.add(batch[0])
            else:
                limit = len(batch) // 2
            if state_n_refits >= max_refits:
                return _ended(removed, False, ev, state_n_refits, first_scores, history,
                              f"the refit budget (max_refits={max_refits}) is exhausted "
                              "before a flip")
            continue
        removed = removed + batch
        ev = ev_new
        limit = None
        if len(removed) >= cap:
            return _ended(removed, False, ev, state_n_refits, first_scores, history,
                          f"not flipped within the cap of {cap} units")
        if state_n_refits >= max_refits:
            return _ended(removed, False, ev, state_n_refits, first_scores, history,
                          f"the refit budget (max_refits={max_refits}) is exhausted "
                          "before a flip")


def _ended(removed, flipped, ev, n_refits, first_scores, history, message):
    predicted = float("nan")
    if removed:
        predicted = float(np.nansum(first_scores[np.asarray(removed, dtype=np.intp)]))
    return SearchResult(list(removed), flipped, ev, n_refits, message, predicted, history)


def _bisect(removed, batch, ev_before, ev_after, refit, n_refits, max_refits):
    """Shortest prefix of ``batch`` whose refit passes the threshold (flipped, or for
    significance ``σ₀ t ≤ t*``), by bisection (prefixes are ordered by first-order
    effect).

    Returns ``(lo, ev_lo, hi, ev_hi, flip_len, ev_flip)``: the longest prefix known
    not to cross, the shortest known to cross, and the shortest *flipped* prefix
    seen (``(None, None)`` if none).
    """
    lo, hi = 0, len(batch)
    ev_lo, ev_hi = ev_before, ev_after
    flip_len, ev_flip = (hi, ev_after) if ev_after.flipped else (None, None)
    while hi - lo > 1 and n_refits() < max_refits:
        mid = (lo + hi) // 2
        try:
            ev_mid = refit(removed + batch[:mid], ev_before.theta)
        except ValueError:
            lo = mid  # not a usable set; the crossing lies beyond it
            continue
        if ev_mid.flipped and (flip_len is None or mid < flip_len):
            flip_len, ev_flip = mid, ev_mid
        if ev_mid.passed:
            hi, ev_hi = mid, ev_mid
        else:
            lo, ev_lo = mid, ev_mid
    return lo, ev_lo, hi, ev_hi, flip_len, ev_flip


def _prune(chosen, best, refit, n_refits, max_refits, first_scores, history):
    """Drop single units (last added first) while the refit still flips; repeat the
    pass while it removed something (flips are not monotone in the set) and the
    budget lasts."""
    chosen = list(chosen)
    changed = True
    while changed and len(chosen) > 1 and n_refits() < max_refits:
        changed = False
        for unit in list(reversed(chosen)):
            if n_refits() >= max_refits or len(chosen) == 1:
                break
            trial = [u for u in chosen if u != unit]
            try:
                ev_t = refit(trial, best.theta)
            except ValueError:
                continue
            if ev_t.flipped:
                chosen, best, changed = trial, ev_t, True
    return _ended(chosen, True, best, n_refits(), first_scores, history,
                  f"the exact refit without the {len(chosen)} chosen units flips the conclusion")


# -- certificate -----------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """A lower bound on the size of any flipping set.

    Attributes
    ----------
    method : str
        ``"enumeration"``, ``"woodbury bound"`` or ``"none"``.
    lower_bound : int or None
        No set of fewer than ``lower_bound`` units flips the conclusion (``None``:
        no certificate).
    minimal : bool
        Whether the reported set is certified minimal (``lower_bound`` equals its size).
    detail : str
        The method's assumptions.
    """

    method: str
    lower_bound: object
    minimal: bool
    detail: str


NO_CERTIFICATE = Certificate("none", None, False, "no certificate for this model/conclusion")


def certificate(criterion, units, ev0, found_size, flipped, budget=ENUMERATION_LIMIT):
    """Certificate for a least-squares audit (else :data:`NO_CERTIFICATE`).

    *Enumeration* (any conclusion and covariance, rows or groups): if the number of
    sets smaller than the greedy one (all sets up to the cap when nothing flipped)
    is at most ``budget``, each is refitted in closed form; the smallest flipping
    size found is exact. Assumes nothing beyond exact arithmetic.

    *Woodbury bound* (sign of one coefficient, rows, OLS/WLS): removing a set ``S``
    changes ``θ_j`` by exactly ``−u_Sᵀ(I − H_SS)⁻¹e_S`` (whitened rows ``x̃*_i =
    √s_i x̃_i``, residuals ``e*_i = √s_i r_i``, ``u_i = x̃*_iᵀA⁻¹e_j``, ``H_SS`` the
    leverage block). With ``(I − H)⁻¹ = I + H(I − H)⁻¹``, ``‖H_SS‖ ≤ tr H_SS = Σ_S h_i``
    and Cauchy–Schwarz, a flip needs ``T₁(k) + T₂(k) ≥ |θ_j|`` for some ``|S| = k``, with
    ``T₁(k)`` the sum of the ``k`` largest positive ``σ₀u_ie_i`` and
    ``T₂(k) = (Σ_top-k u²)^½ (Σ_top-k e²)^½ L/(1 − L)``, ``L`` the sum of the ``k``
    largest leverages (valid while ``L < 1``). Both are non-decreasing in ``k``, so the
    first ``k`` where the bound reaches ``|θ_j|`` is a lower bound. Assumes exact
    OLS at the full data (the fit is at the optimum to ~1e-12).
    """
    if not isinstance(criterion, StandardErrorCriterion) or criterion.family != "gaussian":
        return NO_CERTIFICATE
    n_units = units.n_units
    top = found_size - 1 if flipped else None
    if top is not None and top == 0:
        return Certificate("trivial", 1, True, "a single unit flips the conclusion")
    limit_k = top if top is not None else None
    if limit_k is not None:
        count = sum(math.comb(n_units, k) for k in range(1, limit_k + 1))
        if count <= budget:
            return _enumerate(criterion, units, limit_k, found_size)
    if criterion.conclusion == "sign" and units.groups is None:
        return _woodbury_bound(criterion, ev0, found_size if flipped else None)
    return NO_CERTIFICATE


def _closed_form_evaluation(criterion, keep):
    Xt, y, s = criterion.Xt, criterion.y, criterion.state.weights
    w = s * keep
    A = (Xt * w[:, None]).T @ Xt
    theta = np.linalg.solve(A, Xt.T @ (w * y))
    return criterion.evaluate(theta[None, :], keep)


def _enumerate(criterion, units, max_k, found_size):
    for k in range(1, max_k + 1):
        for S in combinations(range(units.n_units), k):
            keep = units.keep(list(S))
            try:
                ev = _closed_form_evaluation(criterion, keep)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if ev.flipped:
                return Certificate(
                    "enumeration", k, k == found_size,
                    f"exhaustive search: a set of {k} units flips; none smaller does",
                )
    return Certificate(
        "enumeration", max_k + 1, max_k + 1 == found_size,
        f"exhaustive search over every set of at most {max_k} units: none flips",
    )


def _woodbury_bound(criterion, ev0, found_size):
    fit = ev0.fit
    Xt, s, r = criterion.Xt, criterion.state.weights, fit.r
    j = criterion.j
    e = np.zeros(Xt.shape[1])
    e[j] = 1.0
    a = fit.solve(e)
    root = np.sqrt(s)
    u = root * (Xt @ a)
    estar = root * r
    h = fit.leverages()
    target = abs(ev0.estimate)
    contrib = np.sort(np.maximum(criterion.sigma0 * u * estar, 0.0))[::-1]
    T1 = np.cumsum(contrib)
    Tu = np.cumsum(np.sort(u**2)[::-1])
    Te = np.cumsum(np.sort(estar**2)[::-1])
    L = np.cumsum(np.sort(h)[::-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        T2 = np.where(L < 1.0, np.sqrt(Tu * Te) * L / (1.0 - L), np.inf)
    bound = T1 + T2
    reach = np.flatnonzero(bound >= target)
    lower = int(reach[0]) + 1 if reach.size else None
    if lower is None:  # pragma: no cover - the bound reaches ∞ once L ≥ 1
        return NO_CERTIFICATE
    return Certificate(
        "woodbury bound", lower, found_size is not None and lower == found_size,
        "no set of fewer rows can flip the sign (exact OLS removal formula, "
        "Cauchy–Schwarz and ‖H_SS‖ ≤ tr H_SS; valid while the summed top leverages < 1)",
    )


# -- coefficient names ---------------------------------------------------------


def resolve_coef(coef, n_features, feature_names):
    """Index of ``coef`` (an int, negative from the end, or a feature name)."""
    from .._utils.checks import is_integer

    if isinstance(coef, str):
        if feature_names is None:
            raise ValueError(
                f"coef={coef!r} is a name, but the model was fitted without feature "
                "names (fit on a pandas DataFrame to use them); pass an index."
            )
        names = [str(c) for c in feature_names]
        if coef not in names:
            shown = names if len(names) <= 20 else names[:20] + ["..."]
            raise ValueError(f"coef={coef!r} is not a feature name; the features are {shown}.")
        return names.index(coef)
    if not is_integer(coef) or not -n_features <= coef < n_features:
        raise ValueError(
            f"coef must be a feature index in 0..{n_features - 1} (negative values "
            f"count from the end) or a feature name; got {coef!r}."
        )
    return int(coef) % n_features


def check_alpha(alpha):
    import numbers

    if (
        isinstance(alpha, (bool, np.bool_))
        or not isinstance(alpha, (numbers.Real, np.floating))
        or not 0.0 < float(alpha) < 1.0
    ):
        raise ValueError(f"alpha must be a number strictly between 0 and 1; got {alpha!r}.")
    return float(alpha)


def check_choice(value, options, name):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}.")
    return value


def cap_for(n_units, max_rows, max_fraction):
    """Largest number of units to remove: ``max_rows`` if given, else
    ``floor(max_fraction · n_units)`` (at least 1); ``max_fraction=None``: ``n_units − 1``."""
    from .audit import check_positive_int

    if max_rows is not None:
        return check_positive_int(max_rows, "max_rows", n_units - 1)
    if max_fraction is None:
        return n_units - 1
    import numbers

    if (
        isinstance(max_fraction, (bool, np.bool_))
        or not isinstance(max_fraction, (numbers.Real, np.floating))
        or not 0.0 < float(max_fraction) < 1.0
    ):
        raise ValueError(
            f"max_fraction must be a number strictly between 0 and 1 (or None for no "
            f"cap); got {max_fraction!r}."
        )
    return max(1, min(n_units - 1, int(math.floor(float(max_fraction) * n_units))))


# -- orchestration (called by InfluenceEstimator.removal_to_flip) ------------------


class ConclusionAlreadyFalse(ValueError):
    """The conclusion to flip does not hold at the full data."""


def uses_search(X, conclusion, cov_type, groups, unit):
    """Whether a call needs this module's search (otherwise the historic row search
    of :func:`skrif._features.audit.removal_to_flip` runs, its behaviour unchanged)."""
    return conclusion != "sign" or unit == "groups"


def prepare(est, state, j, conclusion, alpha, cov_type, groups, unit, use_t):
    """Validate the audit's arguments against the fitted model.

    Returns ``(family, clusters, removal_groups)``.
    """
    from .._utils.groups import check_groups

    check_choice(conclusion, CONCLUSIONS, "conclusion")
    check_choice(cov_type, COV_TYPES, "cov_type")
    check_choice(unit, UNITS, "unit")
    alpha = check_alpha(alpha)
    if use_t is not None and not isinstance(use_t, (bool, np.bool_)):
        raise ValueError(f"use_t must be True, False or None; got {use_t!r}.")
    family, reason = family_of(state.objective, state.n_outputs)
    needs_se = conclusion != "sign" or cov_type != "nonrobust"
    if needs_se and j is None:
        raise ValueError(
            f"conclusion={conclusion!r} / cov_type={cov_type!r} apply to a coefficient "
            "(coef=...); a prediction (X) can only have its sign flipped."
        )
    if needs_se and family is None:
        raise ValueError(
            f"conclusion={conclusion!r} with cov_type={cov_type!r} needs standard errors, "
            f"which skrif does not define here: {reason}. Sign and prediction flips "
            "(conclusion='sign', cov_type='nonrobust') remain available."
        )
    if groups is None:
        if cov_type == "cluster":
            raise ValueError('cov_type="cluster" needs cluster labels: pass groups=.')
        if unit == "groups":
            raise ValueError('unit="groups" needs group labels: pass groups=.')
        return family, None, None
    if cov_type != "cluster" and unit != "groups":
        raise ValueError(
            "groups= is given but unused: it labels clusters for cov_type='cluster' "
            "and/or removal units for unit='groups'."
        )
    classes = None
    if state.objective.is_classifier:
        classes = np.argmax(state.Y, axis=1) if state.Y.shape[1] > 1 else state.Y[:, 0]
    labels = check_groups(
        groups, state.n_samples, classes=classes if unit == "groups" else None,
        removable=unit == "groups",
    )
    return family, (labels if cov_type == "cluster" else None), (
        labels if unit == "groups" else None
    )


def full_data_inference(state, j, family, cov_type, clusters, use_t, theta=None, keep=None):
    """``(estimate, se, t, p, df)`` of coefficient ``j`` at ``theta`` (default: the fit)."""
    theta = state.theta if theta is None else theta
    keep = np.ones(state.n_samples) if keep is None else keep
    fit = CoefficientFit(
        state.dense_design(), state.Y[:, 0], state.weights, keep, theta[0], family,
        cov_type, clusters, use_t,
    )
    return fit.inference(j)


def run(est, A, names, j, *, conclusion, alpha, cov_type, groups, unit, max_rows,
        max_fraction, max_refits, use_t, method):
    """The audit of :meth:`~skrif.InfluenceEstimator.removal_to_flip` (new search)."""
    from .audit import FlipResult

    state = RemovalState(est)
    family, clusters, removal_groups = prepare(
        est, state, j, conclusion, alpha, cov_type, groups, unit, use_t
    )
    alpha = float(alpha)
    units = _Units(state.n_samples, removal_groups)
    what = "rows" if removal_groups is None else "groups"
    cap = cap_for(units.n_units, max_rows, max_fraction)
    if family is not None and j is not None:
        criterion = StandardErrorCriterion(
            state, j, conclusion, alpha, cov_type, clusters, use_t, family
        )
    else:
        if A.shape[0] != 1:
            raise ValueError(
                "Group removal flips one quantity's sign; this prediction has several "
                "class margins (multiclass): audit it with unit='rows'."
            )
        criterion = LinearCriterion(state, A[0], method)
    keep0 = np.ones(state.n_samples)
    ev0 = criterion.evaluate(state.theta, keep0)
    criterion.sigma0 = 1.0 if ev0.estimate > 0 else -1.0
    ev0 = criterion.evaluate(state.theta, keep0)
    name = names[0]
    if conclusion == "significance" and ev0.p_value >= alpha:
        raise ConclusionAlreadyFalse(
            f"{name} is not significant at alpha={alpha:g} on the full data (p = "
            f"{ev0.p_value:.3g} with cov_type={cov_type!r}): there is no significance to "
            "lose. Use conclusion='opposite_significance' to ask whether a removal makes "
            "it significant with the opposite sign."
        )
    if ev0.flipped:  # pragma: no cover - excluded by the checks above
        raise ConclusionAlreadyFalse(f"The conclusion about {name} is already false.")
    max_refits = 50 if max_refits is None else max_refits
    found = greedy_search(criterion, units, state.theta, ev0, cap, max_refits)
    cert = certificate(criterion, units, ev0, len(found.units), found.flipped)
    rows = (
        np.asarray(found.units, dtype=np.intp)
        if removal_groups is None
        else removal_groups.rows(found.units)
    )
    group_labels = (
        None if removal_groups is None else [removal_groups.label(g) for g in found.units]
    )
    ev = found.evaluation
    status = "flipped" if found.flipped else "not flipped"
    message = (
        f"{status.capitalize()}: {found.message.replace('units', what)} (cap {cap} {what} = "
        f"{cap / units.n_units:.1%}; {found.n_refits} exact refits)."
    )
    stat = "coefficient" if conclusion == "sign" else "t-statistic"
    return FlipResult(
        rows=rows,
        flipped=bool(found.flipped),
        quantity=name,
        initial=float(ev0.estimate),
        predicted_change=float(criterion.sigma0 * found.predicted_change),
        actual_change=float(ev.estimate - ev0.estimate) if found.units else float("nan"),
        n_refits=int(found.n_refits),
        message=message,
        conclusion=conclusion,
        cov_type=cov_type if family is not None and j is not None else None,
        alpha=alpha,
        estimate=float(ev.estimate),
        se=float(ev.se),
        p_value=float(ev.p_value),
        initial_se=float(ev0.se),
        initial_p_value=float(ev0.p_value),
        unit=what,
        groups=group_labels,
        n_units=units.n_units,
        cap=cap,
        certificate=cert,
        predicted_statistic=stat,
    )


def annotate(est, result, j, cov_type, groups, use_t, alpha, cap):
    """Add the refit-verified estimate, standard error and p-value after removal to a
    result of the historic sign search (coefficients of models with standard errors;
    otherwise the estimate only)."""
    import dataclasses

    from .._utils.groups import check_groups

    state = RemovalState(est)
    family, _ = family_of(state.objective, state.n_outputs)
    after = result.initial + result.actual_change if result.rows.size else result.initial
    fields = dict(conclusion="sign", alpha=alpha, estimate=float(after), unit="rows",
                  n_units=state.n_samples, cap=cap, predicted_statistic="coefficient")
    if family is not None and j is not None:
        clusters = None
        if cov_type == "cluster":
            clusters = check_groups(groups, state.n_samples, removable=False)
        keep = np.ones(state.n_samples)
        keep[result.rows] = 0.0
        theta = state.refit(keep, state.theta) if result.rows.size else state.theta
        e0, se0, _, p0, _ = full_data_inference(state, j, family, cov_type, clusters, use_t)
        fields.update(cov_type=cov_type, initial_se=se0, initial_p_value=p0)
        try:
            est_, se, _, p, _ = full_data_inference(
                state, j, family, cov_type, clusters, use_t, theta=theta, keep=keep
            )
            fields.update(estimate=est_, se=se, p_value=p)
        except ValueError as exc:
            # e.g. no residual degrees of freedom left: the estimate stands, the
            # standard error does not exist.
            fields.update(message=f"{result.message} No standard error after removal: {exc}")
        if family == "gaussian":
            criterion = StandardErrorCriterion(
                state, j, "sign", alpha, cov_type, clusters, use_t, family
            )
            criterion.sigma0 = 1.0 if e0 > 0 else -1.0
            ev0 = criterion.evaluate(state.theta, np.ones(state.n_samples))
            fields["certificate"] = certificate(
                criterion, _Units(state.n_samples), ev0, int(result.rows.size), result.flipped
            )
    return dataclasses.replace(result, **fields)


# -- the AMIP summary --------------------------------------------------------------

SUMMARY_LABELS = {
    "sign": "sign",
    "significance": "significance",
    "opposite_significance": "both",
}


@dataclass(frozen=True)
class AMIPSummary:
    """For each coefficient, how many rows (or groups) must go to flip its sign, its
    significance, or both (significant with the opposite sign), verified by refits.

    Like zaminfluence's summary (Broderick, Giordano & Meager). Returned by
    :meth:`~skrif.InfluenceEstimator.amip_summary`.

    Attributes
    ----------
    results : dict
        ``{(coef_name, conclusion): FlipResult}``; ``None`` where the conclusion does
        not hold at the full data (e.g. a coefficient that is not significant has no
        significance to lose).
    labels : dict
        ``{(coef_name, conclusion): list}``: the removed rows' labels (the training
        ``DataFrame``'s index when fitted on one, else row positions), or the removed
        groups' labels.
    reasons : dict
        ``{(coef_name, conclusion): str}`` for the entries that are ``None``.
    """

    results: dict
    labels: dict
    reasons: dict
    alpha: float
    cov_type: str
    unit: str

    def table(self):
        """One dict per (coefficient, conclusion): counts, fractions, refit values."""
        out = []
        for (name, conclusion), r in self.results.items():
            row = {"coef": name, "conclusion": SUMMARY_LABELS[conclusion]}
            if r is None:
                row.update(n_removed=None, fraction=None, flipped=None, estimate=None,
                           se=None, p_value=None, removed=None,
                           note=self.reasons[(name, conclusion)])
            else:
                row.update(
                    n_removed=r.n_removed if r.flipped else None,
                    fraction=r.fraction if r.flipped else None,
                    flipped=r.flipped,
                    initial=r.initial,
                    initial_se=r.initial_se,
                    estimate=r.estimate,
                    se=r.se,
                    p_value=r.p_value,
                    removed=self.labels[(name, conclusion)] if r.flipped else None,
                    note="" if r.flipped else f"not flipped within the cap ({r.cap} {r.unit})",
                )
            out.append(row)
        return out

    def to_frame(self):
        """The :meth:`table` as a pandas DataFrame (pandas required)."""
        from .._utils.frames import _import_pandas

        return _import_pandas().DataFrame(self.table())

    def __repr__(self):
        lines = [
            f"AMIP summary ({self.unit} removed; cov_type={self.cov_type!r}, "
            f"alpha={self.alpha:g}; every flip verified by an exact refit)",
            f"{'coef':<16} {'flip':<13} {'removed':>8} {'fraction':>9} "
            f"{'estimate':>10} {'se':>9} {'p':>8}",
        ]
        for row in self.table():
            if row["flipped"] is None:
                lines.append(f"{row['coef']:<16} {row['conclusion']:<13} {'n/a':>8}  {row['note']}")
                continue
            if not row["flipped"]:
                lines.append(f"{row['coef']:<16} {row['conclusion']:<13} {'-':>8}  {row['note']}")
                continue
            lines.append(
                f"{row['coef']:<16} {row['conclusion']:<13} {row['n_removed']:>8} "
                f"{row['fraction']:>9.2%} {row['estimate']:>10.4g} {row['se']:>9.3g} "
                f"{row['p_value']:>8.3g}"
            )
        return "\n".join(lines)


def summary(est, coefs, *, alpha, cov_type, groups, unit, max_rows, max_fraction,
            max_refits, use_t):
    """Build an :class:`AMIPSummary` (see :meth:`~skrif.InfluenceEstimator.amip_summary`)."""
    state = RemovalState(est)
    family, reason = family_of(state.objective, state.n_outputs)
    names = getattr(est, "feature_names_in_", None)
    if coefs is None:
        indices = list(range(est.n_features_in_))
    else:
        if isinstance(coefs, (str, int, np.integer)):
            coefs = [coefs]
        indices = [resolve_coef(c, est.n_features_in_, names) for c in coefs]
    conclusions = CONCLUSIONS if family is not None else ("sign",)
    index = getattr(est, "training_index_", None)
    results, labels, reasons = {}, {}, {}
    for j in indices:
        name = str(names[j]) if names is not None else f"x{j}"
        for conclusion in conclusions:
            key = (name, conclusion)
            try:
                r = est.removal_to_flip(
                    coef=j, conclusion=conclusion, alpha=alpha, cov_type=cov_type,
                    groups=groups, unit=unit, max_rows=max_rows,
                    max_fraction=max_fraction, max_refits=max_refits, use_t=use_t,
                )
            except ConclusionAlreadyFalse as exc:
                results[key], reasons[key] = None, str(exc)
                continue
            results[key] = r
            if r.groups is not None:
                labels[key] = list(r.groups)
            elif index is not None:
                labels[key] = list(index[r.rows])
            else:
                labels[key] = r.rows.tolist()
    return AMIPSummary(results, labels, reasons, float(alpha), cov_type, unit)
