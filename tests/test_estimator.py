"""InfluenceEstimator plumbing: bad input, unsupported models, polishing, no mutation."""

import copy
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency

from skrif import InfluenceEstimator, ParameterChange
from skrif.exceptions import OptimalityWarning, UnsupportedModelError

from .conftest import change_vector, exact_refit, keep_mask, theta

# These tests check additive (IF/RIF) answers for sets on purpose; the
# SetInteractionWarning such answers raise is tested in test_groups.py.
ADDITIVE_SETS = "ignore::skrif.exceptions.SetInteractionWarning"


@pytest.fixture
def regression(rng):
    X = rng.normal(size=(30, 4))
    return X, X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(size=30)


@pytest.fixture
def classification(rng):
    X = rng.normal(size=(40, 3))
    return X, np.where(X[:, 0] + rng.normal(size=40) > 0, "yes", "no")


def test_defaults_and_estimator_type(regression, classification):
    est = InfluenceEstimator()
    assert est.estimator is None and est.rescaled is True
    assert is_classifier(est)
    assert is_regressor(InfluenceEstimator(Ridge()))
    X, y = classification
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimalityWarning)
        est.fit(X, y)
    assert isinstance(est.estimator_, LogisticRegression)
    assert list(est.classes_) == ["no", "yes"]
    assert est.score(X, y) == est.estimator_.score(X, y)
    assert est.predict_proba(X).shape == (40, 2)
    reg = InfluenceEstimator(Ridge()).fit(*regression)
    assert not hasattr(reg, "classes_")
    assert not hasattr(reg, "predict_proba")


@pytest.mark.filterwarnings(ADDITIVE_SETS)
def test_method_default_follows_rescaled(regression):
    X, y = regression
    rif = InfluenceEstimator(Ridge(), rescaled=True).fit(X, y).influence([1, 2])
    inf = InfluenceEstimator(Ridge(), rescaled=False).fit(X, y).influence([1, 2])
    assert rif.method == "rif" and inf.method == "if"
    assert isinstance(rif, ParameterChange)
    assert np.linalg.norm(rif.coef) > np.linalg.norm(inf.coef)


def test_fit_never_mutates_inputs(regression):
    X, y = regression
    w = np.linspace(0.5, 2.0, 30)
    ridge = Ridge(alpha=3.0)
    copies = (X.copy(), y.copy(), w.copy(), copy.deepcopy(ridge.get_params()))
    est = InfluenceEstimator(ridge).fit(X, y, sample_weight=w)
    est.influence([0, 3], method="newton")
    est.influence([0, 3], method="refit")
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(y, copies[1])
    np.testing.assert_array_equal(w, copies[2])
    assert ridge.get_params() == copies[3]
    assert not hasattr(ridge, "coef_")
    assert est.estimator_ is not ridge


def test_polishing_reaches_the_optimum_and_predictions_use_it(classification):
    X, y = classification
    loose = LogisticRegression(C=10.0, tol=1e-2, max_iter=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = InfluenceEstimator(loose).fit(X, y)
    assert any(
        issubclass(w.category, OptimalityWarning) and "polished" in str(w.message) for w in caught
    )
    assert est.optimality_gap_ > 1e-6 and est.n_polish_steps_ >= 1
    tight = exact_refit(loose, X, y, None, np.ones(40, bool))
    np.testing.assert_allclose(theta(est.estimator_), theta(tight), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.decision_function(X), tight.decision_function(X), rtol=1e-9)


def test_polish_false_keeps_the_coefficients(classification):
    X, y = classification
    from sklearn.exceptions import ConvergenceWarning

    loose = LogisticRegression(C=10.0, tol=1e-2, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = clone(loose).fit(X, y)
        with pytest.warns(OptimalityWarning, match="polish=False"):
            est = InfluenceEstimator(loose, polish=False).fit(X, y)
    np.testing.assert_array_equal(est.estimator_.coef_, reference.coef_)
    assert est.n_polish_steps_ == 0


def test_converged_fit_is_not_touched(regression):
    X, y = regression
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = InfluenceEstimator(Ridge(solver="cholesky")).fit(X, y)
    assert est.optimality_gap_ < 1e-12 and est.n_polish_steps_ == 0


# -- bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator, match",
    [
        (Lasso(positive=True), "positive=True"),
        (SVC(), "cannot attribute SVC"),
        (LogisticRegression(class_weight="balanced"), "balanced"),
        (Ridge(positive=True), "positive=True"),
    ],
    ids=repr,
)
def test_unsupported_estimators_raise_in_fit(estimator, match, classification):
    X, y = classification
    with pytest.raises(UnsupportedModelError, match=match):
        InfluenceEstimator(estimator).fit(X, (y == "yes").astype(int))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_rejected(regression, bad):
    X, y = regression
    Xb = X.copy()
    Xb[2, 1] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        InfluenceEstimator(Ridge()).fit(Xb, y)
    yb = y.copy()
    yb[0] = bad
    with pytest.raises(ValueError, match="Input y contains (NaN|infinity)"):
        InfluenceEstimator(Ridge()).fit(X, yb)


def test_wrong_shapes_are_rejected(regression):
    X, y = regression
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        InfluenceEstimator(Ridge()).fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(30,\)"):
        InfluenceEstimator(Ridge()).fit(X, y, sample_weight=np.ones(29))
    est = InfluenceEstimator(Ridge()).fit(X, y)
    with pytest.raises(ValueError, match="4 features"):
        est.predict(X[:, :3])


@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(30), "non-negative"),
        (np.zeros(30), "All sample weights are zero"),
        (np.full(30, np.nan), "NaN or infinity"),
    ],
)
def test_bad_sample_weights(regression, weights, match):
    with pytest.raises(ValueError, match=match):
        InfluenceEstimator(Ridge()).fit(*regression, sample_weight=weights)


@pytest.mark.parametrize("name, value", [("rescaled", "yes"), ("polish", 1)])
def test_invalid_parameters_raise_in_fit(regression, name, value):
    est = InfluenceEstimator(Ridge(), **{name: value})
    assert getattr(est, name) == value  # stored untouched
    with pytest.raises(ValueError, match=f"'{name}' parameter must be True or False"):
        est.fit(*regression)


def test_unfitted_use_raises(regression):
    est = InfluenceEstimator(Ridge())
    for call in (lambda: est.influence([0]), lambda: est.predict(regression[0])):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize(
    "idx, match",
    [
        ([30], r"out of range for 30 training rows: \[30\]"),
        ([-31], "out of range"),
        ([1, 1], r"more than once \(\[1\]\)"),
        ([0.5], "integer row indices"),
        ([[0, 1]], "1-D array"),
        (np.ones(29, bool), "length n_samples=30"),
        (np.ones(30, bool), "no training row with positive weight"),
        (list(range(30)), "no training row with positive weight"),
    ],
    ids=str,
)
def test_bad_removal_sets(regression, idx, match):
    est = InfluenceEstimator(Ridge()).fit(*regression)
    with pytest.raises(ValueError, match=match):
        est.influence(idx, method="rif")


def test_bad_method(regression):
    est = InfluenceEstimator(Ridge()).fit(*regression)
    with pytest.raises(ValueError, match="method must be one of"):
        est.influence([0], method="exact")


def test_flags_must_be_booleans(regression):
    # bool("no") is True: a string flag would silently switch the option on.
    X, y = regression
    est = InfluenceEstimator(Ridge()).fit(X, y)
    with pytest.raises(ValueError, match="as_frame must be True or False; got 'no'"):
        est.influence([0], as_frame="no")
    with pytest.raises(ValueError, match="linearized must be True or False; got 'no'"):
        est.removal_effect([0], X[:2], linearized="no")
    with pytest.raises(ValueError, match="linearized must be True or False; got 1"):
        est.self_influence(linearized=1)
    with pytest.raises(ValueError, match="verify must be True or False; got 'yes'"):
        est.most_influential(X[:2], y[:2], k=1, verify="yes")


def test_removing_a_whole_class_is_refused(classification):
    X, y = classification
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimalityWarning)
        est = InfluenceEstimator(LogisticRegression()).fit(X, y)
    for method in ("rif", "refit"):
        with pytest.raises(ValueError, match="single class"):
            est.influence(y == "yes", method=method)


def test_index_forms_agree(regression):
    X, y = regression
    est = InfluenceEstimator(Ridge()).fit(X, y)
    mask = np.zeros(30, bool)
    mask[[2, 29]] = True
    a = est.influence([2, 29]).coef
    for other in (mask, [29, 2], [2, -1], np.array([2, 29], dtype=np.int32)):
        np.testing.assert_array_equal(est.influence(other).coef, a)
    np.testing.assert_array_equal(est.influence(7).coef, est.influence([7]).coef)
    empty = est.influence([])
    assert np.all(empty.coef == 0) and empty.intercept == 0


def test_dataframe_column_names_consistency():
    check_dataframe_column_names_consistency("InfluenceEstimator", InfluenceEstimator(Ridge()))


@pytest.mark.filterwarnings(ADDITIVE_SETS)
def test_pickle_round_trip_gives_identical_influence(regression):
    X, y = regression
    est = InfluenceEstimator(Ridge(alpha=0.3)).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    for method in ("if", "rif", "newton", "refit"):
        np.testing.assert_array_equal(
            change_vector(again.influence([3, 4], method=method)),
            change_vector(est.influence([3, 4], method=method)),
        )


def test_refit_is_independent_of_the_users_solver_tolerance(rng):
    X = rng.normal(size=(60, 5))
    y = X @ rng.normal(size=5) + rng.normal(size=60)
    sag = Ridge(alpha=1.0, solver="sag", tol=1e-2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimalityWarning)
        est = InfluenceEstimator(sag).fit(X, y)
    exact = exact_refit(Ridge(alpha=1.0), X, y, None, keep_mask(60, [4, 5]))
    full = exact_refit(Ridge(alpha=1.0), X, y, None, np.ones(60, bool))
    np.testing.assert_allclose(
        change_vector(est.influence([4, 5], method="refit")),
        theta(exact) - theta(full),
        rtol=1e-8,
        atol=1e-12,
    )


def test_row_labels_are_not_taken_for_positions(regression):
    # X_train.index after a shuffle split holds labels, not positions: passing it
    # would silently remove other rows, so it is refused; positions and masks work.
    pd = pytest.importorskip("pandas")
    X, y = regression
    n = len(y)
    labels = np.random.default_rng(0).permutation(n)
    X_df = pd.DataFrame(X, index=labels)
    est = InfluenceEstimator(Ridge()).fit(X_df, pd.Series(y, index=labels))
    with pytest.raises(ValueError, match="pandas Index, i.e. row labels"):
        est.influence(X_df.index[:2])
    with pytest.raises(ValueError, match="pandas Index, i.e. row labels"):
        est.removal_effect(X_df.index[:2], X[:3])
    positions = np.flatnonzero(est.training_index_.isin(X_df.index[:2]))
    np.testing.assert_array_equal(est.influence(positions).coef, est.influence([0, 1]).coef)
    mask = pd.Index(np.arange(n) < 2)  # a boolean Index is a mask
    np.testing.assert_array_equal(est.influence(mask).coef, est.influence([0, 1]).coef)
    # With the default RangeIndex, labels are positions.
    plain = InfluenceEstimator(Ridge()).fit(pd.DataFrame(X), y)
    np.testing.assert_array_equal(
        plain.influence(pd.RangeIndex(n)[3:5]).coef, plain.influence([3, 4]).coef
    )


def test_negative_output_and_coef_count_from_the_end(classification):
    X, y = classification
    est = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-12)).fit(X, y)
    np.testing.assert_array_equal(
        est.most_influential(X[:5], k=3, target="predict_proba", output=-1),
        est.most_influential(X[:5], k=3, target="predict_proba", output=1),
    )
    last = X.shape[1] - 1
    assert est.removal_to_flip(coef=-1, max_refits=2).quantity == f"coef[{last}]"
    with pytest.raises(ValueError, match=r"0\.\.1 \(negative values count from the end\)"):
        est.most_influential(X[:5], k=3, target="predict_proba", output=2)


def test_estimator_class_instead_of_instance(regression):
    with pytest.raises(UnsupportedModelError, match=r"instance such as Ridge\(\), not the class"):
        InfluenceEstimator(Ridge).fit(*regression)


def test_changing_the_weight_or_target_array_after_fit_changes_nothing(regression):
    X, y = regression
    sw = np.linspace(0.5, 2.0, len(y))
    est = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y, sample_weight=sw)
    before = change_vector(est.influence([1, 2], method="refit"))
    sw[:] = 1.0  # the caller reuses their array
    np.testing.assert_array_equal(change_vector(est.influence([1, 2], method="refit")), before)
    y_copy = y.copy()
    est = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y_copy)
    before = change_vector(est.influence([1, 2], method="refit"))
    y_copy[:] = 0.0  # the same for the targets
    np.testing.assert_array_equal(change_vector(est.influence([1, 2], method="refit")), before)
