"""Issue 27 item 4: labelled pandas output from every per-row method and result
object (``as_frame=True``), and ``loo_predict`` defaults as ``cross_val_predict``.

Ground truth: the positions the labels stand for (``training_index_`` and the
evaluation frame's index) and scikit-learn's ``cross_val_predict``.
"""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import KFold, LeaveOneOut, cross_val_predict

from skrif import InfluenceEstimator

pd = pytest.importorskip("pandas")


def frames(n=80, classes=("no", "yes")):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        rng.normal(size=(n, 3)), columns=["a", "b", "c"], index=[f"r{i}" for i in range(n)]
    )
    y = pd.Series(np.where(X["a"] + rng.normal(size=n) > 0, *classes[::-1]), index=X.index)
    X_eval = pd.DataFrame(
        rng.normal(size=(5, 3)), columns=["a", "b", "c"], index=[f"t{i}" for i in range(5)]
    )
    return X, y, X_eval, y.iloc[:5].set_axis(X_eval.index)


def classifier():
    return LogisticRegression(solver="newton-cholesky", tol=1e-12)


def test_per_row_methods_return_frames_indexed_by_row_labels():
    X, y, X_eval, y_eval = frames()
    est = InfluenceEstimator(classifier()).fit(X, y)
    plain = est.self_influence()
    labelled = est.self_influence(as_frame=True)
    assert isinstance(labelled, pd.Series) and labelled.index.equals(X.index)
    np.testing.assert_array_equal(labelled.to_numpy(), plain)

    loo = est.loo_predict(target="predict_proba", as_frame=True)
    assert isinstance(loo, pd.DataFrame) and loo.index.equals(X.index)
    assert list(loo.columns) == ["no", "yes"]

    cv = est.cv_predict(as_frame=True)
    assert cv.index.equals(X.index)

    effect = est.removal_effect([1, 2], X_eval, as_frame=True)
    assert effect.index.equals(X_eval.index)

    scores = est.influence_scores(X_eval, y_eval, target="loss", as_frame=True)
    assert scores.index.equals(X.index) and scores.columns.equals(X_eval.index)
    np.testing.assert_array_equal(
        scores.to_numpy(), est.influence_scores(X_eval, y_eval, target="loss")
    )

    top = est.most_influential(X_eval, y_eval, k=3, as_frame=True)
    assert list(top.labels) == list(X.index[top.rows])


def test_group_answers_are_indexed_by_group_label():
    X, y, X_eval, _ = frames()
    est = InfluenceEstimator(classifier()).fit(X, y)
    groups = pd.Series(np.array(["north", "south", "east", "west"])[np.arange(80) % 4], index=X.index)
    out = est.self_influence(groups=groups, as_frame=True)
    assert sorted(out.index) == ["east", "north", "south", "west"]


def test_interval_and_set_frames():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    y = X["a"] + rng.normal(size=60)
    X_eval = pd.DataFrame(rng.normal(size=(4, 2)), columns=["a", "b"], index=list("wxyz"))
    intervals = InfluenceEstimator(Ridge()).fit(X, y).predict_interval(X_eval, as_frame=True)
    assert list(intervals.columns) == ["lower", "upper"] and list(intervals.index) == list("wxyz")
    Xc, yc, Xc_eval, _ = frames()
    sets = InfluenceEstimator(classifier()).fit(Xc, yc).predict_set(Xc_eval, as_frame=True)
    assert list(sets.columns) == ["no", "yes"] and sets.index.equals(Xc_eval.index)


def test_loo_predict_defaults_like_cross_val_predict():
    # Item 4: loo_predict() returned logits for a classifier (HMDA -1.42, -2.08)
    # where cross_val_predict returns labels.
    X, y, _, _ = frames(n=60)
    est = InfluenceEstimator(classifier()).fit(X, y)
    ours = est.loo_predict()
    theirs = cross_val_predict(classifier(), X, y, cv=LeaveOneOut())
    assert ours.dtype == theirs.dtype
    assert np.mean(ours == theirs) >= 0.98
    folds = est.cv_predict(cv=KFold(5))
    assert np.mean(folds == cross_val_predict(classifier(), X, y, cv=KFold(5))) >= 0.98
    Xr = X.to_numpy()
    yr = Xr @ [1.0, 2.0, 0.5]
    reg = InfluenceEstimator(LinearRegression()).fit(Xr, yr)
    np.testing.assert_allclose(
        reg.loo_predict(), cross_val_predict(LinearRegression(), Xr, yr, cv=LeaveOneOut()),
        atol=1e-9,
    )


@pytest.mark.filterwarnings("ignore::skrif.exceptions.VerificationWarning")  # refit 15% off
def test_flip_result_labels_its_rows():
    X, y, _, _ = frames()
    est = InfluenceEstimator(classifier()).fit(X, y)
    result = est.removal_to_flip(coef="b")
    assert list(result.labels) == list(X.index[result.rows])
