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
import html
import io
import os
import sys
import tempfile
import time
import warnings

from ._methods import LABELS as _METHOD_LABELS
from ._methods import PREDICTED_METHODS, SPELLINGS

OUTPUT_FILES = (
    "predicted_vs_actual.png",
    "summary.md",
    "summary.html",
    "influential_rows.csv",
    "results.csv",
)
#: Columns of ``influential_rows.csv``.
INFLUENTIAL_COLUMNS = ("criterion", "rank", "row", "id", "label", "leverage", "rif", "if")
MIN_TRAIN_ROWS = 20
#: More distinct target values than this is not a classification target.
MAX_CLASSES = 50
MIN_TEST_ROWS = 5


class ReportError(Exception):
    """A bad input or environment: reported as one line, exit status 1."""


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
    if value >= 1 and value == int(value):
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


# -- output folder ---------------------------------------------------------------------
def _prepare_out(path, overwrite):
    if os.path.exists(path) and not os.path.isdir(path):
        raise ReportError(f"--out {path!r} exists and is not a folder; choose another --out.")
    existing = [f for f in OUTPUT_FILES if os.path.exists(os.path.join(path, f))]
    if existing and not overwrite:
        raise ReportError(
            f"{path}/ already holds a report ({', '.join(existing)}); pass --overwrite to "
            "replace it or choose another --out."
        )
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".skrif-write-test-"):
            pass
    except OSError as exc:
        raise ReportError(
            f"cannot write to output folder {path!r} ({exc.strerror or exc}); choose a "
            "writable --out."
        ) from None


def _write_atomic(folder, name, data):
    """Write ``data`` (str or bytes) to ``folder/name`` via a temporary file + rename."""
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; use the usual permissions
        os.replace(tmp, os.path.join(folder, name))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- data -----------------------------------------------------------------------------
def _need(module, why):
    try:
        return __import__(module)
    except ImportError:
        raise ReportError(
            f"skrif report needs {module} ({why}); install it with "
            f"`pip install {module}` or `pip install 'skrif[report]'`."
        ) from None


def _load_bundled(args):
    from .datasets import DEFAULT_C, default_model, load_breast_cancer_quadratic

    if args.data is None and (args.target or args.id_column or args.drop or args.one_hot):
        raise ReportError("--target, --id-column, --drop and --one-hot need --data FILE.csv.")
    if args.model == "ridge" or args.alpha is not None:
        raise ReportError(
            "the bundled dataset is a classification problem: --model ridge/--alpha need "
            "--data FILE.csv with a numeric target."
        )
    n_total = 569
    n_train = 300
    if args.test_size is not None:
        n_test = (
            int(round(args.test_size * n_total)) if isinstance(args.test_size, float) else args.test_size
        )
        n_train = n_total - n_test
        if not MIN_TRAIN_ROWS <= n_train <= n_total - MIN_TEST_ROWS:
            raise ReportError(
                f"--test-size {args.test_size} leaves {n_train} of {n_total} rows for "
                f"training; choose one leaving {MIN_TRAIN_ROWS} to {n_total - MIN_TEST_ROWS}."
            )
    data = load_breast_cancer_quadratic(n_train=n_train, random_state=args.random_state)
    model = default_model()
    if args.C is not None:
        model.set_params(C=args.C)
    return {
        "name": "bundled: breast cancer (scikit-learn), degree-2 monomials of standardized features",
        "X_train": data.X_train,
        "X_test": data.X_test,
        "y_train": data.y_train,
        "y_test": data.y_test,
        "ids_train": data.train_index,
        "id_name": "breast_cancer_row",
        "feature_names": list(data.feature_names),
        "model": model,
        "model_kind": "logistic",
        "C": model.C if args.C is None else args.C,
        "default_C": DEFAULT_C,
    }


def _read_csv(path):
    pd = _need("pandas", "to read CSV files")
    if not os.path.exists(path):
        raise ReportError(f"file not found: {path}")
    if os.path.isdir(path):
        raise ReportError(f"--data {path!r} is a folder, not a CSV file.")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ReportError(f"cannot read {path} as CSV: the file is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportError(
            f"cannot read {path} as CSV ({first}); expected comma-separated values "
            "with a header row."
        ) from None
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}.") from None
    if frame.shape[1] < 2 or frame.shape[0] == 0:
        raise ReportError(
            f"{path} has {frame.shape[0]} rows and {frame.shape[1]} columns; expected a "
            "header row, a target column and at least one feature column."
        )
    return frame


def _column_list(names, limit=12):
    names = [str(n) for n in names]
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _load_csv(args):
    pd = _need("pandas", "to read CSV files")
    import numpy as np
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if not args.target:
        raise ReportError("--data needs --target COLUMN (the column to predict).")
    frame = _read_csv(args.data)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    for option, names in (("--target", [args.target]), ("--id-column", [args.id_column] if args.id_column else []), ("--drop", args.drop)):
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise ReportError(
                f"{option} column {unknown[0]!r} is not in {args.data}; its columns are: "
                f"{_column_list(columns)}."
            )
    if args.id_column == args.target:
        raise ReportError("--id-column and --target must be different columns.")
    if args.target in args.drop:
        raise ReportError(f"--drop lists the target column {args.target!r}.")

    y = frame[args.target]
    n_missing = int(y.isna().sum())
    if n_missing:
        raise ReportError(
            f"target column {args.target!r} has {n_missing} missing values (first at data row "
            f"{int(np.flatnonzero(y.isna().to_numpy())[0])}); drop those rows first."
        )
    values = y.unique()
    if len(values) < 2:
        raise ReportError(
            f"target column {args.target!r} is constant (every row is {values[0]!r}): a "
            "single class, nothing to predict; choose another --target."
        )
    numeric_target = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    kind = args.model
    if kind == "auto":
        kind = "logistic" if (len(values) == 2 or not numeric_target) else "ridge"
    if kind == "logistic" and len(values) > MAX_CLASSES:
        raise ReportError(
            f"target column {args.target!r} has {len(values)} distinct values, too many for "
            f"classes (at most {MAX_CLASSES}): is it an identifier? Pick a class column, or "
            "--model ridge for a numeric one."
        )
    if kind == "ridge" and not numeric_target:
        raise ReportError(
            f"target column {args.target!r} is not numeric, so --model ridge cannot fit it; "
            "use --model logistic for a class label."
        )
    if kind == "ridge" and args.C is not None:
        raise ReportError("--C sets LogisticRegression's penalty; for --model ridge use --alpha.")
    if kind == "logistic" and args.alpha is not None:
        raise ReportError("--alpha sets Ridge's penalty; for --model logistic use --C.")

    ids = frame[args.id_column].to_numpy() if args.id_column else np.arange(len(frame))
    features = frame.drop(columns=[args.target, *args.drop] + ([args.id_column] if args.id_column else []))
    if features.shape[1] == 0:
        raise ReportError(f"{args.data} has no feature column left besides the target/id/dropped ones.")
    missing = features.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        col = missing.index[0]
        raise ReportError(
            f"feature column {col!r} has {int(missing.iloc[0])} missing values"
            + (f" (and {len(missing) - 1} more columns have some)" if len(missing) > 1 else "")
            + "; impute them or --drop the column(s) before running skrif report."
        )
    bools = [c for c in features.columns if pd.api.types.is_bool_dtype(features[c])]
    features[bools] = features[bools].astype(float)
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    numeric = [c for c in features.columns if c not in text]
    if text and not args.one_hot:
        raise ReportError(
            f"non-numeric feature columns: {_column_list(text)}; pass --one-hot to one-hot "
            "encode them, or --drop them."
        )
    infinite = [c for c in numeric if not np.all(np.isfinite(features[c].to_numpy(dtype=float)))]
    if infinite:
        raise ReportError(
            f"feature column {infinite[0]!r} holds infinite values; fix or --drop it."
        )

    n = len(frame)
    test_size = 0.25 if args.test_size is None else args.test_size
    n_test = int(np.ceil(test_size * n)) if isinstance(test_size, float) else test_size
    n_train = n - n_test
    if n_train < MIN_TRAIN_ROWS or n_test < MIN_TEST_ROWS:
        raise ReportError(
            f"{args.data} has {n} rows: with --test-size {test_size} that is {n_train} training "
            f"and {n_test} test rows; the report needs at least {MIN_TRAIN_ROWS} training and "
            f"{MIN_TEST_ROWS} test rows (more data or another --test-size)."
        )
    stratify = None
    if kind == "logistic":
        counts = y.value_counts()
        if counts.min() < 2:
            raise ReportError(
                f"class {counts.idxmin()!r} of target {args.target!r} has a single row; each "
                "class needs at least 2 rows (one for training, one for testing)."
            )
        stratify = y.to_numpy()
    positions = np.arange(n)
    try:
        train, test = train_test_split(
            positions, test_size=n_test, random_state=args.random_state, stratify=stratify
        )
    except ValueError as exc:
        raise ReportError(f"cannot split {args.data} into training and test rows: {exc}") from None
    train, test = np.sort(train), np.sort(test)

    blocks_train, blocks_test, names = [], [], []
    if numeric:
        num_train = features.iloc[train][numeric].to_numpy(dtype=float)
        num_test = features.iloc[test][numeric].to_numpy(dtype=float)
        if not args.no_standardize:
            scaler = StandardScaler().fit(num_train)
            num_train, num_test = scaler.transform(num_train), scaler.transform(num_test)
        blocks_train.append(num_train)
        blocks_test.append(num_test)
        names += numeric
    if text:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        cats = features[text].astype(str)
        blocks_train.append(encoder.fit_transform(cats.iloc[train]))
        blocks_test.append(encoder.transform(cats.iloc[test]))
        names += [str(n) for n in encoder.get_feature_names_out(text)]
    X_train, X_test = np.hstack(blocks_train), np.hstack(blocks_test)
    y_np = y.to_numpy()
    if kind == "ridge":
        y_np = y_np.astype(float)
    if kind == "logistic" and len(np.unique(y_np[train])) < 2:
        raise ReportError(
            f"the training rows hold a single class of {args.target!r}; use more data."
        )

    from sklearn.linear_model import LogisticRegression, Ridge

    if kind == "logistic":
        C = 1.0 if args.C is None else args.C
        model = LogisticRegression(C=C, max_iter=1000, tol=1e-8)
    else:
        C = None
        model = Ridge(alpha=1.0 if args.alpha is None else args.alpha)
    return {
        "name": os.path.basename(args.data),
        "X_train": X_train,
        "X_test": X_test,
        "y_train": y_np[train],
        "y_test": y_np[test],
        "ids_train": ids[train],
        "id_name": args.id_column or "csv_row",
        "feature_names": names,
        "model": model,
        "model_kind": kind,
        "C": C,
    }


# -- report ------------------------------------------------------------------------------
def _fmt(value, digits=4):
    import numpy as np

    value = float(value)
    if not np.isfinite(value):
        return "nan"
    return f"{value:.{digits}f}"


def _model_text(model):
    params = model.get_params()
    keep = {k: params[k] for k in ("C", "alpha", "solver", "tol", "max_iter") if k in params}
    return f"{type(model).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in keep.items()) + ")"


def _influential_rows(est, data, top):
    """Rows with the largest self-influence and test-loss effect, RIF and IF side by side."""
    import numpy as np
    import pandas as pd

    from .validation import total_loss_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        self_scores = {m: est.self_influence(target="loss", method=m) for m in ("rif", "if")}
        test_scores = {
            m: total_loss_scores(est, data["X_test"], data["y_test"], method=m) for m in ("rif", "if")
        }
    n = len(self_scores["rif"])
    k = min(top, n)
    blocks = []
    for criterion, scores, key in (
        ("self_loss", self_scores, np.nan_to_num(self_scores["rif"], nan=np.inf)),
        ("test_loss", test_scores, np.nan_to_num(np.abs(test_scores["rif"]), nan=np.inf)),
    ):
        order = np.argsort(-key, kind="stable")[:k]
        blocks.append(
            pd.DataFrame(
                {
                    "criterion": criterion,
                    "rank": np.arange(1, k + 1),
                    "row": order,
                    "id": np.asarray(data["ids_train"])[order],
                    "label": np.asarray(data["y_train"])[order],
                    "leverage": est.leverages_[order],
                    "rif": scores["rif"][order],
                    "if": scores["if"][order],
                }
            )
        )
    return pd.concat(blocks, ignore_index=True)[list(INFLUENTIAL_COLUMNS)]


def _summary_rows(summary):
    rows = []
    for i in range(len(summary)):
        r = summary.iloc[i]
        rows.append(
            [
                _METHOD_LABELS.get(r["method"], r["method"]),
                r["target"],
                str(int(r["n_sets"])),
                _fmt(r["slope"]),
                _fmt(r["pearson"]),
                _fmt(r["spearman"]),
                _fmt(r["median_relative_error"]),
            ]
        )
    return rows


_SUMMARY_HEADER = ["method", "target", "n_sets", "slope", "pearson", "spearman", "median_rel_error"]


def _facts(data, est, info):
    import numpy as np

    lev = est.leverages_
    n_train, p = data["X_train"].shape
    return [
        ("data", data["name"]),
        ("training rows × features", f"{n_train} × {p} ({'p ≥ n' if p >= n_train else 'p < n'})"),
        ("test rows", f"{data['X_test'].shape[0]} (test subset for the targets: {info['n_eval']})"),
        ("model", _model_text(est.estimator_)),
        (
            "leverage h_i",
            f"median {_fmt(np.median(lev), 3)}, 90th percentile {_fmt(np.quantile(lev, 0.9), 3)}, "
            f"max {_fmt(lev.max(), 3)}; rows with h > 0.5: {int(np.sum(lev > 0.5))}",
        ),
        (
            "optimality gap",
            f"{est.optimality_gap_:.2e} (relative Newton step of the fitted model; "
            f"{est.n_polish_steps_} polishing steps)",
        ),
        ("removal sets", f"{info['n_sets']} (random, feature, distance, top_score; 0.1%–5% of rows)"),
        (
            "timings",
            f"fit + factorization {info['t_fit']:.2f} s; predictions "
            + ", ".join(f"{_METHOD_LABELS[m]} {info['timings'][m]:.2f} s" for m in info["methods"])
            + f"; exact refits {info['timings']['refit']:.2f} s; total {info['t_total']:.2f} s",
        ),
    ]


def _markdown(facts, summary_rows, verdict):
    lines = ["# skrif report", ""]
    lines += [f"- **{k}**: {v}" for k, v in facts]
    lines += [
        "",
        "## Predicted vs actual effects of removing training rows",
        "",
        "Each removal set's change (without the rows minus with them) predicted by each "
        "method, against the exact refit. slope: least-squares slope through the origin "
        "of predicted on actual (1 = unbiased, < 1 = underestimates); median_rel_error: "
        "median of |predicted − actual| / |actual|.",
        "",
        "| " + " | ".join(_SUMMARY_HEADER) + " |",
        "|" + "|".join("---" for _ in _SUMMARY_HEADER) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in summary_rows]
    lines += ["", verdict, "", "![predicted vs actual](predicted_vs_actual.png)", ""]
    lines += [
        "Files: `results.csv` (one row per set × target × method), `influential_rows.csv` "
        "(rows with the largest effect on their own loss and on the total test loss, "
        "RIF and IF side by side).",
        "",
    ]
    return "\n".join(lines)


def _html(facts, summary_rows, verdict):
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>skrif report</title>',
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;"
        "text-align:right}th{background:#f3f3f3}td:nth-child(-n+2){text-align:left}</style>",
        "</head><body>",
        "<h1>skrif report</h1>",
        "<ul>",
    ]
    parts += [f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in facts]
    parts += [
        "</ul>",
        "<h2>Predicted vs actual effects of removing training rows</h2>",
        '<table id="summary"><thead><tr>'
        + "".join(f"<th>{e(h)}</th>" for h in _SUMMARY_HEADER)
        + "</tr></thead><tbody>",
    ]
    parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in summary_rows]
    parts += [
        "</tbody></table>",
        f"<p>{e(verdict)}</p>",
        '<img src="predicted_vs_actual.png" alt="predicted vs actual" style="max-width:100%">',
        "</body></html>",
        "",
    ]
    return "\n".join(parts)


def _verdict(summary):
    """One sentence comparing IF and RIF slopes, when both were checked."""
    methods = summary["method"].tolist()
    if "if" not in methods or "rif" not in methods:
        return ""

    def span(method):
        s = summary.loc[summary["method"] == method, "slope"]
        return f"{s.min():.2f}–{s.max():.2f}"

    return (
        f"Slopes over the three targets: IF {span('if')}, RIF {span('rif')}"
        + (f", NS {span('newton')}" if "newton" in methods else "")
        + ". A slope well below 1 means that method underestimates how much removing "
        "rows changes the model."
    )


def _printable(facts, summary, out):
    lines = [f"skrif report: {facts[0][1]}"]
    lines += [f"  {k}: {v}" for k, v in facts[1:]]
    lines.append("")
    lines.append(f"  {'method':<7}{'target':<17}{'slope':>8}{'pearson':>9}{'spearman':>9}{'med.rel.err':>12}")
    for r in _summary_rows(summary):
        lines.append(f"  {r[0]:<7}{r[1]:<17}{r[3]:>8}{r[4]:>9}{r[5]:>9}{r[6]:>12}")
    verdict = _verdict(summary)
    if verdict:
        lines += ["", "  " + verdict]
    lines += ["", f"Report written to {out}/ ({', '.join(OUTPUT_FILES)})"]
    return "\n".join(lines)


def run_report(args):
    """Run ``skrif report`` with parsed ``args``; return the printed summary text."""
    start = time.perf_counter()
    _need("pandas", "to write the tables")
    _need("matplotlib", "to draw predicted_vs_actual.png")
    from .validation import MAX_N_SETS

    if not 4 <= args.n_sets <= MAX_N_SETS:
        raise ReportError(
            f"--n-sets must be at least 4 (one set per strategy) and at most {MAX_N_SETS} "
            f"(each set costs an exact refit); got {args.n_sets}."
        )
    data = _load_csv(args) if args.data is not None else _load_bundled(args)
    _prepare_out(args.out, args.overwrite)  # before any long computation

    import matplotlib

    matplotlib.use("Agg")
    from threadpoolctl import threadpool_limits

    from .validation import SMALL_PROBLEM_FLOPS

    n, p = data["X_train"].shape
    if min(n, p + 1) ** 2 * max(n, p + 1) < SMALL_PROBLEM_FLOPS:
        # Small factorizations: BLAS threads only add contention (see validation).
        with threadpool_limits(limits=1, user_api="blas"):
            return _fit_check_write(args, data, start)
    return _fit_check_write(args, data, start)


def _fit_check_write(args, data, start):
    import matplotlib.pyplot as plt
    import numpy as np

    from ._display import InfluenceDisplay
    from ._estimator import InfluenceEstimator
    from .validation import validate_influence

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est = InfluenceEstimator(data["model"]).fit(data["X_train"], data["y_train"])
        except ValueError as exc:  # includes UnsupportedModelError
            raise ReportError(f"fitting {_model_text(data['model'])} failed: {exc}") from None
    t_fit = time.perf_counter() - t0
    n_train = data["X_train"].shape[0]
    if not np.all(np.isfinite(est.leverages_)):
        raise ReportError("the model's Hessian could not be factored (non-finite leverages).")

    n_eval = min(100, data["X_test"].shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = validate_influence(
            est,
            data["X_test"],
            data["y_test"],
            methods=args.methods,
            n_sets=args.n_sets,
            n_eval_rows=n_eval,
            n_jobs=args.n_jobs,
            progress=not args.quiet and "auto",
            as_frame=True,
            random_state=args.random_state,
        )
    results, summary = out["results"], out["summary"]
    if not np.any(np.isfinite(results["actual"].to_numpy(dtype=float))):
        raise ReportError(
            f"no removal set could be refitted on {n_train} training rows (each left the "
            "model undefined); use more data."
        )
    influential = _influential_rows(est, data, args.top)

    display = InfluenceDisplay.from_results(out)
    buffer = io.BytesIO()
    display.figure_.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(display.figure_)

    info = {
        "n_eval": len(out["eval_rows"]),
        "n_sets": len(out["sets"]),
        "t_fit": t_fit,
        "timings": out["timings"],
        "methods": out["methods"],
        "t_total": time.perf_counter() - start,
    }
    facts = _facts(data, est, info)
    rows = _summary_rows(summary)
    verdict = _verdict(summary)
    _write_atomic(args.out, "results.csv", results.to_csv(index=False))
    _write_atomic(args.out, "influential_rows.csv", influential.to_csv(index=False))
    _write_atomic(args.out, "summary.md", _markdown(facts, rows, verdict))
    _write_atomic(args.out, "summary.html", _html(facts, rows, verdict))
    _write_atomic(args.out, "predicted_vs_actual.png", buffer.getvalue())
    return _printable(facts, summary, args.out.rstrip("/") or args.out)


def main(argv=None):
    """Entry point of the ``skrif`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
