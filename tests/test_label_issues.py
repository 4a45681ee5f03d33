"""label_issues: flags equal to cleanlab's find_label_issues on the same probabilities,
leave-one-out / leave-one-group-out probabilities against brute-force refits, labelled
output, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
from sklearn.model_selection import LeaveOneGroupOut, LeaveOneOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, scale
from sklearn.utils._param_validation import InvalidParameterError

from skrif import InfluenceEstimator, LabelIssues
from skrif._features.label_issues import SCORES, find_issues, quality_scores
from skrif.exceptions import UndefinedRemovalWarning

TIGHT = dict(solver="newton-cholesky", tol=1e-12, max_iter=1000)


def _flip(y, rate, seed, structured):
    """Planted noise: uniform to another class, or each class to one partner class."""
    rng = np.random.default_rng(seed)
    K = int(y.max()) + 1
    rows = rng.choice(len(y), size=int(rate * len(y)), replace=False)
    noisy = y.copy()
    shift = np.ones(len(rows), dtype=int) if structured else rng.integers(1, K, len(rows))
    noisy[rows] = (y[rows] + shift) % K
    return noisy


def _cleanlab(labels, P, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab's notes on small classes
        return find_label_issues(labels, P, n_jobs=1, **kwargs)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return scale(X), y


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return scale(X), y


def _random_probabilities(rng, n, K, coarse):
    labels = rng.integers(0, K, n)
    labels[:K] = np.arange(K)
    logits = rng.normal(size=(n, K)) * rng.uniform(0.2, 5)
    logits[np.arange(n), labels] += rng.uniform(0, 3)
    if coarse:  # saturated probabilities and exact ties
        logits = np.round(logits * 3)
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    if coarse:
        P = np.round(P, 2)
        P /= P.sum(axis=1, keepdims=True)
    return labels, P


@pytest.mark.parametrize("seed", range(40))
def test_flags_and_scores_equal_cleanlab_on_random_probabilities(seed):
    rng = np.random.default_rng(seed)
    labels, P = _random_probabilities(rng, int(rng.integers(10, 300)), int(rng.integers(2, 7)),
                                      coarse=seed % 3 == 0)
    assert np.array_equal(find_issues(labels, P), _cleanlab(labels, P))
    for method in SCORES:
        np.testing.assert_array_equal(
            quality_scores(labels, P, method), get_label_quality_scores(labels, P, method=method)
        )


def test_flags_equal_cleanlab_where_the_calibration_rounds_a_tie():
    # Row 0 of the confident joint is [6, 3, 3] scaled to 10 rows: 5 + 2.5 + 2.5, and
    # which 2.5 rounds up depends on the float order of cleanlab's sums.
    rng = np.random.default_rng(3)
    for _ in range(60):
        labels, P = _random_probabilities(rng, 200, 3, coarse=True)
        assert np.array_equal(find_issues(labels, P), _cleanlab(labels, P))


@pytest.mark.parametrize("structured", [False, True])
@pytest.mark.parametrize("source", ["loo", "cv"])
def test_estimator_flags_equal_cleanlab_fed_the_same_probabilities(cancer, wine, structured, source):
    for X, y in (cancer, wine):
        noisy = _flip(y, 0.15, 0, structured)
        est = InfluenceEstimator(LogisticRegression(C=0.5, **TIGHT)).fit(X, noisy)
        if source == "loo":
            issues = est.label_issues()
            P = est.loo_predict(target="predict_proba")
        else:
            issues = est.label_issues(cv=5)
            P = est.cv_predict(cv=5, target="predict_proba")
        np.testing.assert_array_equal(issues.probabilities, P)
        assert np.array_equal(issues.is_issue, _cleanlab(noisy, P))
        assert issues.n_issues > 0
        np.testing.assert_array_equal(
            issues.ranked, _cleanlab(noisy, P, return_indices_ranked_by="self_confidence")
        )
        np.testing.assert_array_equal(issues.score, get_label_quality_scores(noisy, P))
        np.testing.assert_array_equal(issues.suggested_label, np.argmax(P, axis=1))
        np.testing.assert_array_equal(issues.given_label, noisy)


def test_the_planted_labels_are_found(cancer):
    X, y = cancer
    noisy = _flip(y, 0.05, 1, False)
    flipped = noisy != y
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X, noisy)
    issues = est.label_issues()
    top = np.argsort(issues.score)[: flipped.sum()]
    assert flipped[top].mean() >= 0.8
    assert flipped[issues.is_issue].mean() >= 0.8 and issues.is_issue[flipped].mean() >= 0.8


def _small_multiclass():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(45, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.normal(size=(45, 3)), axis=1)
    return X, y


def test_leave_one_out_probabilities_against_brute_force_refits():
    X, y = _small_multiclass()
    model = LogisticRegression(C=2.0, **TIGHT)
    est = InfluenceEstimator(model).fit(X, y)
    brute = np.empty((len(y), 3))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        brute[i] = LogisticRegression(C=2.0, **TIGHT).fit(X[keep], y[keep]).predict_proba(X[i:i + 1])[0]
    exact = est.label_issues(cv=LeaveOneOut(), method="refit")
    np.testing.assert_allclose(exact.probabilities, brute, atol=1e-8)
    # RIF: one Newton step on each leave-one-out objective, close to the refit
    rif = est.label_issues()
    error = np.abs(rif.probabilities - brute).max(axis=1)
    in_sample = np.abs(est.predict_proba(X) - brute).max(axis=1)
    assert error.max() < 0.03
    assert np.median(error) < np.median(in_sample) / 10
    np.testing.assert_array_equal(rif.suggested_label, exact.suggested_label)


def test_leave_one_group_out_probabilities_against_brute_force_refits(cancer):
    X, y = cancer[0][:150, :5], cancer[1][:150]
    groups = np.arange(150) % 10
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X, y)
    brute = np.empty(150)
    for g in range(10):
        out = groups == g
        fit = LogisticRegression(**TIGHT).fit(X[~out], y[~out])
        brute[out] = fit.predict_proba(X[out])[:, 1]
    exact = est.label_issues(cv=LeaveOneGroupOut(), groups=groups, method="refit")
    np.testing.assert_allclose(exact.probabilities[:, 1], brute, atol=1e-8)
    newton = est.label_issues(groups=groups)  # one group Newton step per group
    assert newton.source.startswith("leave-one-group-out")
    assert np.max(np.abs(newton.probabilities[:, 1] - brute)) < 1e-2


def test_labelled_output_for_a_dataframe_and_a_pipeline(wine):
    X, y = wine
    names = np.array(["barolo", "grignolino", "barbera"])
    index = pd.Index([f"w{i}" for i in range(len(y))][::-1], name="wine")
    Xf = pd.DataFrame(X, index=index).add_prefix("f")
    noisy = _flip(y, 0.1, 2, False)
    pipe = make_pipeline(StandardScaler(), InfluenceEstimator(LogisticRegression(**TIGHT)))
    pipe.set_output(transform="pandas")  # the estimator sees the row labels
    pipe.fit(Xf, pd.Series(names[noisy], index=index))
    issues = pipe[-1].label_issues(score="normalized_margin")
    assert isinstance(issues, LabelIssues)
    for part in (issues.score, issues.is_issue, issues.given_label, issues.suggested_label):
        assert isinstance(part, pd.Series) and part.index.equals(index)
    assert list(issues.probabilities.columns) == sorted(names)
    np.testing.assert_array_equal(issues.given_label, names[noisy])
    frame = issues.to_frame()
    assert frame.index.equals(index) and frame["is_issue"].sum() == issues.n_issues
    assert frame.iloc[issues.ranked]["is_issue"].all()
    # the same as the array path on the same probabilities
    codes = np.searchsorted(sorted(names), names[noisy])
    P = issues.probabilities.to_numpy()
    assert np.array_equal(issues.is_issue.to_numpy(), _cleanlab(codes, P))
    np.testing.assert_array_equal(
        issues.score, get_label_quality_scores(codes, P, method="normalized_margin")
    )


def test_an_undefined_leave_one_out_model_is_not_flagged(cancer):
    X, y = cancer[0][:80, :4], cancer[1][:80].copy()
    y3 = y.copy()
    y3[0] = 2  # the only row of class 2: its leave-one-out model has two classes
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X, y3)
    with pytest.warns(UndefinedRemovalWarning):
        issues = est.label_issues()
    assert np.isnan(issues.score[0]) and not issues.is_issue[0]
    assert 0 not in issues.ranked
    rest = np.arange(1, 80)
    P = issues.probabilities[rest]
    assert np.array_equal(issues.is_issue[rest], _cleanlab(y3[rest], P))


def test_bad_input(cancer):
    X, y = cancer
    reg = InfluenceEstimator(Ridge()).fit(X[:50], y[:50].astype(float))
    with pytest.raises(ValueError, match="label_issues needs a classifier"):
        reg.label_issues()
    ridge_clf = InfluenceEstimator(RidgeClassifier()).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="no predict_proba"):
        ridge_clf.label_issues()
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X[:80], y[:80])
    with pytest.raises(InvalidParameterError, match="score"):
        est.label_issues(score="margin")
    with pytest.raises(InvalidParameterError, match="min_examples_per_class"):
        est.label_issues(min_examples_per_class=-1)
    with pytest.raises(ValueError, match="additive"):
        est.label_issues(method="newton")  # leave-one-out is one row: rif or if
