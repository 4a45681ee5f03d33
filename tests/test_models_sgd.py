"""SGDRegressor / SGDClassifier: attributed at the exact optimum of their own objective.

``(1/n) Σ s_i ℓ_i + (α/2)‖w‖²`` has the same optimum as ``Ridge(alpha=nα)`` (with
``ℓ = ½(y − z)²``) and ``LogisticRegression(C=1/(nα))`` (log loss), so tight
``cholesky`` / ``newton-cholesky`` fits of those are independent ground truths — for
the polished fit (n rows) and for every removal (n − 1 rows: the penalty changes).
"""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier, SGDRegressor

from skrif import InfluenceEstimator
from skrif.exceptions import OptimalityWarning, UnsupportedModelError

ALPHA = 0.01


def _data(n=60, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X @ np.linspace(-1, 1, p) + rng.normal(size=n)
    return X, y, (y > 0).astype(int)


def _fit(model, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimalityWarning)
        return InfluenceEstimator(model).fit(X, y, **kw)


def test_sgd_regressor_polished_and_exact_removals():
    X, y, _ = _data()
    n = len(y)
    with pytest.warns(OptimalityWarning, match="polished coefficients"):
        est = InfluenceEstimator(SGDRegressor(alpha=ALPHA, random_state=0)).fit(X, y)
    assert est.n_polish_steps_ > 0
    full = Ridge(alpha=n * ALPHA, solver="cholesky").fit(X, y)
    np.testing.assert_allclose(est.estimator_.coef_, full.coef_, atol=1e-10)
    np.testing.assert_allclose(est.predict(X), full.predict(X), atol=1e-10)
    for j in [0, 11, 59]:
        keep = np.arange(n) != j
        ref = Ridge(alpha=(n - 1) * ALPHA, solver="cholesky").fit(X[keep], y[keep])
        for method in ("rif", "newton", "refit"):
            change = est.influence([j], method=method)
            np.testing.assert_allclose(est.estimator_.coef_ + change.coef, ref.coef_, atol=1e-10)
            np.testing.assert_allclose(
                est.estimator_.intercept_ + change.intercept, ref.intercept_, atol=1e-10
            )


def _loo_logistic_newton_step(coef, intercept, X, y01, j, alpha):
    """One Newton step on n·J_{-j}: Σ_{i≠j} ℓ_i + (α(n−1)/2)‖w‖² (written from MODELS.md)."""
    n = len(y01)
    Xt = np.hstack([X, np.ones((n, 1))])
    theta = np.append(coef, intercept)
    prob = 1.0 / (1.0 + np.exp(-(Xt @ theta)))
    keep = (np.arange(n) != j).astype(float)
    P = np.eye(Xt.shape[1])
    P[-1, -1] = 0.0
    lam = alpha * (n - 1)
    g = Xt.T @ (keep * (prob - y01)) + lam * P @ theta
    H = Xt.T @ ((keep * prob * (1 - prob))[:, None] * Xt) + lam * P
    return -np.linalg.solve(H, g)


def test_sgd_classifier_polished_and_one_newton_step():
    X, _, y01 = _data()
    n = len(y01)
    labels = np.array(["neg", "pos"])[y01]
    est = _fit(SGDClassifier(loss="log_loss", alpha=ALPHA, random_state=0), X, labels)
    lr = LogisticRegression(C=1 / (n * ALPHA), solver="newton-cholesky", tol=1e-12)
    lr.fit(X, y01)
    np.testing.assert_allclose(est.estimator_.coef_, lr.coef_, atol=1e-9)
    for j in [2, 30]:
        change = est.influence([j])
        step = _loo_logistic_newton_step(
            est.estimator_.coef_.ravel(), est.estimator_.intercept_, X, y01, j, ALPHA
        )
        np.testing.assert_allclose(
            np.append(change.coef, change.intercept), step, rtol=1e-8, atol=1e-14
        )
        keep = np.arange(n) != j
        ref = LogisticRegression(C=1 / ((n - 1) * ALPHA), solver="newton-cholesky", tol=1e-12)
        ref.fit(X[keep], y01[keep])
        refit = est.influence([j], method="refit")
        np.testing.assert_allclose(est.estimator_.coef_ + refit.coef, ref.coef_, atol=1e-9)


def test_weight_zero_is_not_removal():
    # A zero-weight row still counts in n (its penalty share stays), so the fit with
    # weight 0 is Ridge(alpha=nα) on the other rows, not the removal Ridge(alpha=(n−1)α).
    X, y, _ = _data()
    n = len(y)
    sw = np.ones(n)
    sw[7] = 0.0
    zero = _fit(SGDRegressor(alpha=ALPHA, random_state=0), X, y, sample_weight=sw)
    keep = np.arange(n) != 7
    ref = Ridge(alpha=n * ALPHA, solver="cholesky").fit(X[keep], y[keep])
    np.testing.assert_allclose(zero.estimator_.coef_, ref.coef_, atol=1e-10)
    est = _fit(SGDRegressor(alpha=ALPHA, random_state=0), X, y)
    removed = est.estimator_.coef_ + est.influence([7], method="refit").coef
    assert np.max(np.abs(removed - zero.estimator_.coef_)) > 1e-4


def test_rif_closer_than_if_overparameterized():
    rng = np.random.default_rng(1)
    n, p = 40, 35
    X = rng.normal(size=(n, p))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    est = _fit(SGDClassifier(loss="log_loss", alpha=0.05, random_state=0), X, y)
    for j in range(5):
        exact = est.influence([j], method="refit").coef
        rif_err = np.linalg.norm(est.influence([j]).coef - exact)
        if_err = np.linalg.norm(est.influence([j], method="if").coef - exact)
        assert rif_err < if_err


@pytest.mark.parametrize(
    "model, match",
    [
        (SGDClassifier(), "loss='hinge'"),
        (SGDRegressor(loss="huber"), "loss='huber'"),
        (SGDClassifier(loss="log_loss", class_weight="balanced"), "class_weight='balanced'"),
    ],
)
def test_unsupported_settings_refused(model, match):
    X, y, y01 = _data()
    target = y01 if isinstance(model, SGDClassifier) else y
    with pytest.raises(UnsupportedModelError, match=match):
        InfluenceEstimator(model).fit(X, target)


def test_multiclass_sgd_classifier_refused():
    X, y, _ = _data()
    y3 = np.digitize(y, [-0.5, 0.5])
    with pytest.raises(UnsupportedModelError, match="3 classes"):
        _fit(SGDClassifier(loss="log_loss"), X, y3)


def test_sgd_on_unscaled_columns_is_polished_to_the_optimum():
    # SGD on columns with mean 100 ends where every row's loss saturates (curvature
    # underflows, the intercept direction looks singular); polishing must still reach
    # the optimum, i.e. LogisticRegression(C=1/(nα)).
    rng = np.random.RandomState(0)
    X = rng.normal(loc=100, size=(80, 2))
    y = rng.randint(0, 2, 80)
    est = _fit(SGDClassifier(loss="log_loss", alpha=ALPHA, random_state=0), X, y)
    lr = LogisticRegression(C=1 / (80 * ALPHA), solver="newton-cholesky", tol=1e-12).fit(X, y)
    np.testing.assert_allclose(est.estimator_.coef_, lr.coef_, rtol=1e-7)
    np.testing.assert_allclose(est.estimator_.intercept_, lr.intercept_, rtol=1e-7)


def test_overparameterized_sgd_regressor_exact_in_dual_form():
    # p̃ > n: two n × n factorizations; removal is still exactly Ridge(alpha=(n−1)α),
    # also for a zero-weight row (which keeps its penalty share until removed).
    rng = np.random.default_rng(2)
    n, p = 30, 60
    X = rng.normal(size=(n, p)) + 5.0
    y = (X - 5.0) @ rng.normal(size=p) + rng.normal(size=n)
    sw = np.ones(n)
    sw[4] = 0.0
    est = _fit(SGDRegressor(alpha=ALPHA, random_state=0), X, y, sample_weight=sw)
    assert type(est._removal.curvature).__name__ == "UniformShareCurvature"
    for j in [0, 4, 17]:
        keep = np.arange(n) != j
        ref = Ridge(alpha=(n - 1) * ALPHA, solver="cholesky")
        ref.fit(X[keep], y[keep], sample_weight=sw[keep])
        for method in ("rif", "newton"):
            change = est.influence([j], method=method)
            np.testing.assert_allclose(est.estimator_.coef_ + change.coef, ref.coef_, atol=1e-9)
