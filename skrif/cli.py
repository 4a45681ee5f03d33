"""``skrif`` command line: ``skrif report`` (also ``python -m skrif report``).

``skrif report`` fits a linear model on a table, checks skrif's removal-effect
predictions (IF, RIF, group Newton step) against exact refits
(:func:`skrif.validation.validate_influence`) and writes a report folder:

* ``predicted_vs_actual.png`` — :class:`skrif.InfluenceDisplay`;
* ``summary.md`` / ``summary.html`` — per method × target: slope through the
  origin, Pearson, Spearman, median relative error; data shape, model, leverage
  statistics, optimality gap, timings;
* ``influential_rows.csv`` — the training rows with the largest effect on their
  own loss (self-influence) and on the total test loss, RIF and IF side by side;
* ``results.csv`` — the tidy per-set table.

With no arguments it runs on the bundled default
(:func:`skrif.datasets.load_breast_cancer_quadratic`): real data, 300 training
rows, 495 features, where IF visibly underestimates and RIF does not.

Why argparse: it is in the standard library, so the command adds no dependency,
and a single subcommand with flat options needs nothing more (click or typer would
add a package for the same help text and parsing).

Every anticipated bad input (missing or unreadable file, unknown or constant target
column, non-numeric features without ``--one-hot``, missing values, a single class,
a target with too many classes, too few rows, an unwritable output folder, existing report files without
``--overwrite``) ends with a one-line ``skrif: error: ...`` message on stderr and exit
status 1 (2 for malformed options, as argparse does). Files are written atomically
(temporary file, then rename), so an interrupted run never leaves half a file.
"""

import argparse
import io
import math
import os
import sys
import time
import warnings

from ._removal.methods import LABELS as _METHOD_LABELS
from ._removal.methods import PREDICTED_METHODS, SPELLINGS
from ._report.data import ReportError, _load_bundled, _load_csv, _need
from ._report.document import INFLUENTIAL_COLUMNS  # noqa: F401  (documented columns)
from ._report.files import (
    OPTIONAL_OUTPUT_FILES,
    OUTPUT_FILES,
    _prepare_out,
    _write_report,
)
from ._report.render import fmt, render_html, render_markdown, sig

#: Largest --n-sets (each set costs an exact refit).
MAX_SETS = 2000



# -- argument parsing -------------------------------------------------------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..2**32-1, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..2**32-1, got {text!r}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-zero integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("expected a non-zero integer (-1 = all cores), got 0")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def _test_size(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction in (0, 1) or a row count, got {text!r}"
        ) from None
    if 0 < value < 1:
        return value
    # Finite first: int(inf) raises OverflowError (e.g. --test-size inf or 1e400).
    if math.isfinite(value) and value >= 1 and value == int(value):
        return int(value)
    raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1) or a row count, got {text!r}")


def _methods(text):
    methods = [SPELLINGS.get(m.strip().lower()) for m in text.split(",") if m.strip()]
    if not methods or any(m not in PREDICTED_METHODS for m in methods):
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated subset of {','.join(PREDICTED_METHODS)}; got {text!r}"
        )
    return tuple(dict.fromkeys(methods))


def _columns_list(text):
    return [c.strip() for c in text.split(",") if c.strip()]


def build_parser():
    """The ``skrif`` argument parser (subcommand ``report``)."""
    parser = argparse.ArgumentParser(
        prog="skrif",
        description="Rescaled influence functions for scikit-learn linear models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    report = sub.add_parser(
        "report",
        help="check IF/RIF/NS against exact refits and write an attribution report",
        description=(
            "Fit a linear model, compare predicted effects of removing training rows "
            "(IF, RIF, group Newton step) with exact refits, and write a report folder "
            "(predicted_vs_actual.png, summary.md, summary.html, influential_rows.csv, "
            "results.csv). Without --data it runs on a bundled overparameterized "
            "dataset (breast cancer, degree-2 monomials: 300 rows, 495 features)."
        ),
    )
    data = report.add_argument_group("data")
    data.add_argument("--data", metavar="FILE.csv", help="CSV file with a header row")
    data.add_argument("--target", metavar="COLUMN", help="column to predict (required with --data)")
    data.add_argument(
        "--id-column",
        metavar="COLUMN",
        help="column identifying rows (excluded from the features; written to "
        "influential_rows.csv). Default: the row's 0-based position in the CSV",
    )
    data.add_argument(
        "--drop", metavar="COL[,COL...]", type=_columns_list, default=[],
        help="columns to ignore",
    )
    data.add_argument(
        "--one-hot", action="store_true",
        help="one-hot encode non-numeric feature columns (otherwise they are an error)",
    )
    data.add_argument(
        "--no-standardize", action="store_true",
        help="use numeric features as they are (default: standardize them, fitted on "
        "the training rows)",
    )
    data.add_argument(
        "--test-size", type=_test_size, default=None, metavar="F",
        help="fraction (0-1) or number of rows held out for testing (default 0.25; "
        "bundled data: 269 of 569)",
    )
    model = report.add_argument_group("model")
    model.add_argument(
        "--model", choices=("auto", "logistic", "ridge"), default="auto",
        help="auto (default): logistic (binary or multinomial) for a two-valued or text "
        "target, ridge otherwise",
    )
    model.add_argument(
        "--C", dest="C", type=_positive_float, default=None,
        help="inverse L2 penalty of LogisticRegression (default 1.0; bundled data 0.1)",
    )
    model.add_argument(
        "--alpha", type=_positive_float, default=None,
        help="L2 penalty of Ridge (default 1.0)",
    )
    check = report.add_argument_group("check")
    check.add_argument(
        "--methods", type=_methods, default=PREDICTED_METHODS, metavar="LIST",
        help="comma-separated predictions to check: if,rif,newton (default all three)",
    )
    check.add_argument(
        "--n-sets", type=_positive_int, default=40, metavar="N",
        help="number of removal sets, spread over 4 strategies (default 40, at least 4)",
    )
    check.add_argument(
        "--top", type=_positive_int, default=20, metavar="K",
        help="rows per criterion in influential_rows.csv (default 20)",
    )
    check.add_argument("--random-state", type=_seed, default=0, metavar="SEED", help="default 0")
    check.add_argument(
        "--n-jobs", type=_n_jobs, default=None, metavar="N",
        help="parallel refits (joblib; -1 = all cores; default 1)",
    )
    out = report.add_argument_group("output")
    out.add_argument("--out", default="skrif-report", metavar="DIR", help="default skrif-report/")
    out.add_argument(
        "--overwrite", action="store_true",
        help="replace report files already in DIR (otherwise that is an error)",
    )
    out.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    out.add_argument(
        "--traceback", action="store_true", help="show a full traceback on unexpected errors"
    )
    return parser




# -- report ------------------------------------------------------------------------------
def _model_text(model):
    params = model.get_params()
    keep = {k: params[k] for k in ("C", "alpha", "solver", "tol", "max_iter") if k in params}
    return f"{type(model).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in keep.items()) + ")"


def _short_model_text(model):
    params = model.get_params()
    keep = {k: params[k] for k in ("C", "alpha") if k in params}
    return f"{type(model).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in keep.items()) + ")"


def _verdict(summary):
    """One sentence comparing IF and RIF slopes, when both were checked."""
    import numpy as np

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
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


#: Seconds to start one joblib worker process (import numpy, scipy, scikit-learn and
#: skrif, unpickle the estimator), measured on the 2-core machine of the benchmarks.
WORKER_START_SECONDS = 1.5


def _plan_jobs(requested, est, n_sets):
    """Effective number of jobs and the notes that explain it.

    Capped at the CPUs available (``--n-jobs 1000`` on 2 cores started ~130
    processes). More than one job only pays when the refits take longer than
    starting the worker processes: one refit is timed and the plan is stated.
    """
    import numpy as np

    notes = []
    cpus = _available_cpus()
    n_jobs = 1 if requested is None else requested
    if n_jobs < 0:  # joblib's convention: -1 all CPUs, -2 all but one, ...
        n_jobs = max(1, cpus + 1 + n_jobs)
    if n_jobs > cpus:
        notes.append(f"--n-jobs {requested} capped at the {cpus} CPUs available.")
        n_jobs = cpus
    if n_jobs == 1:
        return 1, notes
    n = est.leverages_.shape[0]
    rows = np.arange(max(1, int(0.05 * n)))
    start = time.perf_counter()
    try:
        est.influence(rows, method="refit")
    except (ValueError, np.linalg.LinAlgError):
        pass
    estimate = (time.perf_counter() - start) * n_sets
    if estimate < WORKER_START_SECONDS * n_jobs:
        notes.append(
            f"--n-jobs {requested}: the {n_sets} exact refits take about {estimate:.2g} s in "
            f"all, less than starting {n_jobs} worker processes (~{WORKER_START_SECONDS} s "
            "each), so they ran in this process."
        )
        return 1, notes
    notes.append(
        f"refits ran in {n_jobs} worker processes, {max(1, cpus // n_jobs)} BLAS thread(s) each."
    )
    return n_jobs, notes


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
    import numpy as np

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


def run_report(args):
    """Run ``skrif report`` with parsed ``args``; return the printed summary text."""
    start = time.perf_counter()
    _need("pandas", "to write the tables")
    _need("matplotlib", "to draw predicted_vs_actual.png")
    if args.n_sets < 4:
        raise ReportError(f"--n-sets must be at least 4 (one set per strategy); got {args.n_sets}.")
    if args.n_sets > MAX_SETS:
        raise ReportError(
            f"--n-sets {args.n_sets} is more than the report draws ({MAX_SETS}); the "
            "statistics settle long before that."
        )
    data = _load_csv(args) if args.data is not None else _load_bundled(args)
    created = _prepare_out(args.out, args.overwrite)  # before any long computation
    try:
        import matplotlib

        matplotlib.use("Agg")
        from threadpoolctl import threadpool_limits

        from .validation.experiment import SMALL_PROBLEM_FLOPS

        n, p = data["X_train"].shape
        if min(n, p + 1) ** 2 * max(n, p + 1) < SMALL_PROBLEM_FLOPS:
            # Small factorizations: BLAS threads only add contention (see validation).
            with threadpool_limits(limits=1, user_api="blas"):
                return _fit_check_write(args, data, start)
        return _fit_check_write(args, data, start)
    except BaseException:
        if created:  # leave no empty folder behind a failed run
            try:
                os.rmdir(args.out)
            except OSError:
                pass
        raise


def _warning_list(caught):
    """Distinct warnings as (category name, one-line message), in order of first appearance."""
    seen = {}
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue
        message = " ".join(str(w.message).split())
        seen.setdefault((w.category.__name__, message), None)
    return list(seen)


def _fit_check_write(args, data, start):
    import matplotlib.pyplot as plt

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = _compute(args, data, start)
    seen = _warning_list(caught)
    for category, message in seen:
        print(f"skrif: warning: {message} ({category})", file=sys.stderr)
    for note in parts["info"]["job_notes"] + data.get("notes", []):
        print(f"skrif: note: {note}", file=sys.stderr)

    from ._report import document as _report

    info, summary = parts["info"], parts["summary"]
    approximation = _report.approximation_blocks(
        summary, _verdict(summary), info["sets_text"], info["nan_note"], parts["figure"]
    )
    approximation[2].items.append(info["timings_text"])
    blocks = _report.build_document(
        parts["est"], data, info, parts["scores"], parts["without"], seen, approximation
    )
    title = f"skrif report: {data['name']}"
    files = {
        "results.csv": parts["results"].to_csv(index=False),
        "influential_rows.csv": parts["influential"].to_csv(index=False),
        "coefficients.csv": info["coefficients"].to_csv(index=False),
        "summary.md": render_markdown(blocks),
        "summary.html": render_html(blocks, title),
        "predicted_vs_actual.png": parts["figure"],
    }
    # Other figures of the document (e.g. diagnostics.png) are written next to it.
    for block in blocks:
        if block.kind == "image" and block.anchor not in files:
            files[block.anchor] = block.image
    _write_report(args.out, files)
    plt.close("all")
    return _printable(data, parts, seen, args.out.rstrip("/") or args.out)


def _compute(args, data, start):
    """Fit, attribute, refit without the harmful rows, check the approximations."""
    import matplotlib.pyplot as plt
    import numpy as np

    from ._display.influence import InfluenceDisplay
    from ._estimator.estimator import InfluenceEstimator
    from ._report import document as _report
    from .validation import validate_influence

    t0 = time.perf_counter()
    try:
        est = InfluenceEstimator(data["model"]).fit(data["X_train"], data["y_train"])
    except ValueError as exc:  # includes UnsupportedModelError
        raise ReportError(f"fitting {_model_text(data['model'])} failed: {exc}") from None
    t_fit = time.perf_counter() - t0
    n_train = data["X_train"].shape[0]
    if not np.all(np.isfinite(est.leverages_)) or not np.isfinite(est.optimality_gap_):
        raise ReportError(
            "the fitted model has non-finite internals (leverages or optimality gap); "
            "rescale the features or the target (e.g. drop --no-standardize)."
        )
    data["leverages"] = est.leverages_
    data["raw_scale"] = bool(getattr(args, "no_standardize", False))
    classifier = est._fitted_removal().objective.is_classifier

    quality = _report.test_quality(est.estimator_, data["X_test"], data["y_test"], classifier, data["y_train"])
    leaks = _report.leak_flags(data, quality, classifier)
    influential, scores = _report.influential_rows(est, data, args.top)
    without = _report.without_harmful(est, data, scores, classifier)
    coefficients = _report.coefficient_table(est, data, without)

    n_jobs, job_notes = _plan_jobs(args.n_jobs, est, args.n_sets)
    n_eval = min(100, data["X_test"].shape[0])
    # Small training sets: let sizes reach 4 rows so that they vary (5% of 24 rows
    # is a single row, and every set would be one row).
    max_fraction = float(min(0.25, max(0.05, 4 / n_train)))
    kwargs = dict(
        methods=args.methods, n_sets=args.n_sets, n_eval_rows=n_eval, n_jobs=n_jobs,
        max_fraction=max_fraction, progress=not args.quiet and "auto", as_frame=True,
        random_state=args.random_state,
    )
    if n_jobs > 1:
        from joblib import parallel_config

        # Each worker gets an equal share of the cores for its BLAS threads, so that
        # processes × threads never exceeds the CPUs.
        with parallel_config(backend="loky", inner_max_num_threads=max(1, _available_cpus() // n_jobs)):
            out = validate_influence(est, data["X_test"], data["y_test"], **kwargs)
    else:
        out = validate_influence(est, data["X_test"], data["y_test"], **kwargs)
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
        title=f"{data.get('short_name', data['name'])} · {_short_model_text(est.estimator_)}"
    )
    buffer = io.BytesIO()
    display.figure_.savefig(buffer, format="png", dpi=100)  # constrained layout: no "tight" redraw
    plt.close(display.figure_)

    timings = out["timings"]
    info = {
        "quality": quality,
        "leaks": leaks,
        "model_text": _model_text(est.estimator_),
        "coefficients": coefficients,
        "top": args.top,
        "n_eval": len(out["eval_rows"]),
        "sets_text": _sets_text(out["sets"], args.n_sets, n_train),
        "nan_note": _nan_note(results, out["methods"]),
        "job_notes": job_notes,
        "timings_text": (
            f"timings: fit + factorization {t_fit:.2f} s; predictions "
            + ", ".join(f"{_METHOD_LABELS[m]} {timings[m]:.2f} s" for m in out["methods"])
            + f"; exact refits {timings['refit']:.2f} s; total {time.perf_counter() - start:.2f} s"
        ),
    }
    return {
        "est": est, "info": info, "results": results, "summary": summary,
        "influential": influential, "scores": scores, "without": without,
        "figure": buffer.getvalue(),
    }


def _printable(data, parts, seen, out):
    from ._report import document as _report

    est, info, scores, without = parts["est"], parts["info"], parts["scores"], parts["without"]
    classifier = est._fitted_removal().objective.is_classifier
    lines = [f"skrif report: {data['name']}"]
    lines.append(f"  {data['split']}; {data['X_train'].shape[1]} features")
    lines.append(f"  model: {info['model_text']}")
    lines.append("  test quality: " + _report.quality_text(info["quality"], classifier))
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
    if without is not None and "error" not in without:
        key = "log_loss" if classifier else "rmse"
        name = "log-loss" if classifier else "RMSE"
        lines.append(
            f"  without the {without['k']} most harmful rows (exact refit): test {name} "
            f"{fmt(without['quality_with'][key])} → {fmt(without['quality_without'][key])}"
        )
    for flag in info["leaks"]:
        lines.append(f"  possible leak: {flag}")
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


def main(argv=None):
    """Entry point of the ``skrif`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("skrif: interrupted", file=sys.stderr)
        return 130
    if args.command is None:
        parser.print_help()
        return 2
    try:
        text = run_report(args)
    except ReportError as exc:
        print(f"skrif: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("skrif: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line unless --traceback
        if args.traceback:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        print(
            f"skrif: error: unexpected {type(exc).__name__}: {first} (rerun with --traceback "
            "for details)",
            file=sys.stderr,
        )
        return 1
    if not args.quiet:
        try:
            print(text, flush=True)
        except BrokenPipeError:  # e.g. `skrif report | head`: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
