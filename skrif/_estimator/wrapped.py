"""What :class:`~skrif.InfluenceEstimator` attributes inside the estimator it wraps.

* a supported linear model, fitted or frozen (:class:`~sklearn.frozen.FrozenEstimator`);
* a CV-selected model (``RidgeCV``, ``RidgeClassifierCV``, ``LogisticRegressionCV``):
  the plain model at the selected hyperparameter (``alpha_``, ``C_``, ``l1_ratio_``),
  whose coefficients the CV estimator holds;
* a ``TransformedTargetRegressor``: its regressor on the transformed target;
* a ``Pipeline``: its final step (any of the above) on the preprocessed rows.

:func:`describe` reads the unfitted estimator (refusing unsupported ones before any
fit, with the nearest supported form); :func:`attributed` the fitted one.
"""

import numpy as np
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    ElasticNetCV,
    LassoCV,
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
    RidgeClassifier,
    RidgeClassifierCV,
    RidgeCV,
)
from sklearn.pipeline import Pipeline

from .._objectives import objective_class_for
from ..exceptions import UnsupportedModelError

#: Wrappers skrif cannot see through, with the nearest supported form.
_HINTS = {
    "GridSearchCV": "pass search.best_estimator_ (a fitted model or pipeline) instead",
    "RandomizedSearchCV": "pass search.best_estimator_ (a fitted model or pipeline) instead",
    "HalvingGridSearchCV": "pass search.best_estimator_ instead",
    "LassoLarsCV": "wrap LassoCV, or Lasso(alpha=cv.alpha_), which skrif attributes",
    "LassoLars": "wrap Lasso with the same alpha, which skrif attributes",
    "CalibratedClassifierCV": "attribute the classifier inside it instead",
    "BaggingClassifier": "ensembles have no single objective; attribute one model",
    "BaggingRegressor": "ensembles have no single objective; attribute one model",
    "MultiOutputRegressor": "use Ridge or LinearRegression, which fit several targets at once",
    "OneVsRestClassifier": "use LogisticRegression (multinomial) or RidgeClassifier",
    "ColumnTransformer": "put it in a Pipeline ending in a supported model",
}


def _final(pipeline):
    """The last step of a Pipeline (``passthrough`` refused)."""
    name, step = pipeline.steps[-1]
    if step is None or step == "passthrough":
        raise UnsupportedModelError(
            f"The Pipeline's last step {name!r} is 'passthrough': skrif attributes the "
            "model at the end of the pipeline; end it with a supported model."
        )
    return step


def _selected_twin(cv, fitted):
    """The plain estimator at the hyperparameter ``cv`` selected (``fitted``) or would
    select (unfitted: its first candidate, only to check the settings)."""
    if isinstance(cv, RidgeCV):
        if cv.alpha_per_target:
            raise UnsupportedModelError(
                "RidgeCV(alpha_per_target=True) selects one alpha per target: fit one "
                "InfluenceEstimator(Ridge(alpha=a)) per target with its own alpha_."
            )
        alpha = float(cv.alpha_) if fitted else float(np.ravel(cv.alphas)[0])
        return Ridge(alpha=alpha, fit_intercept=cv.fit_intercept)
    if isinstance(cv, RidgeClassifierCV):
        alpha = float(cv.alpha_) if fitted else float(np.ravel(cv.alphas)[0])
        return RidgeClassifier(alpha=alpha, fit_intercept=cv.fit_intercept,
                               class_weight=cv.class_weight)
    if isinstance(cv, LogisticRegressionCV):
        if not cv.refit:
            raise UnsupportedModelError(
                "LogisticRegressionCV(refit=False) averages the models of its folds: its "
                "coefficients minimise no objective. Use refit=True, or wrap "
                "LogisticRegression(C=cv.C_) yourself."
            )
        if fitted:
            C = float(np.ravel(cv.C_)[0])
            l1_ratio = np.ravel(getattr(cv, "l1_ratio_", [0.0]))[0]
            l1_ratio = 0.0 if l1_ratio is None else float(l1_ratio)
        else:
            C = 1.0
            ratios = cv.l1_ratios if cv.l1_ratios not in (None, "warn") else (0.0,)
            l1_ratio = max(float(r) for r in np.ravel(ratios))
        return LogisticRegression(
            C=C, l1_ratio=l1_ratio, fit_intercept=cv.fit_intercept, solver=cv.solver,
            intercept_scaling=cv.intercept_scaling, class_weight=cv.class_weight,
            dual=cv.dual, tol=cv.tol, max_iter=cv.max_iter,
        )
    return None


#: CV estimators attributed through the plain estimator they select.
CV_TYPES = (RidgeCV, RidgeClassifierCV, LogisticRegressionCV)
#: CV estimators whose selection ``hyperparameters="reselect"`` redoes (LassoCV and
#: ElasticNetCV are families of their own, attributed at ``alpha_`` directly).
RESELECTABLE = CV_TYPES + (LassoCV, ElasticNetCV)


def describe(estimator):
    """Check that ``estimator`` (unfitted) wraps a supported model; return the
    objective class of the attributed model. Raises
    :class:`~skrif.exceptions.UnsupportedModelError` naming the nearest supported form."""
    model = estimator
    if isinstance(model, FrozenEstimator):
        model = model.estimator
    if isinstance(model, Pipeline):
        model = _final(model)
        if isinstance(model, FrozenEstimator):
            model = model.estimator
    if isinstance(model, TransformedTargetRegressor):
        if model.regressor is None:
            raise UnsupportedModelError(
                "TransformedTargetRegressor(regressor=None) wraps LinearRegression; pass "
                "regressor=LinearRegression() (or Ridge) explicitly."
            )
        if isinstance(model.regressor, Pipeline):
            raise UnsupportedModelError(
                "A Pipeline inside a TransformedTargetRegressor is not supported: put the "
                "TransformedTargetRegressor last in the Pipeline instead "
                "(make_pipeline(..., TransformedTargetRegressor(Ridge(), ...)))."
            )
        model = model.regressor
    if isinstance(model, CV_TYPES):
        model = _selected_twin(model, fitted=False)
    hint = _HINTS.get(type(model).__name__)
    if hint is not None:
        raise UnsupportedModelError(f"skrif cannot attribute {type(model).__name__}: {hint}.")
    return objective_class_for(model)


class Attributed:
    """The fitted model inside a fitted wrapper.

    Attributes
    ----------
    holder : estimator
        The fitted object whose ``coef_``/``intercept_`` are the attributed
        parameters (written back by polishing).
    twin : estimator
        A plain supported estimator with the same objective (the selected
        hyperparameters of a CV model; ``holder`` itself otherwise), carrying
        ``holder``'s fitted attributes.
    target_transformer : transformer or None
        The fitted ``transformer_`` of a TransformedTargetRegressor.
    """

    def __init__(self, holder, twin, target_transformer=None):
        self.holder, self.twin, self.target_transformer = holder, twin, target_transformer


def attributed(final):
    """An :class:`Attributed` for the fitted final estimator ``final``."""
    transformer = None
    if isinstance(final, FrozenEstimator):
        final = final.estimator
    if isinstance(final, TransformedTargetRegressor):
        transformer = final.transformer_
        final = final.regressor_
    twin = final
    if isinstance(final, CV_TYPES):
        twin = _selected_twin(final, fitted=True)
        for name in ("coef_", "intercept_", "classes_", "n_features_in_", "feature_names_in_"):
            if hasattr(final, name):
                setattr(twin, name, getattr(final, name))
    return Attributed(final, twin, transformer)


def transformed_target(transformer, y):
    """``y`` on the scale the regressor of a TransformedTargetRegressor was fitted on."""
    y = np.asarray(y)
    out = transformer.transform(y.reshape(-1, 1) if y.ndim == 1 else y)
    out = np.asarray(out, dtype=float)
    return out.ravel() if y.ndim == 1 else out


def reselected(cv, X, y, sample_weight=None):
    """``cv`` refitted on ``(X, y)``: the hyperparameter it selects there and the plain
    twin at that value (an :class:`Attributed`)."""
    fitted = clone(cv)
    if sample_weight is None:
        fitted.fit(X, y)
    else:
        fitted.fit(X, y, sample_weight=sample_weight)
    return attributed(fitted)
