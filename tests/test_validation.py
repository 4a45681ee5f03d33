"""skrif.validation: removal-set strategies, summaries, and predicted vs actual effects.

Ground truth is independent of skrif: removal sets are checked against full sorts
and brute-force distances, summaries against a hand-computed table, and the
"actual" column against scikit-learn refits at tight tolerance.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.linear_model import LogisticRegression, Ridge

from skrif import InfluenceEstimator
from skrif.datasets import load_breast_cancer_quadratic, make_planted_logistic
from skrif.validation import (
    RESULT_COLUMNS,
    STRATEGIES,
    SUMMARY_COLUMNS,
    removal_sets,
    select_eval_rows,
    summarize,
    total_loss_scores,
    validate_influence,
)

# These tests check additive (IF/RIF) answers for sets on purpose; the
# SetInteractionWarning such answers raise is tested in test_groups.py.
ADDITIVE_SETS = "ignore::skrif.exceptions.SetInteractionWarning"


# -- removal sets ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def X_sets():
    return np.random.default_rng(1).normal(size=(400, 6))


def test_removal_sets_sizes_and_reproducibility(X_sets):
    scores = np.random.default_rng(2).normal(size=400)
    sets = removal_sets(X_sets, n_sets=20, scores=scores, random_state=3)
    assert len(sets) == 20
    assert [s for s, _ in sets] == [s for s in STRATEGIES for _ in range(5)]
    for _, rows in sets:
        assert np.all(np.diff(rows) > 0) and rows.min() >= 0 and rows.max() < 400
    sizes = [len(rows) for s, rows in sets if s == "random"]
    # 0.1% .. 5% of 400 rows, log-spaced: 1 (0.4 rounded up to one row) .. 20
    assert sizes[0] == 1 and sizes[-1] == 20 and sizes == sorted(sizes)
    again = removal_sets(X_sets, n_sets=20, scores=scores, random_state=3)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(sets, again))
    other = removal_sets(X_sets, n_sets=20, scores=scores, random_state=4)
    assert not all(np.array_equal(a, b) for (_, a), (_, b) in zip(sets, other))


def test_feature_sets_hold_the_largest_values_of_one_feature(X_sets):
    for _, rows in removal_sets(X_sets, n_sets=8, strategies="feature", random_state=0):
        outside = np.setdiff1d(np.arange(len(X_sets)), rows)
        ok = [X_sets[rows, j].min() > X_sets[outside, j].max() for j in range(X_sets.shape[1])]
        assert any(ok)


def test_distance_sets_are_the_nearest_rows_to_an_anchor(X_sets):
    for _, rows in removal_sets(X_sets, n_sets=8, strategies="distance", random_state=0):
        outside = np.setdiff1d(np.arange(len(X_sets)), rows)
        found = False
        for anchor in rows:  # brute force: some member is an anchor for the whole set
            d = np.linalg.norm(X_sets - X_sets[anchor], axis=1)
            found |= d[rows].max() < d[outside].min()
        assert found


def test_top_score_sets_lie_in_the_true_top_2k(X_sets):
    scores = np.random.default_rng(5).normal(size=400)
    ranking = np.argsort(-scores)  # independent full sort
    sets = removal_sets(X_sets, n_sets=10, strategies="top_score", scores=scores, random_state=0)
    for i, (_, rows) in enumerate(sets):
        k = len(rows)
        pool = ranking[: 2 * k] if i % 2 == 0 else ranking[::-1][: 2 * k]
        assert np.all(np.isin(rows, pool)), "a top-score set left the true top 2k"
    big = [rows for _, rows in sets if len(rows) >= 10]
    # a random half of the top 2k, not simply the top k
    assert any(not np.array_equal(np.sort(rows), np.sort(ranking[: len(rows)])) for rows in big)


def test_removal_sets_sparse_equals_dense(X_sets):
    import scipy.sparse as sp

    X = np.where(np.abs(X_sets) > 1, X_sets, 0.0)
    dense = removal_sets(X, n_sets=8, strategies=("feature", "distance"), random_state=0)
    sparse = removal_sets(sp.csr_matrix(X), n_sets=8, strategies=("feature", "distance"), random_state=0)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(dense, sparse))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strategies": ("random", "nope")}, "strategies must be"),
        ({"strategies": ("top_score",)}, "needs per-row scores"),
        ({"strategies": ("top_score",), "scores": np.zeros(3)}, "scores must have shape"),
        ({"n_sets": 2}, "n_sets must be an integer between 3 and 100000"),
        ({"min_fraction": 0.0}, "min_fraction must be"),
        ({"min_fraction": 0.2, "max_fraction": 0.1}, "must not exceed"),
    ],
)
def test_removal_sets_bad_input(X_sets, kwargs, match):
    kwargs = {"strategies": ("random", "feature", "distance"), **kwargs}
    with pytest.raises(ValueError, match=match):
        removal_sets(X_sets, **kwargs)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 300), n_sets=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_removal_sets_property(n, n_sets, seed):
    X = np.random.default_rng(seed).normal(size=(n, 2))
    sets = removal_sets(X, n_sets=n_sets, strategies="random", random_state=seed, max_fraction=0.05)
    for _, rows in sets:
        assert 1 <= len(rows) <= max(1, round(0.05 * n)) and len(set(rows.tolist())) == len(rows)


# -- summaries ---------------------------------------------------------------------------
def test_summarize_hand_checked():
    table = {
        "method": ["if", "if", "if", "rif", "rif", "rif", "rif"],
        "target": ["t"] * 7,
        "predicted": [1.0, 2.0, 3.0, 1.0, 2.0, 4.0, np.nan],
        "actual": [1.0, 2.0, 4.0, 1.0, 2.0, 4.0, 1.0],
    }
    s = summarize(table, as_frame=False)
    assert list(s) == list(SUMMARY_COLUMNS)
    assert s["method"].tolist() == ["if", "rif"] and s["n_sets"].tolist() == [3, 3]
    # slope through the origin: Σpa / Σa² = (1 + 4 + 12) / (1 + 4 + 16)
    assert s["slope"][0] == pytest.approx(17 / 21)
    # Pearson of (1,2,3) and (1,2,4): deviations (-1,0,1), (-4/3,-1/3,5/3):
    # Σ dx dy = 3, Σ dx² = 2, Σ dy² = 14/3
    assert s["pearson"][0] == pytest.approx(3 / np.sqrt(2 * 14 / 3), rel=1e-12)
    assert s["spearman"][0] == pytest.approx(1.0)
    assert s["median_relative_error"][0] == pytest.approx(0.0)  # errors 0, 0, 1/4
    assert s["slope"][1] == pytest.approx(1.0) and s["median_relative_error"][1] == 0.0


def test_summarize_relative_error_skips_zero_actual_and_frames():
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame(
        {"method": ["if"] * 4, "target": ["a", "a", "a", "b"],
         "predicted": [1.0, 3.0, 1.0, 5.0], "actual": [0.0, 2.0, 2.0, 5.0]}
    )
    s = summarize(table)
    assert isinstance(s, pd.DataFrame) and list(s.columns) == list(SUMMARY_COLUMNS)
    assert s.loc[0, "median_relative_error"] == pytest.approx(0.5)  # 0.5 and 0.5; 0 skipped
    assert np.isnan(s.loc[1, "pearson"])  # one point: undefined, not an error
    with pytest.raises(ValueError, match="lacks the columns"):
        summarize({"method": ["if"]})


# -- predicted vs actual -------------------------------------------------------------------
def _sklearn_targets(model, X_eval, y_eval, X_train, y_train, classifier):
    """Target values computed with scikit-learn's own predictions (independent)."""
    if classifier:
        P = model.predict_proba(X_eval)[np.arange(len(y_eval)), y_eval]
        lp = model.predict_proba(X_train)[np.arange(len(y_train)), y_train]
        le = model.predict_proba(X_eval)[np.arange(len(y_eval)), y_eval]
        return {"test_proba": P.sum(), "test_loss": -np.log(le).sum(), "self_loss": -np.log(lp).sum()}
    pe, pt = model.predict(X_eval), model.predict(X_train)
    return {
        "test_prediction": pe.sum(),
        "test_loss": ((y_eval - pe) ** 2).sum(),
        "self_loss": ((y_train - pt) ** 2).sum(),
    }


def _row(results, set_id, target, method, column):
    sel = (results["set_id"] == set_id) & (results["target"] == target) & (results["method"] == method)
    (value,) = np.asarray(results[column])[sel]
    return value


@pytest.fixture(scope="module")
def ridge_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 8))
    y = X @ rng.normal(size=8) + rng.normal(size=160)
    est = InfluenceEstimator(Ridge(alpha=3.0)).fit(X[:120], y[:120])
    return est, X, y


def test_ridge_rif_and_newton_match_sklearn_refits(ridge_problem):
    est, X, y = ridge_problem
    out = validate_influence(est, X[120:], y[120:], n_sets=12, random_state=0, as_frame=False,
                             n_eval_rows=30)
    res = out["results"]
    assert list(res) == list(RESULT_COLUMNS)
    assert len(res["set_id"]) == 12 * 3 * 3
    ev = out["eval_rows"]
    Xe, ye = X[120:][ev], y[120:][ev]
    base = _sklearn_targets(Ridge(alpha=3.0, solver="cholesky").fit(X[:120], y[:120]), Xe, ye,
                            X[:120], y[:120], False)
    for set_id, (_, rows) in enumerate(out["sets"]):
        keep = np.setdiff1d(np.arange(120), rows)
        refit = Ridge(alpha=3.0, solver="cholesky").fit(X[:120][keep], y[:120][keep])
        truth = _sklearn_targets(refit, Xe, ye, X[:120], y[:120], False)
        for target in out["targets"]:
            actual = truth[target] - base[target]
            assert _row(res, set_id, target, "rif", "actual") == pytest.approx(actual, rel=1e-8, abs=1e-9)
            # the group Newton step is exact for least squares, for every set
            assert _row(res, set_id, target, "newton", "predicted") == pytest.approx(actual, rel=1e-8, abs=1e-9)
            if len(rows) == 1:  # RIF is exact leave-one-out for least squares
                assert _row(res, set_id, target, "rif", "predicted") == pytest.approx(actual, rel=1e-8, abs=1e-9)
    single = validate_influence(est, X[120:], y[120:], n_sets=8, max_fraction=0.005, random_state=1,
                                as_frame=False, methods=("rif",))
    assert all(len(rows) == 1 for _, rows in single["sets"])
    assert np.all(single["summary"]["median_relative_error"] < 1e-8)


def test_overparameterized_logistic_rif_accurate_if_underestimates():
    """The paper's claim on a planted p > n problem (BENCHMARKS.md generator)."""
    n, p, C = 200, 300, 0.2
    X, y = make_planted_logistic(n + 100, p, scale=15.0, random_state=0)
    model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-10, max_iter=1000)
    est = InfluenceEstimator(model).fit(X[:n], y[:n])
    out = validate_influence(est, X[n:], y[n:], n_sets=24, n_eval_rows=50, random_state=0,
                             as_frame=False)
    s = out["summary"]
    get = {(m, t): i for i, (m, t) in enumerate(zip(s["method"], s["target"]))}
    for target in ("test_proba", "test_loss", "self_loss"):
        rif, if_, ns = (get[(m, target)] for m in ("rif", "if", "newton"))
        assert 0.85 <= s["slope"][rif] <= 1.15, target
        assert s["median_relative_error"][rif] < 0.25 * s["median_relative_error"][if_], target
        assert s["slope"][if_] < 0.8, target  # IF visibly underestimates here
        assert s["median_relative_error"][ns] <= s["median_relative_error"][rif] + 0.01, target
        assert abs(s["slope"][ns] - 1) <= abs(s["slope"][rif] - 1) + 0.02, target

    # the "actual" column is an exact refit: check a few sets against scikit-learn
    res, ev = out["results"], out["eval_rows"]
    Xe, ye = X[n:][ev], y[n:][ev]
    tight = dict(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    base = _sklearn_targets(LogisticRegression(**tight).fit(X[:n], y[:n]), Xe, ye, X[:n], y[:n], True)
    for set_id in (0, 7, 13, 23):
        rows = out["sets"][set_id][1]
        keep = np.setdiff1d(np.arange(n), rows)
        refit = LogisticRegression(**tight).fit(X[:n][keep], y[:n][keep])
        truth = _sklearn_targets(refit, Xe, ye, X[:n], y[:n], True)
        for target in out["targets"]:
            assert _row(res, set_id, target, "rif", "actual") == pytest.approx(
                truth[target] - base[target], rel=1e-5, abs=1e-7
            )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_ridge_classifier_margin_target_matches_sklearn_refits(n_classes):
    """No predict_proba: the first target is the decision function toward the true class."""
    from sklearn.linear_model import RidgeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 5))
    y = np.digitize(X[:, 0] + rng.normal(size=160), [-0.5, 0.5][: n_classes - 1])
    est = InfluenceEstimator(RidgeClassifier(alpha=1.0)).fit(X[:120], y[:120])
    out = validate_influence(est, X[120:], y[120:], n_sets=8, random_state=0, as_frame=False)
    assert out["targets"] == ("test_margin", "test_loss", "self_loss")
    ev = out["eval_rows"]
    Xe, ye = X[120:][ev], y[120:][ev]

    def margin(model):
        d = model.decision_function(Xe)
        return np.sum(d * (2 * ye - 1)) if d.ndim == 1 else np.sum(d[np.arange(len(ye)), ye])

    base = margin(RidgeClassifier(alpha=1.0, solver="cholesky").fit(X[:120], y[:120]))
    for set_id, (_, rows) in enumerate(out["sets"]):
        keep = np.setdiff1d(np.arange(120), rows)
        refit = RidgeClassifier(alpha=1.0, solver="cholesky").fit(X[:120][keep], y[:120][keep])
        actual = margin(refit) - base
        assert _row(out["results"], set_id, "test_margin", "rif", "actual") == pytest.approx(actual, rel=1e-8, abs=1e-10)
        # least squares: the group Newton step is exact
        assert _row(out["results"], set_id, "test_margin", "newton", "predicted") == pytest.approx(actual, rel=1e-8, abs=1e-10)


def test_poisson_prediction_target_is_the_mean(ridge_problem):
    """Log-link GLM: test_prediction sums exp(z), checked against PoissonRegressor refits."""
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 4))
    y = rng.poisson(np.exp(X @ [0.4, 0.2, 0.0, -0.3]))
    params = dict(alpha=0.1, tol=1e-12, max_iter=10_000)
    est = InfluenceEstimator(PoissonRegressor(**params)).fit(X[:120], y[:120])
    out = validate_influence(est, X[120:], y[120:], n_sets=4, random_state=0, as_frame=False)
    assert out["targets"][0] == "test_prediction"
    Xe = X[120:][out["eval_rows"]]
    base = PoissonRegressor(**params).fit(X[:120], y[:120]).predict(Xe).sum()
    for set_id, (_, rows) in enumerate(out["sets"]):
        keep = np.setdiff1d(np.arange(120), rows)
        refit = PoissonRegressor(**params).fit(X[:120][keep], y[:120][keep]).predict(Xe).sum()
        assert _row(out["results"], set_id, "test_prediction", "if", "actual") == pytest.approx(
            refit - base, rel=1e-6, abs=1e-8
        )


@pytest.mark.filterwarnings(ADDITIVE_SETS)
def test_predicted_effects_are_evaluated_at_predicted_parameters(ridge_problem):
    """predicted = F(θ̂ + Δ) − F(θ̂) with Δ from est.influence (not the linearization)."""
    est, X, y = ridge_problem
    out = validate_influence(est, X[120:], y[120:], n_sets=4, strategies="random", methods=("if",),
                             random_state=0, as_frame=False, n_eval_rows=10)
    rows = out["sets"][-1][1]
    change = est.influence(rows, method="if")
    coef, b = est.estimator_.coef_, est.estimator_.intercept_
    Xtr, ytr = X[:120], y[:120]
    loss = lambda c, i: np.sum((ytr - Xtr @ c - i) ** 2)  # noqa: E731
    expected = loss(coef + change.coef, b + change.intercept) - loss(coef, b)
    assert _row(out["results"], 3, "self_loss", "if", "predicted") == pytest.approx(expected, rel=1e-10)


def test_select_eval_rows_takes_highest_loss_half():
    X, y = make_planted_logistic(120, 5, random_state=1)
    est = InfluenceEstimator(LogisticRegression(C=1.0, tol=1e-10)).fit(X[:80], y[:80])
    rows = select_eval_rows(est, X[80:], y[80:], n_rows=10, random_state=0)
    p = expit(X[80:] @ est.estimator_.coef_.ravel() + est.estimator_.intercept_[0])
    loss = -np.log(np.where(y[80:] == 1, p, 1 - p))
    assert rows.shape == (10,) and np.all(np.isin(np.argsort(-loss)[:5], rows))
    assert np.array_equal(select_eval_rows(est, X[80:], y[80:], n_rows=500), np.arange(40))


def test_total_loss_scores_equal_summed_influence_scores(ridge_problem):
    est, X, y = ridge_problem
    full = est.influence_scores(X[120:], y[120:], target="loss", method="if").sum(axis=1)
    assert np.allclose(total_loss_scores(est, X[120:], y[120:], method="if"), full)


def test_parallel_equals_sequential_and_frames(ridge_problem):
    pd = pytest.importorskip("pandas")
    est, X, y = ridge_problem
    kw = dict(n_sets=8, random_state=0, n_eval_rows=20)
    seq = validate_influence(est, X[120:], y[120:], **kw)
    par = validate_influence(est, X[120:], y[120:], n_jobs=2, **kw)
    assert isinstance(seq["results"], pd.DataFrame) and isinstance(seq["summary"], pd.DataFrame)
    pd.testing.assert_frame_equal(seq["results"], par["results"])


def test_progress_bar_only_when_asked(ridge_problem, capsys, monkeypatch):
    est, X, y = ridge_problem
    validate_influence(est, X[120:], y[120:], n_sets=4, random_state=0, as_frame=False)
    assert capsys.readouterr().err == ""  # "auto": stderr is not a terminal under pytest
    validate_influence(est, X[120:], y[120:], n_sets=4, random_state=0, as_frame=False, progress=True)
    assert capsys.readouterr().err != ""  # tqdm if installed, else a counter
    validate_influence(est, X[120:], y[120:], n_sets=4, random_state=0, as_frame=False, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"methods": ("refit",)}, "methods must be a non-empty subset"),
        ({"progress": "yes"}, "progress must be"),
        ({"as_frame": "yes"}, "as_frame must be"),
        ({"n_eval_rows": 0}, "n_rows must be an integer"),
    ],
)
def test_validate_influence_bad_input(ridge_problem, kwargs, match):
    est, X, y = ridge_problem
    with pytest.raises(ValueError, match=match):
        validate_influence(est, X[120:], y[120:], n_sets=4, **kwargs)


def test_validate_influence_needs_matching_y(ridge_problem):
    est, X, y = ridge_problem
    with pytest.raises(ValueError, match="different numbers of rows"):
        validate_influence(est, X[120:], y[121:], n_sets=4)


def test_bundled_dataset_is_overparameterized():
    data = load_breast_cancer_quadratic()
    assert data.X_train.shape == (300, 495) and data.X_test.shape == (269, 495)
    assert data.X_train.shape[1] + 1 > data.X_train.shape[0]
    assert np.allclose(data.X_train.mean(axis=0), 0, atol=1e-10)
    assert set(np.unique(data.y_train)) == {0, 1}
    with pytest.raises(ValueError, match="n_train must be"):
        load_breast_cancer_quadratic(n_train=5)


def test_unconverged_refit_is_no_ground_truth(monkeypatch):
    """A refit that does not converge yields NaN actual changes, not wrong ones."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    y = X @ rng.normal(size=4) + rng.normal(size=80)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X[:60], y[:60])
    problem = est._removal.problem
    real_newton = problem.newton

    def stalled_newton(theta, weights=None, **kwargs):
        _, n_iter, _ = real_newton(theta, weights, **kwargs)
        return theta, n_iter, False  # stuck at the start, reported as not converged

    monkeypatch.setattr(problem, "newton", stalled_newton)
    out = validate_influence(est, X[60:], y[60:], n_sets=3, strategies="random",
                             random_state=0, as_frame=False, n_eval_rows=10)
    assert np.all(np.isnan(out["results"]["actual"]))
    assert np.all(np.isnan(out["summary"]["slope"]))


def test_feature_sets_skip_constant_sparse_columns():
    # E[x²] − E[x]² of a constant sparse column can round to a tiny positive number;
    # such a column must not be picked (its "largest values" would be random rows).
    import scipy.sparse as sp

    X = np.full((37, 3), 0.01)
    X[:, 1] = np.arange(37.0)
    for seed in range(5):
        sets = removal_sets(sp.csr_matrix(X), n_sets=3, strategies=("feature",), random_state=seed)
        for _, rows in sets:
            assert np.array_equal(rows, np.arange(37 - len(rows), 37))


def test_self_loss_change_keeps_its_digits_when_the_total_is_large():
    """The training-loss change of a tiny set is far below the total loss (1.8e7 here,
    the change 0.05): it is summed row by row, not taken as a difference of totals.
    Ground truth: the closed-form ridge refit and the identity
    (r − dz)² − r² = dz (dz − 2r), free of cancellation."""
    rng = np.random.default_rng(0)
    n = 20000
    X = rng.normal(size=(n + 50, 3))
    y = X @ [1.0, -2.0, 0.5] + 30.0 * rng.normal(size=n + 50)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X[:n], y[:n])
    out = validate_influence(est, X[n:], y[n:], n_sets=3, strategies="random", min_fraction=1e-5,
                             max_fraction=1e-4, methods=("rif",), random_state=0, as_frame=False,
                             n_eval_rows=10)

    def ridge(Xt, yt):
        xm, ym = Xt.mean(axis=0), yt.mean()
        w = np.linalg.solve((Xt - xm).T @ (Xt - xm) + np.eye(3), (Xt - xm).T @ (yt - ym))
        return w, ym - xm @ w

    w, b = ridge(X[:n], y[:n])
    r = y[:n] - X[:n] @ w - b
    res = out["results"]
    for set_id, (_, rows) in enumerate(out["sets"]):
        keep = np.setdiff1d(np.arange(n), rows)
        w2, b2 = ridge(X[:n][keep], y[:n][keep])
        dz = X[:n] @ (w2 - w) + (b2 - b)
        truth = np.sum(dz * (dz - 2 * r))
        sel = (res["set_id"] == set_id) & (res["target"] == "self_loss")
        # A difference of totals is off by ~1e-8 relative here (measured 3.8e-8).
        assert res["actual"][sel][0] == pytest.approx(truth, rel=5e-9)
