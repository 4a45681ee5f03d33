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
import math
import os
import sys
import time
import warnings

from ._removal.methods import PREDICTED_METHODS, SPELLINGS
from ._report.data import ReportError, _load_bundled, _load_csv, _need
from ._report.document import INFLUENTIAL_COLUMNS  # noqa: F401  (documented columns)
from ._report.files import OPTIONAL_OUTPUT_FILES, OUTPUT_FILES, _prepare_out  # noqa: F401
from ._report.run import MAX_SETS, ReportOptions, _model_text, printable, write_report


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
    options = ReportOptions(
        out=args.out, overwrite=args.overwrite, methods=args.methods, n_sets=args.n_sets,
        top=args.top, random_state=args.random_state, n_jobs=args.n_jobs,
        progress=not args.quiet and "auto",
    )
    data["raw_scale"] = bool(getattr(args, "no_standardize", False))
    try:
        est, t_fit, fit_warnings = _fit(data)
        parts, seen = write_report(est, data, options, start, t_fit, fit_warnings)
    except BaseException:
        if created:  # leave no empty folder behind a failed run
            try:
                os.rmdir(args.out)
            except OSError:
                pass
        raise
    for category, message in seen:
        print(f"skrif: warning: {message} ({category.__name__})", file=sys.stderr)
    for note in parts["info"]["job_notes"] + data.get("notes", []):
        print(f"skrif: note: {note}", file=sys.stderr)
    return printable(data, parts, seen, args.out.rstrip("/") or args.out)


def _fit(data):
    """The InfluenceEstimator of the data's model fitted on the training rows, the
    seconds it took and the warnings it raised (listed in the report)."""
    from ._estimator.estimator import InfluenceEstimator

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est = InfluenceEstimator(data["model"]).fit(data["X_train"], data["y_train"])
        except ValueError as exc:  # includes UnsupportedModelError
            raise ReportError(f"fitting {_model_text(data['model'])} failed: {exc}") from None
    return est, time.perf_counter() - start, list(caught)


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
