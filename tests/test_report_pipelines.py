"""The report on whole pipelines (issue 22): ``skrif.report(InfluenceEstimator(pipeline),
raw X_test, ...)``, ``skrif report --data`` building its preprocessing into the model's
Pipeline, and removal curves that refit the whole pipeline.

Ground truth is ``clone(pipeline).fit`` on the kept rows; the tables are tiny so that
every check is a handful of refits.
"""

import os
import re

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

from sklearn.base import clone  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

import skrif  # noqa: E402
from skrif import InfluenceEstimator  # noqa: E402
from skrif.cli import main  # noqa: E402
from skrif.validation import removal_curve  # noqa: E402

OMITTED = "omitted: the regression diagnostics and the robustness audit"


def raw_table(n=80, seed=0):
    """Raw rows as a user has them: a text column, missing values in both kinds."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.normal(40, 10, n).round(1),
        "income": rng.lognormal(3, 0.6, n).round(2),
        "city": rng.choice(["Oslo", "Bergen", "Tromso"], n),
    })
    df.loc[[3, 17, 66], "age"] = np.nan
    df.loc[[5, 70], "city"] = np.nan
    signal = 0.08 * df["age"].fillna(40) + 0.05 * df["income"] + 1.5 * (df["city"] == "Oslo")
    return df, signal.to_numpy() + rng.normal(size=n)


def preprocessing(verbose=True):
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "income"]),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                              OneHotEncoder(handle_unknown="ignore")), ["city"]),
    ], verbose_feature_names_out=verbose)


def aligned_coef(pipe, names):
    """The final model's coefficients of a fitted pipeline, by feature name (0 for a
    column that is not there, e.g. a category that left with the rows)."""
    found = dict(zip(pipe[:-1].get_feature_names_out(), np.ravel(pipe[-1].coef_)))
    return np.array([found.get(name, 0.0) for name in names])


def test_report_of_a_whole_ridge_pipeline_on_raw_rows(tmp_path):
    df, target = raw_table()
    y = pd.Series(target, name="spend")
    train, test = np.arange(60), np.arange(60, 80)
    pipe = make_pipeline(preprocessing(), Ridge(alpha=2.0))
    est = InfluenceEstimator(pipe).fit(df.iloc[train], y.iloc[train])
    X_test, y_test = df.iloc[test], y.iloc[test].to_numpy()
    result = skrif.report(est, X_test, y_test, out=tmp_path / "r", n_sets=4)
    assert os.listdir(tmp_path) == ["r"]  # nothing written outside out
    assert "diagnostics.png" not in result.files and "removal_curve.csv" in result.files
    md = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    assert md.count(OMITTED) == 1 and "preprocessing='fixed'" in md
    assert "## Regression diagnostics" not in md and "Robustness:" not in md
    assert not re.search(r"\bnan\b", md, re.IGNORECASE)
    assert OMITTED in result.text

    full = clone(pipe).fit(df.iloc[train], y.iloc[train])

    def test_loss(model):
        return (y_test - model.predict(X_test)) ** 2

    # Least squares behind mean imputation, a scaler and one-hot: the whole-pipeline
    # RIF of one row is the pipeline refitted without it (a vanished category too).
    rows = pd.read_csv(tmp_path / "r" / "influential_rows.csv")
    checked = 0
    for criterion in ("test_loss_harmful", "test_loss_helpful", "own_loss"):
        for row, rif in rows.loc[rows["criterion"] == criterion, ["row", "rif"]].to_numpy()[:3]:
            i = int(row)
            refit = clone(pipe).fit(df.iloc[np.delete(train, i)], y.iloc[np.delete(train, i)])
            if criterion == "own_loss":
                mine = df.iloc[[i]]
                exact = (y.iloc[i] - refit.predict(mine)[0]) ** 2 - (y.iloc[i] - full.predict(mine)[0]) ** 2
            else:
                exact = np.sum(test_loss(refit) - test_loss(full))
            assert rif == pytest.approx(exact, rel=1e-8, abs=1e-10), (criterion, i)
            checked += 1
    assert checked == 9
    # raw values beside each row (the text column, a missing value as "missing")
    assert set(rows["city"].dropna()) <= {"Oslo", "Bergen", "Tromso"}

    # the model without the harmful rows: the refitted pipeline, coefficients named by
    # get_feature_names_out
    m = re.search(r"The (\d+) rows ranked most harmful on the whole test split \(ids ([\d, ]+)\)", md)
    harmful = np.array(m.group(2).split(", "), dtype=int)  # index labels = positions here
    kept = np.setdiff1d(train, harmful)
    without = clone(pipe).fit(df.iloc[kept], y.iloc[kept])
    coefs = pd.read_csv(tmp_path / "r" / "coefficients.csv")
    feats = coefs[coefs["feature"] != "(intercept)"]
    names = list(full[:-1].get_feature_names_out())
    assert list(feats["feature"]) == names and "cat__city_Oslo" in names
    np.testing.assert_allclose(feats["coef"], full[-1].coef_, rtol=1e-8)
    np.testing.assert_allclose(feats["coef_without_harmful"], aligned_coef(without, names),
                               rtol=1e-8, atol=1e-12)
    m = re.search(r"changes the total test loss by (-?[\d.e-]+)", md)
    assert float(m.group(1)) == pytest.approx(np.sum(test_loss(without) - test_loss(full)), rel=1e-3)
    # the approximation check ran against whole-pipeline refits: Newton is exact here
    results = pd.read_csv(tmp_path / "r" / "results.csv")
    newton = results[results["method"] == "newton"]
    np.testing.assert_allclose(newton["predicted"], newton["actual"], rtol=1e-7, atol=1e-9)


def test_removal_curve_refits_the_whole_pipeline():
    df, y = raw_table(seed=1)
    pipe = make_pipeline(preprocessing(), Ridge(alpha=2.0))
    train = np.arange(60)
    est = InfluenceEstimator(pipe).fit(df.iloc[train], y[train])
    X_eval, y_eval = df.iloc[60:], y[60:]
    curve = removal_curve(est, X_eval, y_eval, fractions=(0.05,), cv=2, n_random=1, random_state=0)
    full = clone(pipe).fit(df.iloc[train], y[train])

    def loss(model, rows):
        return (y_eval[rows] - model.predict(X_eval.iloc[rows])) ** 2

    removed_scores, all_scores = np.empty(20), np.empty(20)
    for f, (ranked, scored) in enumerate(curve.folds):
        kept = np.setdiff1d(train, curve.removed[f][0])
        removed_scores[scored] = -loss(clone(pipe).fit(df.iloc[kept], y[kept]), scored)
        all_scores[scored] = -loss(full, scored)
    assert curve.score_all == pytest.approx(all_scores.mean(), rel=1e-9)
    assert curve.score_removed[0] == pytest.approx(removed_scores.mean(), rel=1e-9)
    # ranked by each row's whole-pipeline effect on the ranking rows' loss: for least
    # squares, the exact leave-one-out refits of the pipeline
    ranked = curve.folds[0][0]
    exact = [np.sum(loss(clone(pipe).fit(df.iloc[np.delete(train, i)], y[np.delete(train, i)]), ranked)
                    - loss(full, ranked)) for i in train]
    np.testing.assert_array_equal(curve.removed[0][0], np.sort(np.argsort(exact)[:3]))
    with pytest.raises(ValueError, match="scoring=None"):
        removal_curve(est, X_eval, y_eval, scoring="r2")


@pytest.fixture(scope="module")
def csv_table(tmp_path_factory):
    df, target = raw_table(n=80, seed=2)
    df.insert(0, "customer", [f"c{i:03d}" for i in range(80)])
    df["churned"] = np.where(target > np.median(target), "yes", "no")
    path = tmp_path_factory.mktemp("csv") / "churn.csv"
    df.to_csv(path, index=False)
    return path


def _cli_split(path):
    """The CLI's split of the table, reproduced: 25% test rows, stratified, seed 0."""
    frame = pd.read_csv(path)
    y = frame["churned"].to_numpy()
    train, test = train_test_split(np.arange(len(frame)), test_size=20, random_state=0, stratify=y)
    X = frame.drop(columns=["customer", "churned"])
    return frame, X, y, np.sort(train), np.sort(test)


def _harmful_ids(md):
    m = re.search(r"The (\d+) rows ranked most harmful on the whole test split \(ids ([\w, ]+)\)", md)
    return m.group(2).split(", ")


@pytest.mark.parametrize("semantics", ["refit", "fixed"])
def test_cli_report_on_a_table_with_text_and_missing_values(csv_table, tmp_path, capsys, semantics):
    out = tmp_path / "rep"
    argv = ["report", "--data", str(csv_table), "--target", "churned", "--id-column", "customer",
            "--one-hot", "--impute", "mean", "--n-sets", "4", "--methods", "rif,newton",
            "--out", str(out), "--quiet"]
    if semantics == "fixed":
        argv += ["--preprocessing", "fixed"]
    assert main(argv) == 0, capsys.readouterr().err
    md = (out / "summary.md").read_text(encoding="utf-8")
    frame, X, y, train, test = _cli_split(csv_table)
    # the model the CLI describes, built independently
    pipe = make_pipeline(preprocessing(verbose=False),
                         LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12))
    full = clone(pipe).fit(X.iloc[train], y[train])
    names = list(full[:-1].get_feature_names_out())  # age, income, city_(missing), ...
    harmful = np.flatnonzero(frame["customer"].isin(_harmful_ids(md)).to_numpy())
    kept = np.setdiff1d(train, harmful)
    assert harmful.size and np.isin(harmful, train).all()
    coefs = pd.read_csv(out / "coefficients.csv", keep_default_na=False)
    feats = coefs[coefs["feature"] != "(intercept)"]
    assert list(feats["feature"]) == names
    np.testing.assert_allclose(feats["coef"], full[-1].coef_[0], atol=1e-7)
    if semantics == "refit":
        assert OMITTED in md and "## Regression diagnostics" not in md
        assert "refitted with the rows whenever rows are removed (--preprocessing refit)" in md
        without = clone(pipe).fit(X.iloc[kept], y[kept])  # the whole pipeline refitted
        expected = aligned_coef(without, names)
        proba = without.predict_proba(X.iloc[test])
    else:
        assert OMITTED not in md and "## Regression diagnostics" in md
        assert "held fixed when rows are removed (--preprocessing fixed)" in md
        pre = full[:-1]  # fitted on all training rows, held fixed
        final = clone(pipe[-1]).fit(pre.transform(X.iloc[kept]), y[kept])
        expected = final.coef_[0]
        proba = final.predict_proba(pre.transform(X.iloc[test]))
    np.testing.assert_allclose(feats["coef_without_harmful"], expected, atol=1e-7)
    loss_full = log_loss(y[test], full.predict_proba(X.iloc[test]), normalize=False)
    m = re.search(r"changes the total test loss by (-?[\d.e-]+)", md)
    assert float(m.group(1)) == pytest.approx(log_loss(y[test], proba, normalize=False) - loss_full,
                                              rel=1e-3)
    influential = pd.read_csv(out / "influential_rows.csv")
    assert influential["id"].str.match(r"c\d{3}$").all()
    assert {"age", "income", "city"} <= set(influential.columns)  # the raw values


def test_cli_holds_the_preprocessing_fixed_where_the_whole_pipeline_has_no_row_answers(
        tmp_path, capsys):
    # Multinomial logistic behind an imputer: the whole pipeline's single-row IF/RIF
    # are not available, so by default the report says so and holds the preprocessing
    # fixed; asked for explicitly, it is an error naming the cause.
    df, target = raw_table(n=90, seed=4)
    df["kind"] = np.array(["low", "mid", "high"])[np.digitize(target, np.quantile(target, [1 / 3, 2 / 3]))]
    path = tmp_path / "three.csv"
    df.to_csv(path, index=False)
    argv = ["report", "--data", str(path), "--target", "kind", "--one-hot", "--impute", "median",
            "--n-sets", "4", "--methods", "rif", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "skrif: note: --preprocessing fixed: the whole pipeline's single-row answers are not available" in err
    md = (tmp_path / "a" / "summary.md").read_text(encoding="utf-8")
    assert "held fixed when rows are removed (--preprocessing fixed)" in md and OMITTED not in md
    assert main([*argv, "--preprocessing", "refit", "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not available for multinomial models" in err[0]
    assert not (tmp_path / "b").exists()
