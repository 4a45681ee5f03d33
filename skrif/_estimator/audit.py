"""Auditing methods of :class:`~skrif.InfluenceEstimator`: leave-one-out predictions
and scores, removals that flip a prediction or a coefficient, the AMIP summary.

Thin wrappers over :mod:`skrif._features.audit` and :mod:`skrif._features.amip`.
"""



import numpy as np
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from .._core.set_error import verification_gap
from .._features import amip as _amip
from .._features import audit as _audit
from .._features.robust_se import COV_TYPES
from .._utils.checks import check_bool
from .._utils.params import Integer, RealNumber, validate_arguments
from .._utils.progress import Progress
from .._utils.warn import warn
from ..exceptions import VerificationWarning
from . import whole_pipeline
from .dask_routing import dask_aware

#: Parameters of the robustness audit, declared once for both of its methods.
_AUDIT_CONSTRAINTS = {
    "alpha": [RealNumber(0, 1, closed="neither")],
    "cov_type": [StrOptions(set(COV_TYPES))],
    "unit": [StrOptions(set(_amip.UNITS))],
    "max_fraction": [RealNumber(0, 1, closed="neither"), None],
    "max_refits": [Integer(1, None, closed="left"), None],
    "use_t": ["boolean", None],
    "conclusion": [StrOptions(set(_amip.CONCLUSIONS))],
}
_AUDIT_MESSAGES = {
    "alpha": "a number strictly between 0 and 1",
    "cov_type": f"one of {COV_TYPES}",
    "unit": f"one of {_amip.UNITS}",
    "max_fraction": "a number strictly between 0 and 1 (or None for no cap)",
    "max_refits": "an integer >= 1",
    "use_t": "True, False or None",
    "conclusion": f"one of {_amip.CONCLUSIONS}",
}
_audit_parameters = validate_arguments(_AUDIT_CONSTRAINTS, _AUDIT_MESSAGES)


class AuditMixin:
    """Leave-one-out predictions and the searches for removals that flip a conclusion."""

    # -- auditing: leave-one-out predictions, removals that flip a conclusion ----
    @dask_aware
    def loo_predict(
        self, *, target="predict", method=None, groups=None, as_frame=False, verbose=0
    ):
        """Approximate leave-one-out predictions for every training row.

        ``out[i]`` is the target of training row ``i`` evaluated with the model
        fitted *without* row ``i``: ``F_i(θ̂ + Δ_{−i})``, i.e. its value on the fitted
        model plus its :meth:`self_influence`. With ``"rif"`` (the default) ``Δ_{−i}``
        is one exact Newton step on the leave-one-out objective: for least squares
        (``Ridge``, ``LinearRegression``) these are the exact leave-one-out values
        (as ``RidgeCV``'s efficient leave-one-out), otherwise a close approximation.

        Parameters
        ----------
        target : {"predict", "decision_function", "predict_proba", "loss"}, \
                default="predict"
            ``"predict"`` is what :func:`~sklearn.model_selection.cross_val_predict`
            returns by default: the predicted class labels (``classes_``) for a
            classifier, the predictions for a regressor. Other targets as in
            :meth:`removal_effect`, evaluated on the training rows (with their own
            targets for ``"loss"``).
        method : {"if", "rif"}, default=None
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``. With ``groups``:
            ``{"auto", "if", "rif", "newton", "refit"}``, and ``None`` is ``"auto"``.
        groups : array-like of shape (n_samples,), default=None
            Group labels: leave-one-*group*-out predictions instead, ``out[i]``
            evaluated with the model fitted without row ``i``'s whole group
            (``"auto"``: the group Newton step for ``Ridge``/``LinearRegression``,
            which is exact; for other models an exact refit where it costs at most a
            few group steps, else the group step; NaN, with a
            :class:`~skrif.exceptions.SetInteractionWarning`, for groups whose
            removal leaves the model undetermined). A pandas Series is aligned to
            the training rows by its index.
        as_frame : bool, default=False
            Return a pandas Series (a DataFrame, columns the classes, for
            ``"predict_proba"``) indexed like the training rows.
        verbose : int, default=0
            With ``groups``: ``>= 1`` prints how the groups were answered.

        Returns
        -------
        loo : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            NaN for rows with leverage 1 under ``"rif"`` (their leave-one-out model
            is undetermined; a :class:`~skrif.exceptions.HighLeverageWarning` is
            emitted), and for the only training row of a class (its
            leave-one-out model has fewer classes; an
            :class:`~skrif.exceptions.UndefinedRemovalWarning` is emitted).

        See Also
        --------
        loo_score : the wrapped estimator's score of these predictions.

        Notes
        -----
        No refit and no n × n matrix: O(n) beyond the factorization for Ridge,
        LinearRegression and binary logistic regression (``x̃_i H⁻¹ x̃_iᵀ`` is a
        by-product of the leverages), O(n p̃²) for mean-form GLMs/SGD and
        multinomial models.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(30, 3)); y = X @ [1.0, 2.0, 0.0] + rng.normal(size=30)
        >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
        >>> loo = est.loo_predict()
        >>> keep = np.arange(30) != 4
        >>> refit = Ridge(alpha=1.0).fit(X[keep], y[keep])
        >>> bool(np.isclose(loo[4], refit.predict(X[4:5])[0]))
        True
        """
        name = target
        target, labels_out = self._row_target(target)
        as_frame = check_bool(as_frame, "as_frame")
        if groups is not None:
            values = self._group_loo_predict(
                groups, target, method, Progress(verbose, "loo_predict")
            )
        else:
            method = self._additive_method(method, "loo_predict")
            values = self._fitted_removal().rowwise(_audit.loo_predict, target, method)
            values = target.finalize(self._nan_undefined_removals(values))
        if labels_out:
            values = self._class_labels(values)
        return self._rows_output(values, name, as_frame)

    @dask_aware
    def loo_score(self, *, method=None, groups=None):
        """Leave-one-out score of the model on its training data, without refitting.

        Accuracy of the leave-one-out predicted classes for classifiers, R² of the
        leave-one-out predictions for regressors (as the wrapped estimator's
        ``score``, unweighted), from :meth:`loo_predict`.

        Parameters
        ----------
        method : {"if", "rif"}, default=None
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``.
        groups : array-like of shape (n_samples,), default=None
            Group labels: the leave-one-group-out score (see :meth:`loo_predict`).

        Returns
        -------
        score : float

        Raises
        ------
        ValueError
            If some leave-one-out prediction is undefined (rows with leverage 1,
            or the only training row of a class).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(80, 3)); y = (X[:, 0] + rng.normal(size=80) > 0).astype(int)
        >>> est = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-10))
        >>> est = est.fit(X, y)
        >>> bool(est.loo_score() <= est.score(X, y))  # optimism of the training score
        True
        """
        rm = self._fitted_removal()
        classifier = rm.objective.is_classifier
        loo = rm.retained(self.loo_predict(
            target="decision_function" if classifier else "predict", method=method, groups=groups
        ))
        if np.any(np.isnan(loo)):
            raise ValueError(
                "Some leave-one-out predictions are undefined (rows with leverage 1, "
                "or the only training row of a class): the leave-one-out score is "
                "undefined. For leverage 1, use method='if' or add a penalty."
            )
        if classifier:
            Z = loo.reshape(loo.shape[0], -1)
            return float(np.mean(_audit.predicted_classes(Z) == _audit.true_classes(rm.Y)))
        return _audit.r2(rm.Y.reshape(loo.shape), loo)

    @dask_aware
    @_audit_parameters
    def removal_to_flip(
        self, X=None, *, coef=None, output=None, method=None, max_rows=None, max_refits=None,
        conclusion="sign", alpha=0.05, cov_type="nonrobust", groups=None, unit="rows",
        max_fraction=0.1, use_t=None, y=None, functional=None, threshold=None,
    ):
        """The smallest set of training rows whose removal flips a conclusion.

        Robustness auditing ("approximate maximum influence perturbation"): how
        many training rows have to be dropped to flip the predicted class (the
        sign of the decision function) of one evaluation row, or the sign of one
        coefficient? Rows are taken in order of their additive single-row effect
        on that quantity until the predicted change crosses zero; the set is then
        **verified by an exact refit**. If the refit does not flip, effects are
        recomputed at the refitted model on the remaining rows and the set is
        extended; once it flips, the set is shortened (bisection on its length,
        then row by row) while the refit still flips. Additive effects of rows
        pushing the same way usually underestimate their joint effect, so when no
        set within ``max_rows`` is predicted to flip, the rows with the largest
        effects are refitted anyway. The result reports whether the verified refit
        flipped.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (1, n_features), default=None
            One evaluation row: flip the sign of its decision function — its
            predicted class for a binary classifier. For classifiers with one
            output per class (multinomial logistic regression, multiclass
            ``RidgeClassifier``), its predicted class (any other class wins).
        coef : int or str, default=None
            Instead of ``X``: a feature index or name (``feature_names_in_``); audit
            ``coef_`` there. Negative values count from the end.
        output : int, default=None
            For models with several outputs, which output's decision function or
            which row of ``coef_`` (required for ``coef`` then, and for ``X`` with a
            multi-target regressor). Negative values count from the end.
        method : {"if", "rif"}, default=None
            Single-row effects used to choose the rows; ``None`` uses ``"rif"`` if
            ``rescaled`` else ``"if"``.
        max_rows : int, default=None
            Largest set considered (rows, or groups with ``unit="groups"``); overrides
            ``max_fraction``.
        max_refits : int, default=None
            Budget of exact refits (verification, extension and pruning); ``None``
            means 10 for the row search of ``conclusion="sign"`` and 50 for the
            significance and group searches.
        conclusion : {"sign", "significance", "opposite_significance"}, default="sign"
            For ``coef``: flip its sign; make it lose significance at level
            ``alpha`` (p-value ≥ ``alpha``; it must be significant on the full data);
            or make it significant with the opposite sign. Significance needs
            standard errors: ``LinearRegression`` (OLS/WLS), unpenalised binary
            ``LogisticRegression`` (``C=np.inf``) and ``PoissonRegressor(alpha=0)``.
            The significance search ranks units by the first-order change of the
            t-statistic and verifies every set by an exact refit with the standard
            error recomputed (see the "Auditing" guide).
        alpha : float, default=0.05
            Significance level, in (0, 1).
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}, default="nonrobust"
            Standard errors as statsmodels defines them (``OLS/WLS/GLM(...).fit(
            cov_type=...)``); ``"cluster"`` clusters by ``groups``. For the GLMs
            statsmodels applies no small-sample correction, so ``HC1``–``HC3`` equal
            ``HC0`` there.
        groups : array-like of shape (n_samples,), default=None
            Group label of every training row: the clusters of ``cov_type="cluster"``
            and/or the removal units of ``unit="groups"``.
        unit : {"rows", "groups"}, default="rows"
            Remove single rows, or whole groups of ``groups``.
        max_fraction : float or None, default=0.1
            Cap on the set as a fraction of the rows (or groups) when ``max_rows`` is
            not given: a conclusion not flipped within it is reported as "not
            flipped within the cap". ``None``: up to all but one.
        use_t : bool, default=None
            p-values from the t distribution (``True``) or the normal (``False``);
            ``None`` is statsmodels' default (t with ``n − p̃`` degrees of freedom for
            OLS ``"nonrobust"``, normal otherwise). With t, ``"cluster"`` uses
            ``G − 1`` degrees of freedom as statsmodels does.

        y : array-like of shape (n_ref,), default=None
            With ``functional``: the reference targets, when the functional reads
            them.
        functional : Functional, default=None
            Instead of a sign: the smallest set whose removal moves this functional
            (:mod:`skrif.functionals`) of the model's outputs on the reference rows
            ``X`` to ``threshold`` or past it — e.g. brings a fairness gap under
            0.05. Rows are ranked by their single-row effects (evaluated at
            ``θ̂ + Δ_i``, see :meth:`functional_influence`) and the set is searched
            and verified by exact refits as above; ``coef``, ``conclusion`` and
            ``unit`` do not apply. The result has ``conclusion="threshold"``,
            ``quantity`` the functional's name and ``flipped`` whether the refit
            reached the threshold.
        threshold : float, default=None
            The value to reach (required with ``functional``): the functional
            must go down to it if it is above, up to it if below.

        Returns
        -------
        result : FlipResult
            ``rows`` (in the order chosen), ``flipped`` (verified by the exact
            refit), ``initial`` value of the quantity, ``predicted_change``
            (additive, at the fitted model) and ``actual_change`` (refit) for those
            rows, ``n_refits`` and a ``message``; and, verified by the same refit,
            the ``estimate``, ``se`` and ``p_value`` after removal (standard errors
            for the models that have them), ``n_removed``, ``fraction``, the removed
            ``groups`` and a ``certificate`` (a lower bound, least squares).

        Raises
        ------
        ValueError
            If neither or both of ``X`` and ``coef`` are given, ``X`` is not a single
            row, the quantity is exactly zero, an argument is out of range (unknown
            feature name, ``alpha`` outside (0, 1), group labels of the wrong
            length), the model has no standard errors for a significance audit
            (penalised models; the message says why), or the conclusion is already
            false on the full data (a coefficient that is not significant).

        Warns
        -----
        skrif.exceptions.VerificationWarning
            When the verified refit moves the audited quantity by more than 10% more
            (or less) than the additive prediction that chose the rows, or the other
            way: the rows were chosen on a prediction that was off, so a smaller set
            may also flip it. (Not for the significance searches, which predict the
            t-statistic.)

        Notes
        -----
        Greedy by additive effects, so the set is not guaranteed minimal; the
        verification makes ``flipped`` exact. Cost: one solve and one pass over the
        training rows for the effects (O(p̃² + nnz(X)) after the fit; O(n p̃²) for
        mean-form and multinomial models), plus up to ``max_refits`` exact refits
        (a few factorizations each) and one factorization per extension.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2)); y = (X[:, 0] + 0.5 * rng.normal(size=100) > 0).astype(int)
        >>> est = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-10))
        >>> est = est.fit(X, y)
        >>> x = np.array([[0.3, 0.0]])
        >>> result = est.removal_to_flip(x)
        >>> result.flipped
        True
        >>> keep = np.setdiff1d(np.arange(100), result.rows)
        >>> refit = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X[keep], y[keep])
        >>> bool(refit.predict(x)[0] != est.predict(x)[0])
        True
        """
        rm = self._fitted_removal()
        method = self._additive_method(method, "removal_to_flip")
        if functional is not None or threshold is not None:
            return self._functional_to_threshold(
                X, y, functional, threshold, coef=coef, conclusion=conclusion, unit=unit,
                method=method, max_rows=max_rows, max_refits=max_refits,
                max_fraction=max_fraction,
            )
        if (X is None) == (coef is None):
            raise ValueError(
                "Pass exactly one of X (one evaluation row whose prediction to flip) "
                "and coef (a feature index whose coefficient sign to flip)."
            )
        n = rm.n_samples
        # -- significance audit (skrif/_features/amip.py): coef names, caps, new searches --
        if coef is not None:
            coef = _amip.resolve_coef(coef, rm.design.n_features, self._coef_names())
        if X is not None:
            X = self._validate_X(X)
            if X.shape[0] != 1:
                raise ValueError(
                    f"X must hold exactly one evaluation row; got {X.shape[0]} rows."
                )
        classes = self.classes_ if rm.objective.is_classifier else None
        A, names = _audit.flip_functionals(rm.design, rm.theta, X, coef, output, classes)
        if _amip.uses_search(X, conclusion, cov_type, groups, unit):
            result = _amip.run(
                self, A, names, coef, conclusion=conclusion, alpha=alpha,
                cov_type=cov_type, groups=groups, unit=unit, max_rows=max_rows,
                max_fraction=max_fraction, max_refits=max_refits, use_t=use_t,
                method=method,
            )
            _warn_unverified(result)
            return self._label_flip(result)
        _amip.prepare(
            self, self._fitted_removal(), coef, conclusion, alpha, cov_type, groups,
            unit, use_t,
        )
        max_rows = _amip.cap_for(n, max_rows, max_fraction)
        max_refits = 10 if max_refits is None else max_refits
        # -- the historic sign search --
        result = _audit.removal_to_flip(rm, A, names, method, max_rows, max_refits)
        result = _amip.annotate(self, result, coef, cov_type, groups, use_t, alpha, max_rows)
        _warn_unverified(result)
        return self._label_flip(result)

    def _label_flip(self, result):
        """``result`` with ``labels``: the removed rows' training labels."""
        import dataclasses

        index = getattr(self, "training_index_", None)
        rows = np.asarray(result.rows, dtype=np.intp)
        return dataclasses.replace(result, labels=rows if index is None else index[rows])

    @_audit_parameters
    def amip_summary(
        self, coef=None, *, alpha=0.05, cov_type="nonrobust", groups=None, unit="rows",
        max_rows=None, max_fraction=0.1, max_refits=None, use_t=None, verbose=0,
    ):
        """How many rows (or groups) must go to flip each coefficient's sign, its
        significance, or both — an AMIP summary like zaminfluence's.

        Runs :meth:`removal_to_flip` for every requested coefficient and every
        conclusion (``"sign"``, ``"significance"``, ``"opposite_significance"``,
        reported as sign / significance / both); penalised models get the sign
        only (they have no standard errors). Every count is verified by an exact
        refit with the standard error recomputed.

        Parameters
        ----------
        coef : int, str or list of them, default=None
            Coefficients (indices or feature names); ``None``: every feature.
        alpha, cov_type, groups, unit, max_rows, max_fraction, max_refits, use_t
            As in :meth:`removal_to_flip`.
        verbose : int, default=0
            ``>= 1`` prints one line per coefficient and conclusion (the verified
            count and the refits it took) to stderr as they finish.

        Returns
        -------
        summary : AMIPSummary
            ``results`` (a :class:`FlipResult` per coefficient and conclusion),
            the removed rows' labels, :meth:`~AMIPSummary.table` and
            :meth:`~AMIPSummary.to_frame`.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 2)); y = X @ [0.3, 0.0] + rng.normal(size=200)
        >>> est = InfluenceEstimator(LinearRegression()).fit(X, y)
        >>> summary = est.amip_summary(coef=0, cov_type="HC1")
        >>> r = summary.results[("x0", "significance")]
        >>> r.flipped, r.p_value >= 0.05
        (True, True)
        """
        if whole_pipeline.routes(self, "amip_summary"):
            whole_pipeline.refuse("amip_summary")
        check_is_fitted(self)
        return _amip.summary(
            self, coef, alpha=alpha, cov_type=cov_type, groups=groups, unit=unit,
            max_rows=max_rows, max_fraction=max_fraction, max_refits=max_refits,
            use_t=use_t, verbose=verbose,
        )


def _warn_unverified(result):
    """A :class:`~skrif.exceptions.VerificationWarning` when the exact refit of the
    chosen rows moved the audited quantity by more than 10% (or the other way)
    than their additive prediction: the rows were chosen on a prediction that was
    off, so a smaller or different set may also flip the conclusion."""
    predicted, actual = result.predicted_change, result.actual_change
    # The significance searches predict the t-statistic, not the change reported.
    comparable = getattr(result, "predicted_statistic", "coefficient") in (None, "coefficient")
    if len(result.rows) and comparable and verification_gap(predicted, actual)[1]:
        warn(
            f"Verified by an exact refit, removing the {len(result.rows)} chosen rows "
            f"changes {result.quantity} by {actual:.4g}, not the predicted "
            f"{predicted:.4g}: the additive prediction that chose them was off, so "
            "the set may not be the smallest.",
            VerificationWarning,
        )
