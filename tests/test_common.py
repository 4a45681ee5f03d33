"""scikit-learn's estimator checks over every supported wrapped configuration."""

import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrif import InfluenceEstimator

# Checks that cannot pass, each with the reason.
_MULTICLASS = (
    "multi-class LogisticRegression is not supported yet (binary only); skrif "
    "refuses it in fit with UnsupportedModelError"
)
EXPECTED_FAILED = {
    "LogisticRegression": {
        "check_classifiers_classes": _MULTICLASS,
        "check_classifiers_train": _MULTICLASS,
        "check_classifiers_train(readonly_memmap=True)": _MULTICLASS,
        "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": _MULTICLASS,
        "check_dict_unchanged": _MULTICLASS,
        "check_dont_overwrite_parameters": _MULTICLASS,
        "check_dtype_object": _MULTICLASS,
        "check_estimator_sparse_array": _MULTICLASS,
        "check_estimator_sparse_matrix": _MULTICLASS,
        "check_estimator_sparse_tag": _MULTICLASS,
        "check_estimators_fit_returns_self": _MULTICLASS,
        "check_estimators_overwrite_params": _MULTICLASS,
        "check_f_contiguous_array_estimator": _MULTICLASS,
        "check_fit2d_predict1d": _MULTICLASS,
        "check_fit_score_takes_y": _MULTICLASS,
        "check_methods_sample_order_invariance": _MULTICLASS,
        "check_methods_subset_invariance": _MULTICLASS,
        "check_n_features_in_after_fitting": _MULTICLASS,
        "check_positive_only_tag_during_fit": _MULTICLASS,
        "check_readonly_memmap_input": _MULTICLASS,
        "check_sample_weight_equivalence_on_dense_data": _MULTICLASS,
        "check_sample_weight_equivalence_on_sparse_data": _MULTICLASS,
        "check_sample_weights_list": _MULTICLASS,
        "check_supervised_y_2d": _MULTICLASS,
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator.estimator).__name__, {})


ESTIMATORS = [
    InfluenceEstimator(Ridge(alpha=1.0)),
    InfluenceEstimator(Ridge(alpha=1.0, fit_intercept=False)),
    InfluenceEstimator(LinearRegression()),
    InfluenceEstimator(LogisticRegression(C=1.0), rescaled=False),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
