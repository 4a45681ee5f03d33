"""Quiet everyday use (issue 16, items 3, 5, 6): warnings that help, distinct sets, the figure."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import (
    GammaRegressor,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
    TweedieRegressor,
)

from skrif import InfluenceEstimator
from skrif._objectives import objective_class_for
from skrif.exceptions import OptimalityWarning, VerificationWarning
from skrif.validation import removal_sets, validate_influence

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 5))
z = X @ [1.0, -1.0, 0.5, 0.0, 2.0]
TARGETS = {
    "binary": (z + rng.normal(size=200) > 0).astype(int),
    "three": np.digitize(z, [-1.0, 1.0]),
    "real": z + rng.normal(size=200),
    "count": rng.poisson(np.exp(z / 3)),
    "positive": np.exp(z / 3) * rng.gamma(2.0, size=200) + 0.01,
}
# Default settings that stop short of the optimum (lbfgs, sparse_cg, ...).
LOOSE = [
    (LogisticRegression(), "binary", False),
    (LogisticRegression(), "three", False),
    (Ridge(), "real", True),
    (PoissonRegressor(), "count", False),
    (GammaRegressor(), "positive", False),
    (TweedieRegressor(power=1.5), "count", False),
]


def tighter_fit_params(model):
    """What the model's family advises in its OptimalityWarning."""
    return objective_class_for(model).tight_fit_params(model)


def _optimality_warnings(model, Xs, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = InfluenceEstimator(model).fit(Xs, y)
    return est, [w for w in caught if issubclass(w.category, OptimalityWarning)]


@pytest.mark.parametrize("model, target, sparse", LOOSE, ids=lambda v: getattr(v, "__name__", None) or str(v))
def test_optimality_advice_silences_the_warning(model, target, sparse):
    Xs = sp.csr_matrix(X) if sparse else X
    y = TARGETS[target]
    _, before = _optimality_warnings(model, Xs, y)
    assert len(before) == 1  # once per fit
    params = tighter_fit_params(model)
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    assert f"Fit {type(model).__name__}({shown})" in str(before[0].message)
    est, after = _optimality_warnings(clone(model).set_params(**params), Xs, y)
    assert after == [] and est.optimality_gap_ < 1e-8


def test_ridge_classifier_and_dense_ridge_do_not_warn():
    for model, y in ((Ridge(), TARGETS["real"]), (RidgeClassifier(), TARGETS["binary"])):
        assert _optimality_warnings(model, X, y)[1] == []


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_sgd_advice_names_a_twin_with_the_same_optimum(kind):
    if kind == "classifier":
        model, y = SGDClassifier(loss="log_loss", alpha=0.01, random_state=0), TARGETS["binary"]
    else:
        model, y = SGDRegressor(alpha=0.01, random_state=0), TARGETS["real"]
    est, caught = _optimality_warnings(model, X, y)
    assert len(caught) == 1 and tighter_fit_params(model) is None
    message = " ".join(str(caught[0].message).split())
    n = X.shape[0]
    if kind == "classifier":
        assert f"LogisticRegression(C={1 / (n * 0.01):.6g}, solver='newton-cholesky', tol=1e-10)" in message
        twin = LogisticRegression(C=1 / (n * 0.01), solver="newton-cholesky", tol=1e-12)
    else:
        assert f"Ridge(alpha={n * 0.01:.6g})" in message
        twin = Ridge(alpha=n * 0.01)
    twin_est, twin_caught = _optimality_warnings(twin, X, y)
    assert twin_caught == []  # the advice silences the warning ...
    # ... and gives the coefficients skrif polished SGD to (scikit-learn's own solver).
    assert np.allclose(np.ravel(twin.fit(X, y).coef_), np.ravel(est.estimator_.coef_), rtol=1e-6, atol=1e-8)


def test_no_feature_name_warnings_from_internal_calls():
    pd = pytest.importorskip("pandas")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skrif import InfluenceDisplay

    frame = pd.DataFrame(X[:120, :4], columns=list("abcd"))
    y = TARGETS["binary"][:120]
    est = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-10)).fit(frame[:90], y[:90])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        validate_influence(est, frame[90:], y[90:], n_sets=8, random_state=0)
        display = InfluenceDisplay.from_estimator(est, frame[90:], y[90:], n_sets=8, random_state=0)
    plt.close(display.figure_)


def test_removal_sets_are_distinct_on_small_data():
    X_small = rng.normal(size=(24, 3))
    sets = removal_sets(X_small, n_sets=40, scores=X_small[:, 0], random_state=0)
    keys = [tuple(rows) for _, rows in sets]
    assert len(set(keys)) == len(keys)
    # 5% of 24 rows is one row: at most 24 single rows exist, and top_score single
    # rows come from a pool of 2 per tail, so fewer sets than asked for.
    assert all(len(rows) == 1 for _, rows in sets) and len(sets) < 40
    assert sum(s == "top_score" for s, _ in sets) <= 4
    # large data: the same sets as before the change (no duplicates to redraw)
    X_big = rng.normal(size=(200, 3))
    sets = removal_sets(X_big, n_sets=6, strategies=("random", "feature"), random_state=0)
    assert [(s, len(r)) for s, r in sets] == [("random", 1), ("random", 3), ("random", 10),
                                             ("feature", 1), ("feature", 3), ("feature", 10)]


def test_figure_shows_if_under_rif_and_readable_scales():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skrif import InfluenceDisplay

    table = {
        "target": ["test_loss"] * 6,
        "method": ["if", "rif", "if", "rif", "if", "rif"],
        "strategy": ["random", "random", "feature", "feature", "top_score", "top_score"],
        "predicted": [0.01, 0.011, -0.2, -0.21, 30.0, 31.0],
        "actual": [0.011, 0.011, -0.2, -0.2, 31.0, 31.0],
    }
    display = InfluenceDisplay(results=table).plot(title="data.csv · Ridge(alpha=1.0)")
    axis = display.ax_[0]
    assert axis.get_xscale() == "symlog" and axis.get_yscale() == "symlog"
    assert axis.get_title().endswith("\ndata.csv · Ridge(alpha=1.0)")
    if_points, rif_points = display.scatters_[("test_loss", "if")], display.scatters_[("test_loss", "rif")]
    assert len(if_points.get_facecolors()) == 0 or np.all(if_points.get_facecolors()[:, 3] == 0)  # hollow
    assert if_points.get_zorder() > rif_points.get_zorder()  # drawn on top
    assert list(if_points.get_sizes()) == [10, 20, 48]  # size tells the strategy
    plt.close(display.figure_)
    linear = InfluenceDisplay(results=table).plot(scale="linear")
    assert linear.ax_[0].get_xscale() == "linear"
    plt.close(linear.figure_)
    with pytest.raises(ValueError, match="scale must be 'symlog' or 'linear'"):
        InfluenceDisplay(results=table).plot(scale="log")


def test_most_influential_has_one_result_type_checked_by_refit():
    import pickle

    from skrif import InfluentialRows

    Xr, yr = X[:60, :3], TARGETS["real"][:60]
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(Xr[:50], yr[:50])
    plain = est.most_influential(Xr[50:], yr[50:], k=4)
    with pytest.warns(VerificationWarning, match="46% off"):  # the refit is the answer
        verified = est.most_influential(Xr[50:], yr[50:], k=4, verify=True)
    assert isinstance(plain, InfluentialRows) and isinstance(verified, InfluentialRows)
    assert plain.actual is None and not plain.verified and verified.verified
    assert np.array_equal(plain.rows, verified.rows) and plain.predicted == verified.predicted
    assert plain.shape == (4,) and int(plain[0]) in plain and list(plain) == list(plain.rows)
    # the predicted change is the sum of the single-row scores; the actual one a refit
    scores = est.influence_scores(Xr[50:], yr[50:], target="loss").sum(axis=1)
    assert verified.predicted == pytest.approx(scores[verified.rows].sum(), rel=1e-10)
    keep = np.setdiff1d(np.arange(50), verified.rows)
    refit = Ridge(alpha=1.0).fit(Xr[keep], yr[keep])
    full = Ridge(alpha=1.0).fit(Xr[:50], yr[:50])
    exact = np.sum((yr[50:] - refit.predict(Xr[50:])) ** 2) - np.sum((yr[50:] - full.predict(Xr[50:])) ** 2)
    assert verified.actual == pytest.approx(exact, rel=1e-8)  # loss: (y - z)², unhalved
    # backward compatible unpacking of a verified result, and pickling
    rows, predicted, actual = verified
    assert np.array_equal(rows, verified.rows) and (predicted, actual) == (verified.predicted, verified.actual)
    again = pickle.loads(pickle.dumps(verified))
    assert again.verified and again.actual == verified.actual and np.array_equal(again.rows, verified.rows)
    assert not np.sort(verified).verified  # derived arrays are plain row arrays
