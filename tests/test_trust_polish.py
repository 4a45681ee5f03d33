"""Issue 27 item 6: warnings only where the user must act. A successful polish of
a default-tolerance fit is the documented behaviour and records what it did; a
failed or disabled polish warns.
"""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skrif import InfluenceEstimator
from skrif.exceptions import OptimalityWarning


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) * [1, 10, 0.1, 1, 1, 100]
    y = (X[:, 0] + 0.1 * X[:, 1] + rng.normal(size=300) > 0).astype(int)
    return X, y


def test_successful_polish_is_silent_and_recorded():
    # The README's first example warned on every real table (gaps 1.2e-3 to 4.7e-2)
    # and then polished successfully.
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", OptimalityWarning)
        est = InfluenceEstimator(LogisticRegression(C=1.0)).fit(X, y)
    assert est.optimality_gap_ > 1e-6  # lbfgs stopped short: the polish was needed
    assert est.n_polish_steps_ >= 1
    refit = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(est.estimator_.coef_, refit.coef_, rtol=1e-7, atol=1e-10)


def test_disabled_polish_still_warns():
    X, y = data()
    with pytest.warns(OptimalityWarning):
        est = InfluenceEstimator(LogisticRegression(C=1.0), polish=False).fit(X, y)
    assert est.n_polish_steps_ == 0
