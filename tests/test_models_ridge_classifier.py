"""RidgeClassifier: exact removal effects against scikit-learn's own refits."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import RidgeClassifier

from skrif import InfluenceEstimator
from skrif.exceptions import UnsupportedModelError

# These tests check additive (IF/RIF) answers for sets on purpose; the
# SetInteractionWarning such answers raise is tested in test_groups.py.
ADDITIVE_SETS = "ignore::skrif.exceptions.SetInteractionWarning"


def _data(n_classes, n=40, p=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = rng.integers(0, n_classes, size=n)
    y[:n_classes] = np.arange(n_classes)
    return X, np.array(["a", "b", "c", "d"])[y]


def _sklearn_without(X, y, rows, sample_weight=None, **params):
    keep = np.setdiff1d(np.arange(len(y)), rows)
    sw = None if sample_weight is None else sample_weight[keep]
    return RidgeClassifier(solver="cholesky", **params).fit(X[keep], y[keep], sample_weight=sw)


@pytest.mark.parametrize("n_classes", [2, 3, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_rif_is_exact_leave_one_out(n_classes, fit_intercept):
    X, y = _data(n_classes)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    params = dict(alpha=0.7, fit_intercept=fit_intercept, class_weight={"a": 2.0})
    est = InfluenceEstimator(RidgeClassifier(**params)).fit(X, y, sample_weight=sw)
    base = est.estimator_
    for j in [0, 7, 31]:
        change = est.influence([j])
        assert change.coef.shape == base.coef_.shape
        ref = _sklearn_without(X, y, [j], sw, **params)
        np.testing.assert_allclose(base.coef_ + change.coef, ref.coef_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(
            base.intercept_ + change.intercept, ref.intercept_, rtol=0, atol=1e-10
        )


@pytest.mark.filterwarnings(ADDITIVE_SETS)
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.filterwarnings("ignore::skrif.exceptions.OptimalityWarning")
def test_group_newton_is_exact_leave_set_out(n_classes):
    X, y = _data(n_classes, n=50)
    est = InfluenceEstimator(RidgeClassifier(alpha=0.3)).fit(sp.csr_matrix(X), y)
    rows = [2, 5, 11, 40]
    change = est.influence(rows, method="newton")
    ref = _sklearn_without(X, y, rows, alpha=0.3)
    np.testing.assert_allclose(est.estimator_.coef_ + change.coef, ref.coef_, atol=1e-10)
    # RIF is additive: the sum of single-row effects, not the group effect.
    total = sum(est.influence([r]).coef for r in rows)
    np.testing.assert_allclose(est.influence(rows).coef, total, atol=1e-13)


def test_weight_zero_equals_removal():
    X, y = _data(3)
    est = InfluenceEstimator(RidgeClassifier(alpha=1.0)).fit(X, y)
    sw = np.ones(len(y))
    sw[9] = 0.0
    zero = InfluenceEstimator(RidgeClassifier(alpha=1.0)).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(
        est.estimator_.coef_ + est.influence([9]).coef, zero.estimator_.coef_, atol=1e-10
    )


def test_rif_beats_if_overparameterized():
    X, y = _data(3, n=30, p=60)
    est = InfluenceEstimator(RidgeClassifier(alpha=0.5)).fit(X, y)
    for j in [0, 13]:
        exact = _sklearn_without(X, y, [j], alpha=0.5).coef_ - est.estimator_.coef_
        rif_err = np.linalg.norm(est.influence([j]).coef - exact)
        if_err = np.linalg.norm(est.influence([j], method="if").coef - exact)
        assert rif_err < 1e-8 * np.linalg.norm(exact) < if_err


def test_balanced_class_weight_refused():
    X, y = _data(2)
    with pytest.raises(UnsupportedModelError, match="class_weight='balanced'"):
        InfluenceEstimator(RidgeClassifier(class_weight="balanced")).fit(X, y)


def test_classifier_interface():
    X, y = _data(3)
    est = InfluenceEstimator(RidgeClassifier()).fit(X, y)
    assert list(est.classes_) == ["a", "b", "c"]
    np.testing.assert_array_equal(est.predict(X), est.estimator_.predict(X))
