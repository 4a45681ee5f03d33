"""The estimator's functional methods: thin wrappers over :mod:`skrif._features.functionals`."""

import numbers

import numpy as np
from sklearn.utils.validation import column_or_1d

from .._core.influence import check_fraction
from .._features import amip as _amip
from .._features import attribution as _attribution
from .._features import audit as _audit
from .._features import functionals as _functionals
from .._features.influential import InfluentialRows
from .._utils.checks import check_bool, check_eval_targets
from .._utils.dask import fitted_on_dask
from . import whole_pipeline


class FunctionalsMixin:
    """:meth:`functional_influence` and :meth:`functional_effect` of
    :class:`~skrif.InfluenceEstimator`."""

    def _functional_reference(self, functional, X_ref, y_ref):
        """The functional bound to this model and validated reference rows."""
        if fitted_on_dask(self):
            raise NotImplementedError(
                "Functionals (functional_influence, functional_effect and functional= "
                "elsewhere) are not available for an estimator fitted on Dask; fit it on "
                "in-memory data."
            )
        rm = self._fitted_removal()
        functional = _functionals.check_functional(functional)
        X_ref = self._validate_X(X_ref)
        objective = rm.objective
        if objective.is_classifier:
            multi_output = rm.n_outputs > 1
        else:
            multi_output = objective.multi_output(self.estimator_)
        Y = None
        if y_ref is not None:
            Y = check_eval_targets(
                y_ref, X_ref.shape[0], self._target("loss"), objective, self.estimator_,
                getattr(self, "classes_", None), rm.n_outputs,
            )
            y_ref = column_or_1d(y_ref) if objective.is_classifier else np.asarray(y_ref, float)
        return _functionals.bind(
            functional, objective, self.estimator_, rm.n_outputs, multi_output, X_ref, y_ref,
            Y, rm.theta, rm.design.for_rows,
        )

    def functional_influence(
        self, functional, X_ref, y_ref=None, *, method=None, groups=None, linearized=False,
        as_frame=False,
    ):
        """Effect of removing each training row (or group) on a functional.

        ``out[i] = F(without row i) − F(fitted model)`` for a scalar ``F`` of the
        model's outputs on the reference rows (:mod:`skrif.functionals`: accuracy,
        ROC AUC, log-loss, calibration error, fairness gaps, worst-group loss, any
        metric through :meth:`Functional.from_callable
        <skrif.functionals.Functional.from_callable>`). Sign convention: **value
        without the row minus value with it**.

        Parameters
        ----------
        functional : Functional
            What to attribute.
        X_ref : {array-like, sparse matrix} of shape (n_ref, n_features)
            The reference rows the functional is computed on (a test set, a
            subgroup, the training rows themselves).
        y_ref : array-like of shape (n_ref,) or (n_ref, n_targets), default=None
            Their targets; required when the functional reads them
            (``functional.needs_y``).
        method : {"if", "rif"}, default=None
            The single-row parameter changes ``Δ_i``; ``None`` uses ``"rif"`` if
            ``rescaled`` else ``"if"``. With ``groups``: ``{"if", "rif",
            "newton"}``, ``None`` meaning the group Newton step.
        groups : array-like of shape (n_samples,), default=None
            Group labels of the training rows: the effect of removing each whole
            group (``labels = np.unique(groups)``), by the group Newton step per
            group (see :meth:`influence_scores`).
        linearized : bool, default=False
            ``False`` (default): the functional recomputed at each row's predicted
            parameters ``θ̂ + Δ_i`` — exact for least squares with RIF, and the only
            answer for functionals that are step functions of the parameters
            (accuracy, ROC AUC, gaps of hard decisions: refused with ``True``).
            ``True`` (smooth functionals): the first-order chain rule
            ``∇_θF(θ̂)·Δ_i``, cheaper.
        as_frame : bool, default=False
            Return a pandas Series indexed by the training rows' labels
            (``training_index_``; the group labels with ``groups``).

        Returns
        -------
        effects : ndarray of shape (n_samples,) or (n_groups,)
            NaN for rows whose removal alone is undefined (the only training row of
            a class; :class:`~skrif.exceptions.UndefinedRemovalWarning`) and, under
            ``"rif"``, rows with leverage 1.

        Raises
        ------
        ValueError
            For a functional of the wrong kind for this model (probabilities of a
            regressor, ROC AUC of a multi-class model), a missing ``y_ref`` it
            needs, reference groups of another length, or ``linearized=True`` with
            a step function.

        Notes
        -----
        Default: blocks of training rows, each block's parameter steps (O(p̃²) per
        row in the primal form), their effect on the reference rows (O(p̃ n_ref q)
        per row) and the functional's batched change; no n × n_ref matrix is kept.
        The functional's own cost per training row is O(n_ref) for means, rates
        and gaps, O(n_ref) comparisons plus a sort of the reference rows whose
        order changes for ROC AUC, O(n_ref log n_ref) for average precision, one
        Python call for :meth:`~skrif.functionals.Functional.from_callable`.
        ``linearized=True``: one solve with q columns and one pass over the
        training rows.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skrif import InfluenceEstimator
        >>> from skrif.functionals import roc_auc
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(80, 3)); y = (X[:, 0] + rng.normal(size=80) > 0).astype(int)
        >>> est = InfluenceEstimator(LogisticRegression(tol=1e-10)).fit(X[:60], y[:60])
        >>> effects = est.functional_influence(roc_auc(), X[60:], y[60:])
        >>> effects.shape
        (60,)
        """
        if whole_pipeline.routes(self, "functional_influence"):
            whole_pipeline.refuse("functional_influence")
        linearized = check_bool(linearized, "linearized")
        as_frame = check_bool(as_frame, "as_frame")
        ref = self._functional_reference(functional, X_ref, y_ref)
        rm = self._fitted_removal()
        if groups is not None:
            changes, groups = self._group_changes(groups, method)
            values = _functionals.group_effects(changes, ref, linearized)
            index = groups.labels
        else:
            method = self._additive_method(method, "functional_influence")
            values = self._nan_undefined_removals(
                _functionals.row_effects(rm, ref, method, linearized)
            )
            index = None
        if not as_frame:
            return values
        from .._utils.frames import _import_pandas, _training_index

        pd = _import_pandas()
        index = _training_index(self, pd) if index is None else pd.Index(index, name="group")
        return pd.Series(values, index=index, name=ref.functional.name)

    def functional_effect(
        self, X_removed_idx, functional, X_ref, y_ref=None, *, method=None, linearized=False,
        fraction=1.0, groups=None,
    ):
        """Change of a functional when a set of training rows is removed.

        ``F(θ̂ + Δ) − F(θ̂)`` with the set's parameter change ``Δ`` (see
        :meth:`influence`); sign convention: **value without the rows minus value
        with them**.

        Parameters
        ----------
        X_removed_idx : array-like of int or bool
            The removed training rows (as in :meth:`influence`), or group labels
            with ``groups``.
        functional : Functional
        X_ref : {array-like, sparse matrix} of shape (n_ref, n_features)
        y_ref : array-like of shape (n_ref,), default=None
        method : {"if", "rif", "newton", "refit", "auto"}, default=None
            As in :meth:`influence`: ``"refit"`` is exact, ``"newton"`` the group
            Newton step (exact for least squares). Additive answers for sets of 2 to
            4096 rows raise a :class:`~skrif.exceptions.SetInteractionWarning` when
            they differ from the group Newton step by more than 10% on this
            functional.
        linearized : bool, default=False
            ``True``: the first-order change ``∇_θF(θ̂)·Δ`` (smooth functionals).
        fraction : float, default=1.0
            Reweight the rows by ``1 − fraction`` instead of removing them.
        groups : array-like of shape (n_samples,), default=None
            Group labels; ``X_removed_idx`` then names groups.

        Returns
        -------
        change : float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from skrif import InfluenceEstimator
        >>> from skrif.functionals import mean_loss
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(50, 3)); y = X @ [1.0, 0.5, 0.0] + rng.normal(size=50)
        >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X[:40], y[:40])
        >>> change = est.functional_effect([0, 3], mean_loss(), X[40:], y[40:], method="newton")
        >>> refit = Ridge(alpha=1.0).fit(np.delete(X[:40], [0, 3], 0), np.delete(y[:40], [0, 3]))
        >>> mse = lambda m: np.mean((y[40:] - m.predict(X[40:])) ** 2)
        >>> bool(np.isclose(change, mse(refit) - mse(est)))
        True
        """
        if whole_pipeline.routes(self, "functional_effect"):
            whole_pipeline.refuse("functional_effect")
        method = self._resolve_method(method, allow_auto=True)
        idx = self._set_rows(X_removed_idx, groups)
        fraction = check_fraction(fraction)
        linearized = check_bool(linearized, "linearized")
        ref = self._functional_reference(functional, X_ref, y_ref)

        def measure(delta):
            return _functionals.set_change(ref, delta, linearized)

        delta, _, _ = self._answer_set(idx, method, fraction, measure, "functional change")
        return measure(delta)

    def _functional_to_threshold(
        self, X, y, functional, threshold, *, coef, conclusion, unit, method, max_rows,
        max_refits, max_fraction,
    ):
        """:meth:`removal_to_flip` for a functional: see its ``functional=``."""

        if functional is None or threshold is None:
            raise ValueError("Pass both functional= and threshold= (the value to reach).")
        if (
            not isinstance(threshold, numbers.Real) or isinstance(threshold, bool)
            or not np.isfinite(threshold)
        ):
            raise ValueError(f"threshold must be a finite number; got {threshold!r}.")
        if X is None:
            raise ValueError("With functional=, X holds the reference rows the functional is computed on.")
        if coef is not None or conclusion != "sign" or unit != "rows":
            raise ValueError(
                "With functional=, coef, conclusion and unit do not apply (the search removes "
                "rows until the functional reaches the threshold)."
            )
        ref = self._functional_reference(functional, X, y)
        rm = self._fitted_removal()
        max_rows = _amip.cap_for(rm.n_samples, max_rows, max_fraction)
        max_refits = 10 if max_refits is None else _audit.check_positive_int(max_refits, "max_refits")
        return _functionals.removal_to_threshold(rm, ref, threshold, method, max_rows, max_refits)

    def _most_influential_functional(self, functional, X, y, k, direction, method, verify, groups):
        """:meth:`most_influential` for a functional: see its ``functional=``."""

        rm = self._fitted_removal()
        direction = _attribution.check_direction(direction)
        verify = check_bool(verify, "verify")
        ref = self._functional_reference(functional, X, y)
        if groups is not None:
            changes, groups = self._group_changes(groups, method)
            scores = _functionals.group_effects(changes, ref)
            k = _attribution.check_k(k, groups.n_groups)
            best = _attribution.top_k(scores, k, direction)
            rows = groups.rows(np.sort(best))
        else:
            method = self._additive_method(method, "most_influential")
            k = _attribution.check_k(k, rm.n_samples)
            scores = self._nan_undefined_removals(_functionals.row_effects(rm, ref, method))
            best = rows = _attribution.top_k(scores, k, direction)
        actual = None
        if verify:
            actual = ref.change(rm.parameter_change(np.sort(rows), "refit"))
        result = InfluentialRows(rows, float(np.sum(scores[best])), actual)
        if groups is not None:
            result.groups = groups.labels[best]
        return result
