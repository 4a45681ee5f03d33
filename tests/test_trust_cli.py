"""Issue 27 item 7 and findings G, T, U: `skrif report` flags bad data before it
fits, picks a solver by shape, writes safe CSV cells and never leaves a mixed
report behind.

Each run uses a small table and --n-sets 4 (about 2 s).
"""

import os

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

from skrif.cli import main  # noqa: E402


def run(capsys, *args):
    code = main(["report", "--n-sets", "4", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def table(n=80, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    df["y"] = 2.0 * df["x1"] + rng.normal(size=n)
    return df


def test_identifier_like_numeric_column_is_excluded(tmp_path, capsys):
    # MASS biopsy's `rownames` (1..699) got the 8th-largest coefficient.
    df = table()
    df.insert(0, "rownames", np.arange(1, len(df) + 1))
    df.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                       "--out", str(tmp_path / "out"))
    assert code == 0
    assert "rownames" in err and "identifier" in err
    coefs = pd.read_csv(tmp_path / "out" / "coefficients.csv")
    assert "rownames" not in set(coefs["feature"])


def test_duplicate_ids_and_every_data_problem_in_one_error(tmp_path, capsys):
    df = table()
    df["id"] = np.arange(len(df)) % 70  # 70 distinct ids in 80 rows
    df.loc[3, "x1"] = np.nan
    df.loc[5, "x2"] = np.nan
    df.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                       "--id-column", "id", "--out", str(tmp_path / "out"))
    assert code == 1
    assert "duplicate" in err and "'x1'" in err and "'x2'" in err
    assert not (tmp_path / "out").exists()


def test_dropna_and_impute(tmp_path, capsys):
    df = table()
    df.loc[3, "x1"] = np.nan
    df.to_csv(tmp_path / "t.csv", index=False)
    code, out, _ = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                       "--dropna", "--out", str(tmp_path / "a"))
    assert code == 0 and "79 rows" in out
    code, out, _ = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                       "--impute", "median", "--out", str(tmp_path / "b"))
    assert code == 0 and "80 rows" in out


def test_monotone_leak_is_flagged(tmp_path, capsys):
    # ISLR Wage: wage = exp(logwage): Spearman 1.0, Pearson 0.95 (the check was
    # Pearson >= 0.99).
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame({"age": rng.normal(40, 10, n), "logwage": rng.normal(4.6, 0.35, n)})
    df["wage"] = np.exp(df["logwage"])
    df.to_csv(tmp_path / "t.csv", index=False)
    code, out, _ = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "wage",
                       "--out", str(tmp_path / "out"))
    assert code == 0
    assert "leak" in out and "logwage" in out


def test_constant_columns_are_dropped_with_a_note(tmp_path, capsys):
    df = table()
    df["country"] = "NZ"
    df["zeros"] = 0.0
    df.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y", "--one-hot",
                       "--out", str(tmp_path / "out"))
    assert code == 0 and "country" in err and "zeros" in err and "constant" in err
    coefs = pd.read_csv(tmp_path / "out" / "coefficients.csv")
    assert not any(str(f).startswith(("country", "zeros")) for f in coefs["feature"])


def test_all_constant_table_is_a_plain_error(tmp_path, capsys):
    # Finding U: "Every feature is constant: 'feature' sets are undefined".
    n = 60
    pd.DataFrame({"a": np.ones(n), "b": ["k"] * n, "y": np.arange(n) % 7}).to_csv(
        tmp_path / "t.csv", index=False
    )
    code, _, err = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y", "--one-hot",
                       "--model", "ridge", "--out", str(tmp_path / "out"))
    assert code == 1
    assert "constant" in err and "unexpected" not in err and "sets are undefined" not in err


def test_wide_table_does_not_use_a_p_by_p_solver(tmp_path, capsys):
    # Finding G: the CLI always used newton-cholesky (a p × p Hessian): 40 × 15,000
    # took 6.5 min and 5.5 GB.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 400))
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(400)])
    df["y"] = (X[:, 0] + 0.5 * rng.normal(size=50) > 0).astype(int)
    df.to_csv(tmp_path / "t.csv", index=False)
    code, out, _ = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                       "--out", str(tmp_path / "out"))
    assert code == 0
    assert "newton-cholesky" not in out


def test_csv_cells_are_escaped_against_formula_injection(tmp_path, capsys):
    df = table()
    df = df.rename(columns={"x2": "=cmd|' /C calc'!A0"})
    df.to_csv(tmp_path / "t.csv", index=False)
    code, _, _ = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                     "--out", str(tmp_path / "out"))
    assert code == 0
    for name in ("coefficients.csv", "influential_rows.csv", "results.csv"):
        text = (tmp_path / "out" / name).read_text()
        assert ",=cmd" not in text and "\n=cmd" not in text, name


def test_dangling_symlink_is_not_replaced_without_overwrite(tmp_path, capsys):
    df = table()
    df.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(tmp_path / "nowhere.md", out / "summary.md")
    code, _, err = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                       "--out", str(out))
    assert code == 1 and "--overwrite" in err
    assert os.path.islink(out / "summary.md")


def test_failed_overwrite_leaves_the_old_report_whole(tmp_path, capsys):
    # Finding T: a failure while swapping files in left a new summary.md next to
    # the old predicted_vs_actual.png, "the previous files there are unchanged".
    df = table()
    df.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out"
    assert run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y", "--out", str(out))[0] == 0
    before = {f: (out / f).read_bytes() for f in os.listdir(out) if (out / f).is_file()}
    # The last file to be swapped in cannot be replaced: a directory of that name.
    last = "predicted_vs_actual.png"
    (out / last).unlink()
    (out / last).mkdir()
    (out / last / "keep").write_text("x")
    df["y"] = df["y"] + 1.0  # a different report
    df.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y", "--out",
                       str(out), "--overwrite")
    assert code == 1
    after = {f: (out / f).read_bytes() for f in os.listdir(out) if (out / f).is_file()}
    changed = sorted(f for f in before if f in after and before[f] != after[f])
    assert changed == [] or all(f in err for f in changed)


def test_robustness_headline_lists_the_rows_by_id(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 80
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    df["y"] = -0.3 * df["x1"] + rng.normal(size=n)
    df.loc[:5, "x1"], df.loc[:5, "y"] = 5.0, 10.0  # six rows make the x1 slope positive
    df["name"] = [f"id-{i:03d}" for i in range(n)]
    df.to_csv(tmp_path / "t.csv", index=False)
    code, _, _ = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                     "--id-column", "name", "--out", str(tmp_path / "out"))
    assert code == 0
    text = (tmp_path / "out" / "summary.md").read_text()
    line = next(s for s in text.splitlines() if "Robustness" in s)
    assert "flips the sign" in line
    assert "id-" in line


def test_diagnostics_displays_label_rows_by_given_ids():
    # The report's diagnostics.png labelled rows by position while its tables used
    # the --id-column.
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.linear_model import LinearRegression

    from skrif import CooksDistanceDisplay, InfluenceEstimator, ResidualsLeverageDisplay

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = X @ [1.0, 1.0] + rng.normal(size=40)
    y[7] += 9.0
    est = InfluenceEstimator(LinearRegression()).fit(X, y)
    ids = np.array([f"id-{i}" for i in range(40)])
    for display_cls in (ResidualsLeverageDisplay, CooksDistanceDisplay):
        display = display_cls.from_estimator(est, labels=ids, n_labels=1)
        assert list(display.labelled_) == ["id-7"]


def test_long_runs_print_progress_lines(tmp_path, capsys, monkeypatch):
    # Item 5: a 16 s report on digits printed nothing until it was done. Lines
    # appear once a run has taken PROGRESS_AFTER seconds (0 here), one per step.
    from skrif._report import run as report_run

    monkeypatch.setattr(report_run, "PROGRESS_AFTER", 0.0)
    table().to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                       "--out", str(tmp_path / "out"))
    assert code == 0
    steps = [line for line in err.splitlines() if line.startswith("[skrif report]")]
    assert len(steps) >= 3 and any("refits" in line for line in steps)
    code, _, err = run(capsys, "--data", str(tmp_path / "t.csv"), "--target", "y",
                       "--out", str(tmp_path / "quiet"), "--quiet")
    assert code == 0 and "[skrif report]" not in err
