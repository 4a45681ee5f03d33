"""Pick the Objective for a wrapped estimator, or refuse it clearly."""

from ..exceptions import UnsupportedModelError
from ._glm import GLMObjective
from ._logistic import LogisticObjective
from ._ridge_classifier import RidgeClassifierObjective
from ._sgd import SGDClassifierObjective, SGDRegressorObjective
from ._squared import SquaredObjective

OBJECTIVES = (
    SquaredObjective,
    LogisticObjective,
    RidgeClassifierObjective,
    GLMObjective,
    SGDRegressorObjective,
    SGDClassifierObjective,
)


def _supported_names():
    return ", ".join(t.__name__ for cls in OBJECTIVES for t in cls.estimator_types)


def dask_estimator_names():
    """The estimators skrif fits on Dask (:attr:`Objective.dask_estimators`),
    classifiers first."""
    ordered = sorted(OBJECTIVES, key=lambda cls: not cls.is_classifier)
    return [t.__name__ for cls in ordered for t in cls.dask_estimators]


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
    raise UnsupportedModelError(
        f"skrif cannot attribute {type(estimator).__name__}: it only knows the exact "
        f"objectives of {_supported_names()}. Wrap one of those (with a smooth, "
        "L2-only penalty) instead."
    )
