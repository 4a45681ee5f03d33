"""The search behind the AMIP audit: a greedy, refit-verified search for the fewest
rows (or groups) whose removal flips a conclusion, and certificates that no
smaller set does."""

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from .robust_se import CoefficientFit

#: Exact enumeration is used as a certificate up to this many candidate sets.
ENUMERATION_LIMIT = 20_000


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
        return self.state.functional_changes_kept(self.sigma0 * self.A, self.method, keep, ev.theta)

    def group_extra(self, ev):
        return 0.0


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
        theta = criterion.state.refit_kept(keep, start)
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
    # In the fit's scale-free units (columns and y scaled): only products and
    # ratios of these enter the bound.
    Xt, s, r = fit.Xt, criterion.state.weights, fit.r
    j = criterion.j
    e = np.zeros(Xt.shape[1])
    e[j] = 1.0
    a = fit.solve(e)
    root = np.sqrt(s)
    u = root * (Xt @ a)
    estar = root * r
    h = fit.leverages()
    target = abs(ev0.estimate) / fit.unit(j)
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
