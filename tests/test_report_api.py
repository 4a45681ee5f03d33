"""skrif.report(est, X_test, y_test, ...): the report of a model the user fitted
(pipelines included), its cleaning sections, its per-row convention, its warnings."""

import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from cleanlab.filter import find_label_issues
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skrif
from skrif import InfluenceEstimator
from skrif.exceptions import VerificationWarning

TIGHT = dict(solver="newton-cholesky", tol=1e-12, max_iter=1000)


@pytest.fixture(scope="module")
def wine_report(tmp_path_factory):
    """A pipeline on wine (3 classes) with 12 flipped training labels."""
    X, y = load_wine(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    X, y = X.iloc[order], y.iloc[order]
    X_train, X_test, y_train, y_test = X.iloc[:120], X.iloc[120:], y.iloc[:120].copy(), y.iloc[120:]
    flipped = rng.choice(120, size=12, replace=False)
    y_train.iloc[flipped] = (y_train.iloc[flipped] + 1) % 3
    pipe = make_pipeline(StandardScaler(), InfluenceEstimator(LogisticRegression(C=0.5, **TIGHT)))
    pipe.set_output(transform="pandas")
    pipe.fit(X_train, y_train)
    root = tmp_path_factory.mktemp("wine")
    out = root / "report"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = skrif.report(pipe, X_test, y_test, out=out, n_sets=8, random_state=0)
    return pipe, result, out, root, caught, (X_train, y_train, X_test, y_test)


def test_the_report_of_a_fitted_pipeline(wine_report):
    pipe, result, out, root, caught, (X_train, y_train, X_test, y_test) = wine_report
    assert os.listdir(root) == ["report"]  # nothing written outside out
    assert result.folder == str(out)
    for name in ("summary.md", "summary.html", "label_issues.csv", "removal_curve.csv",
                 "removal_curve.png", "influential_rows.csv", "results.csv"):
        assert name in result.files and (out / name).exists()
    md = (out / "summary.md").read_text(encoding="utf-8")
    for heading in ("## Labels that are probably wrong",
                    "## Does removing the harmful rows help on unseen test rows?",
                    "## The model without the most harmful rows (selected on the test split)"):
        assert heading in md
    assert not re.search(r"\bnan\b", md, re.IGNORECASE)
    assert "40 training rows" not in md and "120 training rows" in md
    # every warning raised is listed in the summary and returned, not re-raised
    for category, message in result.warnings:
        assert message in md
    assert caught == []


def test_label_issues_in_the_report_are_cleanlab_flags_on_leave_one_out_probabilities(wine_report):
    pipe, result, out, *_ = wine_report
    table = pd.read_csv(out / "label_issues.csv")
    P = pipe[-1].loo_predict(target="predict_proba")
    codes = np.searchsorted(pipe[-1].classes_, np.asarray(pipe[-1].label_issues().given_label))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flags = find_label_issues(codes, P, n_jobs=1)
    flagged_rows = table.loc[table["is_issue"], "row"].to_numpy()
    np.testing.assert_array_equal(np.sort(flagged_rows), np.flatnonzero(flags))
    np.testing.assert_allclose(table["score"], P[table["row"], codes[table["row"]]])
    assert table["score"].is_monotonic_increasing
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert f"{flags.sum()} of 120 training labels are flagged" in md


def test_removal_curve_in_the_report_is_cross_fitted(wine_report):
    pipe, result, out, *_ = wine_report
    curve = pd.read_csv(out / "removal_curve.csv")
    assert set(curve["selection"]) == {"cross_fit", "in_sample"}
    cross = curve[curve["selection"] == "cross_fit"]
    inside = curve[curve["selection"] == "in_sample"]
    np.testing.assert_array_equal(cross["n_removed"], [1, 2, 6, 12, 24])
    # selected on the rows it is scored on, the in-sample curve is the more optimistic
    assert inside["loss_change"].mean() < cross["loss_change"].mean()
    assert cross["test_loss_random"].notna().all() and inside["test_loss_random"].isna().all()


def _ridge_data(seed=0, n=60, m=30, p=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, p))
    y = X @ rng.normal(size=p) + rng.normal(size=n + m)
    y[:3] += 6.0  # a few corrupted training targets
    return X[:n], y[:n], X[n:], y[n:]


def test_per_row_test_loss_changes_are_exact_leave_one_out_for_least_squares(tmp_path):
    X, y, X_test, y_test = _ridge_data()
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    result = skrif.report(est, X_test, y_test, out=tmp_path / "r", n_sets=8)
    assert "label_issues.csv" not in result.files  # a regressor has no labels to judge
    rows = pd.read_csv(tmp_path / "r" / "influential_rows.csv")
    full = Ridge(alpha=1.0, solver="cholesky").fit(X, y)
    base = np.sum((y_test - full.predict(X_test)) ** 2)
    for criterion in ("test_loss_harmful", "test_loss_helpful"):
        for row, rif in rows.loc[rows["criterion"] == criterion, ["row", "rif"]].to_numpy()[:5]:
            keep = np.arange(len(y)) != int(row)
            refit = Ridge(alpha=1.0, solver="cholesky").fit(X[keep], y[keep])
            exact = np.sum((y_test - refit.predict(X_test)) ** 2) - base
            assert rif == pytest.approx(exact, rel=1e-8, abs=1e-10)
    own = rows[rows["criterion"] == "own_loss"].iloc[0]
    keep = np.arange(len(y)) != int(own["row"])
    refit = Ridge(alpha=1.0, solver="cholesky").fit(X[keep], y[keep])
    i = int(own["row"])
    exact_own = (y[i] - refit.predict(X[i:i + 1])[0]) ** 2 - (y[i] - full.predict(X[i:i + 1])[0]) ** 2
    assert own["rif"] == pytest.approx(exact_own, rel=1e-8)


def test_a_verified_set_that_contradicts_its_prediction_is_flagged(tmp_path):
    # three near-duplicate corrupted rows: each one's removal is partly masked by the
    # others, so the sum of their single-row changes (-15.1) misses the refit (-10.0)
    X, y, X_test, y_test = _ridge_data(seed=9)
    X[:3] = X[0] + 0.05 * np.random.default_rng(9).normal(size=(3, X.shape[1])) + 2.0
    y[:3] = y[0] - 10.0
    est = InfluenceEstimator(Ridge(alpha=0.1)).fit(X, y)
    result = skrif.report(est, X_test, y_test, out=tmp_path / "r", n_sets=8)
    md = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    assert "WARNING: the exact refit differs from the RIF prediction by" in md
    assert "error estimate of the RIF answer (test loss)" in md
    assert any(c is VerificationWarning and "most harmful rows" in m for c, m in result.warnings)


def test_bad_input_and_existing_files(tmp_path):
    X, y, X_test, y_test = _ridge_data(seed=1)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    with pytest.raises(InvalidParameterError, match="InfluenceEstimator or a Pipeline"):
        skrif.report(Ridge().fit(X, y), X_test, y_test, out=tmp_path / "a")
    with pytest.raises(ValueError, match="at least 5 test rows"):
        skrif.report(est, X_test[:4], y_test[:4], out=tmp_path / "b")
    with pytest.raises(InvalidParameterError, match="n_sets"):
        skrif.report(est, X_test, y_test, out=tmp_path / "c", n_sets=2)
    with pytest.raises(ValueError, match="methods must be"):
        skrif.report(est, X_test, y_test, out=tmp_path / "d", methods=("exact",))
    wrapped = InfluenceEstimator(make_pipeline(StandardScaler(), Ridge())).fit(X, y)
    with pytest.raises(ValueError, match="Pass a Pipeline ending in InfluenceEstimator"):
        skrif.report(wrapped, X_test, y_test, out=tmp_path / "f")
    assert os.listdir(tmp_path) == []  # refused before writing anything
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "summary.md").write_text("mine")
    with pytest.raises(ValueError, match="already holds a report"):
        skrif.report(est, X_test, y_test, out=tmp_path / "e")
    assert (tmp_path / "e" / "summary.md").read_text() == "mine"
