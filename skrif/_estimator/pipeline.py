"""Using an InfluenceEstimator at the end of a scikit-learn Pipeline."""

from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .estimator import InfluenceEstimator


def transform_through(estimator, X):
    """Map raw rows to the features the final InfluenceEstimator of a pipeline sees.

    In ``Pipeline([..., ("model", InfluenceEstimator(...))])`` the attribution
    methods live on the last step, ``pipe[-1]``, and take the *transformed*
    features. ``transform_through(pipe, X)`` applies every fitted step but the
    last (``pipe[:-1].transform(X)``), so raw evaluation rows can be passed::

        pipe[-1].removal_effect(idx, transform_through(pipe, X_test))

    The preprocessing is the one fitted on *all* training rows and it is held
    fixed: skrif predicts the effect of removing rows from the final model's
    fit only, not of refitting the scaler or encoder without them. To remove rows
    from the whole pipeline, wrap it instead: ``InfluenceEstimator(pipeline)``
    (see the "Pipelines and model selection" guide).

    Parameters
    ----------
    estimator : Pipeline or InfluenceEstimator
        A fitted Pipeline whose last step is an InfluenceEstimator (e.g.
        ``search.best_estimator_`` of a model selection search), or a fitted
        InfluenceEstimator (then ``X`` is returned unchanged).
    X : array-like of shape (n_samples, n_features)
        Raw rows, as passed to ``pipe.predict``.

    Returns
    -------
    Xt : array-like of shape (n_samples, n_features_out)
        The rows as the final InfluenceEstimator receives them.

    Raises
    ------
    TypeError
        If ``estimator`` is neither an InfluenceEstimator nor a Pipeline ending
        in one.
    sklearn.exceptions.NotFittedError
        If it is not fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skrif import InfluenceEstimator, transform_through
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(loc=5.0, size=(40, 3)); y = X.sum(axis=1)
    >>> pipe = make_pipeline(StandardScaler(), InfluenceEstimator(Ridge())).fit(X, y)
    >>> Xt = transform_through(pipe, X[:2])
    >>> bool(np.allclose(pipe[-1].predict(Xt), pipe.predict(X[:2])))
    True
    """
    if isinstance(estimator, InfluenceEstimator):
        check_is_fitted(estimator)
        return X
    if not isinstance(estimator, Pipeline) or not isinstance(estimator[-1], InfluenceEstimator):
        raise TypeError(
            "transform_through expects a Pipeline whose last step is an "
            f"InfluenceEstimator (or an InfluenceEstimator); got {type(estimator).__name__}. "
            "For a fitted search, pass search.best_estimator_."
        )
    check_is_fitted(estimator[-1])
    if len(estimator) == 1:
        return X
    return estimator[:-1].transform(X)
