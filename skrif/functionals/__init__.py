"""Functionals: one number computed from a model's outputs on reference rows.

A :class:`Functional` is what a model review or a fairness audit measures — the
accuracy on a test set, the ROC AUC, the calibration error, the gap in positive
rates between groups, the worst group's loss — written as a scalar of the model's
outputs on fixed reference rows ``X_ref`` (and their targets ``y_ref`` where it
needs them). :meth:`InfluenceEstimator.functional_influence
<skrif.InfluenceEstimator.functional_influence>` attributes it to the training
rows: how it changes when each training row (or group) is removed.

A functional declares

* ``response_method``: the output it reads per reference row —
  ``"decision_function"`` (the raw output), ``"predict_proba"`` (class
  probabilities), ``"predict"`` (predicted classes of a classifier, predictions of
  a regressor) or ``"loss"`` (the model family's own per-row loss as in its
  objective, unscaled and unweighted);
* ``needs_y``: whether it reads ``y_ref``;
* ``smooth``: whether it is differentiable in the outputs, with
  :meth:`Functional.gradient` (what ``linearized=True`` needs). Accuracy, ROC AUC
  and gaps of hard decisions are step functions of the parameters; their removal
  effects are always evaluated at the predicted (or refitted) parameters.
  ``None`` where it depends on the model (``"predict"`` is a step function for a
  classifier, smooth for a regressor).

Outputs are arrays as scikit-learn returns them: ``decision_function`` (m,) for a
binary classifier or a single-output regressor, (m, K) otherwise;
``predict_proba`` (m, K); ``predict`` (m,) (class labels, or values); ``loss``
(m,). :meth:`Functional.value` takes them with the reference targets, like a
scikit-learn metric.

Nothing here knows about estimators or removals. skrif evaluates a functional on
batches of outputs (a leading axis of training rows) through a small internal
protocol: ``_bind(info)`` checks the model kind and returns a bound copy,
``_evaluator(y, out)`` returns an object with the value at the fitted outputs
(``base``), ``changes(moved)`` for a batch, and ``gradient()``; class labels are
passed as indices into ``classes_`` there.
"""

from ._base import RESPONSE_METHODS, Functional, ModelInfo
from ._groups import (
    cohens_d,
    demographic_parity_gap,
    equal_opportunity_gap,
    equalized_odds_gap,
    false_positive_rate_gap,
    worst_group_accuracy,
    worst_group_loss,
)
from ._metrics import (
    accuracy,
    balanced_accuracy,
    brier_score,
    expected_calibration_error,
    log_loss,
    mean_loss,
    mean_prediction,
)
from ._ranking import average_precision, roc_auc

__all__ = [
    "Functional",
    "mean_loss",
    "accuracy",
    "balanced_accuracy",
    "log_loss",
    "brier_score",
    "roc_auc",
    "average_precision",
    "expected_calibration_error",
    "mean_prediction",
    "demographic_parity_gap",
    "equal_opportunity_gap",
    "false_positive_rate_gap",
    "equalized_odds_gap",
    "worst_group_loss",
    "worst_group_accuracy",
    "cohens_d",
]

