"""scikit-learn's estimator checks over every supported wrapped configuration."""

import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrif import InfluenceEstimator

# scikit-learn's checks fit default-tolerance models on tiny, often degenerate data
# (lbfgs stops early; rank-deficient or p ≥ n designs) and cannot expect skrif's
# warnings: polishing (OptimalityWarning), leverage-one rows and singular Hessians
# are each asserted where they are tested (test_estimator.py, test_influence.py).
pytestmark = [
    pytest.mark.filterwarnings("ignore::skrif.exceptions.OptimalityWarning"),
    pytest.mark.filterwarnings("ignore::skrif.exceptions.HighLeverageWarning"),
    pytest.mark.filterwarnings("ignore::skrif.exceptions.SingularHessianWarning"),
]

ESTIMATORS = [
    InfluenceEstimator(Ridge(alpha=1.0)),
    InfluenceEstimator(Ridge(alpha=1.0, fit_intercept=False)),
    InfluenceEstimator(LinearRegression()),
    InfluenceEstimator(LogisticRegression(C=1.0), rescaled=False),
]


@parametrize_with_checks(ESTIMATORS)  # every check passes; none is expected to fail
def test_sklearn_compatible(estimator, check):
    check(estimator)
