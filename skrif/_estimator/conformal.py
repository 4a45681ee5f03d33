"""Conformal prediction from the one fit: :meth:`predict_interval` and
:meth:`predict_set`, over :mod:`skrif._features.conformal`.
"""


from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metaestimators import available_if

from .._features import conformal as _conformal
from .._utils.params import Integer, RealNumber, validate_arguments
from . import whole_pipeline
from .base import _wraps_probabilistic_classifier, _wraps_regressor

_ALPHA = {"alpha": [RealNumber(0, 1, closed="neither")]}
_MESSAGES = {
    "alpha": (
        "a float in the open interval (0, 1) (the miscoverage level, e.g. 0.1 for 90% "
        "coverage)"
    ),
    "cv": "an int (number of folds) or a scikit-learn splitter (or None: 5 folds)",
}


class ConformalMixin:
    """Prediction intervals (regressors) and prediction sets (classifiers)."""

    # -- conformal prediction (logic in skrif._features.conformal) -----------------------
    @available_if(_wraps_regressor)
    @validate_arguments(
        {
            **_ALPHA,
            "method": [StrOptions(set(_conformal.INTERVAL_METHODS))],
            "cv": [
                Integer(None, None, closed="neither"),
                HasMethods(["split", "get_n_splits"]),
                None,
            ],
        },
        {**_MESSAGES, "method": f"one of {_conformal.INTERVAL_METHODS}"},
    )
    def predict_interval(self, X, *, alpha=0.1, method="jackknife+", cv=None):
        """Conformal prediction intervals (jackknife+, CV+) from the one fit, no refits.

        Each training row ``i`` contributes its leave-one-out residual
        ``R_i = |y_i − μ̂_{−i}(x_i)|`` (:meth:`loo_predict`) and its leave-one-out
        prediction ``μ̂_{−i}(x)`` at each test row (the prediction plus the
        :meth:`influence_scores` of row ``i``). For ``Ridge`` and
        ``LinearRegression`` these are the exact leave-one-out models, so the
        intervals equal those of refitting ``n`` times (MAPIE's jackknife+); for
        GLMs they come from the rescaled influence function (one exact Newton step
        per leave-one-out objective) and are a close approximation.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_rows, n_features)
            Test rows, with the columns seen in :meth:`fit`.
        alpha : float, default=0.1
            Miscoverage level in (0, 1): the target coverage is ``1 − alpha``. The
            model must have at least ``max(1/alpha, 1/(1 − alpha))`` training rows.
        method : {"jackknife", "jackknife+", "jackknife-minmax", "cv+"}, \
                default="jackknife+"
            With ``k = ⌈(1 − α)(n + 1)⌉`` and ``q̂⁺{v_i}`` / ``q̂⁻{v_i}`` the
            ``k``-th smallest / ``k``-th largest of ``n`` values:
            ``"jackknife"``: ``μ̂(x) ∓ q̂⁺{R_i}`` (MAPIE's ``"base"``);
            ``"jackknife+"``: ``[q̂⁻{μ̂_{−i}(x) − R_i}, q̂⁺{μ̂_{−i}(x) + R_i}]``
            (``"plus"``); ``"jackknife-minmax"``: ``[min_i μ̂_{−i}(x) − q̂⁺{R_i},
            max_i μ̂_{−i}(x) + q̂⁺{R_i}]`` (``"minmax"``); ``"cv+"``: the
            jackknife+ with the models fitted without each fold and out-of-fold
            residuals; the fold models are exact: a group Newton step for least
            squares, ``K`` warm-started refits (Newton's method) for GLMs.
        cv : int or cross-validation splitter, default=None
            Folds for ``"cv+"`` only: a number of folds ≥ 2 (unshuffled ``KFold``)
            or a scikit-learn splitter whose test folds partition the training
            rows; ``None`` means 5 folds.

        Returns
        -------
        intervals : ndarray of shape (n_rows, 2)
            Lower and upper bounds.

        Raises
        ------
        ValueError
            For ``alpha`` outside (0, 1), too few training rows for ``alpha``, an
            unknown ``method``, ``cv`` with a method other than ``"cv+"``, fewer
            than 2 folds, ``X`` with other columns than in :meth:`fit`, a
            multi-target model, or leave-one-out predictions that are undefined
            (leverage-1 rows).

        Notes
        -----
        Guarantee (Barber et al. 2021, exchangeable data): jackknife+ and
        jackknife-minmax cover with probability ≥ 1 − 2α (≥ 1 − α for minmax),
        typically ≈ 1 − α; CV+ with K folds of size n/K has ≥ 1 − 2α − √(2/n)
        in the worst case; the plain jackknife has no such guarantee. For GLMs
        the leave-one-out models are approximate, so these statements hold only
        approximately (CV+ excepted: its fold models are exact). Sample weights shape the fit, but every training row counts
        once in the conformal quantiles.

        Cost: O(n) after the fit for the residuals (O(n p̃²) for mean-form GLMs),
        then one solve with ``n_rows`` right-hand sides and products with the
        training rows: O(n p̃² + n · n_rows · p̃) in the primal (``p̃ ≤ n``),
        O(n² p̃ + n · n_rows · p̃) in the dual, plus O(n · n_rows) for the order
        statistics. Test rows are processed in blocks, so memory beyond the result
        is O(n · block) (16 MB blocks), never n × n_rows. ``"cv+"`` adds one group
        Newton step per fold for least squares (O(n p̃² + K p̃³) primal), a
        refit per fold (a few factorizations each) for GLMs. Mean-form GLMs
        (Poisson, Gamma, Tweedie) and multinomial models recompute their exact
        single-row steps for each block of test rows: O(n p̃²) per block of
        ``≈ 2·10⁶ / n`` rows (about 0.4 s per block at n = 1,000, p̃ = 10).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 3)); y = X @ [1.0, 2.0, 0.0] + rng.normal(size=200)
        >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X[:150], y[:150])
        >>> intervals = est.predict_interval(X[150:], alpha=0.1)
        >>> intervals.shape
        (50, 2)
        >>> covered = (intervals[:, 0] <= y[150:]) & (y[150:] <= intervals[:, 1])
        >>> bool(covered.mean() >= 0.8)
        True
        """
        if whole_pipeline.routes(self, "predict_interval"):
            whole_pipeline.refuse("predict_interval")
        return _conformal.predict_interval(self, X, alpha, method, cv)

    @available_if(_wraps_probabilistic_classifier)
    @validate_arguments(
        {**_ALPHA, "method": [StrOptions(set(_conformal.SET_METHODS))]},
        {**_MESSAGES, "method": f"one of {_conformal.SET_METHODS}"},
    )
    def predict_set(self, X, *, alpha=0.1, method="lac"):
        """Conformal prediction sets (jackknife+ for classes) from the one fit.

        Label ``y`` belongs to the set of ``x`` when fewer than
        ``⌈(1 − α)(n + 1)⌉`` training rows ``i`` have a leave-one-out score
        ``s(x_i, y_i; μ̂_{−i})`` strictly below ``s(x, y; μ̂_{−i})`` (Romano, Sesia
        & Candès 2020), with ``μ̂_{−i}`` the model without row ``i``: its
        probabilities from the rescaled influence function (one exact Newton step
        per leave-one-out objective), an approximation of refitting ``n`` times.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_rows, n_features)
            Test rows, with the columns seen in :meth:`fit`.
        alpha : float, default=0.1
            Miscoverage level in (0, 1); needs at least
            ``max(1/alpha, 1/(1 − alpha))`` training rows.
        method : {"lac", "aps"}, default="lac"
            Score: ``"lac"`` is ``1 − p̂(y | x)``; ``"aps"`` (non-randomized) the
            probability mass of the labels at least as likely as ``y``
            (``Σ_c p̂_c 1[p̂_c > p̂_y] + p̂_y``). With two classes it scores the
            less likely label exactly 1, so that label joins every set or none
            depending on how many training rows the leave-one-out models classify
            right: a knife-edge where the approximate leave-one-out models can
            tip the sets; prefer ``"lac"`` for binary problems.

        Returns
        -------
        sets : ndarray of bool of shape (n_rows, n_classes)
            ``sets[j, c]``: whether ``classes_[c]`` is in the set of row ``j``.

        Raises
        ------
        ValueError
            For ``alpha`` outside (0, 1), too few training rows, an unknown
            ``method``, ``X`` with other columns than in :meth:`fit`, or undefined
            leave-one-out probabilities (leverage-1 rows).

        Notes
        -----
        With exact leave-one-out models the sets cover with probability
        ≥ 1 − 2α for exchangeable data (typically ≈ 1 − α); here they are
        approximate. Cost: as :meth:`predict_interval`, times the number of
        classes (times its square for ``"aps"``) for the scores, in blocks of test
        rows (memory O(n · block · n_classes)).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
        >>> model = LogisticRegression(solver="newton-cholesky", tol=1e-10)
        >>> est = InfluenceEstimator(model).fit(X[:150], y[:150])
        >>> sets = est.predict_set(X[150:], alpha=0.1)
        >>> sets.shape, sets.dtype
        ((50, 2), dtype('bool'))
        >>> bool(sets[np.arange(50), y[150:]].mean() >= 0.8)
        True
        """
        if whole_pipeline.routes(self, "predict_set"):
            whole_pipeline.refuse("predict_set")
        return _conformal.predict_set(self, X, alpha, method)
