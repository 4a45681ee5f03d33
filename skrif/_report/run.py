"""Computing and writing the report for a fitted estimator: :func:`report` (public as
``skrif.report``) and :func:`write_report`, which ``skrif report`` calls after fitting.

The steps: the test quality; label issues (classifiers); the four rankings of
training rows; the cross-fitted removal curve; the model refitted without the rows
ranked most harmful; the approximation check (:func:`skrif.validation.validate_influence`);
then the document (:mod:`skrif._report.document`) written atomically with its CSV
files and figures (:mod:`skrif._report.files`). Every warning raised on the way is
recorded and listed in the summary.
"""

import io
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .._removal.methods import LABELS as _METHOD_LABELS
from .._removal.methods import PREDICTED_METHODS
from .._utils.progress import Progress
from ..validation._jobs import available_cpus, plan_jobs
from . import cleaning, quality
from . import document as _report
from .data import MIN_TEST_ROWS, ReportError, _need
from .files import (
    OPTIONAL_OUTPUT_FILES,
    OUTPUT_FILES,
    _prepare_out,
    _write_report,
    csv_text,
)
from .render import fmt, render_html, render_markdown, sig

#: Largest number of removal sets (each set costs an exact refit).
MAX_SETS = 2000


@dataclass
class ReportOptions:
    """What the report computes and where it goes (the CLI's flags, or
    :func:`report`'s keywords)."""

    out: str = "skrif-report"
    overwrite: bool = False
    methods: tuple = PREDICTED_METHODS
    n_sets: int = 40
    top: int = 20
    random_state: int = 0
    n_jobs: int = None
    progress: object = False
    #: ``>= 1``: a progress line (stderr) before each long step, once the run has
    #: taken :data:`PROGRESS_AFTER` seconds (quick runs stay silent).
    verbose: int = 0


#: Progress lines appear once a run has taken this long.
PROGRESS_AFTER = 2.0


# -- small texts ------------------------------------------------------------------------
def _model_text(model):
    params = model.get_params()
    keep = {k: params[k] for k in ("C", "alpha", "solver", "tol", "max_iter") if k in params}
    return f"{type(model).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in keep.items()) + ")"


def _short_model_text(model):
    params = model.get_params()
    keep = {k: params[k] for k in ("C", "alpha") if k in params}
    return f"{type(model).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in keep.items()) + ")"


def estimator_text(est):
    """The attributed model, and the pipeline it ends (with its semantics), if any."""
    text = _model_text(_report.final_model(est))
    steps = getattr(est.estimator_, "steps", None)
    if steps:
        names = ", ".join(name for name, _ in steps[:-1])
        how = (
            "removing rows refits the whole pipeline, preprocessing='refit'"
            if _report.whole_pipeline(est) else
            "its preprocessing held fixed when rows are removed, preprocessing='fixed'"
        )
        text += f", the last step of a Pipeline after {names}; {how}"
    return text


def _verdict(summary):
    """One sentence comparing IF and RIF slopes, when both were checked."""
    methods = summary["method"].tolist()
    if "if" not in methods or "rif" not in methods:
        return ""

    def span(method):
        s = summary.loc[summary["method"] == method, "slope"].to_numpy(dtype=float)
        s = s[np.isfinite(s)]
        return f"{s.min():.2f}–{s.max():.2f}" if s.size else "n/a"

    return (
        f"Slopes over the three targets: IF {span('if')}, RIF {span('rif')}"
        + (f", NS {span('newton')}" if "newton" in methods else "")
        + ". A slope well below 1 means that method underestimates how much removing "
        "rows changes the model."
    )


def _available_cpus():
    return available_cpus()


def _plan_jobs(requested, est, n_sets):
    """Effective number of jobs and the notes that explain it
    (:func:`skrif.validation._jobs.plan_jobs`)."""
    return plan_jobs(requested, est, n_sets, name="--n-jobs")


def _sets_text(sets, n_requested, n_train):
    sizes = sorted({len(rows) for _, rows in sets})
    counts = {}
    for strategy, _ in sets:
        counts[strategy] = counts.get(strategy, 0) + 1
    size_text = (
        f"{sizes[0]} row{'s' if sizes[0] > 1 else ''}" if len(sizes) == 1
        else f"{sizes[0]}–{sizes[-1]} rows"
    )
    fractions = f"{100 * sizes[0] / n_train:.2g}%–{100 * sizes[-1] / n_train:.2g}%"
    distinct = len({rows.tobytes() for _, rows in sets})
    text = (
        f"removal sets: {len(sets)} ({distinct} distinct; "
        + ", ".join(f"{s} {c}" for s, c in counts.items())
        + f"), sizes {size_text} ({fractions} of the {n_train} training rows; "
        f"{len(sizes)} distinct sizes)"
    )
    if distinct < n_requested:
        text += (
            f"; {n_requested} were asked for, but with {n_train} training rows only "
            f"{distinct} distinct sets were found (duplicates are left out)"
        )
    return text + "."


def _nan_note(results, methods):
    per_set = results.groupby("set_id")
    no_refit = int(per_set["actual"].apply(lambda a: not np.all(np.isfinite(a))).sum())
    parts = []
    if no_refit:
        parts.append(
            f"{no_refit} of {results['set_id'].nunique()} sets have no exact refit (removing "
            "them leaves the model undefined, or the refit did not converge)"
        )
    for method in methods:
        sel = results["method"] == method
        bad = results.loc[sel & np.isfinite(results["actual"]) & ~np.isfinite(results["predicted"]), "set_id"].nunique()
        if bad:
            parts.append(f"{_METHOD_LABELS[method]} has no finite prediction for {bad} sets")
    if not parts:
        return ""
    return "left out of the statistics: " + "; ".join(parts) + "."


def _warning_list(caught):
    """Distinct warnings as (category, one-line message), in order of first appearance."""
    seen = {}
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue
        message = " ".join(str(w.message).split())
        seen.setdefault((w.category, message), None)
    return list(seen)


# -- the computation --------------------------------------------------------------------
def _compute(est, data, options, start, t_fit):
    """Attribute, clean, refit without the harmful rows, check the approximations."""
    import matplotlib.pyplot as plt

    from .._display.influence import InfluenceDisplay
    from ..validation import validate_influence

    n_train = data["X_train"].shape[0]
    if not np.all(np.isfinite(est.leverages_)) or not np.isfinite(est.optimality_gap_):
        raise ReportError(
            "the fitted model has non-finite internals (leverages or optimality gap); "
            "rescale the features or the target (e.g. drop --no-standardize)."
        )
    data["leverages"] = est.leverages_
    classifier = est._fitted_removal().objective.is_classifier

    log = Progress(options.verbose, "skrif report", min_elapsed=PROGRESS_AFTER, start=start)
    test_quality = quality.test_quality(
        est, data["X_test"], data["y_test"], classifier, data["y_train"]
    )
    leaks = quality.leak_flags(data, test_quality, classifier)
    log.line("ranking the training rows by their influence")
    influential, scores = _report.influential_rows(est, data, options.top)
    log.line("label issues and the cross-fitted removal curve (exact refits)")
    labels = cleaning.label_issues_part(est, data, scores["fitted"])
    curve = cleaning.removal_curve_part(est, data, options.random_state)
    without = _report.without_harmful(est, data, scores, classifier)
    coefficients = _report.coefficient_table(est, data, without)

    n_jobs, job_notes = _plan_jobs(options.n_jobs, est, options.n_sets)
    n_eval = min(100, data["X_test"].shape[0])
    # Small training sets: let sizes reach 4 rows so that they vary (5% of 24 rows
    # is a single row, and every set would be one row).
    max_fraction = float(min(0.25, max(0.05, 4 / n_train)))
    log.line(f"checking {options.n_sets} removal sets against exact refits")
    kwargs = dict(
        methods=options.methods, n_sets=options.n_sets, n_eval_rows=n_eval, n_jobs=n_jobs,
        max_fraction=max_fraction, progress=options.progress, as_frame=True,
        random_state=options.random_state,
    )
    if n_jobs > 1:
        from joblib import parallel_config

        # Each worker gets an equal share of the cores for its BLAS threads, so that
        # processes × threads never exceeds the CPUs.
        with parallel_config(backend="loky", inner_max_num_threads=max(1, _available_cpus() // n_jobs)):
            out = validate_influence(est, data["X_test"], data["y_test"], **kwargs)
    else:
        out = validate_influence(est, data["X_test"], data["y_test"], **kwargs)
    log.line("removal sets checked; writing the report"
             + ("" if _report.whole_pipeline(est) else " (diagnostics, robustness audit)"))
    results, summary = out["results"], out["summary"]
    if not np.any(np.isfinite(results["actual"].to_numpy(dtype=float))):
        raise ReportError(
            f"no removal set could be refitted on {n_train} training rows (each left the "
            "model undefined); use more data."
        )
    ids = np.asarray(data["ids_train"])
    members = [" ".join(map(str, rows.tolist())) for _, rows in out["sets"]]
    member_ids = [" ".join(_report._value_text(v) for v in ids[rows]) for _, rows in out["sets"]]
    set_ids = results["set_id"].to_numpy()
    results = results.assign(
        removed_rows=[members[s] for s in set_ids], removed_ids=[member_ids[s] for s in set_ids]
    )

    display = InfluenceDisplay(results=out["results"], summary=out["summary"]).plot(
        title=f"{data.get('short_name', data['name'])} · {_short_model_text(_report.final_model(est))}"
    )
    buffer = io.BytesIO()
    display.figure_.savefig(buffer, format="png", dpi=100)  # constrained layout: no "tight" redraw
    plt.close(display.figure_)

    timings = out["timings"]
    fit_text = "fit: yours" if t_fit is None else f"fit + factorization {t_fit:.2f} s"
    info = {
        "quality": test_quality,
        "leaks": leaks,
        "model_text": estimator_text(est),
        "coefficients": coefficients,
        "top": options.top,
        "n_eval": len(out["eval_rows"]),
        "sets_text": _sets_text(out["sets"], options.n_sets, n_train),
        "nan_note": _nan_note(results, out["methods"]),
        "job_notes": job_notes,
        "test_note": data.get("test_note", "the rows held out by --test-size"),
        "timings_text": (
            f"timings: {fit_text}; predictions "
            + ", ".join(f"{_METHOD_LABELS[m]} {timings[m]:.2f} s" for m in out["methods"])
            + f"; exact refits {timings['refit']:.2f} s; total {time.perf_counter() - start:.2f} s"
        ),
    }
    return {
        "est": est, "info": info, "results": results, "summary": summary,
        "influential": influential, "scores": scores, "without": without,
        "figure": buffer.getvalue(), "labels": labels, "curve": curve,
    }


def _files(parts, data, seen):
    """The report's files: name -> text or bytes."""
    info, summary = parts["info"], parts["summary"]
    approximation = _report.approximation_blocks(
        summary, _verdict(summary), info["sets_text"], info["nan_note"], parts["figure"]
    )
    approximation[2].items.append(info["timings_text"])
    describe = _report._notable_values(data)
    sections = {
        "labels": cleaning.label_issues_blocks(parts["labels"], data, describe, _report._label_text),
        "curve": cleaning.removal_curve_blocks(parts["curve"]),
    }
    blocks = _report.build_document(
        parts["est"], data, info, parts["scores"], parts["without"],
        [(category.__name__, message) for category, message in seen], approximation, sections,
    )
    title = f"skrif report: {data['name']}"
    files = {
        "results.csv": csv_text(parts["results"]),
        "influential_rows.csv": csv_text(parts["influential"]),
        "coefficients.csv": csv_text(info["coefficients"]),
        "summary.md": render_markdown(blocks),
        "summary.html": render_html(blocks, title),
        "predicted_vs_actual.png": parts["figure"],
    }
    if parts["labels"] is not None:
        files["label_issues.csv"] = csv_text(parts["labels"]["table"])
    if parts["curve"] is not None and "table" in parts["curve"]:
        files["removal_curve.csv"] = csv_text(parts["curve"]["table"])
    # Other figures of the document (removal_curve.png, diagnostics.png) go next to it.
    for block in blocks:
        if block.kind == "image" and block.anchor not in files:
            files[block.anchor] = block.image
    return files


def write_report(est, data, options, start, t_fit=None, recorded=()):
    """Compute the report of the fitted ``est`` on ``data`` and write its folder.

    Returns ``(parts, seen)``: the computed pieces and the distinct warnings
    ``(category, message)`` raised on the way, after those ``recorded`` before (e.g.
    by the fit; listed in the summary, the caller shows them). ``options.out`` must
    have been checked by ``_prepare_out``.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from threadpoolctl import threadpool_limits

    from ..validation.experiment import SMALL_PROBLEM_FLOPS

    matplotlib.use("Agg")
    n, p = data["X_train"].shape
    limits = None
    if min(n, p + 1) ** 2 * max(n, p + 1) < SMALL_PROBLEM_FLOPS:
        limits = 1  # small factorizations: BLAS threads only add contention
    with threadpool_limits(limits=limits, user_api="blas"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parts = _compute(est, data, options, start, t_fit)
        seen = _warning_list(list(recorded) + list(caught))
        files = _files(parts, data, seen)
    _write_report(options.out, files)
    plt.close("all")
    return parts, seen


def printable(data, parts, seen, out):
    """The short text summary ``skrif report`` prints."""
    est, info, scores, without = parts["est"], parts["info"], parts["scores"], parts["without"]
    classifier = est._fitted_removal().objective.is_classifier
    lines = [f"skrif report: {data['name']}"]
    lines.append(f"  {data['split']}; {data['X_train'].shape[1]} features")
    lines.append(f"  model: {info['model_text']}")
    lines.append("  test quality: " + quality.quality_text(info["quality"], classifier))
    labels = parts["labels"]
    if labels is not None:
        issues = labels["issues"]
        lines.append(
            f"  labels flagged as probably wrong: {issues.n_issues} of "
            f"{len(np.asarray(issues.score))} (leave-one-out probabilities; label_issues.csv)"
        )
    harmful = scores["rankings"]["test_loss_harmful"][0][:3]
    if len(harmful):
        ids = data["ids_train"]
        lines.append(
            "  most harmful rows (removing one lowers the test loss by): "
            + ", ".join(
                f"{data['id_name']} {_report._value_text(ids[i])} ({sig(-scores['test']['rif'][i])})"
                for i in harmful
            )
        )
    curve = parts["curve"]
    if curve is not None and "cross" in curve:
        lines.append("  unseen test rows (cross-fitted): " + cleaning.curve_verdict(curve["cross"]))
    if without is not None and "error" not in without:
        key = "log_loss" if classifier else "rmse"
        name = "log-loss" if classifier else "RMSE"
        lines.append(
            f"  without the {without['k']} rows ranked most harmful on the test split (exact "
            f"refit, selected on the rows it is scored on: optimistic): test {name} "
            f"{fmt(without['quality_with'][key])} → {fmt(without['quality_without'][key])}"
        )
    for flag in info["leaks"]:
        lines.append(f"  possible leak: {flag}")
    lines += [f"  {note}" for note in _report.omitted_sections(est)]
    lines.append("  " + info["sets_text"])
    lines.append("")
    lines.append(f"  {'method':<7}{'target':<17}{'slope':>8}{'pearson':>9}{'spearman':>9}{'med.rel.err':>12}")
    summary = parts["summary"]
    for i in range(len(summary)):
        r = summary.iloc[i]
        lines.append(
            f"  {_METHOD_LABELS.get(r['method'], r['method']):<7}{r['target']:<17}"
            f"{fmt(r['slope']):>8}{fmt(r['pearson']):>9}"
            f"{fmt(r['spearman']):>9}{fmt(r['median_relative_error']):>12}"
        )
    verdict = _verdict(summary)
    if verdict:
        lines += ["", "  " + verdict]
    if seen:
        lines += ["", f"  {len(seen)} warning(s), listed on stderr and in summary.md"]
    written = [f for f in OUTPUT_FILES + OPTIONAL_OUTPUT_FILES if os.path.exists(os.path.join(out, f))]
    lines += ["", f"Report written to {out}/ ({', '.join(written)})"]
    return "\n".join(lines)


# -- the report of a fitted estimator -----------------------------------------------------
def _fitted_parts(est, X_test):
    """``(InfluenceEstimator, X_test as it takes it, feature names, how)``: ``how`` is
    ``None`` (a plain model), ``"refit"`` or ``"fixed"`` (an InfluenceEstimator wrapping
    a Pipeline: raw rows) or ``"last step"`` (a Pipeline ending in an
    InfluenceEstimator: rows transformed by its preprocessing, held fixed)."""
    from sklearn.utils.validation import check_is_fitted

    from .._estimator.estimator import InfluenceEstimator
    from .._estimator.pipeline import transform_through

    if isinstance(est, InfluenceEstimator):
        check_is_fitted(est)
        steps = getattr(est.estimator_, "steps", None)
        final = steps[-1][1] if steps else est.estimator_
        if est._attributed.holder is not final:
            raise ReportError(
                f"the report reads the coefficients of the linear model itself; this "
                f"InfluenceEstimator wraps a {type(final).__name__}. Wrap the linear model "
                "(or a Pipeline ending in it) directly."
            )
        names = est._coef_names()
        return est, X_test, names, (est.preprocessing if steps else None)
    steps = getattr(est, "steps", None)
    if steps and isinstance(steps[-1][1], InfluenceEstimator):
        inner = est[-1]
        names = getattr(inner, "feature_names_in_", None)
        if names is None:
            try:
                names = est[:-1].get_feature_names_out()
            except (AttributeError, ValueError, TypeError):
                names = None
        return inner, transform_through(est, X_test), None if names is None else list(names), "last step"
    from sklearn.utils._param_validation import InvalidParameterError

    raise InvalidParameterError(
        "report needs a fitted skrif.InfluenceEstimator or a Pipeline ending in one; got "
        f"{type(est).__name__}."
    )


def check_single_rows(est):
    """A whole pipeline must answer single-row RIF and IF (every row is ranked by
    them): raise a :class:`ReportError` with the way out otherwise."""
    from ..exceptions import UnsupportedModelError

    pipeline = getattr(est, "_pipeline_removal", None)
    if pipeline is None:
        return
    try:
        for method in ("rif", "if"):
            pipeline.check_single_rows(method)
    except UnsupportedModelError as exc:
        error = ReportError(
            f"the report ranks every training row by its single-row RIF and IF answers, "
            f"which this whole pipeline cannot give: {exc}"
        )
        error.reason = str(exc)  # the cause alone (skrif.cli's note)
        raise error from None


def training_frame(est, names):
    """The training rows as the user knows them, for the per-row values: the raw
    rows of a whole pipeline, else the features the model was fitted on (none when
    sparse). A DataFrame with string column names, positions as index."""
    import pandas as pd

    rm = est._fitted_removal()
    pipeline = getattr(est, "_pipeline_removal", None)
    X = rm.design.X if pipeline is None else pipeline.X
    if hasattr(X, "columns"):
        raw = X.reset_index(drop=True)
        raw.columns = [str(c) for c in raw.columns]
        return raw
    if hasattr(X, "toarray"):  # sparse: no per-row values shown
        return pd.DataFrame(index=range(rm.n_samples))
    X = np.asarray(X)
    if pipeline is not None:
        given = getattr(est, "feature_names_in_", None)
        names = [f"x{j}" for j in range(X.shape[1])] if given is None else list(given)
    return pd.DataFrame(X, columns=[str(c) for c in names])


#: How the features of each kind of fitted estimator are described.
_THROUGH = {
    None: "as given",
    "last step": "through the pipeline's fitted preprocessing (held fixed)",
    "fixed": "from the pipeline's preprocessing, held fixed when rows are removed "
    "(the final model is refitted on these features)",
    "refit": "from the pipeline's preprocessing, refitted with the rows (removing rows "
    "refits the whole pipeline, as clone(pipeline).fit on the kept rows would)",
}


def estimator_data(est, X_test, y_test, *, X_train=None, name=None, target_name=None):
    """``(InfluenceEstimator, data)``: the report's description of a model the user
    fitted — training rows from the estimator's fitted state, test rows as given."""
    import pandas as pd
    from sklearn.utils.validation import check_is_fitted

    from .._features.audit import true_classes

    inner, X_eval, names, how = _fitted_parts(est, X_test)
    check_is_fitted(inner)
    check_single_rows(inner)
    rm = inner._fitted_removal()
    n = rm.n_samples
    X_fit = rm.design.X
    classifier = rm.objective.is_classifier
    if classifier:
        y_train = np.asarray(inner.classes_)[true_classes(rm.problem.Y)]
    elif rm.problem.Y.shape[1] == 1:
        y_train = rm.problem.Y[:, 0]
    else:
        raise ReportError("the report covers single-target models; this regressor has several targets.")
    if names is None or len(names) != X_fit.shape[1]:
        names = [f"x{j}" for j in range(X_fit.shape[1])]
    m = len(y_test)
    if m < MIN_TEST_ROWS:
        raise ReportError(f"the report needs at least {MIN_TEST_ROWS} test rows; got {m}.")
    index = getattr(inner, "training_index_", None)
    ids_train = np.asarray(index) if index is not None else np.arange(n)
    ids_test = np.asarray(X_test.index) if hasattr(X_test, "index") and hasattr(X_test, "columns") else np.arange(m)
    if X_train is not None:
        raw = X_train if isinstance(X_train, pd.DataFrame) else pd.DataFrame(np.asarray(X_train))
        if len(raw) != n:
            raise ReportError(f"X_train has {len(raw)} rows; the estimator was fitted on {n}.")
        raw = raw.reset_index(drop=True)
        raw.columns = [str(c) for c in raw.columns]
    else:
        raw = training_frame(inner, names)
    y_eval = np.asarray(y_test)
    if target_name is None:
        target_name = getattr(y_test, "name", None) or "target"
    return inner, {
        "name": name or f"{type(_report.final_model(inner)).__name__} on your data",
        "X_train": X_fit,
        "X_test": X_eval,
        "y_train": y_train,
        "y_test": y_eval,
        "ids_train": ids_train,
        "ids_test": ids_test,
        "id_name": "row",
        "id_note": (
            "the training DataFrame's index label" if index is not None
            else "the row's 0-based position among the training rows"
        ),
        "feature_names": [str(c) for c in names],
        "raw_train": raw,
        "target_name": str(target_name),
        "label_names": {},
        "notes": [],
        "split": f"{n} training rows (the fitted estimator's), {m} test rows (given)",
        "features_text": f"{X_fit.shape[1]} columns {_THROUGH[how]}",
        "test_note": "the test rows passed to skrif.report",
        "raw_scale": True,
    }


def report(
    est, X_test, y_test, *, out="skrif-report", overwrite=False, X_train=None, name=None,
    target_name=None, n_sets=40, methods=PREDICTED_METHODS, top=20, random_state=0, n_jobs=None,
    verbose=False,
):
    """Write the skrif report for a model you fitted: ``skrif report`` for any estimator.

    The same folder the command line writes (``summary.md``, ``summary.html``,
    figures and CSV tables) for a fitted :class:`~skrif.InfluenceEstimator` or a
    Pipeline ending in one, judged on your test rows: test quality; labels that are
    probably wrong (classifiers); the training rows that drive the model, each
    change evaluated at the row's predicted parameters; whether removing the rows
    ranked harmful helps on unseen test rows (cross-fitted removal curve against
    random removals); the model refitted without them (labelled as selected on the
    rows it is scored on, with its error estimate); regression diagnostics; and the
    check of IF, RIF and the group Newton step against exact refits.

    For ``InfluenceEstimator(pipeline)`` (``preprocessing="refit"``, the default)
    every answer is the whole pipeline's: removing rows refits every step, as
    ``clone(pipeline).fit`` on the kept rows would — the per-row rankings, the
    model without the harmful rows, the label issues, the removal curve and the
    approximation check. The regression diagnostics and the robustness audit
    describe the final model given its features and are left out, with a note
    saying so (``preprocessing="fixed"`` adds them, for the final model with the
    preprocessing held fixed). Coefficients are named by the preprocessing's
    ``get_feature_names_out``.

    Parameters
    ----------
    est : InfluenceEstimator or Pipeline
        Fitted. An InfluenceEstimator wrapping a Pipeline takes raw rows (the
        pipeline's input); a Pipeline *ending* in an InfluenceEstimator keeps its
        preprocessing fixed, and ``X_test`` goes through it.
    X_test : {array-like, sparse matrix, DataFrame} of shape (n_test, n_features)
        Rows never used to fit (at least 5), in the input space of ``est`` (for a
        pipeline: raw rows, e.g. a DataFrame with text columns and missing values).
    y_test : array-like of shape (n_test,)
        Their targets.
    out : str or path, default="skrif-report"
        The report folder; nothing is written outside it.
    overwrite : bool, default=False
        Replace report files already in ``out`` (otherwise an error).
    X_train : array-like or DataFrame of shape (n_samples, n_raw_features), default=None
        The training rows as you know them (e.g. before a pipeline's encoding),
        only to show their values beside each row; default: the raw rows of an
        InfluenceEstimator wrapping a pipeline with ``preprocessing="refit"``, else
        the features the final model was fitted on.
    name, target_name : str, default=None
        Titles for the data and the target (default: the model's name, ``y_test.name``).
    n_sets : int, default=40
        Removal sets of the approximation check (4 to 2000; each is an exact refit).
    methods : sequence of {"if", "rif", "newton"}, default=all three
        Predictions checked against exact refits.
    top : int, default=20
        Rows per criterion in ``influential_rows.csv``.
    random_state : int, default=0
    n_jobs : int, default=None
        Parallel refits of the approximation check (joblib; ``-1`` all cores).
    verbose : bool, default=False
        Show a progress bar during the approximation check.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``folder`` (the output path), ``files`` (names written), ``text`` (the
        summary ``skrif report`` prints) and ``warnings`` (``(category, message)``
        of each distinct warning raised on the way). Warnings are recorded, listed
        in the summary's "Notes and warnings" and returned here, not re-raised.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> import skrif
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), skrif.InfluenceEstimator(
    ...     LogisticRegression(solver="newton-cholesky", tol=1e-10))).fit(X[:300], y[:300])
    >>> folder = os.path.join(tempfile.mkdtemp(), "report")
    >>> result = skrif.report(pipe, X[300:], y[300:], out=folder, n_sets=8)
    >>> "label_issues.csv" in result.files and "removal_curve.png" in result.files
    True
    """
    from sklearn.utils import Bunch

    from .._utils.params import Integer, check_params

    check_params(
        {
            "out": [str, os.PathLike], "overwrite": ["boolean"], "n_sets": [Integer(4, MAX_SETS)],
            "top": [Integer(1, None, closed="left")], "random_state": [Integer(0, None, closed="left")],
            "n_jobs": [Integer(None, None, closed="neither"), None], "verbose": ["boolean"],
            "name": [str, None], "target_name": [str, None],
        },
        dict(out=out, overwrite=overwrite, n_sets=n_sets, top=top, random_state=random_state,
             n_jobs=n_jobs, verbose=verbose, name=name, target_name=target_name),
        caller="report",
    )
    methods = tuple(dict.fromkeys([methods] if isinstance(methods, str) else methods))
    if not methods or any(m not in PREDICTED_METHODS for m in methods):
        raise ValueError(f"methods must be a non-empty subset of {PREDICTED_METHODS}; got {methods!r}.")
    start = time.perf_counter()
    _need("pandas", "to write the tables")
    _need("matplotlib", "to draw the figures")
    inner, data = estimator_data(est, X_test, y_test, X_train=X_train, name=name,
                                 target_name=target_name)
    out = os.fspath(out)
    options = ReportOptions(
        out=out, overwrite=overwrite, methods=methods, n_sets=n_sets, top=top,
        random_state=random_state, n_jobs=n_jobs, progress="auto" if verbose else False,
    )
    created = _prepare_out(out, overwrite)
    try:
        parts, seen = write_report(inner, data, options, start)
    except BaseException:
        if created:  # leave no empty folder behind a failed run
            try:
                os.rmdir(out)
            except OSError:
                pass
        raise
    folder = out.rstrip("/") or out
    files = sorted(f for f in os.listdir(folder) if not f.startswith("."))
    return Bunch(folder=folder, files=files, text=printable(data, parts, seen, folder), warnings=seen)
