"""InfluenceEstimator: the scikit-learn meta-estimator (plumbing only).

The estimator clones and fits the wrapped linear model, rebuilds its exact objective
(:mod:`skrif._objectives`), makes sure the fit is at the optimum, factors the Hessian
once (:mod:`skrif._removal.rank_one`) and keeps the fitted removal state in one
:class:`skrif._core.fitted.RemovalModel` (``self._removal``), through which every removal
question is answered.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._core.fitted import RemovalModel
from .._core.fitting import (
    POLISH_TOL,
    WARN_TOL,
    check_prefit,
)
from .._core.newton import NewtonSteps
from .._core.problem import Problem, warn_not_converged
from .._core.separation import check_finite_optimum, check_polish_bounded
from .._objectives import objective_class_for
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
from ..exceptions import (
    DataChangedError,
    HighLeverageWarning,
    OptimalityWarning,
    SingularHessianWarning,
)
from .attribution import AttributionMixin
from .audit import AuditMixin
from .base import RemovalQueries, _estimator_has
from .conformal import ConformalMixin
from .dask_routing import dask_aware, route_fit
from .diagnostics import DiagnosticsMixin
from .groups import GroupsMixin


class InfluenceEstimator(
    AttributionMixin,
    GroupsMixin,
    AuditMixin,
    DiagnosticsMixin,
    ConformalMixin,
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
    rescaled : bool, default=True
        Default ``method`` of :meth:`influence`: ``True`` uses the rescaled
        influence function ``"rif"``, ``False`` the classical ``"if"``.
    polish : bool, default=True
        When the wrapped fit is not at the optimum of its own objective (its
        relative Newton step, :attr:`optimality_gap_`, exceeds 1e-10 — scikit-learn's
        default ``lbfgs`` tolerance usually leaves 1e-5..1e-3), refine it with
        Newton steps on the reconstructed objective and write the polished
        coefficients back into :attr:`estimator_`, so predictions and attributions
        describe the same model. A gap above 1e-6 also emits an
        :class:`~skrif.exceptions.OptimalityWarning`. With ``polish=False`` the
        coefficients are kept and attributions are computed at them (the warning
        is still emitted). A frozen model (:class:`~sklearn.frozen.FrozenEstimator`)
        is never modified: with ``polish=True`` the polished parameters are kept
        inside skrif and attributions describe changes from that optimum, while
        ``estimator_`` and predictions stay exactly the user's model.
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
        The fitted (and possibly polished) clone of ``estimator``.
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
        "solver": [StrOptions(set(SOLVERS))],
    }

    def __init__(self, estimator=None, *, rescaled=True, polish=True, solver="auto"):
        self.estimator = estimator
        self.rescaled = rescaled
        self.polish = polish
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
                "rescaled": "True or False",
                "polish": "True or False",
                "solver": "'auto', 'direct' or 'iterative'",
            },
            estimator_params=True,
        )

    def _fitted_removal(self):
        """The fitted :class:`~skrif._core.fitted.RemovalModel`, after checking that the
        attributed model still has the coefficients it was built on (a frozen model
        edited after wrapping, or an edited ``estimator_``, is refused)."""
        check_is_fitted(self)
        model = self.estimator_
        if isinstance(model, FrozenEstimator):
            model = model.estimator
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
        frozen = isinstance(estimator, FrozenEstimator)
        model = estimator.estimator if frozen else estimator
        objective_cls = objective_class_for(model)
        classifier = objective_cls.is_classifier
        training_index = training_index_of(X)
        check_same_row_order(X, y, "y")
        check_same_row_order(X, sample_weight, "sample_weight")
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
        sample_weight = self._validate_sample_weight(sample_weight, X.shape[0])
        if classifier:
            check_class_weight_values(model, y, sample_weight)

        if training_index is not None:
            self.training_index_ = training_index
        elif hasattr(self, "training_index_"):
            del self.training_index_

        # A FrozenEstimator is attributed as it is: clone returns it unchanged and
        # it is never refitted (see "Prefit models" in the user guide).
        self.estimator_ = clone(estimator)
        # A frozen model fitted on a DataFrame checks feature names itself.
        self._frozen_names = frozen and hasattr(model, "feature_names_in_")
        if frozen:
            check_prefit(model, X.shape[1], getattr(self, "feature_names_in_", None))
        else:
            model = self.estimator_
            if sample_weight is None:
                model.fit(X, y)
            else:
                model.fit(X, y, sample_weight=sample_weight)

        objective = objective_cls(model)
        if classifier:
            objective.check_classes(model)
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        weights = objective.effective_weights(y, weights, model)
        check_effective_weights(weights)
        Y = objective.encode_targets(y, model)
        objective.check_targets(Y)  # a frozen model was not refitted on these y
        problem = Problem(objective, X, Y, weights)
        try:
            self._set_optimum(problem, objective.get_theta(model), frozen=frozen)
        except Exception:
            # A refused fit leaves no fitted state behind (not even a previous one).
            for name in list(vars(self)):
                fitted = name.endswith("_") and not name.startswith("__")
                if fitted or name in ("_removal", "_model_theta", "_frozen_names"):
                    del self.__dict__[name]
            raise
        self._model_theta = objective.get_theta(model)
        return self

    def _set_optimum(self, problem, theta, frozen=False):
        """Measure the optimality gap, polish if asked, factor and store the state.

        For a frozen (prefit) model the polished parameters are kept internally
        only: the user's model is never modified.
        """
        names = getattr(self, "feature_names_in_", None)
        model_name = type(self.estimator_.estimator if frozen else self.estimator_).__name__
        problem.solver = self.solver_ = choose_solver(
            self.solver, problem.objective.hessian_kind, problem.design,
            float(problem.penalty[: problem.design.n_features].min(initial=np.inf)),
        )
        what = f"the fitted {type(self.estimator_).__name__}"
        with np.errstate(over="ignore", invalid="ignore"):
            d1, d2 = problem.row_derivatives(theta)
        check_finite_state(problem, theta, d1, d2, what=what)
        # The Newton step at the fit measures the gap. It is solved matrix-free when
        # factoring costs far more than Hessian products (the fit's one factorization
        # then happens at the polished optimum), else by the factorization that
        # serves as the fitted state when no polishing is needed.
        steps = NewtonSteps(problem, matrix_free=True)
        with np.errstate(over="ignore", invalid="ignore"):
            step = steps.solve(theta, d2, problem.gradient(theta, d1))
            self.optimality_gap_ = float(
                np.linalg.norm(step) / max(np.linalg.norm(theta), 1e-300)
            )
        if not np.isfinite(self.optimality_gap_) and np.isfinite(problem.value(theta)):
            # A finite objective whose Newton step overflows: a fit far out where the
            # loss saturates (e.g. SGD on unscaled columns). Infinitely far from the
            # optimum, so it is polished; overflowing data still fail below.
            self.optimality_gap_ = np.inf
        check_finite_values(self.optimality_gap_ if self.optimality_gap_ < np.inf else 0.0,
                            "optimality gap", what)
        self.n_polish_steps_ = 0
        converged = self.optimality_gap_ <= POLISH_TOL
        # Warnings wait until the fit is known to have a finite optimum: a refused
        # fit raises one clear error, not warnings about polishing it.
        optimality_message = None
        if self.optimality_gap_ > WARN_TOL:
            if frozen and self.polish:
                action = (
                    "the model is frozen, so its coefficients and predictions are kept "
                    "and attributions are computed at the optimum skrif reached with "
                    "Newton steps (polish=False computes them at the model's own "
                    "coefficients). If this gap is large, check that you passed the "
                    "data the model was trained on"
                )
            elif self.polish:
                action = (
                    "skrif polished it with Newton steps on that objective; predictions use "
                    "the polished coefficients (polish=False keeps the original ones)"
                )
            else:
                action = "attributions are computed at these coefficients (polish=False)"
            optimality_message = (
                f"The fitted {type(self.estimator_).__name__} is {self.optimality_gap_:.2g} "
                "(relative Newton step) away from the optimum of its own objective, as "
                f"large as a single row's effect; {action}. "
                + problem.objective.optimality_advice(
                    self.estimator_, problem.design.n_samples
                )
            )
        if self.polish and self.optimality_gap_ > POLISH_TOL:
            # The same steps continue (the first is already solved); any factorization
            # they made preconditions the next ones and is released before the one
            # at the polished optimum.
            start = theta
            theta, self.n_polish_steps_, converged = problem.newton(theta, steps=steps)
            steps.factor = None
            check_polish_bounded(problem, start, theta, converged, names, model_name)
            if not frozen:
                problem.objective.set_theta(self.estimator_, theta)
            with np.errstate(over="ignore", invalid="ignore"):
                d1, d2 = problem.row_derivatives(theta)
            check_finite_state(problem, theta, d1, d2, what=f"{what} after polishing")
            curvature = problem.curvature(d2)
        elif steps.current:
            curvature = steps.factor
        else:
            curvature = problem.curvature(d2)
        del steps

        # No finite optimum (separable classes, a level pinned by one feature): a
        # converged point with a nonsingular Hessian certifies one; otherwise an LP
        # decides (see skrif._core.separation).
        check_finite_optimum(
            problem, theta, names, model_name, certified=converged and not curvature.singular
        )
        if optimality_message is not None:
            warnings.warn(optimality_message, OptimalityWarning, stacklevel=3)
        if self.n_polish_steps_ and not converged:
            warn_not_converged(self.n_polish_steps_, "polishing the fit")
        self._removal = RemovalModel(problem, theta, d1, curvature)
        self.hessian_rank_ = curvature.rank
        if curvature.singular:
            warnings.warn(
                f"The Hessian of the objective is singular (rank {curvature.rank} < "
                f"{curvature.n_params} parameters): the data do not determine every "
                "parameter. skrif uses its pseudo-inverse (minimum-norm changes); add "
                "a penalty for well-defined attributions.",
                SingularHessianWarning,
                stacklevel=3,
            )
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
            rows = np.flatnonzero(degenerate)
            warnings.warn(
                f"{rows.size} training rows have leverage 1 (1 - h_i <= {tol:g}), "
                f"e.g. rows {rows[:10].tolist()}: each alone determines a parameter "
                "direction, so their rescaled influence is undefined (NaN).",
                HighLeverageWarning,
                stacklevel=3,
            )

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
        check_is_fitted(self)
        return validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float64)

    def _delegated_X(self, X):
        """Validate ``X``; a frozen model fitted on a DataFrame gets the (checked) frame."""
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
