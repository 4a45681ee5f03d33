"""Contents of the ``skrif report`` folder: the user's answer first, the check second.

The report answers "which training rows drive my model, and what would it be without
them?" before it checks the approximations:

1. data and model, with the quality of the fitted model on the test split;
2. labels that are probably wrong (classifiers; :mod:`skrif._report.cleaning`);
3. the most influential training rows — on their own loss, on the test loss
   (harmful and helpful rows) and on the test predictions — with their labels,
   feature values and one plain sentence each; every per-row change is evaluated
   at the row's predicted parameters θ̂ + Δ_i;
4. whether removing the harmful rows helps on unseen test rows: the cross-fitted
   removal curve against random removals, beside the in-sample one
   (:mod:`skrif._report.cleaning`);
5. the model refitted without the rows ranked most harmful on the whole test split
   (test quality and largest coefficients, exact refit), labelled as selected on
   the rows it is scored on, with the set answer's error estimate;
6. the regression diagnostics and the robustness audit
   (:func:`diagnostics_section`, :func:`robustness_headline`);
7. the approximation check (IF, RIF, NS against exact refits: table and figure);
8. a glossary of every term and sign, and the columns of every CSV file.

The document is a list of blocks (:class:`~skrif._report.render.Block`) rendered
by :mod:`skrif._report.render`. Every function here is private to the report
(:mod:`skrif._report.run`, behind ``skrif report`` and :func:`skrif.report`).
"""

import warnings

import numpy as np

from .._core.set_error import relative_gap, warn_unverified
from .._removal.methods import label
from .cleaning import verification_note
from .glossary import files_doc, glossary
from .quality import quality_of, quality_text, test_quality
from .render import Block, fmt, sig

#: Rows per criterion shown (with a sentence each) in summary.md / summary.html.
SHOWN_ROWS = 5
#: At most this many harmful rows are removed for "the model without them".
MAX_HARMFUL_REMOVED = 10
#: Coefficients listed in the summary (largest |coefficient| first).
SHOWN_COEFS = 8
#: Floats per block (training rows × test rows × outputs) when evaluating every
#: single-row removal on the test predictions.
_PREDICTION_BLOCK_FLOATS = 4_000_000

#: Leading columns of ``influential_rows.csv``; one column per feature follows.
INFLUENTIAL_COLUMNS = (
    "criterion", "rank", "row", "id", "label", "fitted", "leverage", "rif", "if",
)
#: Columns of ``coefficients.csv``.
COEFFICIENT_COLUMNS = ("output", "feature", "coef", "coef_without_harmful", "change")



def _label_text(value, data):
    names = data.get("label_names") or {}
    text = _value_text(value)
    return f"{text} ({names[value]})" if value in names else text


def _raw_text(value):
    """A training row's original value; missing ones (NaN, None, pd.NA) say so."""
    try:
        missing = value is None or bool(value != value)
    except TypeError:  # pd.NA
        missing = True
    return "missing" if missing else _value_text(value)


def _value_text(value):
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return str(int(value)) if value.is_integer() else sig(value, 4)
    return str(value)


# -- the computations -----------------------------------------------------------------
def whole_pipeline(est):
    """Whether ``est`` removes rows from a whole pipeline (``preprocessing="refit"``)."""
    return getattr(est, "_pipeline_removal", None) is not None


def final_model(est):
    """The linear model whose coefficients the report shows (the last step of a
    pipeline; the report refuses wrappers where it is anything else)."""
    return est._attributed.holder



def _prediction_target(est):
    if est._fitted_removal().objective.is_classifier:
        try:
            est._target("predict_proba")
            return "predict_proba"
        except ValueError:
            return "decision_function"
    return "predict"


def _prediction_changes(est, X_test, method):
    """Per training row: mean and max |change| of the test predictions, and where the max is.

    Each row's change is evaluated at the predicted parameters ``θ̂ + Δθ_i`` (not
    linearized, so probabilities stay probabilities). Blocked over training rows:
    memory ``O(block · n_test · q)``; time ``O(n_train · nnz(X_test) · q)``.
    """

    target_name = _prediction_target(est)
    target = est._target(target_name)
    n = est.leverages_.shape[0]
    mean, best, where = np.zeros(n), np.zeros(n), np.zeros(n, dtype=int)

    def summarize(i, change):
        m = change.shape[0]
        if change.ndim == 2 and change.shape[1] == 2 and target_name == "predict_proba":
            change = np.abs(change[:, 1])  # binary: the probability of class 1
        elif change.ndim == 2 and change.shape[1] > 1:
            change = 0.5 * np.abs(change).sum(axis=1)  # total variation over classes
        else:
            change = np.abs(change.reshape(m))
        mean[i], where[i] = change.mean(), int(np.argmax(change))
        best[i] = change[where[i]]

    if whole_pipeline(est):  # removals through the refitted preprocessing
        from .._estimator import whole_pipeline as _whole

        for rows, values in _whole.effect_blocks(est, X_test, None, target, method):
            for k, i in enumerate(rows):
                summarize(i, values[k])
        return mean, best, where, target_name
    removal = est._fitted_removal()
    theta = removal.theta
    q, p_aug = theta.shape
    design = removal.design.for_rows(est._validate_X(X_test))
    Z = design.matvec(theta.T)  # (m, q)
    base = np.asarray(target.value(Z), dtype=float)
    m = Z.shape[0]
    block = max(1, min(n, _PREDICTION_BLOCK_FLOATS // max(1, m * q)))
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        steps = removal.row_steps(rows, method)  # (b, q, p̃)
        dZ = design.matvec(steps.reshape(-1, p_aug).T)  # (m, b·q)
        for k, i in enumerate(rows):
            if not np.all(np.isfinite(steps[k])):
                mean[i] = best[i] = np.nan
                continue
            summarize(i, np.asarray(target.value(Z + dZ[:, k * q:(k + 1) * q]), dtype=float) - base)
    return mean, best, where, target_name


def _test_loss_effects(est, X_test, y_test, method):
    """Per training row: change of the total test loss when it alone is removed,
    evaluated at ``θ̂ + Δ_i`` (with RIF the exact leave-one-out change for least
    squares): O(n p̃ m), blockwise."""
    from .._features.attribution import total_effects

    loss = est._target("loss")
    if whole_pipeline(est):  # raw rows through the refitted preprocessing
        from .._estimator import whole_pipeline as _whole

        values = _whole.total_effects(est, X_test, y_test, loss, method).sum(axis=1)
    else:
        X, Y = est._validate_eval(X_test, y_test, loss)
        values = total_effects(est._fitted_removal(), X, Y, loss, method).sum(axis=1)
    return est._nan_undefined_removals(values)


def _fitted_values(est, y_train):
    """Per training row: fitted probability of its label (classifiers) or prediction,
    from the fitted linear predictor (no pass over the rows through a pipeline)."""
    rm = est._fitted_removal()
    Z = rm.linear_predictor()
    if rm.objective.is_classifier:
        try:
            proba = np.asarray(est._target("predict_proba").value(Z), dtype=float)
        except ValueError:  # no class probabilities (RidgeClassifier)
            return np.full(len(y_train), np.nan)
        return proba[np.arange(len(y_train)), np.searchsorted(est.classes_, y_train)]
    return np.asarray(est._target("predict").value(Z), dtype=float).reshape(len(y_train), -1)[:, 0]


def _notable_values(data, limit=3):
    """Per training row, the feature values to show: all if few, else the most unusual.

    Returns a function ``row -> str`` and the raw frame of feature values.
    """
    raw = data["raw_train"]
    columns = list(raw.columns)
    numeric = [c for c in columns if np.issubdtype(np.asarray(raw[c]).dtype, np.number)]
    values = raw[numeric].to_numpy(dtype=float) if numeric else np.zeros((len(raw), 0))
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
        std = np.nanstd(values, axis=0) if values.size else np.zeros(0)
        z = np.where(std > 0, (values - np.nanmean(values, axis=0)) / np.where(std > 0, std, 1), 0.0)
    z = np.nan_to_num(z, nan=0.0)  # a missing value is not unusual

    def describe(i):
        if len(columns) <= 6:
            return ", ".join(f"{c} = {_raw_text(raw.iloc[i][c])}" for c in columns)
        order = np.argsort(-np.abs(z[i]), kind="stable")[:limit]
        shown = [
            f"{numeric[j]} = {_raw_text(values[i, j])} (z {z[i, j]:+.1f})" for j in order
        ]
        return "most unusual: " + ", ".join(shown)

    return describe


def influential_rows(est, data, top):
    """The four rankings of training rows: a tidy frame and the pieces the text needs."""
    import pandas as pd

    X_test, y_test = data["X_test"], data["y_test"]
    y_train = np.asarray(data["y_train"])
    own = {m: np.asarray(est.self_influence(target="loss", method=m), dtype=float) for m in ("rif", "if")}
    own = {m: v if v.ndim == 1 else v.sum(axis=1) for m, v in own.items()}
    test = {m: _test_loss_effects(est, X_test, y_test, m) for m in ("rif", "if")}
    pred = {m: _prediction_changes(est, X_test, m) for m in ("rif", "if")}
    fitted = _fitted_values(est, y_train)
    n = len(own["rif"])
    k = min(top, n)

    rankings = {}
    key = np.nan_to_num(own["rif"], nan=np.inf)  # leverage-1 rows (undefined) first
    rankings["own_loss"] = (np.argsort(-key, kind="stable")[:k], own)
    harmful = np.flatnonzero(test["rif"] < 0)
    rankings["test_loss_harmful"] = (harmful[np.argsort(test["rif"][harmful], kind="stable")][:k], test)
    helpful = np.flatnonzero(test["rif"] > 0)
    rankings["test_loss_helpful"] = (helpful[np.argsort(-test["rif"][helpful], kind="stable")][:k], test)
    pred_key = np.nan_to_num(pred["rif"][0], nan=-np.inf)
    rankings["test_predictions"] = (
        np.argsort(-pred_key, kind="stable")[:k],
        {m: pred[m][0] for m in ("rif", "if")},
    )

    raw = data["raw_train"]
    blocks = []
    for criterion, (order, scores) in rankings.items():
        frame = pd.DataFrame(
            {
                "criterion": criterion,
                "rank": np.arange(1, len(order) + 1),
                "row": order,
                "id": np.asarray(data["ids_train"])[order],
                "label": y_train[order],
                "fitted": fitted[order],
                "leverage": est.leverages_[order],
                "rif": scores["rif"][order],
                "if": scores["if"][order],
            }
        )
        features = raw.iloc[order].reset_index(drop=True)
        features.columns = [
            f"{c} (feature)" if str(c) in INFLUENTIAL_COLUMNS else str(c) for c in features.columns
        ]
        blocks.append(pd.concat([frame, features], axis=1))
    table = pd.concat(blocks, ignore_index=True)
    return table, {
        "own": own, "test": test, "pred": pred, "fitted": fitted, "rankings": rankings,
        "harmful": harmful, "n_test": X_test.shape[0], "prediction_target": pred[("rif")][3],
    }


def without_harmful(est, data, scores, classifier):
    """Refit without the k most harmful rows (most negative RIF test-loss change)."""
    harmful = scores["rankings"]["test_loss_harmful"][0]
    n = est.leverages_.shape[0]
    k = min(MAX_HARMFUL_REMOVED, len(harmful), max(1, n // 20))
    if k == 0:
        return None
    rows = np.sort(harmful[:k])
    X_test, y_test = data["X_test"], data["y_test"]
    try:
        change = est.influence(rows, method="refit")
        actual = float(np.sum(est.removal_effect(rows, X_test, y_test, target="loss", method="refit")))
    except (ValueError, np.linalg.LinAlgError) as exc:
        return {"rows": rows, "k": k, "error": str(exc).splitlines()[0]}
    try:
        newton = float(np.sum(est.removal_effect(rows, X_test, y_test, target="loss", method="newton")))
    except (ValueError, np.linalg.LinAlgError):
        newton = np.nan
    predicted_rif = float(np.sum(scores["test"]["rif"][rows]))
    # The set answer's error estimates (warning, recorded, when large) and whether the
    # refit contradicts the prediction (VerificationWarning, recorded too).
    error_estimate = est.influence(rows, method="rif").error_estimate
    warn_unverified(predicted_rif, actual, f"the {k} most harmful rows")
    # The refitted model's test predictions: the fitted ones plus the exact change (for
    # a whole pipeline, through the refitted preprocessing).
    q_with = test_quality(est, X_test, y_test, classifier, data["y_train"])
    y_kept = np.delete(data["y_train"], rows)
    if classifier:
        proba = est.predict_proba(X_test) + est.removal_effect(
            rows, X_test, target="predict_proba", method="refit")
        proba = np.clip(proba, 0.0, 1.0)  # a sum's rounding below 0 (log-loss refuses it)
        q_without = quality_of(proba, y_test, y_kept, est.classes_)
    else:
        predicted = est.predict(X_test) + est.removal_effect(
            rows, X_test, target="predict", method="refit")
        q_without = quality_of(predicted, y_test, y_kept)
    # Coefficients in the final model's features (after the removal, for a whole
    # pipeline: a category that vanished with the rows counts as 0).
    model = final_model(est)
    coef = np.atleast_2d(model.coef_)
    coef_without = coef + np.reshape(change.coef, coef.shape)
    intercept = np.atleast_1d(model.intercept_) * np.ones(coef.shape[0])
    intercept_without = intercept + np.ravel(change.intercept)
    return {
        "rows": rows,
        "k": k,
        "ids": np.asarray(data["ids_train"])[rows],
        "predicted_rif": predicted_rif,
        "error_estimate": error_estimate,
        "newton_gap": relative_gap(predicted_rif, newton) if np.isfinite(newton) else np.nan,
        "predicted_if": float(np.sum(scores["test"]["if"][rows])),
        "predicted_newton": newton,
        "actual": actual,
        "quality_with": q_with,
        "quality_without": q_without,
        "coef": coef,
        "coef_without": coef_without,
        "intercept": intercept,
        "intercept_without": intercept_without,
    }


def _output_names(est, n_outputs):
    classes = getattr(final_model(est), "classes_", None)
    if classes is None:
        return [""] * n_outputs
    if len(classes) == 2 and n_outputs == 1:
        return [f"class {_value_text(classes[1])}"]
    return [f"class {_value_text(c)}" for c in classes]


def coefficient_table(est, data, result):
    """All coefficients with and without the harmful rows (``coefficients.csv``)."""
    import pandas as pd

    model = final_model(est)
    coef = np.atleast_2d(model.coef_)
    outputs = _output_names(est, coef.shape[0])
    names = list(data["feature_names"]) + ["(intercept)"]
    rows = []
    intercept = np.atleast_1d(model.intercept_) * np.ones(coef.shape[0])
    for o in range(coef.shape[0]):
        values = np.append(coef[o], intercept[o])
        if result is not None and "coef_without" in result:
            intercept_without = result["intercept_without"] * np.ones(coef.shape[0])
            without = np.append(result["coef_without"][o], intercept_without[o])
        else:
            without = np.full(values.shape, np.nan)
        for name, v, w in zip(names, values, without):
            rows.append((outputs[o], name, v, w, w - v))
    return pd.DataFrame(rows, columns=list(COEFFICIENT_COLUMNS))


# -- placeholders the lead wires after merging ---------------------------------------
#: Rows listed in the diagnostics table (largest Cook's distance first).
SHOWN_DIAGNOSTICS = 10


def diagnostics_section(est, data):
    """Blocks of the regression-diagnostics section: the rows with the largest
    Cook's distance (leverage, studentized residual, R's "influential" flag) and
    R's ``plot.lm`` panels 5 and 4 (:class:`~skrif.ResidualsLeverageDisplay`,
    :class:`~skrif.CooksDistanceDisplay`) as ``diagnostics.png``. Empty for
    models without a per-row influence table (multinomial)."""
    import io

    import matplotlib.pyplot as plt

    from .._display.diagnostics import CooksDistanceDisplay, ResidualsLeverageDisplay

    if whole_pipeline(est):  # refused there (see omitted_sections)
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = est.diagnostics(columns=[])
            fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
            # Annotated with the ids the tables use (not positions).
            ids = [_value_text(v) for v in np.asarray(data["ids_train"])]
            ResidualsLeverageDisplay.from_estimator(est, ax=axes[0], labels=ids)
            CooksDistanceDisplay.from_estimator(est, ax=axes[1], labels=ids)
    except ValueError:
        return []
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    cooks = np.asarray(table["cooks_d"], dtype=float)
    order = np.argsort(-np.where(np.isfinite(cooks), cooks, -np.inf), kind="stable")[:SHOWN_DIAGNOSTICS]
    ids = np.asarray(data["ids_train"])
    hat = np.asarray(table["hat_diag"], dtype=float)
    student = np.asarray(table["student_resid"], dtype=float)
    flagged = np.asarray(table["influential"], dtype=bool)
    rows = [
        [str(ids[i]), str(i), fmt(hat[i], 3), fmt(student[i], 2), fmt(cooks[i], 4),
         "yes" if flagged[i] else ""]
        for i in order
    ]
    n_flagged = int(flagged.sum())
    return [
        Block("h2", "Regression diagnostics"),
        Block(
            "p",
            f"The statistician's view of the same model (R's influence.measures; for a "
            f"penalised model its generalization, see the guide): {n_flagged} of "
            f"{len(cooks)} training rows are flagged influential by R's rules. The rows "
            "with the largest Cook's distance (how far the fitted values move, in units "
            "of their uncertainty, when the row is left out):",
        ),
        Block("table", header=["row", "position", "leverage",
                               "studentized residual", "Cook's distance", "R flags it"],
              items=rows, anchor="diagnostics"),
        Block("image", text="residuals vs leverage, Cook's distance", image=buffer.getvalue(),
              anchor="diagnostics.png"),
    ]


def omitted_sections(est):
    """The one-line note on the sections a whole pipeline does not answer (empty
    otherwise): the methods behind them are refused under ``preprocessing="refit"``."""
    if not whole_pipeline(est):
        return []
    return [
        "omitted: the regression diagnostics and the robustness audit (removal_to_flip): "
        "they describe the final model given the features it was fitted on, while this "
        "report removes rows from the whole pipeline (preprocessing='refit'); "
        "InfluenceEstimator(pipeline, preprocessing='fixed') (skrif report --preprocessing "
        "fixed) adds them, for the final model with the preprocessing held fixed."
    ]


def robustness_headline(est, data):
    """One sentence: how many rows flip the largest coefficient's sign (refit-verified).

    Calls :meth:`~skrif.InfluenceEstimator.removal_to_flip` for the coefficient with
    the largest ``|coef|`` (single-output models; ``None`` otherwise or when the
    search cannot run), capped at 10% of the training rows.
    """
    coef = np.asarray(final_model(est).coef_, dtype=float)
    if whole_pipeline(est) or (coef.ndim > 1 and coef.shape[0] != 1):
        return None
    coef = coef.ravel()
    j = int(np.argmax(np.abs(coef)))
    name = data["feature_names"][j]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = est.removal_to_flip(coef=j, conclusion="sign", max_fraction=0.1)
    except (ValueError, np.linalg.LinAlgError):
        return None
    n = len(est.leverages_)
    if result.flipped:
        k = len(result.rows)
        ids = np.asarray(data["ids_train"])[np.asarray(result.rows, dtype=int)]
        shown = ", ".join(_value_text(v) for v in ids[:10]) + (", ..." if k > 10 else "")
        return (
            f"Robustness: removing {k} training row{'s' if k != 1 else ''} "
            f"({100 * k / n:.1f}%) flips the sign of the largest coefficient, "
            f"'{name}' ({fmt(coef[j], 3)}); verified by an exact refit. The rows "
            f"({data['id_name']}): {shown}."
        )
    return (
        f"Robustness: no set of at most 10% of the training rows found by the search "
        f"flips the sign of the largest coefficient, '{name}' ({fmt(coef[j], 3)}); "
        "each candidate was checked by an exact refit."
    )


# -- the document ---------------------------------------------------------------------
def _row_sentence(criterion, i, scores, data, describe, est, m):
    rif_own, if_own = scores["own"]["rif"][i], scores["own"]["if"][i]
    ident = f"Row {_value_text(np.asarray(data['ids_train'])[i])}"
    label = f"{data['target_name']} = {_label_text(np.asarray(data['y_train'])[i], data)}"
    values = describe(i)
    if criterion == "own_loss":
        if not np.isfinite(rif_own):
            return (
                f"{ident} ({label}) alone determines a direction of the model (leverage 1): "
                "removing it leaves a parameter undetermined, so its effect is undefined."
            )
        fitted = scores["fitted"][i]
        misfit = (
            f" Even so the model gives its label only probability {fmt(fitted, 3)}: a "
            "candidate for a wrong label."
            if est._fitted_removal().objective.is_classifier and np.isfinite(fitted) and fitted < 0.5
            else " Check its label and values."
        )
        return (
            f"{ident} ({label}; {values}): removing it alone would raise its own loss by "
            f"{sig(rif_own)} (RIF; IF says {sig(if_own)}) — the model bends toward this row "
            "because it is in the training set." + misfit
        )
    if criterion in ("test_loss_harmful", "test_loss_helpful"):
        r, f = scores["test"]["rif"][i], scores["test"]["if"][i]
        if criterion == "test_loss_harmful":
            return (
                f"{ident} ({label}; {values}): removing it alone would lower the total "
                f"test loss by {sig(-r)} over the {m} test rows (RIF; IF says {sig(-f)}) — "
                "it pulls the model away from the test data: a candidate for a wrong label "
                "or an atypical row."
            )
        return (
            f"{ident} ({label}; {values}): removing it alone would raise the total test "
            f"loss by {sig(r)} (RIF; IF says {sig(f)}) — the model relies on it to fit the "
            "test data."
        )
    mean, best, where = scores["pred"]["rif"][:3]
    unit = {
        "predict_proba": "in probability",
        "decision_function": "in decision-function units",
        "predict": "in the target's units",
    }[scores["prediction_target"]]
    return (
        f"{ident} ({label}; {values}): removing it alone would move the test predictions "
        f"by {sig(mean[i])} on average {unit}, at most {sig(best[i])} (test row "
        f"{_value_text(np.asarray(data['ids_test'])[where[i]])}) (RIF)."
    )


def _rows_table(criterion, scores, data, describe):
    order = scores["rankings"][criterion][0][:SHOWN_ROWS]
    values = scores["rankings"][criterion][1]
    header = ["rank", "id", data["target_name"], "fitted", "RIF", "IF", "leverage", "feature values"]
    rows = []
    for rank, i in enumerate(order, 1):
        rows.append([
            str(rank),
            _value_text(np.asarray(data["ids_train"])[i]),
            _label_text(np.asarray(data["y_train"])[i], data),
            fmt(scores["fitted"][i], 3),
            sig(values["rif"][i], 4),
            sig(values["if"][i], 4),
            fmt(data["leverages"][i], 3),
            describe(i),
        ])
    return header, rows


def build_document(est, data, info, scores, result, warnings_seen, approximation, cleaning=None):
    """The report as a list of :class:`Block`; ``cleaning`` holds the block lists
    ``"labels"`` and ``"curve"`` of :mod:`skrif._report.cleaning`."""
    cleaning = cleaning or {}
    classifier = est._fitted_removal().objective.is_classifier
    m = scores["n_test"]
    n_train, p = data["X_train"].shape
    describe = _notable_values(data)
    q = info["quality"]
    B = []
    B.append(Block("h1", f"skrif report: {data['name']}"))
    B.append(Block(
        "p",
        "Which training rows drive this model, and what would it be without them? "
        "Sign convention everywhere: a change is the value WITHOUT the rows minus the "
        "value WITH them.",
    ))

    # 1. data and model
    B.append(Block("h2", "Data and model"))
    target_text = data["target_name"]
    if classifier:
        classes = est.classes_
        target_text += f" (classification, {len(classes)} classes: " + ", ".join(
            _label_text(c, data) for c in classes) + ")"
    else:
        target_text += " (regression)"
    facts = [
        f"data: {data['name']} — {data['split']}",
        f"target: {target_text}",
        f"training rows × features: {n_train} × {p} "
        + ("(p ≥ n: more parameters than rows)" if p >= n_train else "(p < n)"),
        f"features: {data['features_text']}",
        f"model: {info['model_text']}",
        "test-split quality: " + quality_text(q, classifier) + f" on {m} test rows; "
        + (
            f"always predicting the majority class ({_label_text(q['majority'], data)}) "
            f"would score accuracy {fmt(q['baseline_accuracy'], 3)}"
            if classifier else
            f"predicting the training mean would give RMSE {sig(q['baseline_rmse'], 4)}"
        ),
        f"optimality gap of the fit: {est.optimality_gap_:.1e} (relative Newton step; "
        f"{est.n_polish_steps_} polishing steps by skrif)",
    ]
    lev = data["leverages"]
    facts.append(
        f"leverage h_i: median {fmt(np.median(lev), 3)}, max {fmt(lev.max(), 3)}; rows with "
        f"h > 0.5: {int(np.sum(lev > 0.5))}"
    )
    B.append(Block("list", items=facts))
    cautions = list(data.get("notes", [])) + info.get("job_notes", []) + [
        f"possible leak: {flag}" for flag in info["leaks"]
    ] + omitted_sections(est) + [f"warning ({cat}): {msg}" for cat, msg in warnings_seen]
    if cautions:
        B.append(Block("h3", "Notes and warnings"))
        B.append(Block("list", items=cautions))

    headline = robustness_headline(est, data)
    if headline:
        B.append(Block("p", headline))

    # 2. labels that are probably wrong
    B += cleaning.get("labels", [])

    # 3. influential rows
    B.append(Block("h2", "Which training rows drive the model"))
    B.append(Block(
        "p",
        f"Each training row is removed alone and the change is predicted with the "
        f"rescaled influence function (RIF; the classical IF beside it). 'id' is "
        f"{data['id_note']}; 'fitted' is the fitted "
        + ("probability of the row's own label" if classifier else "prediction")
        + f"; 'feature values' are the row's original values. The top {SHOWN_ROWS} per "
        f"question are shown; influential_rows.csv holds the top {info['top']} with "
        "every feature.",
    ))
    sections = [
        ("own_loss", "Rows that pull the model toward themselves (their own loss)"),
        ("test_loss_harmful", "Harmful rows: removing them lowers the test loss"),
        ("test_loss_helpful", "Helpful rows: removing them raises the test loss"),
        ("test_predictions", "Rows that move the test predictions most"),
    ]
    for criterion, title in sections:
        B.append(Block("h3", title))
        order = scores["rankings"][criterion][0][:SHOWN_ROWS]
        if len(order) == 0:
            B.append(Block("p", "No training row has an effect of this sign."))
            continue
        header, rows = _rows_table(criterion, scores, data, describe)
        B.append(Block("table", header=header, items=rows, anchor=criterion))
        B.append(Block("list", items=[
            _row_sentence(criterion, i, scores, data, describe, est, m) for i in order
        ]))

    # 4. does removing them help unseen rows? (cross-fitted)
    B += cleaning.get("curve", [])

    # 5. the model without the most harmful rows (selected on the whole test split)
    B.append(Block("h2", "The model without the most harmful rows (selected on the test split)"))
    if result is None:
        B.append(Block("p", "No training row lowers the test loss when removed: there is "
                            "nothing harmful to remove."))
    elif "error" in result:
        B.append(Block("p", f"Removing the {result['k']} most harmful rows leaves the model "
                            f"undefined, so it cannot be refitted ({result['error']})."))
    else:
        k = result["k"]
        ids = ", ".join(_value_text(v) for v in result["ids"])
        B.append(Block(
            "p",
            f"The {k} rows ranked most harmful on the whole test split (ids {ids}) are "
            "removed and the model refitted exactly. The rows were selected on the same "
            "test rows that score them below, so the improvement is optimistic (selection "
            "bias); the cross-fitted curve above says what holds for unseen rows. "
            f"The refit changes the total test loss by {sig(result['actual'], 4)}; RIF "
            f"predicted {sig(result['predicted_rif'], 4)} (the sum of the single-row "
            f"effects), IF {sig(result['predicted_if'], 4)}, the group Newton step "
            f"{sig(result['predicted_newton'], 4)}.",
        ))
        B.append(Block("list", items=verification_note(result)))
        qw, qo = result["quality_with"], result["quality_without"]
        keys = (("accuracy", 3), ("roc_auc", 3), ("log_loss", 4)) if classifier else (("r2", 4), ("rmse", 4))
        labels = {"accuracy": "accuracy", "roc_auc": "ROC AUC", "log_loss": "log-loss per row",
                  "r2": "R²", "rmse": "RMSE"}
        B.append(Block(
            "table", header=["test-split quality", "with all rows", f"without the {k} rows", "change"],
            items=[[labels[key], fmt(qw[key], d), fmt(qo[key], d), fmt(qo[key] - qw[key], d)]
                   for key, d in keys],
            anchor="without_quality",
        ))
        coefs = info["coefficients"]
        feats = coefs[coefs["feature"] != "(intercept)"]
        top = feats.reindex(feats["coef"].abs().sort_values(ascending=False).index)[:SHOWN_COEFS]
        multi = len(set(coefs["output"])) > 1
        header = (["output"] if multi else []) + ["feature", "coefficient", f"without the {k} rows", "change"]
        B.append(Block(
            "table", header=header,
            items=[([r.output] if multi else []) + [r.feature, sig(r.coef, 4), sig(r.coef_without_harmful, 4), sig(r.change, 3)]
                   for r in top.itertuples()],
            anchor="without_coefs",
        ))
        B.append(Block(
            "p",
            f"The {min(SHOWN_COEFS, len(top))} largest coefficients in absolute value"
            + (" (features standardized: the change of the decision per standard deviation)"
               if not data.get("raw_scale") else "")
            + "; coefficients.csv holds them all. All numbers in this section come from "
            "an exact refit, not a prediction.",
        ))

    # 6. diagnostics (issue 13 plugs in here)
    B += diagnostics_section(est, data)

    # 7. the approximation check
    B += approximation

    # 8. glossary and files
    B.append(Block("h2", "Glossary"))
    B.append(Block("list", items=glossary(info, classifier)))
    B.append(Block("h2", "Files"))
    B.append(Block("list", items=files_doc(info)))
    return B


def approximation_blocks(summary, verdict, sets_text, nan_note, figure):
    rows = []
    for i in range(len(summary)):
        r = summary.iloc[i]
        rows.append([
            label(r["method"]), r["target"], str(int(r["n_sets"])),
            fmt(r["slope"]), fmt(r["pearson"]), fmt(r["spearman"]), fmt(r["median_relative_error"]),
        ])
    B = [
        Block("h2", "Checking the approximation: predicted vs actual"),
        Block(
            "p",
            "How far can the predictions above be trusted? Removal sets of training rows "
            "are removed, the change is predicted by IF, RIF and the group Newton step "
            "(NS), and compared with an exact refit without the set. Targets: the first "
            "is the summed probability of the true class (classifiers) or the summed "
            "prediction (regressors) over the test subset; test_loss the total loss over "
            "the test subset; self_loss the total loss over all training rows.",
        ),
        Block("list", items=[sets_text] + ([nan_note] if nan_note else [])),
        Block("table", header=["method", "target", "n_sets", "slope", "pearson", "spearman",
                               "median_rel_error"], items=rows, anchor="summary"),
    ]
    if verdict:
        B.append(Block("p", verdict))
    B.append(Block("image", text="predicted vs actual", image=figure, anchor="predicted_vs_actual.png"))
    return B
