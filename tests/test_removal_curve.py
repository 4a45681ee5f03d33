"""removal_curve: refits equal scikit-learn's, cross-fitting never scores a row it
ranked on, no gain on data with nothing to clean, bad input."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, log_loss
from sklearn.utils._param_validation import InvalidParameterError

from skrif import InfluenceEstimator
from skrif.validation import CURVE_COLUMNS, RemovalCurve, removal_curve

TIGHT = dict(solver="newton-cholesky", tol=1e-12, max_iter=1000)


def _logistic_data(seed=0, n=160, m=60, flip=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, 4))
    y = (X @ [1.5, -1.0, 0.5, 0.0] + 0.5 * rng.logistic(size=n + m) > 0).astype(int)
    flipped = rng.choice(n, size=int(flip * n), replace=False)
    y[flipped] = 1 - y[flipped]  # noisy training labels only
    return X[:n], y[:n], X[n:], y[n:]


def _linear_data(seed, n=200, m=60, p=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, p))
    y = X @ rng.normal(size=p) + rng.normal(size=n + m)
    return X[:n], y[:n], X[n:], y[n:]


def _keep(n, rows):
    keep = np.ones(n, dtype=bool)
    keep[rows] = False
    return keep


def test_ranked_and_random_refits_equal_scikit_learn_refits():
    X, y, Xe, ye = _logistic_data()
    est = InfluenceEstimator(LogisticRegression(C=0.5, **TIGHT)).fit(X, y)
    scores = np.random.default_rng(1).normal(size=len(y))
    curve = removal_curve(
        est, Xe, ye, fractions=(0.02, 0.1), by=scores, selection="in_sample", n_random=2,
        random_state=0,
    )
    assert isinstance(curve, RemovalCurve)
    sklearn_loss = log_loss(ye, LogisticRegression(C=0.5, **TIGHT).fit(X, y).predict_proba(Xe))
    assert curve.score_all == pytest.approx(-sklearn_loss, abs=1e-8)
    top = np.argsort(-scores)
    for k, size in enumerate(curve.n_removed):
        np.testing.assert_array_equal(curve.removed[0][k], np.sort(top[:size]))
        keep = _keep(len(y), top[:size])
        refit = LogisticRegression(C=0.5, **TIGHT).fit(X[keep], y[keep])
        assert curve.score_removed[k] == pytest.approx(-log_loss(ye, refit.predict_proba(Xe)), abs=1e-8)
        random_scores = []
        for rows in curve.random_removed[k]:
            keep = _keep(len(y), rows)
            refit = LogisticRegression(C=0.5, **TIGHT).fit(X[keep], y[keep])
            random_scores.append(-log_loss(ye, refit.predict_proba(Xe)))
        assert curve.score_random[k] == pytest.approx(np.mean(random_scores), abs=1e-8)
        assert curve.score_random_std[k] == pytest.approx(np.std(random_scores, ddof=1), abs=1e-8)
    assert list(curve.to_frame().columns) == list(CURVE_COLUMNS)
    np.testing.assert_array_equal(curve.n_removed, [3, 16])


def test_a_scikit_learn_scorer_on_cross_fitted_folds_equals_refits():
    X, y, Xe, ye = _linear_data(0)
    est = InfluenceEstimator(Ridge(alpha=2.0)).fit(X, y)
    curve = removal_curve(
        est, Xe, ye, fractions=(0.05,), by="harmful", scoring="neg_mean_squared_error",
        cv=3, n_random=0, random_state=0,
    )
    weights, base, removed = [], [], []
    for f, (_, scored) in enumerate(curve.folds):
        keep = _keep(len(y), curve.removed[f][0])
        refit = Ridge(alpha=2.0, solver="cholesky").fit(X[keep], y[keep])
        full = Ridge(alpha=2.0, solver="cholesky").fit(X, y)
        removed.append(-np.mean((ye[scored] - refit.predict(Xe[scored])) ** 2))
        base.append(-np.mean((ye[scored] - full.predict(Xe[scored])) ** 2))
        weights.append(len(scored))
    weights = np.array(weights) / np.sum(weights)
    assert curve.scoring == "neg_mean_squared_error"
    assert curve.score_all == pytest.approx(np.dot(weights, base), abs=1e-10)
    assert curve.score_removed[0] == pytest.approx(np.dot(weights, removed), abs=1e-10)
    gains = np.array(removed) - np.array(base)
    assert curve.gain_se[0] == pytest.approx(np.std(gains, ddof=1) / np.sqrt(3), abs=1e-10)
    assert np.isnan(curve.score_random).all()


def test_harmful_ranks_by_the_exact_leave_one_out_loss_change_for_least_squares():
    X, y, Xe, ye = _linear_data(1, n=60, m=20, p=3)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    curve = removal_curve(
        est, Xe, ye, fractions=(0.05,), by="harmful", selection="in_sample", n_random=0,
    )
    full = Ridge(alpha=1.0, solver="cholesky").fit(X, y)
    change = np.empty(len(y))
    for i in range(len(y)):  # brute force: refit without each row
        keep = _keep(len(y), [i])
        refit = Ridge(alpha=1.0, solver="cholesky").fit(X[keep], y[keep])
        change[i] = np.sum((ye - refit.predict(Xe)) ** 2) - np.sum((ye - full.predict(Xe)) ** 2)
    np.testing.assert_array_equal(curve.removed[0][0], np.sort(np.argsort(change)[:3]))


def test_cross_fitting_never_scores_a_row_it_ranked_on():
    X, y, Xe, ye = _logistic_data(2)
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X, y)
    key = {row.tobytes(): j for j, row in enumerate(Xe)}
    ranked_on, scored_on = [], []

    def by(estimator, X_rank, y_rank):
        ranked_on.append({key[row.tobytes()] for row in X_rank})
        return estimator.self_influence()

    def scoring(model, X_score, y_score):
        scored_on.append({key[row.tobytes()] for row in X_score})
        return accuracy_score(y_score, model.predict(X_score))

    curve = removal_curve(est, Xe, ye, fractions=(0.05, 0.1), by=by, scoring=scoring,
                          cv=4, n_random=1, random_state=0)
    m = len(ye)
    assert len(ranked_on) == 4 and len(curve.folds) == 4
    folds_scored = []
    for f, (ranking_rows, scored_rows) in enumerate(curve.folds):
        assert set(ranking_rows) == ranked_on[f]
        assert ranked_on[f].isdisjoint(scored_rows)
        assert set(ranking_rows) | set(scored_rows) == set(range(m))
        folds_scored.append(set(scored_rows))
    # every score call saw one fold's held-out rows only, never a ranking row of it
    for rows in scored_on:
        f = next(i for i, s in enumerate(folds_scored) if s == rows)
        assert rows.isdisjoint(ranked_on[f])
    assert sorted(j for s in folds_scored for j in s) == list(range(m))  # a partition
    # the default scorer path records the same partition
    default = removal_curve(est, Xe, ye, fractions=(0.05,), cv=4, n_random=0, random_state=0)
    for ranking_rows, scored_rows in default.folds:
        assert np.intersect1d(ranking_rows, scored_rows).size == 0
        assert ranking_rows.size + scored_rows.size == m


def test_no_cross_fitted_gain_on_data_with_nothing_to_clean():
    # A well-specified linear model with Gaussian noise: nothing to clean. The
    # in-sample gain is selection bias and large; the cross-fitted one is not
    # significantly positive over 30 independent data sets.
    gains = {"cross_fit": [], "in_sample": []}
    for seed in range(30):
        X, y, Xe, ye = _linear_data(seed)
        est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
        for selection in gains:
            curve = removal_curve(est, Xe, ye, fractions=(0.01, 0.05), selection=selection,
                                  n_random=0, random_state=seed)
            gains[selection].append(curve.gain)
    t = {k: np.mean(v, axis=0) / (np.std(v, axis=0, ddof=1) / np.sqrt(len(v))) for k, v in gains.items()}
    assert np.all(t["cross_fit"] < 2)
    assert np.all(t["in_sample"] > 4)


def test_planted_noise_is_worth_removing_on_held_out_rows():
    X, y, Xe, ye = _logistic_data(3, n=300, m=150, flip=0.2)
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X, y)
    curve = removal_curve(est, Xe, ye, fractions=(0.1,), by="label_issues", random_state=0)
    assert curve.gain[0] > 2 * curve.gain_se[0]
    assert curve.gain[0] > curve.gain_random[0] + 3 * curve.score_random_std[0]


def test_inputs_are_not_modified():
    X, y, Xe, ye = _logistic_data(4)
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X, y)
    Xe0, ye0, coef0 = Xe.copy(), ye.copy(), est.estimator_.coef_.copy()
    removal_curve(est, Xe, ye, fractions=(0.05,), scoring="accuracy", n_random=1, random_state=0)
    np.testing.assert_array_equal(Xe, Xe0)
    np.testing.assert_array_equal(ye, ye0)
    np.testing.assert_array_equal(est.estimator_.coef_, coef0)


def test_bad_input():
    X, y, Xe, ye = _logistic_data(5)
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X, y)
    for fractions in ((0.0,), (0.6,), (), (np.nan,), "0.1"):
        with pytest.raises(ValueError, match=r"fractions must be .* \(0, 0.5\]"):
            removal_curve(est, Xe, ye, fractions=fractions)
    with pytest.raises(ValueError, match="more folds than the 5 evaluation rows"):
        removal_curve(est, Xe[:5], ye[:5], cv=6)
    with pytest.raises(InvalidParameterError, match="cv"):
        removal_curve(est, Xe, ye, cv=1)
    with pytest.raises(InvalidParameterError, match="selection"):
        removal_curve(est, Xe, ye, selection="both")
    with pytest.raises(InvalidParameterError, match="by"):
        removal_curve(est, Xe, ye, by="worst")
    with pytest.raises(ValueError, match="one finite score per training row"):
        removal_curve(est, Xe, ye, by=np.ones(3))
    with pytest.raises(InvalidParameterError, match="fitted skrif.InfluenceEstimator"):
        removal_curve(LogisticRegression().fit(X, y), Xe, ye)
    reg = InfluenceEstimator(Ridge()).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="label_issues' needs a classifier"):
        removal_curve(reg, Xe, ye.astype(float), by="label_issues")
    # removing every row of one class leaves a model that cannot be fitted
    rare = y.copy()
    rare[:] = 0
    rare[:4] = 1
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X, rare)
    with pytest.raises(ValueError, match=r"without 16 training rows .*single class.*smaller fractions"):
        removal_curve(est, Xe, ye, fractions=(0.1,), by=rare.astype(float), n_random=0)


def test_display_draws_the_curve():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skrif import RemovalCurveDisplay

    X, y, Xe, ye = _linear_data(7, n=120, m=40)
    est = InfluenceEstimator(Ridge()).fit(X, y)
    curve = removal_curve(est, Xe, ye, fractions=(0.05, 0.1), n_random=2, random_state=0)
    display = RemovalCurveDisplay.from_curve(curve)
    np.testing.assert_allclose(display.line_.get_ydata(), curve.gain)
    np.testing.assert_allclose(display.random_line_.get_ydata(), curve.gain_random)
    np.testing.assert_allclose(display.line_.get_xdata(), [5, 10])
    assert "cross-fitted" in display.ax_.get_title()
    plt.close(display.figure_)
    fig, ax = plt.subplots()
    none = removal_curve(est, Xe, ye, fractions=(0.05,), n_random=0, selection="in_sample")
    display = RemovalCurveDisplay(curve=none).plot(ax=ax, title="t")
    assert display.ax_ is ax and display.random_line_ is None
    plt.close(fig)


def test_functionals_rank_and_score_like_the_equivalent_built_ins():
    from skrif import functionals as F

    X, y, Xe, ye = _logistic_data(6, n=200, m=80)
    est = InfluenceEstimator(LogisticRegression(C=0.5, **TIGHT)).fit(X, y)
    kw = dict(fractions=(0.02, 0.05), n_random=1, random_state=0)
    by_loss = removal_curve(est, Xe, ye, by=F.log_loss(), scoring="accuracy", **kw)
    harmful = removal_curve(est, Xe, ye, by="harmful", scoring=F.accuracy(), **kw)
    # the mean log-loss ranks as the total loss does, and accuracy scores alike
    for f in range(5):
        for k in range(2):
            np.testing.assert_array_equal(by_loss.removed[f][k], harmful.removed[f][k])
    np.testing.assert_allclose(by_loss.score_removed, harmful.score_removed, rtol=0, atol=1e-12)
    np.testing.assert_allclose(by_loss.score_random, harmful.score_random, rtol=0, atol=1e-12)
    assert by_loss.by == "log_loss" and harmful.scoring == "accuracy"


def test_a_group_functional_is_scored_on_each_fold_with_its_own_group_labels():
    from skrif import functionals as F

    X, y, Xe, ye = _logistic_data(7, n=200, m=80)
    groups = (Xe[:, 1] > 0).astype(int)
    est = InfluenceEstimator(LogisticRegression(C=0.5, **TIGHT)).fit(X, y)
    curve = removal_curve(est, Xe, ye, fractions=(0.05,), by="self",
                          scoring=F.worst_group_loss(groups), cv=4, n_random=0, random_state=0)
    assert curve.scoring == "worst_group_loss"

    def worst(model, rows):
        p = model.predict_proba(Xe[rows])[np.arange(len(rows)), ye[rows]]
        loss = -np.log(p)
        return max(loss[groups[rows] == g].mean() for g in (0, 1))

    full = LogisticRegression(C=0.5, **TIGHT).fit(X, y)
    base, removed, weights = [], [], []
    for f, (_, scored) in enumerate(curve.folds):
        keep = _keep(len(y), curve.removed[f][0])
        refit = LogisticRegression(C=0.5, **TIGHT).fit(X[keep], y[keep])
        base.append(-worst(full, scored))  # a loss: greater is better is its negative
        removed.append(-worst(refit, scored))
        weights.append(len(scored))
    weights = np.array(weights) / np.sum(weights)
    assert curve.score_all == pytest.approx(np.dot(weights, base), abs=1e-8)
    assert curve.score_removed[0] == pytest.approx(np.dot(weights, removed), abs=1e-8)


def test_functionals_without_a_direction_and_refitted_preprocessing_are_refused():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skrif import functionals as F

    X, y, Xe, ye = _logistic_data(8)
    est = InfluenceEstimator(LogisticRegression(**TIGHT)).fit(X, y)
    with pytest.raises(ValueError, match="no better direction"):
        removal_curve(est, Xe, ye, by=F.mean_prediction())
    with pytest.raises(ValueError, match="no better direction"):
        removal_curve(est, Xe, ye, scoring=F.mean_prediction())
    whole = InfluenceEstimator(make_pipeline(StandardScaler(), LogisticRegression(**TIGHT)))
    whole.fit(X, y)
    with pytest.raises(ValueError, match="preprocessing='fixed'"):
        removal_curve(whole, Xe, ye)
