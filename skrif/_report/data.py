"""Loading the table of ``skrif report``: the bundled default or a CSV file, with every
anticipated data problem reported as one :class:`ReportError` message."""

import io
import os
import stat

MIN_TRAIN_ROWS = 20


#: More distinct target values than this is not a classification target.
MAX_CLASSES = 50


#: --model auto reads an integer target with at most this many values as classes.
MAX_INTEGER_CLASSES = 10


MIN_TEST_ROWS = 5


#: Largest CSV file read (bytes): the report's refits would not finish on more anyway.
MAX_CSV_BYTES = 1 << 30


class ReportError(ValueError):
    """A bad input or environment: reported as one line, exit status 1 (a
    ``ValueError`` for :func:`skrif.report`)."""


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
    from ..datasets import DEFAULT_C, default_model, load_breast_cancer_quadratic

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
        "short_name": "breast cancer, degree-2 monomials",
        "X_train": data.X_train,
        "X_test": data.X_test,
        "y_train": data.y_train,
        "y_test": data.y_test,
        "ids_train": data.train_index,
        "ids_test": data.test_index,
        "id_name": "breast_cancer_row",
        "id_note": "the row's number in scikit-learn's load_breast_cancer table (0–568)",
        "feature_names": list(data.feature_names),
        # The user-facing values: the 30 measurements before the monomial map.
        "raw_train": data.raw_train,
        "target_name": "diagnosis",
        "label_names": {0: "malignant", 1: "benign"},
        "model": model,
        "model_kind": "logistic",
        "C": model.C if args.C is None else args.C,
        "default_C": DEFAULT_C,
        "notes": [],
        "split": f"{n_total} rows: {n_train} training, {n_total - n_train} test (stratified, "
        f"--random-state {args.random_state})",
        "features_text": "30 measurements → standardized → all 495 degree-1 and degree-2 "
        "monomials → standardized (maps fitted on the training rows)",
    }


def _read_csv(path):
    pd = _need("pandas", "to read CSV files")
    if not os.path.exists(path):
        raise ReportError(f"file not found: {path}")
    if os.path.isdir(path):
        raise ReportError(f"--data {path!r} is a folder, not a CSV file.")
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}.") from None
    if not stat.S_ISREG(info.st_mode):
        # /dev/zero, a FIFO or a terminal would be read forever (or block).
        raise ReportError(
            f"--data {path!r} is not a regular file (a device, pipe or socket); save the "
            "table to a .csv file first."
        )
    if info.st_size > MAX_CSV_BYTES:
        raise ReportError(
            f"{path} is {info.st_size / 2**20:.0f} MiB, more than skrif report reads "
            f"({MAX_CSV_BYTES // 2**20} MiB); sample or aggregate the rows first."
        )
    try:
        with open(path, "rb") as f:
            # Bounded read: a file that grows while it is read stops at the cap.
            raw = f.read(MAX_CSV_BYTES + 1)
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}.") from None
    if len(raw) > MAX_CSV_BYTES:
        raise ReportError(
            f"{path} grew past {MAX_CSV_BYTES // 2**20} MiB while being read; use a "
            "finished, smaller file."
        )
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except pd.errors.EmptyDataError:
        raise ReportError(f"cannot read {path} as CSV: the file is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportError(
            f"cannot read {path} as CSV ({first}); expected comma-separated values "
            "with a header row."
        ) from None
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
            f"target column {args.target!r} is constant (every row is {_fmt_value(values[0])!r}): a "
            "single class, nothing to predict; choose another --target."
        )
    numeric_target = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    notes = []
    kind = args.model
    if kind == "auto":
        kind = "logistic" if (len(values) == 2 or not numeric_target) else "ridge"
        if kind == "ridge" and _few_integer_values(y):
            # Integer codes such as 0/1/2 (wine cultivars) are classes far more often
            # than numbers; say so, and how to get the other reading.
            shown = ", ".join(_fmt_value(v) for v in sorted(values)[:MAX_INTEGER_CLASSES])
            kind = "logistic"
            notes.append(
                f"target {args.target!r} holds {len(values)} integer values ({shown}): "
                "treated as classes (--model auto picked multinomial logistic "
                "regression); pass --model ridge to predict it as a number."
            )
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
    n = len(frame)
    # A text column with (nearly) one value per row is an identifier or free text:
    # one-hot encoding it adds a column per row (fair.csv with a person id became
    # 4,774 × 4,796 features and a 10-minute run) and attributes nothing useful.
    id_like = [c for c in text if _looks_like_identifier(features[c], n)]
    if id_like:
        col = id_like[0]
        raise ReportError(
            f"text column {col!r} has {features[col].nunique()} distinct values in {n} rows: "
            f"it looks like an identifier; pass --id-column {col} to label rows with it, or "
            f"--drop {col}."
        )
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
        # Newton–Cholesky to tol=1e-10 reaches the optimum skrif attributes at, so
        # skrif does not have to polish the coefficients (lbfgs stops at ~1e-8).
        model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-10, max_iter=1000)
    else:
        C = None
        model = Ridge(alpha=1.0 if args.alpha is None else args.alpha)
    transform = []
    if numeric:
        transform.append(
            f"{len(numeric)} numeric "
            + ("as they are (--no-standardize)" if args.no_standardize else "standardized on the training rows")
        )
    if text:
        transform.append(f"{len(text)} text one-hot encoded ({X_train.shape[1] - len(numeric)} columns)")
    return {
        "name": os.path.basename(args.data),
        "X_train": X_train,
        "X_test": X_test,
        "y_train": y_np[train],
        "y_test": y_np[test],
        "ids_train": ids[train],
        "ids_test": ids[test],
        "id_name": args.id_column or "csv_row",
        "id_note": (
            f"the --id-column {args.id_column!r}" if args.id_column else
            "the row's 0-based position among the CSV's data rows (no --id-column)"
        ),
        "feature_names": names,
        "raw_train": features.iloc[train].reset_index(drop=True),
        "target_name": args.target,
        "model": model,
        "model_kind": kind,
        "C": C,
        "notes": notes,
        "split": (
            f"{n} rows: {len(train)} training, {len(test)} test (random split"
            + (", stratified by class" if stratify is not None else "")
            + f", --random-state {args.random_state})"
        ),
        "features_text": "; ".join(transform) + (
            " (this preprocessing is held fixed when rows are removed: the report "
            "attributes the model on these features)" if (numeric and not args.no_standardize) or text else ""
        ),
    }


def _few_integer_values(y):
    """True if a numeric target holds 3 to MAX_INTEGER_CLASSES distinct integers."""
    import numpy as np

    values = np.unique(y.to_numpy(dtype=float))
    return 2 < values.size <= MAX_INTEGER_CLASSES and bool(np.all(values == np.round(values)))


def _looks_like_identifier(column, n_rows):
    """A text column with many distinct values: more than 50 and over a tenth of the rows."""
    distinct = column.nunique()
    return distinct > 50 and distinct > 0.1 * n_rows


def _fmt_value(value):
    import numpy as np

    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
