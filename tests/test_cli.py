"""`skrif report`: end-to-end runs in a subprocess, output files, and bad input."""

import base64
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.image import imread  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402

from skrif._report.document import COEFFICIENT_COLUMNS  # noqa: E402
from skrif._report.glossary import CRITERIA  # noqa: E402
from skrif.cli import INFLUENTIAL_COLUMNS, OPTIONAL_OUTPUT_FILES, OUTPUT_FILES, main  # noqa: E402
from skrif.datasets import load_breast_cancer_quadratic, make_planted_logistic  # noqa: E402
from skrif.validation import RESULT_COLUMNS, summarize  # noqa: E402


def _run(*args, cwd=None):
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning,error::FutureWarning"}
    return subprocess.run(
        [sys.executable, "-m", "skrif", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
    )


def _number(cell):
    return np.nan if cell == "n/a" else float(cell)


def _summary_table(md_text):
    """Rows of the Markdown approximation table as {(method, target): [numbers]}."""
    rows = {}
    for line in md_text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] in ("IF", "RIF", "NS"):
            rows[(cells[0], cells[1])] = [_number(c) for c in cells[2:]]
    return rows


def _check_report(folder, stdout, methods=("if", "rif", "newton")):
    assert sorted(f for f in os.listdir(folder) if f not in OPTIONAL_OUTPUT_FILES) == sorted(OUTPUT_FILES)  # no temporary files left
    png = open(os.path.join(folder, "predicted_vs_actual.png"), "rb").read()
    image = imread(os.path.join(folder, "predicted_vs_actual.png"))
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 600
    results = pd.read_csv(os.path.join(folder, "results.csv"), keep_default_na=False, na_values=[""])
    assert list(results.columns) == [*RESULT_COLUMNS, "removed_rows", "removed_ids"]
    assert set(results["method"]) == set(methods)
    # set membership: the listed rows are the set (its size), one membership per set_id
    for set_id, group in results.groupby("set_id"):
        rows = group["removed_rows"].astype(str).unique()
        assert len(rows) == 1 and len(rows[0].split()) == group["size"].iloc[0]
    members = results.groupby("set_id")["removed_rows"].first().astype(str)
    assert members.nunique() == len(members), "removal sets are distinct"
    influential = pd.read_csv(os.path.join(folder, "influential_rows.csv"))
    assert list(influential.columns[: len(INFLUENTIAL_COLUMNS)]) == list(INFLUENTIAL_COLUMNS)
    assert set(influential["criterion"]) <= set(CRITERIA) and "own_loss" in set(influential["criterion"])
    harmful = influential[influential["criterion"] == "test_loss_harmful"]
    helpful = influential[influential["criterion"] == "test_loss_helpful"]
    assert (harmful["rif"] < 0).all() and (helpful["rif"] > 0).all()
    assert harmful["rif"].is_monotonic_increasing and helpful["rif"].is_monotonic_decreasing
    coefs = pd.read_csv(os.path.join(folder, "coefficients.csv"), keep_default_na=False, na_values=[""])
    assert list(coefs.columns) == list(COEFFICIENT_COLUMNS)
    # numbers in the summary are those of the table
    expected = summarize(results)
    md = open(os.path.join(folder, "summary.md"), encoding="utf-8").read()
    table = _summary_table(md)
    label = {"if": "IF", "rif": "RIF", "newton": "NS"}
    assert len(table) == len(expected)
    for _, row in expected.iterrows():
        n_sets, slope, pearson, spearman, rel = table[(label[row["method"]], row["target"])]
        assert n_sets == row["n_sets"]
        assert slope == pytest.approx(row["slope"], abs=6e-5, nan_ok=True)
        assert pearson == pytest.approx(row["pearson"], abs=6e-5, nan_ok=True)
        assert spearman == pytest.approx(row["spearman"], abs=6e-5, nan_ok=True)
        assert rel == pytest.approx(row["median_relative_error"], abs=6e-5, nan_ok=True)
    assert not re.search(r"\bnan\b", md, re.IGNORECASE), "NaN presented as a result"
    # the answer comes before the check, and every section is there
    order = [md.index(h) for h in ("## Data and model", "## Which training rows drive the model",
                                   "## The model without the most harmful rows",
                                   "## Checking the approximation", "## Glossary", "## Files")]
    assert order == sorted(order)
    assert "test subset:" in md and "test-split quality:" in md
    html = open(os.path.join(folder, "summary.html"), encoding="utf-8").read()
    assert html.startswith("<!DOCTYPE html>") and 'src="predicted_vs_actual.png"' not in html
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert any(base64.b64decode(image) == png for image in embedded)  # self-contained
    for numbers in table.values():
        if np.isfinite(numbers[1]):
            assert f"<td class=\"n\">{numbers[1]:.4f}</td>" in html
    for key in ("leverage", "optimality gap", "timings", "Glossary", "test-split quality"):
        assert key in md and key in html
    assert "Report written to" in stdout
    return results, influential, md


@pytest.fixture(scope="module")
def default_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("default") / "report"
    proc = _run("report", "--out", str(folder))
    assert proc.returncode == 0, proc.stderr
    return folder, proc


def test_default_report(default_report):
    folder, proc = default_report
    assert "Traceback" not in proc.stderr
    results, influential, md = _check_report(folder, proc.stdout)
    assert "300 × 495 (p ≥ n: more parameters than rows)" in md
    assert set(results["strategy"]) == {"random", "feature", "distance", "top_score"}
    assert results["set_id"].nunique() == 40
    s = summarize(results).set_index(["method", "target"])
    for target in ("test_proba", "test_loss", "self_loss"):
        # the bundled default shows the paper's point: IF underestimates, RIF does not
        assert s.loc[("if", target), "slope"] < 0.75
        assert 0.9 <= s.loc[("rif", target), "slope"] <= 1.1
    # the printed summary carries the same numbers as summary.md
    for line in proc.stdout.splitlines():
        m = re.match(r"\s+(IF|RIF|NS)\s+(\w+)\s+([-\d.]+)", line)
        if m:
            assert f"| {m.group(1)} | {m.group(2)} | 40 | {m.group(3)} |" in md
    # rows in influential_rows.csv point back at the original breast-cancer table
    assert influential["id"].between(0, 568).all()
    assert (influential["rank"].to_numpy()[:20] == np.arange(1, 21)).all()
    data = load_breast_cancer_quadratic(n_train=300, random_state=0)
    assert (data.train_index[influential["row"]] == influential["id"]).all()
    raw = load_breast_cancer().data[data.train_index]
    assert np.allclose(influential["mean radius"], raw[influential["row"], 0])  # original values
    results = pd.read_csv(folder / "results.csv")
    for _, r in results.drop_duplicates("set_id").iterrows():
        rows = np.array(r["removed_rows"].split(), dtype=int)
        assert (data.train_index[rows] == np.array(str(r["removed_ids"]).split(), dtype=int)).all()


def _quality_rows(md):
    rows = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in ("accuracy", "ROC AUC", "log-loss per row", "R²", "RMSE"):
            rows[cells[0]] = [float(c) for c in cells[1:3]]
    return rows


def test_default_report_answers_with_independent_refits(default_report):
    """Test quality and "without the most harmful rows" match scikit-learn refits."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    folder, _ = default_report
    md = (folder / "summary.md").read_text(encoding="utf-8")
    data = load_breast_cancer_quadratic(n_train=300, random_state=0)

    def quality(model):
        proba = model.predict_proba(data.X_test)[:, 1]
        return {"accuracy": accuracy_score(data.y_test, proba > 0.5), "ROC AUC": roc_auc_score(data.y_test, proba),
                "log-loss per row": log_loss(data.y_test, proba)}

    full = LogisticRegression(C=0.1, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(data.X_train, data.y_train)
    with_all = quality(full)
    m = re.search(r"test-split quality: accuracy ([\d.]+), ROC AUC ([\d.]+), log-loss ([\d.]+)", md)
    assert [float(g) for g in m.groups()] == pytest.approx(
        [with_all["accuracy"], with_all["ROC AUC"], with_all["log-loss per row"]], abs=6e-4)

    m = re.search(r"The (\d+) rows ranked most harmful on the whole test split \(ids ([\d, ]+)\)", md)
    k, ids = int(m.group(1)), np.array(m.group(2).split(", "), dtype=int)
    assert k == len(ids) == 10
    influential = pd.read_csv(folder / "influential_rows.csv")
    harmful = influential[influential["criterion"] == "test_loss_harmful"]
    assert set(ids) == set(harmful["id"].iloc[:k])  # the k most harmful rows
    keep = ~np.isin(data.train_index, ids)
    refit = LogisticRegression(C=0.1, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(
        data.X_train[keep], data.y_train[keep])
    without = quality(refit)
    table = _quality_rows(md)
    for name in ("accuracy", "ROC AUC", "log-loss per row"):
        assert table[name][0] == pytest.approx(with_all[name], abs=6e-4)
        assert table[name][1] == pytest.approx(without[name], abs=6e-4)
    # the exact change of the total test loss, in the report's own sentence
    m = re.search(r"changes the total test loss by (-?[\d.]+)", md)
    actual = log_loss(data.y_test, refit.predict_proba(data.X_test), normalize=False) - log_loss(
        data.y_test, full.predict_proba(data.X_test), normalize=False)
    assert float(m.group(1)) == pytest.approx(actual, rel=1e-3)
    # the largest coefficients: with and without, from the same refits
    coefs = pd.read_csv(folder / "coefficients.csv")
    feats = coefs[coefs["feature"] != "(intercept)"]
    assert np.allclose(feats["coef"], full.coef_[0], atol=1e-6)
    assert np.allclose(feats["coef_without_harmful"], refit.coef_[0], atol=1e-6)
    # the most harmful row is harmful for real: removing it alone lowers the test loss
    first = ~np.isin(data.train_index, harmful["id"].iloc[:1])
    alone = LogisticRegression(C=0.1, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(
        data.X_train[first], data.y_train[first])
    assert log_loss(data.y_test, alone.predict_proba(data.X_test), normalize=False) < log_loss(
        data.y_test, full.predict_proba(data.X_test), normalize=False)


def test_existing_report_is_not_clobbered(default_report, capsys):
    folder, _ = default_report
    before = (folder / "summary.md").read_bytes()
    code = main(["report", "--out", str(folder), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "already holds a report" in err and "--overwrite" in err
    assert (folder / "summary.md").read_bytes() == before


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    X, y = make_planted_logistic(160, 8, scale=4.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    frame.insert(0, "customer", [f"c{i:04d}" for i in range(160)])
    frame["region"] = np.where(np.arange(160) % 3 == 0, "north", "south")
    frame["label"] = np.where(y == 1, "yes", "no")
    frame["amount"] = X[:, 0] * 3.0 + X[:, 1] + np.random.default_rng(0).normal(size=160)
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_csv_report_logistic_one_hot_with_ids(csv_file, tmp_path):
    out = tmp_path / "rep"
    proc = _run(
        "report", "--data", str(csv_file), "--target", "label", "--id-column", "customer",
        "--drop", "amount", "--one-hot", "--C", "2", "--n-sets", "8", "--methods", "if,rif",
        "--out", str(out), "--n-jobs", "1",
    )
    assert proc.returncode == 0, proc.stderr
    results, influential, md = _check_report(out, proc.stdout, methods=("if", "rif"))
    assert "LogisticRegression(C=2.0" in md and "120 × 10" in md  # 8 + 2 one-hot columns
    assert influential["id"].str.match(r"c\d{4}$").all()
    assert set(influential["label"]) <= {"yes", "no"}
    assert results["set_id"].nunique() == 8


def test_csv_report_ridge_in_process(csv_file, tmp_path, capsys):
    out = tmp_path / "ridge"
    code = main([
        "report", "--data", str(csv_file), "--target", "amount", "--drop", "customer,label,region",
        "--alpha", "0.5", "--n-sets", "4", "--test-size", "40", "--out", str(out),
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    results, _, md = _check_report(out, captured.out)
    assert "Ridge(alpha=0.5" in md and "120 × 8" in md
    assert set(results["target"]) == {"test_prediction", "test_loss", "self_loss"}
    # least squares: the group Newton step is exact
    newton = results[results["method"] == "newton"]
    assert np.allclose(newton["predicted"], newton["actual"], rtol=1e-7, atol=1e-9)


def test_csv_report_multiclass(csv_file, tmp_path, capsys):
    frame = pd.read_csv(csv_file)
    frame["label"] = np.array(["low", "mid", "high"])[np.digitize(frame["x0"], [-0.4, 0.4])]
    path = tmp_path / "three.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "rep"
    code = main(["report", "--data", str(path), "--target", "label", "--id-column", "customer",
                 "--drop", "amount,region", "--n-sets", "4", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    results, influential, md = _check_report(out, "Report written to")
    assert set(influential["label"]) <= {"low", "mid", "high"}
    assert "LogisticRegression(C=1.0" in md
    assert set(results["target"]) == {"test_proba", "test_loss", "self_loss"}


def _bad_inputs(tmp, csv_file):
    frame = pd.read_csv(csv_file)
    paths = {}

    def write(name, df):
        paths[name] = tmp / f"{name}.csv"
        df.to_csv(paths[name], index=False)
        return str(paths[name])

    garbage = tmp / "garbage.csv"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\xfa")
    empty = tmp / "empty.csv"
    empty.write_text("")
    with_nan = frame.copy()
    with_nan.loc[5, "x3"] = np.nan
    constant = frame.assign(label="yes")
    lonely = frame.assign(label="no")
    lonely.loc[0, "label"] = "yes"
    many = frame.assign(label=frame["customer"])
    afile = tmp / "a_file"
    afile.write_text("x")
    base = ["--target", "label", "--id-column", "customer", "--drop", "amount"]
    return [
        (["--data", str(tmp / "missing.csv"), *base], "file not found"),
        (["--data", str(garbage), *base], "cannot read .* as CSV"),
        (["--data", str(empty), *base], "the file is empty"),
        (["--data", str(csv_file), "--target", "nope"], "column 'nope' is not in"),
        (["--data", write("constant", constant), *base, "--one-hot"], "is constant.*single class"),
        (["--data", str(csv_file), *base], "non-numeric feature columns: region.*--one-hot"),
        (["--data", write("nan", with_nan), *base, "--one-hot"], "'x3' has 1 missing values"),
        (["--data", write("lonely", lonely), *base, "--one-hot"], "class 'yes'.*single row"),
        (["--data", write("many", many), *base, "--one-hot"], "160 distinct values.*identifier"),
        (["--data", write("tiny", frame.iloc[:24]), *base, "--one-hot"], "at least 20 training"),
        (["--data", str(csv_file), *base, "--one-hot", "--out", str(afile / "sub")], "not a folder|cannot write"),
        (["--data", str(csv_file), *base, "--one-hot", "--out", str(afile)], "not a folder"),
        (["--data", str(csv_file)], "needs --target"),
        (["--target", "label"], "need --data"),
        (["--preprocessing", "fixed"], "need --data"),
        (["--model", "ridge"], "classification problem"),
        (["--n-sets", "2"], "at least 4"),
        (["--data", str(csv_file), *base, "--one-hot", "--alpha", "1"], "--alpha sets Ridge"),
    ]


def test_bad_input_gives_one_line_and_exit_1(csv_file, tmp_path, capsys):
    for argv, match in _bad_inputs(tmp_path, csv_file):
        code = main(["report", *argv, "--out", str(tmp_path / "never")] if "--out" not in argv else ["report", *argv])
        err = capsys.readouterr().err
        assert code == 1, (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("skrif: error: "), (argv, err)
        assert re.search(match, lines[0]), (argv, lines[0], match)
        assert not (tmp_path / "never").exists(), "a failed run created its output folder"


def test_bad_input_subprocess_has_no_traceback(tmp_path):
    proc = _run("report", "--data", str(tmp_path / "missing.csv"), "--target", "y")
    assert proc.returncode == 1 and proc.stderr.strip() == (
        f"skrif: error: file not found: {tmp_path / 'missing.csv'}"
    )
    usage = _run("report", "--n-sets", "many")
    assert usage.returncode == 2 and "--n-sets: expected a positive integer" in usage.stderr
    assert "Traceback" not in usage.stderr


@pytest.mark.parametrize(
    "option, value, message",
    [("--n-jobs", "0", "non-zero"), ("--random-state", "-1", "0..2**32-1"), ("--test-size", "1.5", "fraction"),
     ("--C", "-1", "positive"), ("--methods", "if,magic", "subset of if,rif,newton")],
)
def test_malformed_options_exit_2(option, value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", option, value])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_overwrite_replaces_atomically(csv_file, tmp_path, capsys):
    out = tmp_path / "rep"
    argv = ["report", "--data", str(csv_file), "--target", "amount", "--drop", "customer,label,region",
            "--n-sets", "4", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert capsys.readouterr().out == ""  # --quiet prints nothing
    (out / "results.csv").write_text("stale")
    assert main(argv) == 1
    assert main([*argv, "--overwrite"]) == 0
    assert (out / "results.csv").read_text().startswith("set_id,")
    assert sorted(f for f in os.listdir(out) if f not in OPTIONAL_OUTPUT_FILES) == sorted(OUTPUT_FILES)


def test_help_mentions_every_option():
    proc = _run("report", "--help")
    assert proc.returncode == 0
    for option in ("--data", "--target", "--model", "--C", "--alpha", "--test-size", "--random-state",
                   "--out", "--methods", "--n-sets", "--id-column", "--quiet", "--n-jobs", "--overwrite",
                   "--one-hot"):
        assert option in proc.stdout


# -- input guards (issue 16, item 2) ------------------------------------------------------
def test_identifier_text_column_is_refused_with_the_fix(csv_file, tmp_path, capsys):
    # customer is one distinct text value per row: one-hot encoding it would add a
    # column per row (fair.csv with a person id became 4,774 × 4,796 features).
    code = main(["report", "--data", str(csv_file), "--target", "label", "--drop", "amount",
                 "--one-hot", "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert re.search(r"text column 'customer' has 160 distinct values in 160 rows.*"
                     r"--id-column customer.*--drop customer", err[0])
    assert not (tmp_path / "never").exists()


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    from sklearn.datasets import load_wine

    path = tmp_path_factory.mktemp("wine") / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(path, index=False)
    return path


def test_integer_coded_classes_are_classified_and_said(wine_csv, tmp_path, capsys):
    out = tmp_path / "rep"
    proc = _run("report", "--data", str(wine_csv), "--target", "target", "--n-sets", "4",
                "--methods", "rif", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    note = "target 'target' holds 3 integer values (0, 1, 2): treated as classes"
    assert f"skrif: note: {note}" in proc.stderr and "--model ridge" in proc.stderr
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert note in md and "LogisticRegression(" in md and "3 classes" in md
    # --model ridge keeps the numeric reading, without the note
    out2 = tmp_path / "ridge"
    code = main(["report", "--data", str(wine_csv), "--target", "target", "--model", "ridge",
                 "--n-sets", "4", "--methods", "rif", "--out", str(out2), "--quiet"])
    assert code == 0 and "treated as classes" not in capsys.readouterr().err
    assert "Ridge(alpha=1.0" in (out2 / "summary.md").read_text(encoding="utf-8")


def test_leaking_column_is_flagged(tmp_path, capsys):
    sm = pytest.importorskip("statsmodels.api")
    fair = sm.datasets.fair.load_pandas().data.sample(400, random_state=0)
    fair["had_affair"] = (fair["affairs"] > 0).astype(int)  # derived from a feature: a leak
    path = tmp_path / "fair.csv"
    fair.to_csv(path, index=False)
    out = tmp_path / "rep"
    proc = _run("report", "--data", str(path), "--target", "had_affair", "--n-sets", "4",
                "--methods", "rif", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    flag = "feature 'affairs' alone separates the training classes"
    assert flag in proc.stdout and "--drop it" in proc.stdout
    assert flag in (out / "summary.md").read_text(encoding="utf-8")
    # without the leaking column, no flag
    out2 = tmp_path / "clean"
    code = main(["report", "--data", str(path), "--target", "had_affair", "--drop", "affairs",
                 "--n-sets", "4", "--methods", "rif", "--out", str(out2)])
    assert code == 0 and "possible leak" not in capsys.readouterr().out


# -- small data (item 3) ------------------------------------------------------------------
def test_small_data_sets_are_distinct_and_sizes_vary(tmp_path):
    sm = pytest.importorskip("statsmodels.api")
    path = tmp_path / "spector.csv"
    sm.datasets.spector.load_pandas().data.to_csv(path, index=False)  # 32 rows
    out = tmp_path / "rep"
    proc = _run("report", "--data", str(path), "--target", "GRADE", "--test-size", "8",
                "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    results = pd.read_csv(out / "results.csv")
    per_set = results.drop_duplicates("set_id")
    members = per_set["removed_rows"].astype(str).map(lambda s: tuple(sorted(map(int, s.split()))))
    assert members.nunique() == len(members)  # distinct sets only
    sizes = sorted(per_set["size"].unique())
    assert len(sizes) > 1 and sizes[0] == 1  # not every set a single row
    md = (out / "summary.md").read_text(encoding="utf-8")
    m = re.search(r"removal sets: (\d+) \((\d+) distinct; .*sizes (\d+)–(\d+) rows .*; (\d+) distinct sizes\)", md)
    assert m, md
    assert int(m.group(1)) == int(m.group(2)) == len(members)
    assert (int(m.group(3)), int(m.group(4)), int(m.group(5))) == (sizes[0], sizes[-1], len(sizes))


# -- warnings and NaN (issue 17, K) ------------------------------------------------------
def test_every_skrif_warning_is_surfaced(tmp_path, capsys, monkeypatch):
    import warnings as _warnings

    from skrif._report import quality
    from skrif.exceptions import OptimalityWarning

    real = quality.test_quality

    def warn_then_measure(*args, **kwargs):
        _warnings.warn("probe: the fitted model is off its optimum", OptimalityWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(quality, "test_quality", warn_then_measure)
    X, y = make_planted_logistic(80, 3, scale=3.0, random_state=1)
    path = tmp_path / "d.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y).to_csv(path, index=False)
    code = main(["report", "--data", str(path), "--target", "y", "--n-sets", "4", "--out",
                 str(tmp_path / "rep"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0
    assert "skrif: warning: probe: the fitted model is off its optimum (OptimalityWarning)" in err
    md = (tmp_path / "rep" / "summary.md").read_text(encoding="utf-8")
    assert "warning (OptimalityWarning): probe: the fitted model is off its optimum" in md


def test_badly_scaled_raw_column_warns_and_shows_no_nan(tmp_path):
    # A ×1e7 column next to unit-scale ones, used raw: whatever skrif warns during the
    # fit must reach stderr and the summary, and no statistic may read "nan".
    import warnings as _warnings

    from sklearn.linear_model import Ridge

    from skrif import InfluenceEstimator

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, 2.0, -1.0] + rng.normal(size=60)
    X[:, 2] *= 1e7
    path = tmp_path / "scale.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y).to_csv(path, index=False)
    out = tmp_path / "rep"
    proc = _run("report", "--data", str(path), "--target", "y", "--no-standardize",
                "--n-sets", "8", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    train = pd.read_csv(out / "influential_rows.csv")  # ids are CSV rows
    assert len(train)
    # the warnings of the same fit, obtained independently of the CLI
    from sklearn.model_selection import train_test_split

    rows_train, _ = train_test_split(np.arange(60), test_size=15, random_state=0)
    rows_train = np.sort(rows_train)
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        InfluenceEstimator(Ridge(alpha=1.0)).fit(X[rows_train], y[rows_train])
    for w in caught:
        if w.category.__module__.startswith("skrif"):
            text = " ".join(str(w.message).split())
            assert f"skrif: warning: {text} ({w.category.__name__})" in proc.stderr
            assert text in (out / "summary.md").read_text(encoding="utf-8")
    for text in (proc.stdout, (out / "summary.md").read_text(encoding="utf-8")):
        assert not re.search(r"\bnan\b", text, re.IGNORECASE)


# -- options that used to crash or hang (issue 17, L, Q, R) ------------------------------
@pytest.mark.parametrize("value", ["inf", "1e400", "-inf", "nan"])
def test_test_size_overflow_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", f"--test-size={value}"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--test-size: expected a fraction in (0, 1) or a row count" in err
    assert "Traceback" not in err


def test_n_jobs_is_capped_at_the_cpus_and_said(csv_file, tmp_path, capsys):
    from skrif._report.run import _available_cpus

    out = tmp_path / "rep"
    code = main(["report", "--data", str(csv_file), "--target", "amount", "--drop", "customer,label,region",
                 "--n-sets", "4", "--n-jobs", "1000", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0
    capped = f"--n-jobs 1000 capped at the {_available_cpus()} CPUs available."
    assert f"skrif: note: {capped}" in err
    assert capped in (out / "summary.md").read_text(encoding="utf-8")
    # 4 cheap refits: not worth starting worker processes, and the report says so
    assert "ran in this process" in err or _available_cpus() == 1


def test_non_regular_and_oversized_files_are_refused(tmp_path, capsys, monkeypatch):
    from skrif._report import data

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        code = main(["report", "--data", path, "--target", "y", "--out", str(tmp_path / "never")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and "is not a regular file" in err[0], err
    big = tmp_path / "big.csv"
    big.write_text("a,y\n" + "1,2\n" * 100)
    monkeypatch.setattr(data, "MAX_CSV_BYTES", 200)
    code = main(["report", "--data", str(big), "--target", "y", "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "more than skrif report reads" in err[0], err
    assert not (tmp_path / "never").exists()


# -- interrupts and failed writes (issue 17, M, T) ----------------------------------------
@pytest.mark.parametrize("delay", [0.3, 1.0])
def test_ctrl_c_during_startup_exits_130_without_traceback(delay, tmp_path):
    import signal
    import time

    out = tmp_path / "never"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "skrif_cli", "report", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err == "skrif: interrupted\n"
    assert not out.exists()


def test_failed_overwrite_leaves_the_old_report_whole(csv_file, tmp_path, capsys, monkeypatch):
    import errno

    from skrif._report import files

    out = tmp_path / "rep"
    argv = ["report", "--data", str(csv_file), "--target", "amount", "--drop", "customer,label,region",
            "--n-sets", "4", "--out", str(out), "--quiet", "--overwrite"]
    assert main(argv) == 0
    capsys.readouterr()  # the first run's warnings (the report's set error estimate)
    before = {name: (out / name).read_bytes() for name in OUTPUT_FILES}
    real, calls = files._write_file, []

    def disk_full_on_third(folder, name, data):
        calls.append(name)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(folder, name, data)

    monkeypatch.setattr(files, "_write_file", disk_full_on_third)
    assert main([*argv, "--random-state", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "unchanged" in err[0]
    assert sorted(f for f in os.listdir(out) if f not in OPTIONAL_OUTPUT_FILES) == sorted(OUTPUT_FILES)  # no staging folder left
    assert {name: (out / name).read_bytes() for name in OUTPUT_FILES} == before


def test_report_has_diagnostics_and_robustness_sections(tmp_path):
    # The bundled report shows the regression diagnostics (issue 13) and the
    # robustness headline (issue 14); their numbers are tested in test_diagnostics.py
    # and test_amip.py / test_audit.py against statsmodels and exact refits.
    out = tmp_path / "rep"
    result = _run("report", "--n-sets", "4", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    summary = (out / "summary.md").read_text()
    assert "## Regression diagnostics" in summary and "(diagnostics.png)" in summary
    assert "Robustness:" in summary and "largest coefficient" in summary
    assert (out / "diagnostics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
