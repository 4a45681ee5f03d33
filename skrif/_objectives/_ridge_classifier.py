"""RidgeClassifier: least squares on ±1 targets, ``Σ_i s_i Σ_k (Y_ik − z_ik)² + α‖W‖²``.

scikit-learn (``sklearn/linear_model/_ridge.py``, ``_RidgeClassifierMixin``) encodes
the labels with ``LabelBinarizer(pos_label=1, neg_label=-1)``: one column for two
classes (``+1`` for ``classes_[1]``), one column per class otherwise, and fits a
multi-target Ridge on them, so the objective and its constants are those of
:class:`~skrif._objectives._squared.SquaredObjective` (``ℓ'' = 2``, ``λ_w = 2α``,
unpenalised intercept): removal effects are exact. ``class_weight`` dicts multiply
the sample weights; ``"balanced"`` is refused (it depends on every row's label).
The set of classes and the target encoding stay fixed under removal.
"""

import numpy as np
from sklearn.linear_model import RidgeClassifier
from sklearn.preprocessing import LabelBinarizer

from ._base import check_class_weight, class_weighted
from ._squared import SquaredObjective


class RidgeClassifierObjective(SquaredObjective):
    estimator_types = (RidgeClassifier,)
    dask_estimators = ()
    is_classifier = True

    @classmethod
    def check_supported(cls, estimator):
        super().check_supported(estimator)
        check_class_weight(cls, estimator)

    def encode_targets(self, y, estimator):
        binarizer = LabelBinarizer(pos_label=1, neg_label=-1).fit(estimator.classes_)
        return binarizer.transform(np.asarray(y)).astype(float)

    def effective_weights(self, y, sample_weight, estimator):
        return class_weighted(y, sample_weight, estimator)
