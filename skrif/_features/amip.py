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
import warnings
from dataclasses import dataclass

import numpy as np

from .._utils.progress import Progress
from ..exceptions import VerificationWarning
from .amip_search import (
    LinearCriterion,
    StandardErrorCriterion,
    _Units,
    certificate,
    greedy_search,
)
from .robust_se import CoefficientFit, family_of

CONCLUSIONS = ("sign", "significance", "opposite_significance")
UNITS = ("rows", "groups")


# -- the one adapter to the fitted state -------------------------------------



# -- conclusions ---------------------------------------------------------------



# -- the search ----------------------------------------------------------------



# -- certificate -----------------------------------------------------------------



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


def cap_for(n_units, max_rows, max_fraction):
    """Largest number of units to remove: ``max_rows`` if given, else
    ``floor(max_fraction · n_units)`` (at least 1); ``max_fraction=None``: ``n_units − 1``."""
    from .audit import check_positive_int

    if max_rows is not None:
        return check_positive_int(max_rows, "max_rows", n_units - 1)
    if max_fraction is None:
        return n_units - 1
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

    # Choices, alpha and use_t are declared constraints of the estimator's methods.
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
        removable=unit == "groups", training_index=getattr(est, "training_index_", None),
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

    state = est._fitted_removal()
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
    if found.flipped and getattr(ev, "fit", None) is not None and j is not None:
        message += _pinned_note(ev.fit.pinned_rows(j), name)
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


def _pinned_note(rows, name):
    """A sentence for a verified flip whose refit rests on leverage-1 rows (or "")."""
    if not len(rows):
        return ""
    return (
        f" Note: in the refit, {name} is determined by row(s) {list(map(int, rows[:10]))} "
        "alone (leverage 1): the estimate and its standard error after removal rest on "
        "that one observation each."
    )


def annotate(est, result, j, cov_type, groups, use_t, alpha, cap):
    """Add the refit-verified estimate, standard error and p-value after removal to a
    result of the historic sign search (coefficients of models with standard errors;
    otherwise the estimate only)."""
    import dataclasses

    from .._utils.groups import check_groups

    state = est._fitted_removal()
    family, _ = family_of(state.objective, state.n_outputs)
    after = result.initial + result.actual_change if result.rows.size else result.initial
    fields = dict(conclusion="sign", alpha=alpha, estimate=float(after), unit="rows",
                  n_units=state.n_samples, cap=cap, predicted_statistic="coefficient")
    if family is not None and j is not None:
        clusters = None
        if cov_type == "cluster":
            clusters = check_groups(
                groups, state.n_samples, removable=False,
                training_index=getattr(est, "training_index_", None),
            )
        keep = np.ones(state.n_samples)
        keep[result.rows] = 0.0
        theta = state.refit_kept(keep, state.theta) if result.rows.size else state.theta
        e0, se0, _, p0, _ = full_data_inference(state, j, family, cov_type, clusters, use_t)
        fields.update(cov_type=cov_type, initial_se=se0, initial_p_value=p0)
        try:
            fit = CoefficientFit(
                state.design.rows(slice(None)), state.Y[:, 0], state.weights, keep, theta[0], family,
                cov_type, clusters, use_t,
            )
            est_, se, _, p, _ = fit.inference(j)
            fields.update(estimate=est_, se=se, p_value=p)
            if result.flipped:
                note = _pinned_note(fit.pinned_rows(j), result.quantity)
                if note:
                    fields.update(message=result.message + note)
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
    no_se_reason : str
        Why the model has no standard errors (penalised models: sign flips only,
        with NaN ``se`` and ``p_value``), or ``""``.
    """

    results: dict
    labels: dict
    reasons: dict
    alpha: float
    cov_type: str
    unit: str
    no_se_reason: str = ""

    def table(self):
        """One dict per (coefficient, conclusion): counts, fractions, refit values.

        ``conclusion`` is the API's name (``"sign"``, ``"significance"``,
        ``"opposite_significance"``); ``note`` says why a count or a standard error
        is missing."""
        out = []
        for (name, conclusion), r in self.results.items():
            row = {"coef": name, "conclusion": conclusion}
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
                if not np.isfinite(r.se):
                    why = self.no_se_reason or "it is undefined after this removal"
                    extra = f"no standard error or p-value: {why}"
                    row["note"] = f"{row['note']}; {extra}" if row["note"] else extra
            out.append(row)
        return out

    def to_frame(self):
        """The :meth:`table` as a pandas DataFrame (pandas required): ``flipped`` a
        nullable boolean (missing where the conclusion does not hold on the full
        data), ``n_removed`` a nullable integer, ``conclusion`` the API's names."""
        from .._utils.frames import _import_pandas

        pd = _import_pandas()
        frame = pd.DataFrame(self.table())
        frame["flipped"] = frame["flipped"].astype("boolean")
        frame["n_removed"] = pd.array(
            [None if v is None or (isinstance(v, float) and np.isnan(v)) else int(v)
             for v in frame["n_removed"]],
            dtype="Int64",
        )
        return frame

    def __repr__(self):
        lines = [
            f"AMIP summary ({self.unit} removed; cov_type={self.cov_type!r}, "
            f"alpha={self.alpha:g}; every flip verified by an exact refit)",
            f"{'coef':<16} {'flip':<13} {'removed':>8} {'fraction':>9} "
            f"{'estimate':>10} {'se':>9} {'p':>8}",
        ]
        for row in self.table():
            label = SUMMARY_LABELS[row["conclusion"]]
            if row["flipped"] is None:
                lines.append(f"{row['coef']:<16} {label:<13} {'n/a':>8}  {row['note']}")
                continue
            if not row["flipped"]:
                lines.append(f"{row['coef']:<16} {label:<13} {'-':>8}  {row['note']}")
                continue
            lines.append(
                f"{row['coef']:<16} {label:<13} {row['n_removed']:>8} "
                f"{row['fraction']:>9.2%} {row['estimate']:>10.4g} {row['se']:>9.3g} "
                f"{row['p_value']:>8.3g}"
            )
        return "\n".join(lines)


def summary(est, coefs, *, alpha, cov_type, groups, unit, max_rows, max_fraction,
            max_refits, use_t, verbose=0):
    """Build an :class:`AMIPSummary` (see :meth:`~skrif.InfluenceEstimator.amip_summary`)."""
    log = Progress(verbose, "amip_summary")
    state = est._fitted_removal()
    family, reason = family_of(state.objective, state.n_outputs)
    # The attributed model's coefficients (a pipeline's: get_feature_names_out).
    names = est._coef_names()
    n_coef = state.design.n_features
    if coefs is None:
        indices = list(range(n_coef))
    else:
        if isinstance(coefs, (str, int, np.integer)):
            coefs = [coefs]
        indices = [resolve_coef(c, n_coef, names) for c in coefs]
    conclusions = CONCLUSIONS if family is not None else ("sign",)
    index = getattr(est, "training_index_", None)
    results, labels, reasons = {}, {}, {}
    for j in indices:
        name = str(names[j]) if names is not None else f"x{j}"
        for conclusion in conclusions:
            key = (name, conclusion)
            try:
                with warnings.catch_warnings():
                    # The table holds the verified numbers; a prediction that chose
                    # the rows and was off is not news here.
                    warnings.simplefilter("ignore", VerificationWarning)
                    r = est.removal_to_flip(
                        coef=j, conclusion=conclusion, alpha=alpha, cov_type=cov_type,
                        groups=groups, unit=unit, max_rows=max_rows,
                        max_fraction=max_fraction, max_refits=max_refits, use_t=use_t,
                    )
            except ConclusionAlreadyFalse as exc:
                results[key], reasons[key] = None, str(exc)
                log.line(f"{name}, {conclusion}: not applicable ({exc})")
                continue
            results[key] = r
            log.line(
                f"{name}, {conclusion}: "
                + (f"flipped by removing {r.n_removed} {r.unit}" if r.flipped
                   else "not flipped within the cap")
                + f" ({r.n_refits} exact refits)"
            )
            if r.groups is not None:
                labels[key] = list(r.groups)
            elif index is not None:
                labels[key] = list(index[r.rows])
            else:
                labels[key] = r.rows.tolist()
    return AMIPSummary(
        results, labels, reasons, float(alpha), cov_type, unit,
        no_se_reason="" if family is not None else reason,
    )
