"""scikit-learn's estimator checks over every supported wrapped configuration."""

from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrif import InfluenceEstimator

ESTIMATORS = [
    InfluenceEstimator(Ridge(alpha=1.0)),
    InfluenceEstimator(Ridge(alpha=1.0, fit_intercept=False)),
    InfluenceEstimator(LinearRegression()),
    InfluenceEstimator(LogisticRegression(C=1.0), rescaled=False),
]


@parametrize_with_checks(ESTIMATORS)  # every check passes; none is expected to fail
def test_sklearn_compatible(estimator, check):
    check(estimator)
