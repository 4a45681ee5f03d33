"""InfluenceEstimator: the scikit-learn meta-estimator (plumbing only).

The estimator clones and fits the wrapped linear model, rebuilds its exact objective
(:mod:`skrif._objectives`), makes sure the fit is at the optimum, factors the Hessian
once (:mod:`skrif._removal.rank_one`) and keeps the fitted removal state in one
:class:`skrif._core.fitted.RemovalModel` (``self._removal``), through which every removal
question is answered.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from .._core.fitted import RemovalModel
from .._core.fitting import (
    check_prefit,
    polish_tol,
    warn_leverage_one_rows,
    warn_singular,
)
from .._core.fitting import optimality_message as _optimality_message
from .._core.newton import NewtonSteps
from .._core.problem import Problem, warn_not_converged
from .._core.problems import make_problem
from .._core.separation import check_finite_optimum, check_polish_bounded
from .._objectives import objective_class_for
from .._preprocess.sets import as_design
from .._removal import SOLVERS, choose_solver
from .._utils.checks import (
    check_class_weight_values,
    check_effective_weights,
    check_finite_state,
    check_finite_values,
)
from .._utils.frames import (
    check_same_row_order,
    training_index_of,
)
from .._utils.params import check_params
from .._utils.warn import warn
from ..exceptions import (
    DataChangedError,
    OptimalityWarning,
    UnsupportedModelError,
)
from .attribution import AttributionMixin
from .audit import AuditMixin
from .base import RemovalQueries, _estimator_has
from .conformal import ConformalMixin
from .dask_routing import dask_aware, route_fit
from .diagnostics import DiagnosticsMixin
from .functionals import FunctionalsMixin
from .groups import GroupsMixin
from .label_issues import LabelIssuesMixin
from .wrapped import attributed, describe, transformed_target

#: Private fitted state removed when a fit is refused.
_FIT_STATE = (
    "_removal", "_model_theta", "_frozen_names", "_attributed", "_preprocessing",
    "_pipeline_removal", "_fit_targets",
)


def _n_rows(X):
    return X.shape[0]


def _final_step(estimator):
    """The (unfitted) model at the end of a pipeline or inside a frozen wrapper."""
    if isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def _validated_targets(y, classifier):
    """``y`` as ``validate_data`` checks it, for raw pipeline input (X unchecked)."""
    from sklearn.utils.validation import check_array, column_or_1d

    if classifier:
        return column_or_1d(y, warn=True)
    return check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")


def _fit_pipeline(pipe, X, y, sample_weight, frozen):
    """Fit ``pipe``'s steps as ``Pipeline.fit`` does and return the features its last
    step saw (float64, CSR or dense), the last step and whether it is frozen.

    The final step gets ``sample_weight`` (the preprocessing is unweighted, as in
    ``pipe.fit(X, y, model__sample_weight=w)``).
    """
    pre, final = pipe[:-1], pipe[-1]
    if frozen:
        Z = pre.transform(X)
    else:
        Z = pre.fit_transform(X, y)
    Z = as_design(Z)
    values = Z.data if hasattr(Z, "data") and not isinstance(Z, np.ndarray) else Z
    if not np.all(np.isfinite(values)):
        raise ValueError(
            "The pipeline's preprocessing outputs NaN or infinite features (e.g. missing "
            "values with no imputer): the final model cannot be attributed. Add a "
            "SimpleImputer for the columns with missing values."
        )
    final_frozen = frozen or isinstance(final, FrozenEstimator)
    if not final_frozen:
        if sample_weight is None:
            final.fit(Z, y)
        else:
            final.fit(Z, y, sample_weight=sample_weight)
    return Z, final, final_frozen


class InfluenceEstimator(
    AttributionMixin,
    GroupsMixin,
    AuditMixin,
    DiagnosticsMixin,
    ConformalMixin,
    FunctionalsMixin,
    LabelIssuesMixin,
    RemovalQueries,
    MetaEstimatorMixin,
    BaseEstimator,
):
    """Fit a linear model and predict what it would be without some training rows.

    The wrapped estimator is cloned and fitted as usual; skrif then rebuilds the
    exact objective it minimised, factors the Hessian ``H`` once, and answers
    *"what would the parameters be without rows T?"* with the classical influence
    function (IF), the rescaled influence function (RIF), a group Newton step, or an
    exact refit. The sign convention everywhere is **value without the rows minus
    value with them**.

    It is a classifier when the wrapped estimator is one (``classes_``, ``score``
    is accuracy, stratified cross-validation) and a regressor otherwise.

    Parameters
    ----------
    estimator : estimator object, default=None
        The linear model to fit and attribute; ``None`` means
        ``LogisticRegression()``. Supported: ``Ridge``, ``LinearRegression`` (single
        and multi-target, dense or sparse ``X``), ``RidgeClassifier``,
        ``LogisticRegression`` (binary or multinomial) with an L2 penalty or none
        (any solver), ``PoissonRegressor``, ``GammaRegressor``, ``TweedieRegressor``,
        and ``SGDRegressor(loss="squared_error")`` / binary
        ``SGDClassifier(loss="log_loss")`` with ``penalty="l2"`` (always polished to
        their exact optimum; see the "Supported models" guide). Anything else raises
        :class:`~skrif.exceptions.UnsupportedModelError` in :meth:`fit`.
        A model trained elsewhere can be attributed without refitting it by
        wrapping it in :class:`sklearn.frozen.FrozenEstimator`; :meth:`fit` then
        only needs the data it was trained on.

        Also accepted, around any of these: a scikit-learn
        :class:`~sklearn.pipeline.Pipeline` ending in one (removing rows then
        removes them from every step's fit, see ``preprocessing``; every method
        takes raw rows, as the pipeline does); the CV-selected ``RidgeCV``,
        ``RidgeClassifierCV`` and ``LogisticRegressionCV`` (attributed at their
        selected ``alpha_`` / ``C_``, see ``hyperparameters``); and
        :class:`~sklearn.compose.TransformedTargetRegressor` (its regressor on the
        transformed target; ``target="predict"`` effects in the original scale).
        See the "Pipelines and model selection" guide.
    rescaled : bool, default=True
        Default ``method`` of :meth:`influence`: ``True`` uses the rescaled
        influence function ``"rif"``, ``False`` the classical ``"if"``.
    polish : bool, default=True
        When the wrapped fit is not at the optimum of its own objective (its
        relative Newton step, :attr:`optimality_gap_`, exceeds 1e-10 — scikit-learn's
        default ``lbfgs`` tolerance usually leaves 1e-5..1e-3), refine it with
        Newton steps on the reconstructed objective and write the polished
        coefficients back into :attr:`estimator_`, so predictions and attributions
        describe the same model. A successful polish is silent: the gap before it
        stays in :attr:`optimality_gap_` and the steps taken in
        :attr:`n_polish_steps_`. A gap above 1e-6 emits an
        :class:`~skrif.exceptions.OptimalityWarning` only where the user must act:
        with ``polish=False`` (the coefficients are kept and attributions are
        computed at them), when polishing does not converge, and for a frozen
        model (:class:`~sklearn.frozen.FrozenEstimator`), which is never
        modified: with ``polish=True`` the polished parameters are kept inside
        skrif and attributions describe changes from that optimum, while
        ``estimator_`` and predictions stay exactly the user's model.
    preprocessing : {"refit", "fixed"}, default="refit"
        For a :class:`~sklearn.pipeline.Pipeline`: ``"refit"`` answers for the
        whole pipeline — without the rows, every fitted step (a scaler's means and
        scales, an imputer's values, an encoder's categories) is refitted too, as
        ``clone(pipeline).fit(X_kept, y_kept)`` would; ``"fixed"`` answers for the
        final model with this preprocessing held fixed (its statistics from all
        rows). Both take raw rows. The approximate methods need to know how each
        step's statistics move: StandardScaler, MinMaxScaler, MaxAbsScaler,
        RobustScaler, SimpleImputer, MissingIndicator, OneHotEncoder,
        PolynomialFeatures, SplineTransformer with fixed knots, FunctionTransformer,
        and ColumnTransformer / FeatureUnion / Pipeline of these; with any other
        fitted step only ``method="refit"`` is available under ``"refit"``.
        Ignored for other estimators.
    hyperparameters : {"fixed", "reselect"}, default="fixed"
        For CV-selected models: ``"fixed"`` attributes the model at the selected
        value (identical to wrapping the plain model at it); ``"reselect"`` makes
        ``method="refit"`` refit the CV estimator itself on the kept rows
        (selection included, then the exact optimum at the value it selects). The
        approximate methods always hold the selection fixed. Ignored for other
        estimators.
    solver : {"auto", "direct", "iterative"}, default="auto"
        How the Hessian is solved. ``"direct"`` factors it (p̃ × p̃, or n × n when
        parameters outnumber rows); ``"iterative"`` never forms it: conjugate
        gradients on Hessian-vector products, exact (to a relative residual of
        1e-10) for the rows and sets asked, with all-row leverages estimated by a
        randomized sketch with per-row intervals (:attr:`leverage_bounds_`; models
        with a rank-one per-row Hessian and a penalty on every coefficient only).
        ``"auto"`` is direct unless two dense ``min(n, p̃)²`` arrays would exceed
        8 GiB. See the guide page "Large and sparse problems".

    Attributes
    ----------
    estimator_ : estimator object
        The fitted (and possibly polished) clone of ``estimator`` (the whole
        pipeline for a Pipeline).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit` (only for inputs with string
        column names).
    classes_ : ndarray of shape (n_classes,)
        Class labels (classifiers only).
    training_index_ : pandas.Index of shape (n_samples,)
        Row labels of ``X`` in :meth:`fit`, only when ``X`` was a pandas
        DataFrame; used to label outputs (``as_frame=True``).
    leverages_ : ndarray of shape (n_samples,)
        Generalized leverage ``h_i = d_i x̃_iᵀ H⁻¹ x̃_i`` of each training row,
        with ``d_i`` the row's curvature (``c s_i ℓ''``). ``0 ≤ h_i ≤ 1``. For
        mean-form models (GLMs, SGD) ``H`` is the Hessian without the row's share
        of the penalty; for multinomial models ``h_i`` is the largest eigenvalue
        of the row's K × K leverage block (see the "Supported models" guide).
    leverage_bounds_ : ndarray of shape (n_samples, 2)
        A 95% interval for each leverage: both ends equal to ``leverages_`` when
        they are exact (``solver_="direct"``, and rows recomputed exactly), the
        randomized estimate's exact F-distribution interval otherwise.
    solver_ : {"direct", "iterative"}
        The solver used (``solver="auto"`` resolved).
    rescale_factors_ : ndarray of shape (n_samples,)
        ``1 / (1 − h_i)``: the factor by which RIF exceeds IF for each row when
        per-row Hessians are rank one (least squares, binary logistic); the
        largest amplification for multinomial models, and only indicative for
        mean-form models, whose RIF also removes a penalty share; ``inf`` where
        ``1 − h_i ≤ 1e-8`` (such rows are reported by a
        :class:`~skrif.exceptions.HighLeverageWarning`).
    optimality_gap_ : float
        ``‖H⁻¹ ∇J(θ)‖ / ‖θ‖`` for the coefficients the wrapped estimator returned:
        how far its fit was from the optimum (before any polishing).
    n_polish_steps_ : int
        Newton steps skrif took to polish the fit (0 if none).
    hessian_rank_ : int
        Numerical rank of the Hessian; less than the number of parameters means the
        model is not identified and a pseudo-inverse is used
        (:class:`~skrif.exceptions.SingularHessianWarning`).

    See Also
    --------
    skrif.ParameterChange : what :meth:`influence` returns.

    Notes
    -----
    Cost of :meth:`fit` beyond the wrapped fit, with ``p̃`` parameters per output and
    ``n`` rows: O(n p̃² + p̃³) time and O(p̃²) memory when ``p̃ ≤ n`` (Cholesky of
    ``H``); O(n² p̃ + n³) time and O(n²) memory when ``p̃ > n`` and every
    coefficient is penalised (an n × n kernel factorization; no p̃ × p̃ matrix). The
    training ``X`` is kept by reference, not copied (unless validation had to
    convert it): do not modify it while the fitted estimator is in use — a checksum
    of each row taken at :meth:`fit` (O(nnz(X)) time, 2n floats) is verified before
    refits and row gathers, and a change raises
    :class:`~skrif.exceptions.DataChangedError`, as does editing the coefficients of
    the attributed model after :meth:`fit`. Targets and sample weights are copied
    (O(n q) memory).

    References
    ----------
    Rubinstein & Hopkins, "Rescaled Influence Functions: Accurate Data Attribution
    in High Dimension", NeurIPS 2025, arXiv:2506.06656.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skrif import InfluenceEstimator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 5)); y = X @ np.arange(5.0) + rng.normal(size=50)
    >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    >>> change = est.influence([3, 17])
    >>> change.coef.shape
    (5,)
    >>> exact = est.influence([3, 17], method="refit")
    >>> bool(np.allclose(est.influence([3, 17], method="newton").coef, exact.coef))
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "rescaled": ["boolean"],
        "polish": ["boolean"],
        "preprocessing": [StrOptions({"refit", "fixed"})],
        "hyperparameters": [StrOptions({"fixed", "reselect"})],
        "solver": [StrOptions(set(SOLVERS))],
    }

    def __init__(
        self, estimator=None, *, rescaled=True, polish=True, preprocessing="refit",
        hyperparameters="fixed", solver="auto",
    ):
        self.estimator = estimator
        self.rescaled = rescaled
        self.polish = polish
        self.preprocessing = preprocessing
        self.hyperparameters = hyperparameters
        self.solver = solver

    # -- scikit-learn plumbing -----------------------------------------------
    def _get_estimator(self):
        return LogisticRegression() if self.estimator is None else self.estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._get_estimator())
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags = inner.target_tags
        tags.input_tags.sparse = True
        return tags

    @property
    def classes_(self):
        """Class labels of the wrapped classifier."""
        return self.estimator_.classes_

    def _check_params(self):
        """Validate the constructor parameters against ``_parameter_constraints``.

        Called in :meth:`fit` and again by every method that reads a parameter, so
        ``set_params(rescaled="no")`` after ``fit`` raises instead of being read as
        truthy.
        """
        check_params(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller=type(self).__name__,
            messages={
                "rescaled": "True or False", "polish": "True or False",
                "preprocessing": "'refit' (the whole pipeline) or 'fixed' (the final model "
                                 "with the preprocessing held fixed)",
                "hyperparameters": "'fixed' or 'reselect'",
                "solver": "'auto', 'direct' or 'iterative'",
            },
            estimator_params=True,
        )

    def _fitted_removal(self):
        """The fitted :class:`~skrif._core.fitted.RemovalModel`, after checking that the
        attributed model still has the coefficients it was built on (a frozen model
        edited after wrapping, or an edited ``estimator_``, is refused)."""
        check_is_fitted(self)
        model = self._attributed.holder
        rm = self._removal
        try:
            current = rm.objective.get_theta(model)
        except (AttributeError, ValueError):
            current = None
        if current is None or not np.array_equal(current, self._model_theta):
            raise DataChangedError(
                f"The coefficients of the fitted {type(model).__name__} changed after "
                "InfluenceEstimator.fit (e.g. coef_ or intercept_ was edited, or the "
                "model inside a FrozenEstimator was refitted): attributions describe "
                "the model as it was at fit. Call fit again to attribute the current "
                "model."
            )
        return rm

    def _validate_sample_weight(self, sample_weight, n_samples):
        if sample_weight is None:
            return None
        if isinstance(sample_weight, numbers.Number):
            sample_weight = np.full(n_samples, sample_weight, dtype=float)
        # A copy (n floats): the weights define the objective every later removal
        # refits, so a caller reusing and changing their array must not change it.
        sw = np.array(sample_weight, dtype=float)
        if sw.shape != (n_samples,):
            raise ValueError(
                f"sample_weight must have shape ({n_samples},) to match X; got {sw.shape}."
            )
        if not np.all(np.isfinite(sw)):
            raise ValueError("sample_weight contains NaN or infinity.")
        if np.any(sw < 0):
            raise ValueError("sample_weight must be non-negative.")
        if not np.any(sw > 0):
            raise ValueError("All sample weights are zero: there is nothing to fit.")
        return sw

    # -- fit -------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Fit the wrapped estimator and factor the Hessian of its objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. It is not modified and is kept by reference.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets (class labels for classifiers).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; used by the wrapped fit and by the Hessian
            (a weight of 0 is equivalent to removing the row).

        Returns
        -------
        self : InfluenceEstimator
            The fitted meta-estimator.

        Raises
        ------
        skrif.exceptions.UnsupportedModelError
            If the wrapped estimator or one of its settings is not supported.
        skrif.exceptions.NoFiniteOptimumError
            If the objective has no finite optimum on these data (an unpenalised
            or effectively unpenalised model on separable or quasi-separable
            classes, or with a class or level pinned by one feature), or polishing
            runs the coefficients away.
        sklearn.utils._param_validation.InvalidParameterError
            If a constructor parameter is invalid (also raised by every method
            that reads it, e.g. after ``set_params``).
        """
        self._check_params()
        if (fitted := route_fit(self, X, y, sample_weight)) is not None:
            return fitted  # X is a dask array: skrif._dask fits it on the cluster
        estimator = self._get_estimator()
        objective_cls = describe(estimator)  # refuses unsupported wrappers up front
        frozen = isinstance(estimator, FrozenEstimator)
        inner = estimator.estimator if frozen else estimator
        pipeline = isinstance(inner, Pipeline)
        classifier = objective_cls.is_classifier
        training_index = training_index_of(X)
        check_same_row_order(X, y, "y")
        check_same_row_order(X, sample_weight, "sample_weight")
        X_raw = X
        if pipeline:
            # The pipeline validates its own input; skrif records the columns.
            validate_data(self, X, skip_check_array=True)
            y = _validated_targets(y, classifier)
            check_consistent_length(X, y)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse="csr",
                dtype=np.float64,
                multi_output=not classifier,
                y_numeric=not classifier,
            )
        if classifier:
            check_classification_targets(y)
        sample_weight = self._validate_sample_weight(sample_weight, _n_rows(X))
        if classifier:  # before any fit runs on them
            check_class_weight_values(_final_step(inner), y, sample_weight)

        if training_index is not None:
            self.training_index_ = training_index
        elif hasattr(self, "training_index_"):
            del self.training_index_
        for name in ("_pipeline_removal", "_preprocessing"):
            vars(self).pop(name, None)

        # A FrozenEstimator is attributed as it is: clone returns it unchanged and
        # it is never refitted (see "Prefit models" in the user guide).
        self.estimator_ = clone(estimator)
        fitted = self.estimator_.estimator if frozen else self.estimator_
        if pipeline:
            X, final, frozen = _fit_pipeline(fitted, X_raw, y, sample_weight, frozen)
            self._preprocessing = fitted[:-1]
        else:
            final = fitted
            if not frozen:
                if sample_weight is None:
                    final.fit(X, y)
                else:
                    final.fit(X, y, sample_weight=sample_weight)
        att = attributed(final)
        model = att.twin
        # A frozen model fitted on a DataFrame checks feature names itself.
        self._frozen_names = frozen and not pipeline and hasattr(att.holder, "feature_names_in_")
        if frozen:
            check_prefit(att.holder, X.shape[1],
                         None if pipeline else getattr(self, "feature_names_in_", None))
        y_model = y if att.target_transformer is None else transformed_target(att.target_transformer, y)

        objective = objective_cls(model)
        if classifier:
            objective.check_classes(model)
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        weights = objective.effective_weights(y_model, weights, model)
        check_effective_weights(weights)
        Y = objective.encode_targets(y_model, model)
        objective.check_targets(Y)  # a frozen model was not refitted on these y
        problem = make_problem(objective, X, Y, weights)
        self._attributed = att
        try:
            self._set_optimum(problem, objective.get_theta(att.holder), frozen=frozen)
        except Exception:
            # A refused fit leaves no fitted state behind (not even a previous one).
            for name in list(vars(self)):
                fitted = name.endswith("_") and not name.startswith("__")
                if fitted or name in _FIT_STATE:
                    del self.__dict__[name]
            raise
        self._model_theta = objective.get_theta(att.holder)
        # Targets and weights as the final model saw them (reselecting refits).
        self._fit_targets = (np.array(y_model, copy=True), sample_weight)
        if pipeline and self.preprocessing == "refit":
            from .._preprocess.removal import PipelineRemoval

            if getattr(objective, "problem_kind", "smooth") == "kernel":
                for name in list(vars(self)):
                    if (name.endswith("_") and not name.startswith("__")) or name in _FIT_STATE:
                        del self.__dict__[name]
                raise UnsupportedModelError(
                    f"{type(att.holder).__name__} at the end of a Pipeline is supported with "
                    "preprocessing='fixed' (the kernel model with this preprocessing held "
                    "fixed); whole-pipeline removal (preprocessing='refit') is not "
                    "implemented for kernel models."
                )

            self._pipeline_removal = PipelineRemoval(
                self._removal, self._preprocessing, X_raw, y, self._coef_names(),
                reselect=self._reselect_on if self._reselects() else None,
            )
        return self

    def _reselect_on(self, Z, kept):
        """The final CV model refitted with its selection on features ``Z`` of the
        kept rows: ``(objective, Y, weights)`` at the value it selects there."""
        from .wrapped import reselected

        y, weights = self._fit_targets
        w = None if weights is None else weights[kept]
        twin = reselected(self._attributed.holder, Z, y[kept], w).twin
        objective = objective_class_for(twin)(twin)
        base = np.ones(kept.size) if w is None else w
        return (objective, objective.encode_targets(y[kept], twin),
                objective.effective_weights(y[kept], base, twin))

    def _coef_names(self):
        """Names of the attributed model's coefficients: the preprocessing's output
        names for a pipeline, the input columns otherwise (``None`` if unnamed)."""
        pre = getattr(self, "_preprocessing", None)
        if pre is None:
            names = getattr(self, "feature_names_in_", None)
            return None if names is None else [str(n) for n in names]
        try:
            return [str(n) for n in pre.get_feature_names_out()]
        except Exception:  # noqa: BLE001 - a step without get_feature_names_out
            return None

    def _set_optimum(self, problem, theta, frozen=False):
        """Measure the optimality gap, polish if asked, factor and store the state.

        For a frozen (prefit) model the polished parameters are kept internally
        only: the user's model is never modified.
        """
        names = self._coef_names()
        model_name = type(self._attributed.holder).__name__
        what = f"the fitted {model_name}"
        problem.solver = self.solver_ = choose_solver(
            self.solver, problem.objective.hessian_kind, problem.design,
            float(problem.penalty[: problem.design.n_features].min(initial=np.inf)),
        )
        with np.errstate(over="ignore", invalid="ignore"):
            d1, d2 = problem.row_derivatives(theta)
        check_finite_state(problem, theta, d1, d2, what=what)
        # The Newton step at the fit measures the gap. For smooth objectives it is
        # solved matrix-free when factoring costs far more than Hessian products (the
        # fit's one factorization then happens at the polished optimum), else by the
        # factorization that serves as the fitted state when no polishing is needed.
        steps, curvature = None, None
        with np.errstate(over="ignore", invalid="ignore"):
            if type(problem).newton is Problem.newton:  # the shared Newton driver
                steps = NewtonSteps(problem, matrix_free=problem.matrix_free_steps)
                step = steps.solve(theta, d2, problem.gradient(theta, d1))
                self.optimality_gap_ = float(
                    np.linalg.norm(step) / max(np.linalg.norm(theta), 1e-300)
                )
                curvature = steps.factor if steps.current else None
            else:
                curvature = problem.curvature(d2, theta=theta)
                self.optimality_gap_ = problem.optimality_gap(theta, curvature, d1)
        if not np.isfinite(self.optimality_gap_) and np.isfinite(problem.value(theta)):
            # A finite objective whose Newton step overflows: a fit far out where the
            # loss saturates (e.g. SGD on unscaled columns). Infinitely far from the
            # optimum, so it is polished; overflowing data still fail below.
            self.optimality_gap_ = np.inf
        check_finite_values(self.optimality_gap_ if self.optimality_gap_ < np.inf else 0.0,
                            "optimality gap", what)
        self.n_polish_steps_ = 0
        converged = self.optimality_gap_ <= polish_tol(problem.objective)
        # Warnings wait until the fit is known to have a finite optimum: a refused
        # fit raises one clear error, not warnings about polishing it.
        optimality_message = _optimality_message(
            self._attributed.holder, problem.objective, self.optimality_gap_, frozen,
            self.polish, problem.design.n_samples,
        )
        if self.polish and self.optimality_gap_ > polish_tol(problem.objective):
            # The gap's step strategy continues (its first step is solved); any
            # factorization preconditions the next steps and is released before the
            # one at the polished optimum.
            start = theta
            if steps is not None:
                theta, self.n_polish_steps_, converged = problem.newton(theta, steps=steps)
                steps.factor = None
            else:
                theta, self.n_polish_steps_, converged = problem.newton(theta, curvature=curvature)
            curvature = None
            check_polish_bounded(problem, start, theta, converged, names, model_name)
            if not frozen:
                problem.objective.set_theta(self._attributed.holder, theta)
            with np.errstate(over="ignore", invalid="ignore"):
                d1, d2 = problem.row_derivatives(theta)
            check_finite_state(problem, theta, d1, d2, what=f"{what} after polishing")
            curvature = problem.curvature(d2, theta=theta)
        elif curvature is None:
            curvature = problem.curvature(d2, theta=theta)
        del steps

        # No finite optimum (separable classes, a level pinned by one feature): a
        # converged point with a nonsingular Hessian certifies one; otherwise an LP
        # decides (see skrif._core.separation).
        check_finite_optimum(
            problem, theta, names, model_name, certified=converged and not curvature.singular
        )
        # A successful polish is the documented behaviour, not news: the gap stays in
        # optimality_gap_ and the steps in n_polish_steps_. Warn where the user must
        # act: polishing disabled or failed, or a frozen model kept off its optimum.
        polished = self.polish and not frozen and converged
        if optimality_message is not None and not polished:
            warn(optimality_message, OptimalityWarning)
        if self.n_polish_steps_ and not converged:
            warn_not_converged(self.n_polish_steps_, "polishing the fit")
        self._removal = RemovalModel(problem, theta, d1, curvature)
        self.hessian_rank_ = curvature.rank
        if curvature.singular:
            warn_singular(curvature.rank, curvature.n_params)
        one_minus = curvature.one_minus_leverage
        self.leverages_ = np.clip(1.0 - one_minus, 0.0, 1.0)
        bounds = getattr(curvature, "leverage_bounds", None)
        self.leverage_bounds_ = (
            np.column_stack([self.leverages_, self.leverages_]) if bounds is None else bounds
        )
        tol = curvature.leverage_tol
        degenerate = one_minus <= tol
        with np.errstate(divide="ignore"):
            self.rescale_factors_ = np.where(degenerate, np.inf, 1.0 / np.maximum(one_minus, tol))
        if np.any(degenerate):
            warn_leverage_one_rows(np.flatnonzero(degenerate), tol)

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        skrif consumes ``sample_weight`` itself (the Hessian must use the weights
        the model was fitted with) and always forwards the same weights to the
        wrapped estimator's ``fit``, whatever that estimator requests. With
        metadata routing enabled, request them with
        ``set_fit_request(sample_weight=True)`` on the InfluenceEstimator.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
            The routing information.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                estimator=self._get_estimator(),
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        )

    # -- delegated prediction ------------------------------------------------
    def _validate_X(self, X):
        """Evaluation rows as the attributed model sees them: validated, and passed
        through the fitted preprocessing of a pipeline."""
        check_is_fitted(self)
        pre = getattr(self, "_preprocessing", None)
        if pre is None:
            return validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float64)
        validate_data(self, X, reset=False, skip_check_array=True)
        return as_design(pre.transform(X))

    def _delegated_X(self, X):
        """Validate ``X``; a frozen model fitted on a DataFrame gets the (checked) frame."""
        if getattr(self, "_preprocessing", None) is not None:
            check_is_fitted(self)
            validate_data(self, X, reset=False, skip_check_array=True)
            return X  # the pipeline transforms its own input
        Xv = self._validate_X(X)
        if getattr(self, "_frozen_names", False) and hasattr(X, "columns"):
            return X
        return Xv

    @dask_aware
    def predict(self, X):
        """Predict with the fitted (polished) estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows, with the columns seen in :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            ``estimator_.predict(X)``: class labels for classifiers, predictions
            for regressors.
        """
        X = self._delegated_X(X)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    @dask_aware
    def predict_proba(self, X):
        """Class probabilities from the fitted (polished) estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows, with the columns seen in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            ``estimator_.predict_proba(X)``, columns in the order of ``classes_``.
        """
        X = self._delegated_X(X)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    @dask_aware
    def predict_log_proba(self, X):
        """Log class probabilities from the fitted (polished) estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows, with the columns seen in :meth:`fit`.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``estimator_.predict_log_proba(X)``, columns in the order of ``classes_``.
        """
        X = self._delegated_X(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    @dask_aware
    def decision_function(self, X):
        """Raw outputs (logits) from the fitted (polished) estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows, with the columns seen in :meth:`fit`.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            ``estimator_.decision_function(X)``: one column for binary models,
            one per class otherwise.
        """
        X = self._delegated_X(X)
        return self.estimator_.decision_function(X)

    def score(self, X, y, sample_weight=None):
        """The wrapped estimator's ``score``: accuracy for classifiers, R² otherwise.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows, with the columns seen in :meth:`fit`.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True labels or targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the score.

        Returns
        -------
        score : float
            ``estimator_.score(X, y, sample_weight=sample_weight)``.
        """
        X = self._delegated_X(X)
        return self.estimator_.score(X, y, sample_weight=sample_weight)
