"""The report's cleaning sections: which labels are probably wrong, and whether
removing the rows ranked harmful helps on test rows they were not chosen on.

* :func:`label_issues_part` / :func:`label_issues_blocks` —
  :meth:`~skrif.InfluenceEstimator.label_issues` (leave-one-out probabilities,
  confident learning) and ``label_issues.csv``;
* :func:`removal_curve_part` / :func:`removal_curve_blocks` —
  :func:`skrif.validation.removal_curve` by the harmful ranking, cross-fitted on the
  test split, next to the in-sample (optimistic) curve, with ``removal_curve.png``
  and ``removal_curve.csv``.

Private to the report (:mod:`skrif._report.run`).
"""

import io

import numpy as np

from .render import Block, fmt, sig

#: Flagged labels listed in the summary (most likely wrong first).
SHOWN_ISSUES = 10
#: Fractions of the training rows removed by the report's removal curves.
CURVE_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2)
#: Random removals per fraction in the report's cross-fitted curve.
CURVE_RANDOM_DRAWS = 5
#: Columns of ``label_issues.csv``.
LABEL_ISSUE_COLUMNS = (
    "rank", "row", "id", "given_label", "suggested_label", "score", "fitted", "is_issue",
)
#: Columns of ``removal_curve.csv``.
CURVE_TABLE_COLUMNS = (
    "selection", "fraction", "n_removed", "test_loss_all", "test_loss_removed",
    "loss_change", "loss_change_se", "test_loss_random", "test_loss_random_std",
)


def _value_text(value):
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return str(int(value)) if value.is_integer() else sig(value, 4)
    return str(value)


# -- label issues -------------------------------------------------------------------
def label_issues_part(est, data, fitted):
    """Label issues of the training rows, or ``None`` (regressors, no probabilities)."""
    import pandas as pd

    inner = est.estimator_
    if not (est._fitted_removal().objective.is_classifier and hasattr(inner, "predict_proba")):
        return None
    issues = est.label_issues()
    score = np.asarray(issues.score, dtype=float)
    order = np.argsort(np.where(np.isnan(score), np.inf, score), kind="stable")
    rank = np.zeros(len(score), dtype=int)
    rank[issues.ranked] = np.arange(1, len(issues.ranked) + 1)
    table = pd.DataFrame({
        "rank": rank[order],
        "row": order,
        "id": np.asarray(data["ids_train"])[order],
        "given_label": np.asarray(issues.given_label)[order],
        "suggested_label": np.asarray(issues.suggested_label)[order],
        "score": score[order],
        "fitted": np.asarray(fitted)[order],
        "is_issue": np.asarray(issues.is_issue, dtype=bool)[order],
    })
    table["rank"] = table["rank"].replace(0, pd.NA).astype("Int64")
    return {"issues": issues, "table": table, "fitted": fitted}


def label_issues_blocks(part, data, describe, label_text):
    """The label-issues section."""
    if part is None:
        return []
    issues, fitted = part["issues"], part["fitted"]
    n = len(np.asarray(issues.score))
    k = issues.n_issues
    B = [Block("h2", "Labels that are probably wrong")]
    B.append(Block(
        "p",
        f"{k} of {n} training labels are flagged. Each row's label is judged by the "
        "class probabilities of the model fitted without that row (leave-one-out, from "
        "this one fit: no refits), and rows are flagged by confident learning exactly "
        "as cleanlab's find_label_issues flags them by default (prune_by_noise_rate: "
        "per-class thresholds; the estimated joint of given and true labels sets how "
        "many to flag). 'P(label) left out' is the leave-one-out probability of the "
        "given label (the score: low means likely wrong), 'P(label) fitted' the "
        "fitted model's. label_issues.csv holds every row, lowest score first.",
    ))
    if k == 0:
        B.append(Block("p", "No label is flagged."))
        return B
    ids = np.asarray(data["ids_train"])
    rows = []
    for rank, i in enumerate(issues.ranked[:SHOWN_ISSUES], 1):
        rows.append([
            str(rank), _value_text(ids[i]),
            label_text(np.asarray(issues.given_label)[i], data),
            label_text(np.asarray(issues.suggested_label)[i], data),
            fmt(np.asarray(issues.score)[i], 3), fmt(fitted[i], 3), describe(i),
        ])
    B.append(Block(
        "table",
        header=["rank", "id", "given label", "suggested label", "P(label) left out",
                "P(label) fitted", "feature values"],
        items=rows, anchor="label_issues",
    ))
    return B


# -- removal curves -----------------------------------------------------------------
def removal_curve_part(est, data, random_state):
    """The harmful ranking's removal curves on the test split: cross-fitted (with random
    removals) and in-sample; the figure; the table. ``{"error": ...}`` when a removal
    cannot be refitted."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from .._display.removal_curve import RemovalCurveDisplay
    from ..validation import removal_curve

    X, y = data["X_test"], data["y_test"]
    cv = int(min(5, len(y)))
    try:
        cross = removal_curve(
            est, X, y, fractions=CURVE_FRACTIONS, by="harmful", selection="cross_fit", cv=cv,
            n_random=CURVE_RANDOM_DRAWS, random_state=random_state,
        )
        inside = removal_curve(
            est, X, y, fractions=CURVE_FRACTIONS, by="harmful", selection="in_sample",
            n_random=0, random_state=random_state,
        )
    except ValueError as exc:
        return {"error": (str(exc).strip().splitlines() or [""])[0]}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained", sharey=True)
    RemovalCurveDisplay.from_curve(cross, ax=axes[0])
    RemovalCurveDisplay.from_curve(inside, ax=axes[1])
    for ax in axes:
        ax.set_ylabel("decrease of the mean test loss per row")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    frames = []
    for curve in (cross, inside):
        frames.append(pd.DataFrame({
            "selection": curve.selection,
            "fraction": curve.fractions,
            "n_removed": curve.n_removed,
            "test_loss_all": -curve.score_all,
            "test_loss_removed": -curve.score_removed,
            "loss_change": -curve.gain,
            "loss_change_se": curve.gain_se,
            "test_loss_random": -curve.score_random,
            "test_loss_random_std": curve.score_random_std,
        }))
    return {
        "cross": cross, "inside": inside, "figure": buffer.getvalue(),
        "table": pd.concat(frames, ignore_index=True), "cv": cv,
    }


def _curve_rows(curve, random):
    rows = []
    for k in range(len(curve.fractions)):
        change, se = -curve.gain[k], curve.gain_se[k]
        row = [
            f"{100 * curve.fractions[k]:g}% ({curve.n_removed[k]})",
            sig(-curve.score_removed[k], 4),
            f"{sig(change, 3)} ± {sig(2 * se, 2)}",
        ]
        if random:
            row.append(
                f"{sig(-curve.gain_random[k], 3)} ± {sig(curve.score_random_std[k], 2)}"
            )
        rows.append(row)
    return rows


def curve_verdict(curve):
    """One sentence: does removing the harmful rows help held-out test rows?"""
    change, se = -curve.gain, curve.gain_se
    helps = np.flatnonzero(change < -2 * se)
    hurts = np.flatnonzero(change > 2 * se)
    pct = [f"{100 * curve.fractions[k]:g}%" for k in range(len(change))]
    if helps.size:
        best = helps[np.argmin(change[helps])]
        text = (
            f"Removing the {curve.n_removed[best]} rows ranked most harmful "
            f"({pct[best]}) lowers the held-out test loss by {sig(-change[best], 3)} per "
            f"row (more than twice its standard error {sig(se[best], 2)})"
        )
    else:
        text = (
            "At no fraction does removing the rows ranked most harmful lower the held-out "
            "test loss by more than twice its standard error: the ranking does not find "
            "rows worth dropping for unseen data"
        )
    if hurts.size:
        text += "; removing " + ", ".join(pct[k] for k in hurts) + " makes it significantly worse"
    return text + "."


def removal_curve_blocks(part):
    """The section "Does removing the harmful rows help on unseen test rows?"."""
    B = [Block("h2", "Does removing the harmful rows help on unseen test rows?")]
    if part is None:
        return []
    if "error" in part:
        B.append(Block("p", f"The removal curve could not be computed: {part['error']}"))
        return B
    cross, inside = part["cross"], part["inside"]
    B.append(Block(
        "p",
        "Training rows are ranked by their effect, alone, on the total test loss (RIF, "
        "at each row's predicted parameters); the top fractions are removed and the "
        "model is refitted exactly. Cross-fitted: the test rows are split into "
        f"{part['cv']} folds; for each, the rows are ranked on the other folds and the "
        "refit is scored on it, so no test row scores a removal it helped choose. "
        f"Random: as many random rows removed ({CURVE_RANDOM_DRAWS} draws, exact "
        "refits). Changes are of the mean test loss per row (negative: removal helps), "
        "± twice the standard error (paired over test rows) or ± one standard "
        f"deviation over the draws. Mean test loss with all rows: {sig(-cross.score_all, 4)}.",
    ))
    B.append(Block("p", curve_verdict(cross)))
    B.append(Block(
        "table",
        header=["removed (rows)", "test loss without them", "change (cross-fitted)",
                "change, random rows"],
        items=_curve_rows(cross, random=True), anchor="removal_curve",
    ))
    B.append(Block(
        "p",
        "For comparison, ranked and scored on the same test rows (in-sample: selection "
        "bias, optimistic — not evidence that removal helps):",
    ))
    B.append(Block(
        "table",
        header=["removed (rows)", "test loss without them", "change (in-sample)"],
        items=_curve_rows(inside, random=False), anchor="removal_curve_in_sample",
    ))
    B.append(Block("image", text="removal curves", image=part["figure"], anchor="removal_curve.png"))
    return B


def verification_note(result):
    """The set answer's error estimate and, when the refit contradicts the prediction,
    a warning line; both for the report's "model without the harmful rows"."""
    from .._core.set_error import verification_gap

    notes = []
    estimate = result.get("error_estimate")
    if estimate is not None:
        text = "undetermined" if not np.isfinite(estimate.relative_gap) else (
            f"{100 * estimate.relative_gap:.3g}%"
        )
        leverage = (
            f" (joint leverage of the set {estimate.joint_leverage:.3g})"
            if np.isfinite(estimate.joint_leverage) else ""
        )
        notes.append(
            f"error estimate of the RIF answer (parameters): {text} from the group Newton "
            f"step{leverage}"
        )
    nrel = result.get("newton_gap")
    if nrel is not None and np.isfinite(nrel):
        notes.append(
            f"error estimate of the RIF answer (test loss): {100 * nrel:.3g}% from the "
            "group Newton step"
        )
    gap, disagrees = verification_gap(result["predicted_rif"], result["actual"])
    if disagrees:
        sign = (
            " and has the opposite sign"
            if np.sign(result["predicted_rif"]) != np.sign(result["actual"]) else ""
        )
        notes.append(
            f"WARNING: the exact refit differs from the RIF prediction by {100 * gap:.3g}%"
            f"{sign}: the rows interact; the refit's numbers are the answer."
        )
    else:
        notes.append(f"the exact refit is within {100 * gap:.2g}% of the RIF prediction.")
    return notes

