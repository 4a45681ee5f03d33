"""The attribution methods of :class:`~skrif.InfluenceEstimator`: parameter changes
(:meth:`influence`), effects on targets, score matrices, self-influence and top-k.

Thin wrappers over :mod:`skrif._features.attribution`.
"""




from .._core.influence import ParameterChange, check_fraction
from .._core.set_error import warn_unverified
from .._features import attribution as _attribution
from .._features.groups import group_scores
from .._features.influential import InfluentialRows
from .._utils.checks import (
    check_bool,
)
from .._utils.dask import fitted_on_dask, is_dask
from .._utils.frames import (
    change_as_frame,
)
from .dask_routing import dask_aware


class AttributionMixin:
    """Parameter changes and effects on targets of removing training rows."""

    @dask_aware
    def influence(
        self, X_removed_idx, *, method=None, as_frame=False, fraction=1.0, groups=None
    ):
        """Predict the parameter change caused by removing training rows.

        Parameters
        ----------
        X_removed_idx : array-like of int or bool
            Positional indices of the removed training rows (negative values count
            from the end; each row at most once), or a boolean mask of length
            ``n_samples``. An empty set gives a zero change. A boolean pandas
            Series is a mask keyed by row label and is aligned to
            ``training_index_``; a pandas Index or non-boolean Series holds row
            labels and is refused unless the training index is ``0..n-1``.
        method : {"if", "rif", "newton", "refit", "auto"}, default=None
            ``"if"``: classical influence function ``H⁻¹ Σ_T g_i``.
            ``"rif"``: rescaled influence function ``Σ_T H⁻¹ g_i / (1 − h_i)``, one
            exact Newton step on each leave-one-out objective, additive over ``T``;
            exact leave-one-out for least squares.
            ``"newton"``: one Newton step on the leave-T-out objective (Woodbury
            update of the factored Hessian, not additive); exact for least squares.
            ``"refit"``: the exact answer, by Newton's method on the leave-T-out
            objective to machine precision (warm-started, independent of the
            wrapped estimator's tolerance).
            ``"auto"``: the group Newton step for sets of 2 to 4096 rows (it sees
            how the rows interact; exact for least squares), RIF for single rows
            (where the two coincide) and larger sets; ``change.method`` says which.
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``.

            Additive answers (``"if"``, ``"rif"``) of sets of 2 to 4096 rows carry
            an error estimate, ``change.error_estimate`` (their distance to the
            group Newton step), and raise a
            :class:`~skrif.exceptions.SetInteractionWarning` when it exceeds 10%.
        as_frame : bool, default=False
            Return labelled pandas objects: ``coef`` as a Series indexed by
            feature name (a DataFrame with one row per output when ``coef_`` is
            2-D), ``intercept`` as a float or Series, and ``removed`` as the row
            labels of the training DataFrame (positions if ``X`` was not a
            DataFrame). Requires pandas.
        fraction : float, default=1.0
            Downweight the rows instead of removing them: their sample weights are
            multiplied by ``1 − fraction`` (1 removes them, 0.5 halves their
            weight, a negative value upweights them; between -1e6 and 1: beyond
            a million-fold weight the reweighted Hessian is too ill-conditioned
            for accurate answers). ``"if"`` scales
            the gradient by ``t = fraction``, ``"rif"`` is ``t H⁻¹ g_i / (1 − t
            h_i)`` per row (Sherman–Morrison: still the exact one-row Newton step,
            exact for least squares), ``"newton"`` ``(H − t Σ H_i)⁻¹ t Σ g_i`` and
            ``"refit"`` refits with the reweighted sample weights. For
            mean-form models (GLMs, SGD) and multinomial logistic regression,
            ``"newton"`` factors the reweighted Hessian afresh and ``"rif"`` does so
            once per row. ``SGD*`` models keep a downweighted row's share of the
            penalty (only removal drops it), as their objective does.
        groups : array-like of shape (n_samples,), default=None
            Group labels of the training rows (a category, a site, a user). When
            given, ``X_removed_idx`` holds the labels of the groups to remove (one
            label or a list), and all their rows are removed together.

        Returns
        -------
        change : ParameterChange
            ``change.coef`` and ``change.intercept`` are the parameters *without* the
            rows (or with them reweighted) minus *with* them, shaped like
            ``estimator_.coef_`` and ``estimator_.intercept_``.

        Notes
        -----
        With ``k`` removed rows: "if"/"rif" cost O(k p̃) plus one solve; "newton"
        O(k p̃² + k³) (primal) or O(k n² + k³) (dual); "refit" a few
        factorizations. Rows with leverage 1 make "rif" NaN (with a
        :class:`~skrif.exceptions.HighLeverageWarning`).
        """
        rm = self._fitted_removal()
        method = self._resolve_method(method, allow_auto=True)
        idx = self._set_rows(X_removed_idx, groups)
        fraction = check_fraction(fraction)
        as_frame = check_bool(as_frame, "as_frame")
        delta, method, error = self._answer_set(idx, method, fraction)
        coef, intercept = rm.objective.split_theta(delta, self._attributed.holder)
        change = ParameterChange(
            coef=coef, intercept=intercept, method=method, removed=idx, error_estimate=error,
            **rm.objective.split_extra(delta),
        )
        return change_as_frame(self, change) if as_frame else change

    @dask_aware
    def removal_effect(
        self,
        X_removed_idx,
        X,
        y=None,
        *,
        target="decision_function",
        method=None,
        linearized=False,
        fraction=1.0,
        groups=None,
        as_frame=False,
    ):
        """Predict how a target changes on evaluation rows when training rows are removed.

        The sign convention is **value without the rows minus value with them**: a
        positive effect means the target goes up once the rows are removed.

        Parameters
        ----------
        X_removed_idx : array-like of int or bool
            Positional indices of the removed training rows, or a boolean mask of
            length ``n_samples`` (as in :meth:`influence`).
        X : {array-like, sparse matrix} of shape (n_eval, n_features)
            Evaluation rows (e.g. a test set, or the training rows themselves).
        y : array-like of shape (n_eval,) or (n_eval, n_targets), default=None
            Their targets; required for ``target="loss"``, ignored otherwise.
        target : {"decision_function", "predict_proba", "predict", "loss"}, \
                default="decision_function"
            What to attribute, per evaluation row: ``"decision_function"`` the raw
            output ``z = x̃·θ`` (the logit of a classifier, the prediction of a
            least-squares regressor, the linear predictor of a GLM);
            ``"predict_proba"`` (classifiers with ``predict_proba``) the class
            probabilities; ``"predict"`` (regressors) the prediction (``e^z`` for
            log-link GLMs); ``"loss"`` the model family's own pointwise loss of
            the row as in its objective (log-loss, squared error, half deviance),
            without the loss scale ``C`` or sample weights.
        method : {"if", "rif", "newton", "refit", "auto"}, default=None
            How the parameter change is predicted (see :meth:`influence`);
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``. Additive
            answers for sets of 2 to 4096 rows raise a
            :class:`~skrif.exceptions.SetInteractionWarning` when they differ from
            the group Newton step by more than 10% on these evaluation rows.
        linearized : bool, default=False
            ``False`` evaluates the target at the predicted parameters,
            ``F(θ̂ + Δ) − F(θ̂)`` (what the paper plots); ``True`` returns the
            first-order change ``∇F(θ̂)·Δ``. Both coincide for the raw output.
        fraction : float, default=1.0
            Multiply the rows' sample weights by ``1 − fraction`` instead of
            removing them (1 removes, 0.5 halves, negative upweights; at least
            -1e6); see :meth:`influence`.
        groups : array-like of shape (n_samples,), default=None
            Group labels of the training rows; ``X_removed_idx`` then names the
            groups to remove (see :meth:`influence`).
        as_frame : bool, default=False
            Return a pandas Series (DataFrame for several outputs) indexed like
            ``X``'s rows.

        Returns
        -------
        effect : ndarray of shape (n_eval,) or (n_eval, n_outputs)
            One value per evaluation row; a trailing axis for targets with several
            outputs (the classes of ``predict_proba``, the targets of a multi-target
            regressor).

        Raises
        ------
        ValueError
            For an unknown ``target``, one not available for this estimator
            (``"predict_proba"`` on a regressor, ``"predict"`` on a classifier), or
            ``target="loss"`` without ``y``.

        See Also
        --------
        influence_scores : the effect of every single training row at once.

        Notes
        -----
        Cost: the parameter change of :meth:`influence` plus O(nnz(X) q) for the
        evaluation rows (q outputs of the model).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(40, 3)); y = X @ [1.0, 2.0, 0.0] + rng.normal(size=40)
        >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
        >>> effect = est.removal_effect([0, 5], X[:4], target="predict", method="newton")
        >>> refit = Ridge(alpha=1.0).fit(np.delete(X, [0, 5], axis=0), np.delete(y, [0, 5]))
        >>> bool(np.allclose(effect, refit.predict(X[:4]) - est.predict(X[:4])))
        True
        """
        target = self._target(target)
        method = self._resolve_method(method, allow_auto=True)
        if is_dask(X) and fitted_on_dask(self):
            # Lazy effects on dask evaluation rows (chunked like X); the set's error
            # estimate is then measured on the parameter change.
            idx = self._set_rows(X_removed_idx, groups)
            linearized = check_bool(linearized, "linearized")
            as_frame = check_bool(as_frame, "as_frame")
            delta, _, _ = self._answer_set(idx, method, check_fraction(fraction))
            from .._dask import lazy_effect

            effect = lazy_effect(self, X, y, target, delta, linearized)
            return self._rows_output(effect, target.name, as_frame) if as_frame else effect
        X_given = X
        X, Y = self._validate_eval(X, y, target)
        idx = self._set_rows(X_removed_idx, groups)
        fraction = check_fraction(fraction)
        linearized = check_bool(linearized, "linearized")
        as_frame = check_bool(as_frame, "as_frame")
        rm = self._fitted_removal()
        design = rm.design.for_rows(X)
        Z = design.matvec(rm.theta.T)
        J = target.derivative(Z, Y) if linearized else None

        def effect_of(delta):
            return _attribution._apply(target, Z, design.matvec(delta.T), Y, J, linearized)

        delta, _, _ = self._answer_set(idx, method, fraction, effect_of, "effect")
        return self._rows_output(
            target.finalize(effect_of(delta)), target.name, as_frame, X=X_given
        )

    @dask_aware
    def influence_scores(
        self, X, y=None, *, target="decision_function", method=None, groups=None,
        as_frame=False,
    ):
        """Linearized effect of removing each single training row on each evaluation row.

        ``scores[i, j]`` is the first-order change ``∇F_j(θ̂)·Δ_i`` of the target on
        evaluation row ``j`` when training row ``i`` alone is removed, with ``Δ_i``
        the rescaled (``"rif"``) or classical (``"if"``) influence of row ``i``.
        Sign convention: **value without the row minus value with it**. Column ``j``
        equals ``removal_effect([i], X[j:j+1], ..., linearized=True)`` for every
        ``i``, and effects of sets are sums of rows (additivity).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_eval, n_features)
            Evaluation rows.
        y : array-like of shape (n_eval,) or (n_eval, n_targets), default=None
            Their targets; required for ``target="loss"``, ignored otherwise.
        target : {"decision_function", "predict_proba", "predict", "loss"}, \
                default="decision_function"
            See :meth:`removal_effect`.
        method : {"if", "rif"}, default=None
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``. With ``groups``:
            ``{"if", "rif", "newton"}``, and ``None`` is ``"newton"``.
        groups : array-like of shape (n_samples,), default=None
            Group labels of the training rows: score whole groups instead of rows.
            ``scores[g]`` is then the effect of removing group ``labels[g]``
            (``labels = np.unique(groups)``), by the group Newton step per group
            (Woodbury, exact for least squares; the additive RIF sum, with a
            :class:`~skrif.exceptions.SetInteractionWarning`, for groups of more
            than 4096 rows), or the additive sum with ``method="if"``/``"rif"``.

        as_frame : bool, default=False
            Return a DataFrame indexed by the training rows' labels (or the group
            labels) with one column per evaluation row (labelled like ``X``'s rows;
            a column MultiIndex ``(row, output)`` for several outputs).

        Returns
        -------
        scores : ndarray of shape (n_samples, n_eval) or (n_samples, n_eval, n_outputs)
            Rows are training rows, columns evaluation rows; a trailing axis for
            targets with several outputs. Rows with leverage 1 are NaN under
            ``"rif"`` (with a :class:`~skrif.exceptions.HighLeverageWarning`); rows whose
            removal alone is undefined (the only training row of a class) are NaN
            under both methods (with an
            :class:`~skrif.exceptions.UndefinedRemovalWarning`).

        Notes
        -----
        ``scores = diag(c_i) · X̃ H⁻¹ X̃_evalᵀ · diag(∂F_j/∂z_j)`` with ``c_i`` the
        row's (rescaled) gradient coefficient. Computed by solves with blocks of
        ``b ≤ 2²² / p̃`` evaluation rows (O(p̃² n_eval) for ``p̃ ≤ n``, O(n p̃
        n_eval + n² n_eval) otherwise; only a block of evaluation rows is
        densified at a time) and products over blocks of training rows: O(n p̃
        n_eval) time, and O(p̃ b + block · b) memory beyond the (n, n_eval)
        result, whatever ``n_eval`` (sparse 2000 × 200 000 data: about 170 MB
        for 1000 evaluation rows, 230 MB for 5000).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(60, 4)); y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
        >>> est = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-10))
        >>> est = est.fit(X, y)
        >>> scores = est.influence_scores(X[:5], y[:5], target="loss")
        >>> scores.shape
        (60, 5)
        >>> one = est.removal_effect([7], X[:5], y[:5], target="loss", linearized=True)
        >>> bool(np.allclose(scores[7], one))
        True
        """
        target = self._target(target)
        as_frame = check_bool(as_frame, "as_frame")
        X_given = X
        index = None
        if groups is not None:
            X, Y = self._validate_eval(X, y, target)
            changes, groups = self._group_changes(groups, method)
            rm = self._fitted_removal()
            design = rm.design.for_rows(X)
            scores = target.finalize(group_scores(changes, design, rm.theta, target, Y))
            index = groups.labels
        else:
            method = self._additive_method(method, "influence_scores")
            X, Y = self._validate_eval(X, y, target)
            rm = self._fitted_removal()
            scores = rm.rowwise(_attribution.influence_scores, X, Y, target, method)
            scores = target.finalize(self._nan_undefined_removals(scores))
        if not as_frame:
            return scores
        from .._utils.frames import row_labels

        return self._rows_output(
            scores, target.name, True, index=index, columns=row_labels(X_given, X.shape[0])
        )

    @dask_aware
    def self_influence(
        self, *, target="loss", method=None, linearized=False, groups=None, as_frame=False
    ):
        """Effect of removing each training row on its own target.

        ``out[i]`` is the change of row ``i``'s own target (by default its loss) when
        row ``i`` alone is removed: **value without the row minus value with it**.
        Large positive values on the loss flag rows the model fits only because
        they are in the training set: self-attraction, the signature of poisoned
        rows and of outliers that bend a linear model toward themselves.

        It is **not** a mislabel score. It grows with the row's leverage, so
        correctly labelled but unusual rows rank first (measured on real tables
        with planted label noise it ranks wrong labels worse than the plain
        training loss); use :meth:`label_issues`, which judges each label by the
        leave-one-out probabilities, for wrong labels.

        Parameters
        ----------
        target : {"loss", "decision_function", "predict_proba", "predict"}, \
                default="loss"
            See :meth:`removal_effect`; the training rows' own targets are used.
        method : {"if", "rif"}, default=None
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``. For one row and a
            least-squares model, ``"rif"`` is the exact leave-one-out change.
        linearized : bool, default=False
            As in :meth:`removal_effect`: ``False`` evaluates the target at the
            predicted parameters; ``True`` gives the diagonal of
            :meth:`influence_scores` on the training data.
        groups : array-like of shape (n_samples,), default=None
            Group labels of the training rows: ``out[g]`` is then the change of the
            total target over group ``labels[g]``'s own rows when the whole group is
            removed (``labels = np.unique(groups)``), by the group Newton step
            (``method=None``; see :meth:`influence_scores`) or the additive sum.

        as_frame : bool, default=False
            Return a pandas Series (DataFrame for several outputs) indexed like the
            training rows (``training_index_``), or by group label with ``groups``.

        Returns
        -------
        self_influence : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            NaN for rows whose removal alone is undefined (the only training row
            of a class; an :class:`~skrif.exceptions.UndefinedRemovalWarning` is
            emitted), and for rows with leverage 1 under ``"rif"``.
            With ``groups``: shape (n_groups,) or (n_groups, n_outputs).

        Notes
        -----
        Only ``x̃_i H⁻¹ x̃_iᵀ`` per row is needed, computed by blockwise solves (no
        n × n matrix): O(n p̃²) for ``p̃ ≤ n``, O(n² p̃ + n³) otherwise.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(30, 2)); y = X @ [1.0, -1.0] + 0.1 * rng.normal(size=30)
        >>> y[4] += 5.0  # an outlier
        >>> est = InfluenceEstimator(Ridge(alpha=0.1)).fit(X, y)
        >>> loo_loss_change = est.self_influence(target="loss")
        >>> int(np.argmax(loo_loss_change))  # the model fits it only while it is in
        4
        >>> bool(np.all(loo_loss_change >= 0))  # removing a row never lowers its own loss
        True
        """
        target = self._target(target)
        as_frame = check_bool(as_frame, "as_frame")
        if groups is not None:
            values, groups = self._group_self_influence(groups, target, method, linearized)
            return self._rows_output(values, target.name, as_frame, index=groups.labels)
        method = self._additive_method(method, "self_influence")
        values = self._fitted_removal().rowwise(
            _attribution.self_influence, target, method,
            linearized=check_bool(linearized, "linearized"),
        )
        values = target.finalize(self._nan_undefined_removals(values))
        return self._rows_output(values, target.name, as_frame)

    @dask_aware
    def most_influential(
        self,
        X,
        y=None,
        *,
        k,
        target=None,
        direction="increase",
        method=None,
        output=None,
        verify=False,
        groups=None,
        as_frame=False,
        functional=None,
    ):
        """The ``k`` training rows whose joint removal most changes the summed target.

        Rows are ranked by their additive effect on ``Σ_j F_j`` over the evaluation
        rows (sign convention: **value without the rows minus value with them**),
        so the returned set is exactly the best ``k``-subset under additivity
        (first-order effects of single rows, summed).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_eval, n_features)
            Evaluation rows whose target is summed.
        y : array-like of shape (n_eval,) or (n_eval, n_targets), default=None
            Their targets; required for ``target="loss"``.
        k : int
            Number of training rows to return, ``1 ≤ k ≤ n_samples``.
        target : {"loss", "decision_function", "predict_proba", "predict"}, \
                default=None
            See :meth:`removal_effect`; ``None`` means ``"loss"``.
        direction : {"increase", "decrease"}, default="increase"
            Rows whose removal increases (largest effects) or decreases (most
            negative effects) the summed target. All ``k`` rows are returned even
            if some effects have the other sign.
        method : {"if", "rif"}, default=None
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``.
        output : int, default=None
            For targets with several outputs (``predict_proba``, multi-target
            regressors), the column to sum; required for them. Negative values
            count from the end.
        verify : bool, default=False
            Also refit the model exactly without the chosen rows. When the refit
            differs from the prediction by more than 10% or in sign, a
            :class:`~skrif.exceptions.VerificationWarning` says so (the refit is
            the answer).
        groups : array-like of shape (n_samples,), default=None
            Group labels of the training rows: rank whole groups instead (each by
            its group Newton step, see :meth:`influence_scores`; ``method`` may then
            also be ``"newton"``, the default); ``k`` counts groups, the result holds
            the rows of the ``k`` groups and ``result.groups`` their labels, best
            first. ``predicted`` is the sum of the groups' effects.
        as_frame : bool, default=False
            Make ``result.labels`` a pandas Index of the rows' labels.

        functional : Functional, default=None
            Instead of a summed target: rank rows by their effect on this
            functional of the outputs on the rows ``X`` (:mod:`skrif.functionals`,
            e.g. a fairness gap; ``y`` its reference targets), each evaluated at the
            row's predicted parameters (see :meth:`functional_influence`);
            ``predicted`` is the sum of the ``k`` effects and ``verify`` refits
            and recomputes the functional. ``target`` and ``output`` do not apply.

        Returns
        -------
        result : :class:`~skrif.InfluentialRows`
            The training row indices, largest effect first (an integer array of
            shape ``(k,)``), with ``result.rows`` (the plain array),
            ``result.predicted`` (the predicted additive change of the summed
            target) and ``result.actual`` (the change after an exact refit without
            the rows if ``verify``, else ``None``). A verified result also unpacks
            as ``rows, predicted, actual``. ``result.labels`` holds the rows'
            labels (``training_index_[rows]`` when fitted on a DataFrame, else the
            positions).

        Notes
        -----
        One solve with ``q`` right-hand sides and one pass over the training rows:
        O(nnz(X) q + p̃² q) after the fit (no n × n_eval matrix); ``verify`` adds
        one exact refit.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(50, 3)); y = X @ [1.0, 0.5, 0.0] + rng.normal(size=50)
        >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
        >>> result = est.most_influential(
        ...     X[:10], k=3, target="predict", direction="decrease", verify=True)
        >>> result.rows.shape
        (3,)
        >>> result.predicted < 0 and bool(np.isclose(result.predicted, result.actual, rtol=0.2))
        True
        """
        if functional is not None:
            if target is not None or output is not None:
                raise ValueError("Pass either target (with output) or functional, not both.")
            return self._most_influential_functional(
                functional, X, y, k, direction, method, verify, groups
            )
        target = self._target("loss" if target is None else target)
        as_frame = check_bool(as_frame, "as_frame")
        if groups is not None:
            result = self._most_influential_groups(
                X, y, target, k, direction, method, output, verify, groups
            )
            return self._with_labels(result, as_frame)
        method = self._additive_method(method, "most_influential")
        k = _attribution.check_k(k, self._removal.n_samples)
        direction = _attribution.check_direction(direction)
        output = _attribution.check_output(target, output)
        X, Y = self._validate_eval(X, y, target)
        verify = check_bool(verify, "verify")
        found = _attribution.most_influential(
            self._removal, X, Y, target, k,
            direction, method, output=output, verify=verify, with_predicted=True,
        )
        result = InfluentialRows(*found)
        if verify:
            warn_unverified(result.predicted, result.actual,
                            f"the {k} most influential rows")
        return self._with_labels(result, as_frame)

    def _with_labels(self, result, as_frame):
        """Attach the rows' labels to an :class:`InfluentialRows`."""
        index = getattr(self, "training_index_", None)
        if as_frame:
            from .._utils.frames import _import_pandas, _training_index

            index = _training_index(self, _import_pandas())
        result.labels = result.rows if index is None else index[result.rows]
        return result
