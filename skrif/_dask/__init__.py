"""skrif on Dask: the wrapped estimator's objective solved by distributed Newton.

Imported only when an :class:`~skrif.InfluenceEstimator` meets a dask array
(:mod:`skrif._estimator.dask_routing`); ``import skrif`` never imports dask. See the user guide
page "Scaling out with Dask".

Floor 7. May import: :mod:`skrif._features`, :mod:`skrif._core` and everything below.
"""

from ._estimator import (
    SUPPORTED,
    decision_function,
    fit,
    influence,
    influence_scores,
    loo_predict,
    loo_score,
    most_influential,
    predict,
    predict_log_proba,
    predict_proba,
    removal_effect,
    removal_to_flip,
    self_influence,
)
from ._validation import validation_state

__all__ = [
    "SUPPORTED",
    "decision_function",
    "fit",
    "influence",
    "influence_scores",
    "loo_predict",
    "loo_score",
    "most_influential",
    "predict",
    "predict_log_proba",
    "predict_proba",
    "removal_effect",
    "removal_to_flip",
    "self_influence",
    "validation_state",
]
