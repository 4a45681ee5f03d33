"""Pick the Objective for a wrapped estimator, or refuse it clearly."""

from ..exceptions import UnsupportedModelError
from ._enet import ElasticNetObjective
from ._glm import GLMObjective
from ._huber import HuberObjective
from ._kernel_ridge import KernelRidgeObjective
from ._logistic import LogisticObjective
from ._ridge_classifier import RidgeClassifierObjective
from ._sgd import SGDClassifierObjective, SGDRegressorObjective
from ._squared import SquaredObjective
from ._svm import LinearSVCObjective, LinearSVRObjective

OBJECTIVES = (
    SquaredObjective,
    LogisticObjective,
    RidgeClassifierObjective,
    GLMObjective,
    SGDRegressorObjective,
    SGDClassifierObjective,
    ElasticNetObjective,
    KernelRidgeObjective,
    LinearSVCObjective,
    LinearSVRObjective,
    HuberObjective,
)


#: Estimators refused with a reason (what their objective lacks) and what to use instead.
REFUSED = {
    "MultiTaskLasso": (
        "its L2,1 penalty couples the outputs of each feature (a group support), which "
        "skrif's active-set algebra does not cover yet",
        "Fit one Lasso per target (a 2-D y with Lasso is supported).",
    ),
    "MultiTaskElasticNet": (
        "its L2,1 penalty couples the outputs of each feature (a group support), which "
        "skrif's active-set algebra does not cover yet",
        "Fit one ElasticNet per target (a 2-D y with ElasticNet is supported).",
    ),
    "MultiTaskLassoCV": ("its L2,1 penalty couples the outputs", "Fit one LassoCV per target."),
    "MultiTaskElasticNetCV": ("its L2,1 penalty couples the outputs", "Fit one ElasticNetCV per target."),
    "QuantileRegressor": (
        "the pinball loss is piecewise linear (no curvature: a linear program, whose "
        "solution jumps between vertices as rows are removed)",
        "Wrap HuberRegressor-like smooth alternatives or Ridge.",
    ),
    "BayesianRidge": (
        "its penalty (alpha_, lambda_) is re-estimated from all rows by evidence "
        "maximisation, so removing a row changes the penalty of every other row",
        "Wrap Ridge(alpha=lambda_/alpha_) to attribute the fitted model with its penalty held fixed.",
    ),
    "ARDRegression": (
        "its per-feature penalties are re-estimated from all rows (and features pruned), "
        "so removing a row changes the penalty of every other row",
        "Wrap Ridge on the kept features to attribute the fitted model with its penalty held fixed.",
    ),
    "GaussianProcessRegressor": (
        "its kernel hyperparameters are re-optimised on all rows (marginal likelihood)",
        "Wrap KernelRidge with the fitted kernel's parameters (optimizer=None behaviour) instead.",
    ),
}


def _supported_names():
    return ", ".join(t.__name__ for cls in OBJECTIVES for t in cls.estimator_types)


def objective_class_for(estimator):
    """Return the Objective class for ``estimator`` after checking its settings.

    Raises
    ------
    UnsupportedModelError
        For unknown estimator types (subclasses included: they may change the
        objective) and for unsupported settings of known ones.
    """
    if isinstance(estimator, type):
        raise UnsupportedModelError(
            f"estimator must be an estimator instance such as {estimator.__name__}(), "
            f"not the class {estimator.__name__}."
        )
    for cls in OBJECTIVES:
        if type(estimator) in cls.estimator_types:
            cls.check_supported(estimator)
            return cls
    name = type(estimator).__name__
    if name in REFUSED:
        why, fix = REFUSED[name]
        raise UnsupportedModelError(f"skrif cannot attribute {name}: {why}. {fix}")
    raise UnsupportedModelError(
        f"skrif cannot attribute {type(estimator).__name__}: it only knows the exact "
        f"objectives of {_supported_names()}. Wrap one of those instead."
    )
