"""Functionals of the model's outputs on reference rows, and their removal effects.

Ground truths: scikit-learn's metrics on scikit-learn refits (tight solvers), the
closed forms of least squares, and each functional recomputed by scikit-learn's
metrics at the predicted parameters θ̂ + Δᵢ (``est.influence([i])``).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit
from sklearn import metrics
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
)

from skrif import InfluenceEstimator
from skrif import functionals as F
from skrif.exceptions import UndefinedRemovalWarning

TIGHT = dict(solver="newton-cholesky", tol=1e-12, max_iter=1000)


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    n, m, p = 70, 40, 6
    X = rng.normal(size=(n + m, p))
    y = (X @ rng.normal(size=p) + rng.normal(size=n + m) > 0).astype(int)
    groups = np.where(rng.random(m) < 0.4, "a", "b")
    est = InfluenceEstimator(LogisticRegression(C=2.0, **TIGHT)).fit(X[:n], y[:n])
    return est, X[:n], y[:n], X[n:], y[n:], groups


def _at(est, delta, X):
    """Decision function at θ̂ + Δ (scikit-learn's conventions, by hand)."""
    coef = est.estimator_.coef_ + delta.coef
    intercept = est.estimator_.intercept_ + delta.intercept
    z = X @ coef.T + intercept
    return z[:, 0] if z.shape[1] == 1 else z


def _gap(values, groups, keep=None):
    keep = np.ones(values.shape[0], bool) if keep is None else keep
    rates = [values[keep & (groups == g)].mean() for g in np.unique(groups)]
    return max(rates) - min(rates)


# metric(y, z) computed with scikit-learn / numpy from the decision function z
def _metrics(groups):
    return {
        "roc_auc": (F.roc_auc(), lambda y, z: metrics.roc_auc_score(y, z)),
        "accuracy": (F.accuracy(), lambda y, z: metrics.accuracy_score(y, z > 0)),
        "balanced_accuracy": (
            F.balanced_accuracy(), lambda y, z: metrics.balanced_accuracy_score(y, z > 0)
        ),
        "average_precision": (
            F.average_precision(), lambda y, z: metrics.average_precision_score(y, z)
        ),
        "dp_hard": (F.demographic_parity_gap(groups), lambda y, z: _gap((z > 0) * 1.0, groups)),
        "eopp_hard": (
            F.equal_opportunity_gap(groups), lambda y, z: _gap((z > 0) * 1.0, groups, y == 1)
        ),
        "eodds_hard": (
            F.equalized_odds_gap(groups),
            lambda y, z: max(_gap((z > 0) * 1.0, groups, y == 1), _gap((z > 0) * 1.0, groups, y == 0)),
        ),
        "worst_group_accuracy": (
            F.worst_group_accuracy(groups),
            lambda y, z: min(np.mean((z > 0)[groups == g] == y[groups == g]) for g in np.unique(groups)),
        ),
        "ece": (
            F.expected_calibration_error(n_bins=5),
            lambda y, z: np.sum([
                abs(np.sum((y - expit(z))[np.minimum((expit(z) * 5).astype(int), 4) == b]))
                for b in range(5)
            ]) / y.size,
        ),
        "log_loss": (F.log_loss(), lambda y, z: metrics.log_loss(y, expit(z))),
        "brier": (F.brier_score(), lambda y, z: metrics.brier_score_loss(y, expit(z))),
        "dp_soft": (
            F.demographic_parity_gap(groups, between=("a", "b"), response_method="predict_proba"),
            lambda y, z: expit(z)[groups == "a"].mean() - expit(z)[groups == "b"].mean(),
        ),
        "worst_group_loss": (
            F.worst_group_loss(groups),
            lambda y, z: max(metrics.log_loss(y[groups == g], expit(z[groups == g]), labels=[0, 1])
                             for g in np.unique(groups)),
        ),
        "cohens_d": (
            F.cohens_d(groups),
            lambda y, z: _cohen(expit(z), groups),
        ),
    }


def _cohen(v, groups):
    a, b = v[groups == "b"], v[groups == "a"]
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    return (a.mean() - b.mean()) / np.sqrt(pooled)


@pytest.mark.parametrize("name", list(_metrics(np.array(["a", "b"] * 2)).keys()))
def test_default_effects_are_the_metric_recomputed_at_the_predicted_parameters(binary, name):
    est, X, y, Xr, yr, groups = binary
    functional, metric = _metrics(groups)[name]
    effects = est.functional_influence(functional, Xr, yr)
    z = est.decision_function(Xr)
    base = metric(yr, z)
    outputs = {"predict": est.predict(Xr), "predict_proba": est.predict_proba(Xr),
               "decision_function": z}
    if functional.response_method in outputs:  # the value itself is the metric
        assert np.isclose(functional.value(yr, outputs[functional.response_method]), base,
                          rtol=0, atol=1e-12)
    want = np.array([metric(yr, _at(est, est.influence([i]), Xr)) - base for i in range(len(y))])
    np.testing.assert_allclose(effects, want, rtol=0, atol=1e-12)


def test_roc_auc_fast_path_with_ties_and_crossings():
    # duplicated reference rows (tied scores) and a high-leverage row that moves many
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(int)
    X[0] = [6.0, -6.0]
    y[0] = 1
    est = InfluenceEstimator(LogisticRegression(C=50.0, **TIGHT)).fit(X, y)
    Xr = np.repeat(rng.normal(size=(30, 2)), 2, axis=0)
    yr = rng.integers(0, 2, 60)
    effects = est.functional_influence(F.roc_auc(), Xr, yr)
    base = metrics.roc_auc_score(yr, est.decision_function(Xr))
    want = [metrics.roc_auc_score(yr, _at(est, est.influence([i]), Xr)) - base for i in range(40)]
    np.testing.assert_allclose(effects, want, rtol=0, atol=1e-12)
    assert np.count_nonzero(effects) >= 3


@pytest.mark.parametrize("max_rounds", [0, 1, 8])
def test_roc_auc_changes_equal_scikit_learn_on_random_batches(max_rounds, monkeypatch):
    """The re-ranking evaluator against roc_auc_score on random score changes: tied
    fitted scores, new ties, large jumps, and the prefix-maximum fallback."""
    from skrif.functionals import ModelInfo

    rng = np.random.default_rng(max_rounds)
    auc = F.roc_auc()._bind(ModelInfo(True, np.array([0, 1])))
    for trial in range(40):
        m, c = int(rng.integers(2, 50)), int(rng.integers(1, 12))
        y = rng.integers(0, 2, m)
        y[:2] = [0, 1]
        z = rng.normal(size=m)
        D = rng.normal(size=(c, m)) * rng.choice([1e-3, 0.1, 1.0, 10.0])
        if trial % 3 == 1:
            z, D = np.round(z, 1), np.round(D, 1)
        ev = auc._evaluator(y, z)
        monkeypatch.setattr(ev, "MAX_ROUNDS", max_rounds)
        base = metrics.roc_auc_score(y, z)
        want = [metrics.roc_auc_score(y, z + d) - base for d in D]
        np.testing.assert_allclose(ev.changes(z + D), want, rtol=0, atol=1e-12)


def test_smooth_functionals_rif_beats_if_against_refits(binary):
    """Per-row effects at θ̂ + Δᵢ with RIF against scikit-learn refits: closer than
    classical IF (chain rule) on every smooth functional here."""
    est, X, y, Xr, yr, groups = binary
    rows = np.arange(0, len(y), 5)
    refits = [
        LogisticRegression(C=2.0, **TIGHT).fit(np.delete(X, i, 0), np.delete(y, i)) for i in rows
    ]
    for functional, metric in [_metrics(groups)[k] for k in ("log_loss", "brier", "dp_soft", "cohens_d")]:
        base = metric(yr, est.decision_function(Xr))
        actual = np.array([metric(yr, r.decision_function(Xr)) - base for r in refits])
        rif = est.functional_influence(functional, Xr, yr)[rows]
        if_lin = est.functional_influence(functional, Xr, yr, method="if", linearized=True)[rows]
        err = lambda pred: np.median(np.abs(pred - actual) / np.abs(actual))  # noqa: E731
        assert err(rif) < 0.5 * err(if_lin), functional.name


def test_linearized_is_the_directional_derivative(binary):
    """``linearized=True`` equals ∇F·Δᵢ, checked by central differences of the
    scikit-learn metric along Δᵢ."""
    est, X, y, Xr, yr, groups = binary
    for key in ("log_loss", "dp_soft", "cohens_d", "worst_group_loss"):
        functional, metric = _metrics(groups)[key]
        lin = est.functional_influence(functional, Xr, yr, linearized=True)
        z = est.decision_function(Xr)
        for i in (0, 7, 30):
            dz = _at(est, est.influence([i]), Xr) - z
            h = 1e-3
            fd = (metric(yr, z + h * dz) - metric(yr, z - h * dz)) / (2 * h)
            assert np.isclose(lin[i], fd, rtol=1e-6, atol=1e-12), key


def test_least_squares_loss_effects_are_exact_leave_one_out():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(size=30)
    Xr, yr = rng.normal(size=(12, 4)), rng.normal(size=12)
    est = InfluenceEstimator(Ridge(alpha=0.5)).fit(X, y)
    effects = est.functional_influence(F.mean_loss(), Xr, yr)
    mean_pred = est.functional_influence(F.mean_prediction(), Xr)
    base = Ridge(alpha=0.5).fit(X, y)
    for i in range(30):
        r = Ridge(alpha=0.5).fit(np.delete(X, i, 0), np.delete(y, i))
        want = np.mean((yr - r.predict(Xr)) ** 2) - np.mean((yr - base.predict(Xr)) ** 2)
        assert np.isclose(effects[i], want, rtol=1e-9, atol=1e-13)
        assert np.isclose(mean_pred[i], np.mean(r.predict(Xr) - base.predict(Xr)), rtol=1e-9, atol=1e-13)


def test_functional_effect_of_a_set(binary):
    est, X, y, Xr, yr, groups = binary
    rows = [2, 9, 11, 40]
    refit = LogisticRegression(C=2.0, **TIGHT).fit(np.delete(X, rows, 0), np.delete(y, rows))
    for functional, metric in [_metrics(groups)[k] for k in ("roc_auc", "log_loss", "eodds_hard")]:
        base = metric(yr, est.decision_function(Xr))
        actual = metric(yr, refit.decision_function(Xr)) - base
        got = est.functional_effect(rows, functional, Xr, yr, method="refit")
        assert np.isclose(got, actual, rtol=1e-8, atol=1e-12)
        newton = est.functional_effect(rows, functional, Xr, yr, method="newton")
        want = metric(yr, _at(est, est.influence(rows, method="newton"), Xr)) - base
        assert np.isclose(newton, want, rtol=0, atol=1e-12)


def test_functional_effect_least_squares_group_step_is_exact():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, 0.5, -1.0] + rng.normal(size=40)
    est = InfluenceEstimator(LinearRegression()).fit(X, y)
    Xr, yr = rng.normal(size=(15, 3)), rng.normal(size=15)
    rows = [1, 4, 5, 20, 33]
    r = LinearRegression().fit(np.delete(X, rows, 0), np.delete(y, rows))
    want = np.mean((yr - r.predict(Xr)) ** 2) - np.mean((yr - est.predict(Xr)) ** 2)
    assert np.isclose(est.functional_effect(rows, F.mean_loss(), Xr, yr, method="newton"), want, rtol=1e-9)


def test_groups_are_group_newton_steps(binary):
    est, X, y, Xr, yr, groups = binary
    train_groups = np.arange(len(y)) % 7
    f = F.log_loss()
    per_group = est.functional_influence(f, Xr, yr, groups=train_groups)
    assert per_group.shape == (7,)
    for g in (0, 3):
        want = est.functional_effect([g], f, Xr, yr, groups=train_groups, method="newton")
        assert np.isclose(per_group[g], want, rtol=0, atol=1e-12)


def test_from_callable_matches_the_ready_made(binary):
    est, X, y, Xr, yr, groups = binary
    wrapped = F.Functional.from_callable(metrics.roc_auc_score, response_method="decision_function")
    np.testing.assert_allclose(
        est.functional_influence(wrapped, Xr, yr), est.functional_influence(F.roc_auc(), Xr, yr),
        rtol=0, atol=1e-12,
    )
    f1 = F.Functional.from_callable(metrics.f1_score, response_method="predict")
    effects = est.functional_influence(f1, Xr, yr)
    base = metrics.f1_score(yr, est.predict(Xr))
    for i in (0, 5):
        z = _at(est, est.influence([i]), Xr)
        assert np.isclose(effects[i], metrics.f1_score(yr, (z > 0).astype(int)) - base, atol=1e-12)


def test_multinomial_and_sparse_reference_rows():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.normal(size=(60, 3)), axis=1)
    est = InfluenceEstimator(LogisticRegression(C=1.0, tol=1e-12, max_iter=1000)).fit(X, y)
    Xr = rng.normal(size=(20, 3))
    yr = rng.integers(0, 3, 20)
    for functional, metric in [
        (F.accuracy(), lambda z: metrics.accuracy_score(yr, np.argmax(z, 1))),
        (F.log_loss(), lambda z: metrics.log_loss(yr, np.exp(z) / np.exp(z).sum(1, keepdims=True), labels=[0, 1, 2])),
    ]:
        effects = est.functional_influence(functional, sp.csr_matrix(Xr), yr)
        base = metric(est.decision_function(Xr))
        for i in (0, 11, 42):
            assert np.isclose(effects[i], metric(_at(est, est.influence([i]), Xr)) - base, atol=1e-12)


def test_pandas_labels(binary):
    pd = pytest.importorskip("pandas")
    est0, X, y, Xr, yr, groups = binary
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])], index=np.arange(len(y)) + 100)
    est = InfluenceEstimator(LogisticRegression(C=2.0, **TIGHT)).fit(frame, y)
    Xr_frame = pd.DataFrame(Xr, columns=frame.columns)
    out = est.functional_influence(F.accuracy(), Xr_frame, yr, as_frame=True)
    assert isinstance(out, pd.Series) and list(out.index[:2]) == [100, 101]
    assert out.name == "accuracy"
    by_group = est.functional_influence(F.accuracy(), Xr_frame, yr, groups=np.arange(len(y)) % 3, as_frame=True)
    assert list(by_group.index) == [0, 1, 2]


def test_undefined_single_removals_are_nan():
    X = np.r_[np.zeros((1, 2)) + 5.0, np.random.default_rng(0).normal(size=(20, 2))]
    y = np.r_[2, np.arange(20) % 2]
    est = InfluenceEstimator(LogisticRegression(C=1.0, tol=1e-12, max_iter=1000)).fit(X, y)
    with pytest.warns(UndefinedRemovalWarning):
        out = est.functional_influence(F.accuracy(), X[1:6], y[1:6])
    assert np.isnan(out[0]) and np.all(np.isfinite(out[1:]))


def test_bad_input(binary):
    est, X, y, Xr, yr, groups = binary
    reg = InfluenceEstimator(Ridge()).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="regressor"):
        reg.functional_influence(F.log_loss(), Xr, yr)
    with pytest.raises(ValueError, match="binary classifier"):
        reg.functional_influence(F.roc_auc(), Xr, yr)
    with pytest.raises(ValueError, match="needs y_ref"):
        est.functional_influence(F.accuracy(), Xr)
    with pytest.raises(ValueError, match="single reference row"):
        F.demographic_parity_gap(np.r_[["a"], ["b"] * 5])
    with pytest.raises(ValueError, match="fewer than two reference rows"):
        g = np.where(np.arange(len(yr)) == int(np.flatnonzero(yr == 1)[0]), "x", "y")
        g[np.flatnonzero(yr == 0)[0]] = "x"
        est.functional_influence(F.equal_opportunity_gap(g), Xr, yr)
    with pytest.raises(ValueError, match="bound to 40 reference rows"):
        est.functional_influence(F.demographic_parity_gap(groups), Xr[:10], yr[:10])
    with pytest.raises(ValueError, match="not smooth"):
        est.functional_influence(F.accuracy(), Xr, yr, linearized=True)
    with pytest.raises(TypeError, match="skrif.functionals.Functional"):
        est.functional_influence(metrics.accuracy_score, Xr, yr)
    with pytest.raises(ValueError, match="both classes"):
        est.functional_influence(F.roc_auc(), Xr, np.ones_like(yr))
    with pytest.raises(ValueError, match="response_method"):
        F.Functional.from_callable(metrics.accuracy_score, response_method="proba")
    pois = InfluenceEstimator(PoissonRegressor(alpha=0.1, tol=1e-12)).fit(X, np.arange(len(y)) % 3)
    with pytest.raises(ValueError, match="regressor"):
        pois.functional_influence(F.accuracy(), Xr, yr)


def test_most_influential_for_a_functional(binary):
    est, X, y, Xr, yr, groups = binary
    effects = est.functional_influence(F.roc_auc(), Xr, yr)
    result = est.most_influential(Xr, yr, k=4, functional=F.roc_auc(), direction="decrease", verify=True)
    np.testing.assert_array_equal(np.sort(result.rows), np.sort(np.argsort(effects, kind="stable")[:4]))
    assert np.isclose(result.predicted, np.sort(effects)[:4].sum())
    refit = LogisticRegression(C=2.0, **TIGHT).fit(np.delete(X, result.rows, 0), np.delete(y, result.rows))
    want = metrics.roc_auc_score(yr, refit.decision_function(Xr)) - metrics.roc_auc_score(yr, est.decision_function(Xr))
    assert np.isclose(result.actual, want, rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError, match="either target"):
        est.most_influential(Xr, yr, k=2, target="loss", functional=F.roc_auc())


def test_removal_to_reach_a_threshold_is_refit_verified(binary):
    est, X, y, Xr, yr, groups = binary
    gap = F.demographic_parity_gap(groups, between=("a", "b"), response_method="predict_proba")
    initial = gap.value(yr, est.predict_proba(Xr))
    threshold = initial - 0.05 if initial > 0 else initial + 0.05
    result = est.removal_to_flip(Xr, y=yr, functional=gap, threshold=threshold, max_fraction=0.3,
                                 max_refits=30)
    assert result.flipped and result.conclusion == "threshold" and result.quantity == gap.name
    refit = LogisticRegression(C=2.0, **TIGHT).fit(np.delete(X, result.rows, 0), np.delete(y, result.rows))
    after = gap.value(yr, refit.predict_proba(Xr))
    assert np.isclose(after - initial, result.actual_change, rtol=1e-8, atol=1e-12)
    assert (after - threshold) * (initial - threshold) <= 0
    with pytest.raises(ValueError, match="threshold"):
        est.removal_to_flip(Xr, y=yr, functional=gap)
    with pytest.raises(ValueError, match="do not apply"):
        est.removal_to_flip(Xr, y=yr, functional=gap, threshold=0.0, coef=0)


def test_validate_influence_checks_a_functional(binary):
    from skrif.validation import validate_influence

    est, X, y, Xr, yr, groups = binary
    gap = F.demographic_parity_gap(groups, response_method="predict_proba")
    out = validate_influence(est, Xr, yr, functional=gap, n_sets=4, n_eval_rows=20,
                             random_state=0, as_frame=False)
    table = out["results"]
    rows = table["target"] == gap.name
    assert rows.sum() == 4 * 3 and gap.name in out["targets"]
    for set_id, (_, removed) in enumerate(out["sets"]):
        refit = LogisticRegression(C=2.0, **TIGHT).fit(np.delete(X, removed, 0), np.delete(y, removed))
        want = gap.value(yr, refit.predict_proba(Xr)) - gap.value(yr, est.predict_proba(Xr))
        actual = table["actual"][rows & (table["set_id"] == set_id)]
        np.testing.assert_allclose(actual, want, rtol=1e-7, atol=1e-12)


def test_display_shows_the_largest_effects(binary):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skrif import FunctionalInfluenceDisplay

    est, X, y, Xr, yr, groups = binary
    display = FunctionalInfluenceDisplay.from_estimator(est, F.log_loss(), Xr, yr, k=5)
    effects = est.functional_influence(F.log_loss(), Xr, yr)
    top = np.argsort(-np.abs(effects))[:5]
    assert sorted(display.labels) == sorted(top.tolist())
    np.testing.assert_allclose(sorted(bar.get_width() for bar in display.bars_), np.sort(effects[top]))
    assert display.ax_.get_title().startswith("log_loss = ")
    by_group = FunctionalInfluenceDisplay.from_estimator(
        est, F.log_loss(), Xr, yr, k=3, groups=np.arange(len(y)) % 4)
    assert len(by_group.bars_) == 3 and set(by_group.labels) <= {0, 1, 2, 3}
    with pytest.raises(ValueError, match="positive integer"):
        FunctionalInfluenceDisplay.from_estimator(est, F.log_loss(), Xr, yr, k=0)
    plt.close("all")


def test_wide_ridge_dual_form_is_exact():
    """p >> n with a tiny penalty (the dual-kernel Hessian): the mean squared error
    after removing each row equals scikit-learn's refit."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(25, 120))
    y = X[:, :3] @ [1.0, -1.0, 0.5] + 0.1 * rng.normal(size=25)
    Xr, yr = rng.normal(size=(8, 120)), rng.normal(size=8)
    est = InfluenceEstimator(Ridge(alpha=1e-3)).fit(X, y)
    effects = est.functional_influence(F.mean_loss(), Xr, yr)
    base = np.mean((yr - est.predict(Xr)) ** 2)
    for i in (0, 9, 24):
        r = Ridge(alpha=1e-3, solver="cholesky").fit(np.delete(X, i, 0), np.delete(y, i))
        assert np.isclose(effects[i], np.mean((yr - r.predict(Xr)) ** 2) - base, rtol=1e-7)


def test_leverage_one_rows_are_nan_under_rif():
    from skrif.exceptions import HighLeverageWarning

    rng = np.random.default_rng(6)
    X = np.c_[rng.normal(size=(30, 2)), np.zeros(30)]
    X[4, 2] = 1.0  # a column only row 4 has: it alone pins that coefficient
    y = X[:, 0] + rng.normal(size=30)
    with pytest.warns(HighLeverageWarning):  # said at fit
        est = InfluenceEstimator(LinearRegression()).fit(X, y)
    Xr, yr = rng.normal(size=(6, 3)), rng.normal(size=6)
    with pytest.warns(HighLeverageWarning):
        effects = est.functional_influence(F.mean_loss(), Xr, yr)
    assert np.isnan(effects[4]) and np.all(np.isfinite(np.delete(effects, 4)))


def test_poisson_mean_prediction_at_the_predicted_parameters():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(50, 3))
    y = rng.poisson(np.exp(0.3 * X[:, 0]))
    est = InfluenceEstimator(PoissonRegressor(alpha=0.1, tol=1e-12, max_iter=1000)).fit(X, y)
    Xr = rng.normal(size=(10, 3))
    effects = est.functional_influence(F.mean_prediction(), Xr)
    base = est.predict(Xr).mean()
    for i in (0, 13):
        d = est.influence([i])
        mu = np.exp(Xr @ (est.estimator_.coef_ + d.coef) + est.estimator_.intercept_ + d.intercept)
        assert np.isclose(effects[i], mu.mean() - base, rtol=0, atol=1e-12)


def test_subset_of_reference_rows_and_direction(binary):
    """What a cross-fitted removal curve needs: a group functional restricted to a
    fold of its reference rows, and which direction is better."""
    est, X, y, Xr, yr, groups = binary
    fold = np.arange(0, len(yr), 2)
    for functional in (F.demographic_parity_gap(groups), F.equalized_odds_gap(groups),
                       F.cohens_d(groups), F.worst_group_loss(groups)):
        sub = functional._subset(fold)
        want_rows = est.functional_influence(sub, Xr[fold], yr[fold])
        if isinstance(functional, type(F.cohens_d(groups))):
            direct = F.cohens_d(groups[fold])
        elif functional.name == "equalized_odds_gap":
            direct = F.equalized_odds_gap(groups[fold])
        elif functional.name == "worst_group_loss":
            direct = F.worst_group_loss(groups[fold])
        else:
            direct = F.demographic_parity_gap(groups[fold])
        np.testing.assert_allclose(want_rows, est.functional_influence(direct, Xr[fold], yr[fold]),
                                   rtol=0, atol=1e-14)
    assert F.accuracy().greater_is_better and F.roc_auc().greater_is_better
    assert F.log_loss().greater_is_better is False and F.demographic_parity_gap(groups).greater_is_better is False
    assert F.demographic_parity_gap(groups, between=("a", "b")).greater_is_better is None
    wrapped = F.Functional.from_callable(metrics.f1_score, greater_is_better=True)
    assert wrapped.greater_is_better is True and wrapped._subset(fold).greater_is_better is True


def test_kernel_ridge_reference_rows_are_kernel_rows():
    """KernelRidge's design of new rows is their kernel against the training rows:
    mean squared error after removing each row equals scikit-learn's refit."""
    from sklearn.kernel_ridge import KernelRidge

    rng = np.random.default_rng(8)
    X = rng.normal(size=(30, 2))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=30)
    Xr, yr = rng.normal(size=(9, 2)), rng.normal(size=9)
    model = KernelRidge(kernel="rbf", gamma=0.3, alpha=0.2)
    est = InfluenceEstimator(model).fit(X, y)
    effects = est.functional_influence(F.mean_loss(), Xr, yr)
    base = np.mean((yr - est.predict(Xr)) ** 2)
    for i in (0, 17):
        r = KernelRidge(kernel="rbf", gamma=0.3, alpha=0.2).fit(np.delete(X, i, 0), np.delete(y, i))
        assert np.isclose(effects[i], np.mean((yr - r.predict(Xr)) ** 2) - base, rtol=1e-8)
