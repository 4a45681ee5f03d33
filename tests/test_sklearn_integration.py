"""skrif inside the scikit-learn ecosystem, exercised with the real machinery (no mocks).

Pipelines, model selection, cross-validation, metadata routing of ``sample_weight``,
prefit (frozen) models, pandas input and labelled output, persistence, BLAS threads.
Ground truth is always an exact scikit-learn refit (Ridge ``solver="cholesky"``,
LogisticRegression ``solver="newton-cholesky", tol=1e-14``), never skrif itself.
"""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError, UnsetMetadataPassedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    check_cv,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skrif import InfluenceEstimator, label_training_rows, transform_through
from skrif.exceptions import OptimalityWarning

# These tests check additive (IF/RIF) answers for sets on purpose; the
# SetInteractionWarning such answers raise is tested in test_groups.py.
ADDITIVE_SETS = "ignore::skrif.exceptions.SetInteractionWarning"

pd = pytest.importorskip("pandas")

TIGHT_LOGISTIC = dict(solver="newton-cholesky", tol=1e-14, max_iter=1000)


# -- data and independent ground truth -------------------------------------------
def regression_data(n=60, p=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=3.0, scale=2.0, size=(n, p))
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, w


def classification_data(n=80, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=1.0, scale=2.0, size=(n, p))
    logits = X @ rng.normal(size=p) * 0.7 - 0.3
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logits))).astype(int)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, w


def flat(coef, intercept):
    return np.concatenate([np.ravel(coef), np.ravel(intercept)])


def ridge_refit(Xt, y, w, keep, alpha=1.0):
    sw = None if w is None else w[keep]
    return Ridge(alpha=alpha, solver="cholesky").fit(Xt[keep], y[keep], sample_weight=sw)


def logistic_refit(Xt, y, w, keep, C=1.0):
    sw = None if w is None else w[keep]
    model = LogisticRegression(C=C, **TIGHT_LOGISTIC)
    return model.fit(Xt[keep], y[keep], sample_weight=sw)


def keep_without(n, *removed):
    keep = np.ones(n, dtype=bool)
    keep[list(removed)] = False
    return keep


@pytest.fixture
def routing_on():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


# -- Pipeline ----------------------------------------------------------------------
def test_pipeline_fit_predict_score_and_influence_through_last_step():
    X, y, _ = classification_data()
    pipe = Pipeline(
        [("scale", StandardScaler()), ("model", InfluenceEstimator(LogisticRegression(**TIGHT_LOGISTIC)))]
    ).fit(X, y)
    Xt = pipe[:-1].transform(X)
    reference = LogisticRegression(**TIGHT_LOGISTIC).fit(Xt, y)
    assert_array_equal(pipe.predict(X), reference.predict(Xt))
    assert_allclose(pipe.predict_proba(X), reference.predict_proba(Xt), rtol=1e-10)
    assert pipe.score(X, y) == reference.score(Xt, y)
    assert_array_equal(pipe.classes_, [0, 1])

    # Attribution through pipe[-1]: the preprocessing fitted on all rows is held fixed.
    removed = [3, 11, 40]
    change = pipe[-1].influence(removed, method="refit")
    exact = logistic_refit(Xt, y, None, keep_without(len(y), *removed))
    assert_allclose(
        flat(change.coef, change.intercept),
        flat(exact.coef_, exact.intercept_) - flat(reference.coef_, reference.intercept_),
        atol=1e-9,
    )


def test_transform_through_gives_the_features_of_the_last_step():
    X, y, _ = regression_data()
    X_eval = X[:7] + 0.5
    pipe = Pipeline([("scale", StandardScaler()), ("model", InfluenceEstimator(Ridge()))]).fit(X, y)
    Xt_eval = transform_through(pipe, X_eval)
    assert_allclose(Xt_eval, pipe[0].transform(X_eval))
    assert_allclose(pipe[-1].predict(Xt_eval), pipe.predict(X_eval))

    # Exact refit of the final step on transformed rows, preprocessing held fixed.
    removed = [0, 5]
    change = pipe[-1].influence(removed, method="newton")  # exact for least squares
    Xt = pipe[0].transform(X)
    exact = ridge_refit(Xt, y, None, keep_without(len(y), *removed))
    predicted = Xt_eval @ change.coef + change.intercept
    assert_allclose(pipe[-1].predict(Xt_eval) + predicted, exact.predict(Xt_eval), atol=1e-10)

    if hasattr(pipe[-1], "removal_effect"):
        effect = pipe[-1].removal_effect(removed, Xt_eval, target="predict", method="refit")
        assert_allclose(effect, exact.predict(Xt_eval) - pipe.predict(X_eval), atol=1e-9)


def test_transform_through_edge_cases():
    X, y, _ = regression_data()
    est = InfluenceEstimator(Ridge()).fit(X, y)
    assert transform_through(est, X) is X
    one_step = Pipeline([("model", InfluenceEstimator(Ridge()))]).fit(X, y)
    assert transform_through(one_step, X) is X
    passthrough = Pipeline([("nothing", "passthrough"), ("model", InfluenceEstimator(Ridge()))])
    assert_allclose(transform_through(passthrough.fit(X, y), X), X)

    with pytest.raises(TypeError, match="last step is an InfluenceEstimator"):
        transform_through(Pipeline([("scale", StandardScaler()), ("m", Ridge())]).fit(X, y), X)
    search = GridSearchCV(InfluenceEstimator(Ridge()), {"rescaled": [True]}, cv=2).fit(X, y)
    with pytest.raises(TypeError, match="best_estimator_"):
        transform_through(search, X)
    with pytest.raises(NotFittedError):
        transform_through(Pipeline([("s", StandardScaler()), ("m", InfluenceEstimator())]), X)


# -- model selection and cross-validation ---------------------------------------------
def test_grid_search_over_inner_and_own_parameters():
    X, y, _ = classification_data()
    grid = {"estimator__C": [0.1, 10.0], "rescaled": [True, False]}
    search = GridSearchCV(InfluenceEstimator(LogisticRegression(**TIGHT_LOGISTIC)), grid, cv=3)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_
    assert isinstance(best, InfluenceEstimator)
    assert best.estimator_.C == search.best_params_["estimator__C"]
    assert best.influence([0]).method == ("rif" if best.rescaled else "if")

    # The same search on the bare model picks the same C with the same scores.
    bare = GridSearchCV(LogisticRegression(**TIGHT_LOGISTIC), {"C": [0.1, 10.0]}, cv=3).fit(X, y)
    assert bare.best_params_["C"] == search.best_params_["estimator__C"]
    assert_allclose(
        bare.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"][::2],  # rescaled does not change predictions
    )


def test_randomized_search_in_a_pipeline_over_alpha():
    X, y, _ = regression_data()
    pipe = Pipeline([("scale", StandardScaler()), ("model", InfluenceEstimator(Ridge()))])
    search = RandomizedSearchCV(
        pipe,
        {"model__estimator__alpha": [0.01, 0.1, 1.0, 10.0], "model__rescaled": [True, False]},
        n_iter=4,
        cv=3,
        random_state=0,
    ).fit(X, y)
    best = search.best_estimator_
    assert best[-1].estimator_.alpha == search.best_params_["model__estimator__alpha"]
    Xt = transform_through(best, X)
    assert_allclose(best[-1].predict(Xt), best.predict(X))


def test_cross_validation_is_stratified_for_classifiers_and_matches_the_bare_model():
    X, y, _ = classification_data()
    clf = InfluenceEstimator(LogisticRegression(**TIGHT_LOGISTIC))
    assert is_classifier(clf)
    assert isinstance(check_cv(5, y, classifier=is_classifier(clf)), StratifiedKFold)
    ours = cross_val_score(clf, X, y, cv=5)
    bare = cross_val_score(LogisticRegression(**TIGHT_LOGISTIC), X, y, cv=5)
    assert_array_equal(ours, bare)

    Xr, yr, _ = regression_data()
    reg = InfluenceEstimator(Ridge(solver="cholesky"))
    assert is_regressor(reg) and not is_classifier(reg)
    assert isinstance(check_cv(5, yr, classifier=is_classifier(reg)), KFold)
    result = cross_validate(reg, Xr, yr, cv=4, return_estimator=True)
    assert_allclose(result["test_score"], cross_val_score(Ridge(solver="cholesky"), Xr, yr, cv=4))
    assert all(hasattr(e, "leverages_") for e in result["estimator"])


def test_clone_get_params_set_params():
    est = InfluenceEstimator(Ridge(alpha=2.0), rescaled=False, polish=False)
    params = est.get_params(deep=True)
    assert params["estimator__alpha"] == 2.0
    assert params["rescaled"] is False and params["polish"] is False
    est.set_params(estimator__alpha=5.0, rescaled=True)
    assert est.estimator.alpha == 5.0 and est.rescaled is True

    X, y, _ = regression_data()
    est.fit(X, y)
    copy = clone(est)
    assert not hasattr(copy, "estimator_")
    assert copy.get_params()["estimator__alpha"] == 5.0
    assert copy.estimator is not est.estimator


# -- sample_weight: consumed by skrif and forwarded, routing off and on ------------------
def _check_weight_zero_equals_removal(pipe, X, y, w, zero, other):
    """``pipe`` was fitted with weight 0 on row ``zero``: it must equal removing the row."""
    model = pipe[-1]
    Xt = pipe[:-1].transform(X)
    without = ridge_refit(Xt, y, w, keep_without(len(y), zero))
    # The inner fit got the weights ...
    assert_allclose(flat(model.estimator_.coef_, model.estimator_.intercept_),
                    flat(without.coef_, without.intercept_), atol=1e-10)
    # ... and so did the Hessian: the zero-weight row has no leverage and no influence,
    assert model.leverages_[zero] == 0.0
    assert_allclose(flat(*_coef_intercept(model.influence([zero]))), 0.0, atol=1e-14)
    # and removing another row is predicted as the exact refit without both rows.
    exact = ridge_refit(Xt, y, w, keep_without(len(y), zero, other))
    change = model.influence([other], method="newton")  # exact for least squares
    assert_allclose(
        flat(*_coef_intercept(change)),
        flat(exact.coef_, exact.intercept_) - flat(without.coef_, without.intercept_),
        atol=1e-10,
    )


def _coef_intercept(change):
    return change.coef, change.intercept


def _weights_with_zero(w, zero):
    w = w.copy()
    w[zero] = 0.0
    return w


def test_sample_weight_routing_off_pipeline_and_grid_search():
    X, y, w = regression_data()
    w = _weights_with_zero(w, 7)
    pipe = Pipeline([("scale", StandardScaler()), ("model", InfluenceEstimator(Ridge()))])
    pipe.fit(X, y, model__sample_weight=w)
    _check_weight_zero_equals_removal(pipe, X, y, w, zero=7, other=20)

    search = GridSearchCV(
        InfluenceEstimator(Ridge()), {"estimator__alpha": [1.0]}, cv=2, refit=True
    ).fit(X, y, sample_weight=w)
    exact = ridge_refit(X, y, w, keep_without(len(y), 7))
    assert_allclose(search.best_estimator_.estimator_.coef_, exact.coef_, atol=1e-10)
    assert search.best_estimator_.leverages_[7] == 0.0


def test_sample_weight_routing_on_pipeline_and_grid_search(routing_on):
    X, y, w = regression_data()
    w = _weights_with_zero(w, 7)
    pipe = Pipeline(
        [
            ("scale", StandardScaler().set_fit_request(sample_weight=False)),
            (
                "model",
                InfluenceEstimator(Ridge())
                .set_fit_request(sample_weight=True)
                .set_score_request(sample_weight=True),
            ),
        ]
    )
    pipe.fit(X, y, sample_weight=w)
    _check_weight_zero_equals_removal(pipe, X, y, w, zero=7, other=20)

    search = GridSearchCV(
        pipe, {"model__estimator__alpha": [1.0], "model__rescaled": [True, False]}, cv=2
    ).fit(X, y, sample_weight=w)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))  # weighted scores
    _check_weight_zero_equals_removal(search.best_estimator_, X, y, w, zero=7, other=20)


def test_routing_on_forwards_weights_even_if_the_inner_model_does_not_request_them(routing_on):
    # skrif consumes sample_weight; the inner fit must see the same weights whatever
    # the inner estimator requests, or the Hessian would describe another objective.
    X, y, w = regression_data()
    w = _weights_with_zero(w, 3)
    for inner in (Ridge(), Ridge().set_fit_request(sample_weight=False)):
        est = InfluenceEstimator(inner).set_fit_request(sample_weight=True)
        est.fit(X, y, sample_weight=w)
        exact = ridge_refit(X, y, w, keep_without(len(y), 3))
        assert_allclose(est.estimator_.coef_, exact.coef_, atol=1e-10)


def test_routing_on_unrequested_weights_raise(routing_on):
    X, y, w = regression_data()
    pipe = Pipeline([("model", InfluenceEstimator(Ridge()))])
    with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
        pipe.fit(X, y, sample_weight=w)


def test_metadata_routing_structure():
    routing = InfluenceEstimator(Ridge()).get_metadata_routing()
    serialized = routing._serialize()
    assert "sample_weight" in serialized["$self_request"]["fit"]
    assert serialized["estimator"]["mapping"] == [{"caller": "fit", "callee": "fit"}]


def test_weighted_logistic_in_pipeline_matches_exact_refit_and_cross_validate():
    # A classifier: weights reach the inner fit and the Hessian (RIF of a zero-weight
    # row is zero; refit of another row matches an exact weighted refit).
    X, y, w = classification_data()
    w = _weights_with_zero(w, 5)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("model", InfluenceEstimator(LogisticRegression(**TIGHT_LOGISTIC)))]
    ).fit(X, y, model__sample_weight=w)
    Xt = pipe[:-1].transform(X)
    without = logistic_refit(Xt, y, w, keep_without(len(y), 5))
    model = pipe[-1]
    assert_allclose(model.estimator_.coef_, without.coef_, atol=1e-9)
    assert model.leverages_[5] == 0.0
    assert_allclose(model.influence([5]).coef, 0.0, atol=1e-14)
    both = logistic_refit(Xt, y, w, keep_without(len(y), 5, 9))
    change = model.influence([9], method="refit")
    assert_allclose(change.coef, both.coef_ - without.coef_, atol=1e-9)

    result = cross_validate(pipe, X, y, cv=3, params={"model__sample_weight": w})
    assert np.all(result["test_score"] > 0.5)


# -- prefit models ------------------------------------------------------------------
def test_frozen_model_is_attributed_without_refitting():
    X, y, _ = classification_data()
    model = LogisticRegression(C=0.5, **TIGHT_LOGISTIC).fit(X, y)
    coef_before = model.coef_.copy()
    est = InfluenceEstimator(FrozenEstimator(model)).fit(X, y)
    assert est.estimator_.estimator is model  # the user's object, not a refitted copy
    assert is_classifier(est)
    assert_array_equal(est.classes_, model.classes_)
    assert_array_equal(model.coef_, coef_before)
    assert est.optimality_gap_ < 1e-8
    assert_array_equal(est.predict_proba(X), model.predict_proba(X))

    removed = [2, 30]
    exact = logistic_refit(X, y, None, keep_without(len(y), *removed), C=0.5)
    change = est.influence(removed, method="refit")
    assert_allclose(change.coef, exact.coef_ - model.coef_, atol=1e-9)
    rif = est.influence(removed)
    assert_allclose(rif.coef, exact.coef_ - model.coef_, rtol=0.1, atol=1e-4)
    # clone keeps the frozen model (FrozenEstimator clones to itself)
    assert clone(est).estimator.estimator is model


def test_frozen_unconverged_model_is_kept_and_attributed_at_the_optimum():
    X, y, _ = classification_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the deliberately loose fit
        model = LogisticRegression(C=0.5, solver="lbfgs", max_iter=3).fit(X, y)
    coef_before, intercept_before = model.coef_.copy(), model.intercept_.copy()
    with pytest.warns(OptimalityWarning, match="frozen"):
        est = InfluenceEstimator(FrozenEstimator(model)).fit(X, y)
    assert est.optimality_gap_ > 1e-6
    assert est.n_polish_steps_ > 0
    # the user's model is untouched: same coefficients, same predictions
    assert_array_equal(model.coef_, coef_before)
    assert_array_equal(model.intercept_, intercept_before)
    assert_array_equal(est.estimator_.coef_, coef_before)
    assert_array_equal(est.decision_function(X), model.decision_function(X))
    # attributions describe changes from the optimum of the model's objective
    optimum = logistic_refit(X, y, None, np.ones(len(y), bool), C=0.5)
    exact = logistic_refit(X, y, None, keep_without(len(y), 4), C=0.5)
    change = est.influence([4], method="refit")
    assert_allclose(change.coef, exact.coef_ - optimum.coef_, atol=1e-9)

    # polish=False: attributions at the model's own (unconverged) coefficients
    with pytest.warns(OptimalityWarning, match="polish=False"):
        raw = InfluenceEstimator(FrozenEstimator(model), polish=False).fit(X, y)
    assert raw.n_polish_steps_ == 0
    assert_array_equal(model.coef_, coef_before)


def test_frozen_model_errors():
    X, y, _ = classification_data()
    with pytest.raises(NotFittedError):
        InfluenceEstimator(FrozenEstimator(LogisticRegression())).fit(X, y)
    model = LogisticRegression().fit(X[:, :3], y)
    with pytest.raises(ValueError, match="fitted on 3 features but X has 4"):
        InfluenceEstimator(FrozenEstimator(model)).fit(X, y)


def test_frozen_model_on_other_data_is_reported():
    # A model trained on other rows is far from the optimum on these: the gap says so.
    X, y, _ = regression_data()
    model = Ridge(solver="cholesky").fit(X[:30], y[:30])
    with pytest.warns(OptimalityWarning, match="the data the model was trained on"):
        est = InfluenceEstimator(FrozenEstimator(model)).fit(X, y)
    assert est.optimality_gap_ > 1e-3


def _mixed_frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.normal(50, 10, n),
            "dose": rng.normal(size=n),
            "color": rng.choice(["red", "green", "blue"], n),
        }
    )
    y = (df["dose"] + (df["color"] == "red") + rng.normal(size=n) > 0.5).astype(int)
    return df, y


def _column_transformer(sparse):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    return ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "dose"]),
            ("cat", OneHotEncoder(sparse_output=sparse), ["color"]),
        ],
        sparse_threshold=1.0 if sparse else 0.0,
    )


def test_fitted_pipeline_on_a_dataframe_is_attributed_frozen_without_warnings():
    df, y = _mixed_frame()
    fitted = Pipeline(
        [("prep", _column_transformer(False)), ("lr", LogisticRegression(**TIGHT_LOGISTIC))]
    ).set_output(transform="pandas").fit(df, y)
    coef_before = fitted[-1].coef_.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no refit, no feature-name warnings
        attributed = Pipeline(
            [
                ("prep", FrozenEstimator(fitted[:-1])),
                ("model", InfluenceEstimator(FrozenEstimator(fitted[-1]))),
            ]
        ).fit(df, y)
        assert_array_equal(attributed.predict_proba(df), fitted.predict_proba(df))
        assert attributed.score(df, y) == fitted.score(df, y)
    assert_array_equal(fitted[-1].coef_, coef_before)
    model = attributed[-1]
    assert model.optimality_gap_ < 1e-8
    assert_array_equal(model.feature_names_in_, fitted[-1].feature_names_in_)
    Xt = transform_through(attributed, df)
    exact = logistic_refit(Xt.to_numpy(), y.to_numpy(), None, keep_without(len(y), 0, 1))
    change = model.influence([0, 1], method="refit", as_frame=True)
    assert change.coef.columns.tolist() == list(fitted[-1].feature_names_in_)
    assert_allclose(change.coef.to_numpy(), exact.coef_ - coef_before, atol=1e-9)

    # The frozen model checks that skrif got the columns it was trained on.
    with pytest.raises(ValueError, match="same order"):
        InfluenceEstimator(FrozenEstimator(fitted[-1])).fit(Xt[Xt.columns[::-1]], y)


def test_column_transformer_with_sparse_one_hot_output():
    df, y = _mixed_frame()
    pipe = Pipeline(
        [("prep", _column_transformer(True)), ("model", InfluenceEstimator(LogisticRegression(**TIGHT_LOGISTIC)))]
    ).fit(df, y)
    Xt = transform_through(pipe, df)
    assert sp.issparse(Xt)
    removed = [3, 50]
    exact = logistic_refit(Xt.toarray(), y.to_numpy(), None, keep_without(len(y), *removed))
    base = pipe[-1].estimator_
    change = pipe[-1].influence(removed, method="refit")
    assert_allclose(change.coef, exact.coef_ - base.coef_, atol=1e-9)
    if hasattr(pipe[-1], "removal_effect"):
        effect = pipe[-1].removal_effect(removed, Xt[:5], method="refit")
        assert_allclose(
            effect,
            exact.decision_function(Xt[:5].toarray()) - pipe.decision_function(df.iloc[:5]),
            atol=1e-8,
        )


# -- pandas -------------------------------------------------------------------------
def _frames(n=40):
    X, y, _ = regression_data(n=n, p=3)
    index = pd.Index([f"row{i}" for i in range(n)], name="id")
    X_df = pd.DataFrame(X, columns=["age", "dose", "weight"], index=index)
    return X_df, pd.Series(y, index=index, name="response")


def test_dataframe_input_keeps_names_and_labels_outputs_on_request():
    X_df, y_s = _frames()
    X_before = X_df.copy()
    est = InfluenceEstimator(Ridge()).fit(X_df, y_s)
    pd.testing.assert_frame_equal(X_df, X_before)  # input not mutated
    assert_array_equal(est.feature_names_in_, ["age", "dose", "weight"])
    assert est.training_index_.equals(X_df.index)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning for a DataFrame
        est.predict(X_df)

    plain = est.influence([1, 4])
    assert isinstance(plain.coef, np.ndarray)  # numpy stays the default
    labelled = est.influence([1, 4], as_frame=True)
    assert isinstance(labelled.coef, pd.Series)
    assert labelled.coef.index.tolist() == ["age", "dose", "weight"]
    assert_array_equal(labelled.coef.to_numpy(), plain.coef)
    assert labelled.intercept == plain.intercept
    assert labelled.removed.tolist() == ["row1", "row4"]

    lev = label_training_rows(est, est.leverages_)
    assert lev.index.equals(X_df.index)
    scores = label_training_rows(est, np.ones((len(X_df), 2)), columns=["a", "b"])
    assert scores.columns.tolist() == ["a", "b"] and scores.index.equals(X_df.index)
    with pytest.raises(ValueError, match="one entry .* per training row"):
        label_training_rows(est, np.ones(3))


def test_numpy_fit_has_no_training_index_and_refit_drops_it():
    X_df, y_s = _frames()
    est = InfluenceEstimator(Ridge()).fit(X_df, y_s)
    est.fit(X_df.to_numpy(), y_s.to_numpy())
    assert not hasattr(est, "training_index_")
    assert not hasattr(est, "feature_names_in_")
    labelled = est.influence([0, 2], as_frame=True)
    assert labelled.coef.index.tolist() == ["x0", "x1", "x2"]
    assert labelled.removed.tolist() == [0, 2]


def test_as_frame_for_two_dimensional_coefficients():
    X_df, y_s = _frames()
    Y = pd.DataFrame({"t1": y_s, "t2": -2 * y_s})
    multi = InfluenceEstimator(Ridge()).fit(X_df, Y).influence([0], as_frame=True)
    assert multi.coef.shape == (2, 3) and multi.coef.columns.tolist() == ["age", "dose", "weight"]
    assert isinstance(multi.intercept, pd.Series)

    labels = pd.Series(np.where(y_s > y_s.median(), "high", "low"), index=y_s.index)
    clf = InfluenceEstimator(LogisticRegression(**TIGHT_LOGISTIC)).fit(X_df, labels)
    change = clf.influence(["row3" == name for name in X_df.index], as_frame=True)
    assert change.coef.index.tolist() == ["low"]  # the positive class: classes_[1]
    assert change.removed.tolist() == ["row3"]


def test_dataframe_through_pipeline_and_grid_search():
    X_df, y_s = _frames()
    pipe = Pipeline([("scale", StandardScaler()), ("model", InfluenceEstimator(Ridge()))])
    pipe.set_output(transform="pandas")
    search = GridSearchCV(pipe, {"model__estimator__alpha": [0.1, 1.0]}, cv=3).fit(X_df, y_s)
    model = search.best_estimator_[-1]
    assert_array_equal(model.feature_names_in_, ["age", "dose", "weight"])
    assert model.training_index_.equals(X_df.index)
    Xt = transform_through(search.best_estimator_, X_df.iloc[:3])
    assert isinstance(Xt, pd.DataFrame)
    assert_allclose(model.predict(Xt), search.predict(X_df.iloc[:3]))
    assert label_training_rows(search.best_estimator_, model.leverages_).index.equals(X_df.index)


# -- persistence --------------------------------------------------------------------
@pytest.mark.filterwarnings(ADDITIVE_SETS)
@pytest.mark.parametrize("wrapped", [Ridge(alpha=0.5), LogisticRegression(**TIGHT_LOGISTIC)])
@pytest.mark.parametrize("p", [4, 120])  # primal (p < n) and dual (p > n) curvature
def test_pickle_and_joblib_round_trip_give_identical_results(tmp_path, wrapped, p):
    data = regression_data if isinstance(wrapped, Ridge) else classification_data
    X, y, w = data(n=80, p=p)
    est = InfluenceEstimator(wrapped).fit(X, y, sample_weight=w)
    restored = [pickle.loads(pickle.dumps(est))]
    joblib.dump(est, tmp_path / "est.joblib")
    restored.append(joblib.load(tmp_path / "est.joblib"))
    buffer = io.BytesIO()
    joblib.dump(est, buffer, compress=3)
    buffer.seek(0)
    restored.append(joblib.load(buffer))
    removed = [1, 7, 33]
    for other in restored:
        assert_array_equal(other.leverages_, est.leverages_)
        assert_array_equal(other.predict(X), est.predict(X))
        for method in ("if", "rif", "newton", "refit"):
            a, b = est.influence(removed, method=method), other.influence(removed, method=method)
            assert_array_equal(a.coef, b.coef)
            assert_array_equal(a.intercept, b.intercept)


def test_pickled_pipeline_gives_identical_attributions():
    X, y, _ = classification_data()
    pipe = Pipeline(
        [("scale", StandardScaler()), ("model", InfluenceEstimator(LogisticRegression(**TIGHT_LOGISTIC)))]
    ).fit(X, y)
    again = pickle.loads(pickle.dumps(pipe))
    assert_array_equal(again.predict_proba(X), pipe.predict_proba(X))
    assert_array_equal(transform_through(again, X), transform_through(pipe, X))
    a, b = pipe[-1].influence([2, 9]), again[-1].influence([2, 9])
    assert_array_equal(a.coef, b.coef)


# -- BLAS threads -------------------------------------------------------------------
@pytest.mark.filterwarnings(ADDITIVE_SETS)
@pytest.mark.parametrize("p", [40, 300])  # primal and dual curvature
def test_results_identical_with_one_and_two_blas_threads(p):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X, y, _ = classification_data(n=200, p=p, seed=3)
    removed = np.arange(0, 200, 17)

    def run():
        est = InfluenceEstimator(LogisticRegression(C=0.1, **TIGHT_LOGISTIC)).fit(X, y)
        return est.leverages_, [est.influence(removed, method=m).coef for m in ("rif", "newton")]

    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        lev1, changes1 = run()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        lev2, changes2 = run()
    # Identical up to the last bits BLAS may order differently across threads.
    assert_allclose(lev1, lev2, rtol=1e-12, atol=1e-15)
    for a, b in zip(changes1, changes2):
        assert_allclose(a, b, rtol=1e-10, atol=1e-14)


# -- property: labelled output is the numpy output, labelled -------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_X_DF, _Y_S = _frames(n=30)
_SHUFFLED = np.random.default_rng(7).permutation(30)
_X_SHUF, _Y_SHUF = _X_DF.iloc[_SHUFFLED], _Y_S.iloc[_SHUFFLED]
_EST_SHUF = InfluenceEstimator(Ridge()).fit(_X_SHUF, _Y_SHUF)


@pytest.mark.filterwarnings(ADDITIVE_SETS)
@settings(max_examples=25, deadline=None)
@given(st.sets(st.integers(0, 29), max_size=6), st.sampled_from(["if", "rif", "newton"]))
def test_as_frame_labels_the_numpy_result_of_any_removal(removed, method):
    idx = sorted(removed)
    plain = _EST_SHUF.influence(idx, method=method)
    labelled = _EST_SHUF.influence(idx, method=method, as_frame=True)
    assert_array_equal(labelled.coef.to_numpy(), plain.coef)
    assert labelled.intercept == plain.intercept
    # positions refer to the rows as passed to fit (here shuffled), labels follow them
    assert labelled.removed.tolist() == _X_SHUF.index[idx].tolist()


def test_concurrent_fits_in_threads_match_sequential_search():
    # No global state: a search fitting candidates in two threads at once gives the
    # same results and the same attributions as a sequential one.
    X, y, w = classification_data(seed=5)
    grid = {"estimator__C": [0.1, 1.0, 10.0], "rescaled": [True, False]}

    def search(n_jobs):
        est = InfluenceEstimator(LogisticRegression(**TIGHT_LOGISTIC))
        with joblib.parallel_backend("threading", n_jobs=n_jobs):
            return GridSearchCV(est, grid, cv=3, n_jobs=n_jobs).fit(X, y, sample_weight=w)

    sequential, threaded = search(1), search(2)
    assert_array_equal(
        sequential.cv_results_["mean_test_score"], threaded.cv_results_["mean_test_score"]
    )
    a = sequential.best_estimator_.influence([0, 4])
    b = threaded.best_estimator_.influence([0, 4])
    assert_allclose(a.coef, b.coef, rtol=1e-12, atol=1e-15)


def test_frozen_model_trained_with_weights_needs_the_same_weights():
    X, y, w = regression_data()
    model = Ridge(solver="cholesky").fit(X, y, sample_weight=w)
    est = InfluenceEstimator(FrozenEstimator(model)).fit(X, y, sample_weight=w)
    assert est.optimality_gap_ < 1e-10
    exact = ridge_refit(X, y, w, keep_without(len(y), 6))
    change = est.influence([6], method="newton")  # exact for least squares
    assert_allclose(change.coef, exact.coef_ - model.coef_, atol=1e-10)
    with pytest.warns(OptimalityWarning):  # the weights it was trained with are missing
        InfluenceEstimator(FrozenEstimator(model)).fit(X, y)
