"""The report's glossary (every term and sign) and the documentation of its files."""

#: Criteria of ``influential_rows.csv``, in order, with their documentation.
CRITERIA = {
    "own_loss": "change of the row's own loss when it alone is removed (≥ 0: the model "
    "fits the row partly because the row is in the training set)",
    "test_loss_harmful": "change of the total loss over the test split when the row "
    "alone is removed, rows with a negative change (removing them lowers the test loss), "
    "most negative first",
    "test_loss_helpful": "same change, rows with a positive change (removing them raises "
    "the test loss), largest first",
    "test_predictions": "mean absolute change of the test predictions (probability of "
    "class 1 for binary classifiers; half the summed absolute change of the class "
    "probabilities for multiclass; the prediction for regressors) when the row alone "
    "is removed, largest first",
}


def glossary(info, classifier):
    loss = "log-loss −log P(true class)" if classifier else "squared error (y − prediction)²"
    return [
        "change / effect: the value WITHOUT the removed rows minus the value WITH them "
        "(negative: removing the rows lowers it).",
        f"loss: the model's own pointwise loss, {loss}, unweighted, without the penalty.",
        "own loss (influential_rows criterion own_loss): a row's loss when it alone is "
        "removed, minus its loss in the fitted model; large values mean the model fits the "
        "row only because it is in the training set.",
        "test loss: the loss summed over the rows of the test split ("
        + info.get("test_note", "the rows held out by --test-size")
        + ", never used to fit).",
        "per-row changes (own loss, test loss, test predictions): every one is evaluated "
        "at the row's predicted parameters θ̂ + Δ_i — the value of the target under the "
        "model predicted without the row, minus its value now — never a linear "
        "approximation of the target; with RIF this is the exact leave-one-out change for "
        "least squares. Sets of rows: the sum of their single-row changes (RIF, IF), the "
        "group Newton step (NS) or the exact refit, as labelled.",
        "label issue: a training label flagged as probably wrong by confident learning on "
        "leave-one-out class probabilities (cleanlab's default filter, prune_by_noise_rate); "
        "P(label) left out: the probability of the given label under the model fitted "
        "without the row.",
        "removal curve (cross-fitted): the top-ranked harmful rows are chosen on some "
        "test folds and the exact refit is scored on the held-out fold, pooled over "
        "folds; in-sample: chosen and scored on the same rows (selection bias, "
        "optimistic); random: as many random rows removed. ± 2 se: twice the standard "
        "error of the change, from paired per-row differences.",
        "error estimate (of a set answer): how far the additive RIF answer is from the "
        "group Newton step (on the parameters, and on the test loss); a verified answer "
        "whose exact refit differs from the prediction by more than 10% or in sign is "
        "flagged (VerificationWarning).",
        "harmful row: removing it alone lowers the test loss (negative test-loss change); "
        "helpful row: removing it raises the test loss.",
        f"test subset: the {info['n_eval']} test rows the approximation check evaluates its "
        "targets on — half the test rows with the highest loss under the fitted model, "
        "half drawn at random from the others (all test rows when there are at most "
        f"{info['n_eval']}). The sections above use the whole test split.",
        "leverage h_i: how much row i pulls the fit toward itself (0 to 1); 1 − h_i is "
        "the factor by which RIF rescales a row's influence. Leverage near 1 means the row "
        "alone determines a direction of the model.",
        "IF: classical influence function, the first-order change −H⁻¹g_i (H the Hessian "
        "of the objective, g_i the row's gradient); underestimates when p is comparable to n.",
        "RIF: rescaled influence function, −H⁻¹g_i/(1 − h_i) per row (Rubinstein & "
        "Hopkins, NeurIPS 2025); exact leave-one-out for least squares; additive over a set.",
        "NS: the group Newton step, one Newton step on the objective without the whole set.",
        "exact refit: the model refitted to the optimum without the rows — the ground truth.",
        "slope: least-squares slope through the origin of predicted on actual changes "
        "(1 = unbiased, < 1 = underestimates); pearson/spearman: correlations; "
        "median_rel_error: median |predicted − actual| / |actual|.",
        "removal-set strategies: random (uniform rows), feature (rows with the largest "
        "values of a random feature), distance (the rows nearest a random anchor row), "
        "top_score (a random half of the rows with the highest, or lowest, additive "
        "test-loss effect).",
        "optimality gap: the relative Newton step at the fitted coefficients; attribution "
        "assumes it is tiny (skrif polishes the fit otherwise).",
        "n/a: a statistic that is undefined (e.g. no set with a finite refit); never a result.",
    ]


def files_doc(info):
    feature_note = "then one column per feature with the row's original value"
    return [
        "summary.md / summary.html: this report (the HTML file is self-contained, the "
        "figure embedded).",
        "predicted_vs_actual.png: the figure of the approximation check.",
        "influential_rows.csv: one line per criterion × rank; columns criterion ("
        + "; ".join(f"{k}: {v}" for k, v in CRITERIA.items())
        + "), rank (1 = strongest), row (0-based position among the training rows), id "
        "(see the influential rows section), label (the row's target), fitted (fitted "
        "probability of the label, or prediction), leverage (h_i), rif and if (the change "
        f"for this criterion by RIF and by IF, sign: without minus with), {feature_note}.",
        "coefficients.csv: columns output (the class a coefficient belongs to, empty for "
        "a single output), feature ('(intercept)' for the intercept), coef (fitted), "
        "coef_without_harmful (exact refit without the most harmful rows), change "
        "(without minus with).",
        "label_issues.csv (classifiers): one line per training row, lowest score first; "
        "columns rank (among the flagged rows, empty when not flagged), row, id, "
        "given_label, suggested_label (most probable class left out), score (P(label) "
        "left out), fitted (P(label) fitted), is_issue.",
        "removal_curve.csv / removal_curve.png: one line per selection (cross_fit, "
        "in_sample) × fraction; columns selection, fraction, n_removed, test_loss_all "
        "(mean test loss per row, all training rows), test_loss_removed (without the "
        "ranked rows, exact refit), loss_change (without minus with) and loss_change_se "
        "(its standard error), test_loss_random and test_loss_random_std (mean and "
        "standard deviation over random removals of as many rows; cross_fit only).",
        "results.csv: one line per removal set × target × method; columns set_id, "
        "strategy, size (rows removed), fraction (of the training rows), target, method "
        "(if, rif, newton), predicted and actual (exact refit) change of the target, "
        "relative_error (|predicted − actual| / |actual|; empty when undefined), "
        "removed_rows (the set's training-row positions, separated by spaces) and "
        "removed_ids (their ids).",
    ]
