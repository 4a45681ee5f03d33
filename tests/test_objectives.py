"""Each objective's gradient vanishes at scikit-learn's converged fit; wrong variants do not."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import (
    BayesianRidge,
    Lasso,
    LinearRegression,
    LogisticRegression,
    MultiTaskLasso,
    QuantileRegressor,
    Ridge,
)

from skrif._core.problem import Problem
from skrif._objectives import LogisticObjective, SquaredObjective, objective_class_for
from skrif.exceptions import UnsupportedModelError


def _relative_gradient(objective, est, X, Y, s):
    problem = Problem(objective, X, Y, s)
    th = objective.get_theta(est)
    d1, _ = problem.row_derivatives(th)
    grad = problem.gradient(th, d1)
    scale = np.abs(problem.design.rmatvec(np.abs(d1))).max() + np.abs(problem.penalty[:, None] * th.T).max()
    return np.abs(grad).max() / scale


def _data(rng, n=80, p=6, classification=False):
    X = rng.normal(size=(n, p))
    z = X @ rng.normal(size=p) + 0.5
    y = (z + rng.normal(size=n) > 0).astype(int) if classification else z + rng.normal(size=n)
    return X, y, rng.uniform(0.2, 3.0, size=n)


CONVERGED = [
    Ridge(alpha=2.5, solver="cholesky"),
    Ridge(alpha=2.5, fit_intercept=False, solver="cholesky"),
    LinearRegression(),
    LogisticRegression(C=0.7, solver="newton-cholesky", tol=1e-14, max_iter=1000),
    LogisticRegression(C=0.7, fit_intercept=False, solver="newton-cholesky", tol=1e-14),
    LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-14, max_iter=1000),
    LogisticRegression(C=0.7, solver="liblinear", tol=1e-12, max_iter=10_000, intercept_scaling=2.0),
]


@pytest.mark.parametrize("est", CONVERGED, ids=repr)
@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_vanishes_at_sklearn_fit(est, sparse, rng):
    classification = isinstance(est, LogisticRegression)
    X, y, s = _data(rng, classification=classification)
    if sparse and isinstance(est, Ridge) and est.fit_intercept:
        # No direct solver for sparse X with an intercept: a tight iterative one.
        est = clone(est).set_params(solver="sparse_cg", tol=1e-15, max_iter=100_000)
    Xs = sp.csr_matrix(X) if sparse else X
    est.fit(Xs, y, sample_weight=s)
    objective = objective_class_for(est)(est)
    Y = objective.encode_targets(y, est)
    tol = 1e-6 if getattr(est, "solver", None) == "liblinear" else 1e-9
    assert _relative_gradient(objective, est, Xs, Y, s) < tol


def test_wrong_variants_do_not_vanish(rng):
    X, y, s = _data(rng)
    est = Ridge(alpha=2.5, solver="cholesky").fit(X, y, sample_weight=s)
    right = SquaredObjective(est)
    Y = right.encode_targets(y, est)
    assert _relative_gradient(right, est, X, Y, s) < 1e-9
    half_alpha = SquaredObjective(est)
    half_alpha.penalty_coef = 2.5  # α instead of 2α
    assert _relative_gradient(half_alpha, est, X, Y, s) > 1e-3
    assert _relative_gradient(right, est, X, Y, np.ones_like(s)) > 1e-3  # weights ignored

    Xc, yc, sc = _data(rng, classification=True)
    lr = LogisticRegression(C=0.7, solver="newton-cholesky", tol=1e-14).fit(Xc, yc, sample_weight=sc)
    obj = LogisticObjective(lr)
    Yc = obj.encode_targets(yc, lr)
    penalised_b = LogisticObjective(lr)
    penalised_b.penalty_intercept = 1.0
    assert _relative_gradient(penalised_b, lr, Xc, Yc, sc) > 1e-3
    mean_form = LogisticObjective(lr)
    mean_form.loss_scale = 0.7 / len(yc)
    assert _relative_gradient(mean_form, lr, Xc, Yc, sc) > 1e-3


def test_class_weight_dict_is_part_of_the_weights(rng):
    X, y, s = _data(rng, classification=True)
    lr = LogisticRegression(
        C=0.7, solver="newton-cholesky", tol=1e-14, class_weight={0: 3.0, 1: 0.5}
    ).fit(X, y, sample_weight=s)
    obj = LogisticObjective(lr)
    Y = obj.encode_targets(y, lr)
    s_eff = obj.effective_weights(y, s, lr)
    np.testing.assert_allclose(s_eff, s * np.where(y == 0, 3.0, 0.5))
    assert _relative_gradient(obj, lr, X, Y, s_eff) < 1e-9
    assert _relative_gradient(obj, lr, X, Y, s) > 1e-3


@pytest.mark.parametrize(
    "est, match",
    [
        (Lasso(positive=True), "positive=True"),
        (MultiTaskLasso(), "couples the outputs"),
        (QuantileRegressor(), "piecewise linear"),
        (BayesianRidge(), "re-estimated from all rows"),
        (LogisticRegression(class_weight="balanced"), "class_weight='balanced'"),
        (Ridge(positive=True), "positive=True"),
        (Ridge(alpha=np.array([1.0, 2.0])), "per-target alpha"),
    ],
    ids=repr,
)
def test_unsupported_settings_are_refused(est, match):
    with pytest.raises(UnsupportedModelError, match=match):
        objective_class_for(est)


def test_subclasses_are_refused():
    class MyRidge(Ridge):
        pass

    with pytest.raises(UnsupportedModelError, match="cannot attribute MyRidge"):
        objective_class_for(MyRidge())


def test_liblinear_penalises_its_intercept(rng):
    X, y, s = _data(rng, classification=True)
    lr = LogisticRegression(
        C=0.7, solver="liblinear", tol=1e-12, max_iter=10_000, intercept_scaling=2.0
    ).fit(X, y, sample_weight=s)
    obj = LogisticObjective(lr)
    assert obj.penalty_intercept == pytest.approx(1 / 4.0)
    Y = obj.encode_targets(y, lr)
    assert _relative_gradient(obj, lr, X, Y, s) < 1e-6
    unpenalised_b = LogisticObjective(lr)
    unpenalised_b.penalty_intercept = 0.0
    assert _relative_gradient(unpenalised_b, lr, X, Y, s) > 1e-3
