"""InfluenceEstimator: the scikit-learn meta-estimator (plumbing only).

The estimator clones and fits the wrapped linear model, rebuilds its exact objective
(:mod:`skrif._objectives`), makes sure the fit is at the optimum, factors the Hessian
once (:mod:`skrif._curvature`) and answers removal questions through
:mod:`skrif._influence`.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from . import _attribution, _audit
from ._dask_hook import dask_aware, route_fit
from ._attribution import ADDITIVE_METHODS
from ._frames import change_as_frame, training_index_of
from ._influence import LEVERAGE_TOL, METHODS, ParameterChange, check_removed_rows, parameter_change
from ._influence import check_fraction
from ._objectives import objective_class_for
from ._problem import Problem, warn_not_converged
from ._targets import make_target
from .exceptions import HighLeverageWarning, OptimalityWarning, SingularHessianWarning

#: Below this relative distance to the optimum the fit is used as is; above it,
#: skrif polishes with Newton steps (one or two reach machine precision).
POLISH_TOL = 1e-10
#: Above this distance, polishing changes attributions visibly: say so.
WARN_TOL = 1e-6


def _estimator_has(attr):
    """Check the fitted ``estimator_`` if present, else the unfitted ``estimator``."""

    def check(self):
        inner = self.estimator_ if hasattr(self, "estimator_") else self._get_estimator()
        getattr(inner, attr)
        return True

    return check


def _check_bool(value, name):
    """Return ``value`` as a bool; anything but True/False raises (``"no"`` is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def _check_prefit(model, n_features, feature_names):
    """Check that a frozen model is fitted and matches the training data's columns."""
    check_is_fitted(model)
    fitted_width = getattr(model, "n_features_in_", n_features)
    if fitted_width != n_features:
        raise ValueError(
            f"The frozen {type(model).__name__} was fitted on {fitted_width} features "
            f"but X has {n_features}: pass the data the model was trained on."
        )
    fitted_names = getattr(model, "feature_names_in_", None)
    if (
        fitted_names is not None
        and feature_names is not None
        and not np.array_equal(fitted_names, feature_names)
    ):
        raise ValueError(
            f"The frozen {type(model).__name__} was fitted on columns "
            f"{list(fitted_names)} but X has columns {list(feature_names)}: pass the "
            "data the model was trained on, with its columns in the same order."
        )


class InfluenceEstimator(MetaEstimatorMixin, BaseEstimator):
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
    convert it): do not modify it while the fitted estimator is in use. Targets and
    sample weights are copied (O(n q) memory).

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

    def __init__(self, estimator=None, *, rescaled=True, polish=True):
        self.estimator = estimator
        self.rescaled = rescaled
        self.polish = polish

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
        for name in ("rescaled", "polish"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"The '{name}' parameter must be True or False; got {value!r}.")

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
            _check_prefit(model, X.shape[1], getattr(self, "feature_names_in_", None))
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
        Y = objective.encode_targets(y, model)
        objective.check_targets(Y)  # a frozen model was not refitted on these y
        problem = Problem(objective, X, Y, weights)
        self._set_optimum(problem, objective.get_theta(model), frozen=frozen)
        return self

    def _set_optimum(self, problem, theta, frozen=False):
        """Measure the optimality gap, polish if asked, factor and store the state.

        For a frozen (prefit) model the polished parameters are kept internally
        only: the user's model is never modified.
        """
        d1, d2 = problem.row_derivatives(theta)
        curvature = problem.curvature(d2)
        self.optimality_gap_ = problem.optimality_gap(theta, curvature, d1)
        self.n_polish_steps_ = 0
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
            warnings.warn(
                f"The fitted {type(self.estimator_).__name__} is {self.optimality_gap_:.2g} "
                "(relative Newton step) away from the optimum of its own objective, as "
                f"large as a single row's effect; {action}. Fit the wrapped estimator "
                "with a tighter tolerance (e.g. tol=1e-10) to silence this warning.",
                OptimalityWarning,
                stacklevel=3,
            )
        if self.polish and self.optimality_gap_ > POLISH_TOL:
            # The factorization at the starting point serves the first Newton step;
            # release it before refactoring at the polished optimum.
            theta, self.n_polish_steps_, converged = problem.newton(theta, curvature=curvature)
            curvature = None
            if not converged:
                warn_not_converged(self.n_polish_steps_, "polishing the fit")
            if not frozen:
                problem.objective.set_theta(self.estimator_, theta)
            d1, d2 = problem.row_derivatives(theta)
            curvature = problem.curvature(d2)

        self._problem, self._theta, self._d1, self._curvature = problem, theta, d1, curvature
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
        degenerate = one_minus <= LEVERAGE_TOL
        with np.errstate(divide="ignore"):
            self.rescale_factors_ = np.where(degenerate, np.inf, 1.0 / np.maximum(one_minus, LEVERAGE_TOL))
        if np.any(degenerate):
            rows = np.flatnonzero(degenerate)
            warnings.warn(
                f"{rows.size} training rows have leverage 1 (1 - h_i <= {LEVERAGE_TOL:g}), "
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

    # -- attribution ---------------------------------------------------------
    def _resolve_method(self, method):
        if method is None:
            return "rif" if self.rescaled else "if"
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} or None; got {method!r}.")
        return method

    @dask_aware
    def influence(self, X_removed_idx, *, method=None, as_frame=False, fraction=1.0):
        """Predict the parameter change caused by removing training rows.

        Parameters
        ----------
        X_removed_idx : array-like of int or bool
            Positional indices of the removed training rows (negative values count
            from the end; each row at most once), or a boolean mask of length
            ``n_samples``. An empty set gives a zero change.
        method : {"if", "rif", "newton", "refit"}, default=None
            ``"if"``: classical influence function ``H⁻¹ Σ_T g_i``.
            ``"rif"``: rescaled influence function ``Σ_T H⁻¹ g_i / (1 − h_i)``, one
            exact Newton step on each leave-one-out objective, additive over ``T``;
            exact leave-one-out for least squares.
            ``"newton"``: one Newton step on the leave-T-out objective (Woodbury
            update of the factored Hessian, not additive); exact for least squares.
            ``"refit"``: the exact answer, by Newton's method on the leave-T-out
            objective to machine precision (warm-started, independent of the
            wrapped estimator's tolerance).
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``.
        as_frame : bool, default=False
            Return labelled pandas objects: ``coef`` as a Series indexed by
            feature name (a DataFrame with one row per output when ``coef_`` is
            2-D), ``intercept`` as a float or Series, and ``removed`` as the row
            labels of the training DataFrame (positions if ``X`` was not a
            DataFrame). Requires pandas.
        fraction : float, default=1.0
            Downweight the rows instead of removing them: their sample weights are
            multiplied by ``1 − fraction`` (1 removes them, 0.5 halves their
            weight, a negative value upweights them; at most 1). ``"if"`` scales
            the gradient by ``t = fraction``, ``"rif"`` is ``t H⁻¹ g_i / (1 − t
            h_i)`` per row (Sherman–Morrison: still the exact one-row Newton step,
            exact for least squares), ``"newton"`` ``(H − t Σ H_i)⁻¹ t Σ g_i`` and
            ``"refit"`` refits with the reweighted sample weights. For
            mean-form models (GLMs, SGD) and multinomial logistic regression,
            ``"newton"`` factors the reweighted Hessian afresh and ``"rif"`` does so
            once per row. ``SGD*`` models keep a downweighted row's share of the
            penalty (only removal drops it), as their objective does.

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
        check_is_fitted(self)
        method = self._resolve_method(method)
        idx = self._removed_rows(X_removed_idx)
        fraction = check_fraction(fraction)
        as_frame = _check_bool(as_frame, "as_frame")
        delta = parameter_change(
            self._problem, self._theta, self._d1, self._curvature, idx, method, fraction
        )
        coef, intercept = self._problem.objective.split_theta(delta, self.estimator_)
        change = ParameterChange(coef=coef, intercept=intercept, method=method, removed=idx)
        return change_as_frame(self, change) if as_frame else change

    def _removed_rows(self, X_removed_idx):
        """Validated positions of removed rows; refuse row *labels* passed as positions.

        ``X_train.index[...]`` is the natural thing to pass with a DataFrame, but its
        labels are positions only for a default ``RangeIndex``: anything else would
        silently remove other rows.
        """
        n = self._problem.design.n_samples
        index = getattr(self, "training_index_", None)
        if (
            index is not None
            and hasattr(X_removed_idx, "get_indexer")  # a pandas Index
            and getattr(X_removed_idx, "dtype", None) != bool
            and not np.array_equal(np.asarray(index), np.arange(n))
        ):
            raise ValueError(
                "X_removed_idx is a pandas Index, i.e. row labels, but skrif takes row "
                "positions and the training DataFrame's index is not 0..n-1. Convert "
                "labels with np.flatnonzero(est.training_index_.isin(labels)), or pass "
                "a boolean mask."
            )
        return check_removed_rows(X_removed_idx, n)

    # -- attribution: effects on targets -----------------------------------------
    def _target(self, target):
        """The :class:`~skrif._targets.Target` ``target`` for the fitted model."""
        check_is_fitted(self)
        n_model_outputs = self._theta.shape[0]
        if self._problem.objective.is_classifier:
            multi_output = n_model_outputs > 1
        else:
            multi_output = np.ndim(self.estimator_.coef_) == 2
        return make_target(
            target,
            self._problem.objective,
            n_model_outputs,
            multi_output,
            probabilistic=hasattr(self.estimator_, "predict_proba"),
        )

    def _additive_method(self, method, what):
        method = self._resolve_method(method)
        if method not in ADDITIVE_METHODS:
            raise ValueError(
                f"{what} is built from additive single-row effects, so method must be "
                f"one of {ADDITIVE_METHODS} or None; got {method!r}. Use "
                "removal_effect(..., method='newton' or 'refit') for a set of rows."
            )
        return method

    def _validate_eval(self, X, y, target):
        """Validate evaluation rows; encode ``y`` when the target needs it."""
        X = self._validate_X(X)
        if not target.needs_y:
            return X, None
        if y is None:
            raise ValueError(
                f"target={target.name!r} needs the evaluation targets: pass y with one "
                f"entry per row of X ({X.shape[0]} rows)."
            )
        objective = self._problem.objective
        n_out = self._theta.shape[0]
        if objective.is_classifier:
            y = column_or_1d(y, warn=True)
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y holds labels the model was not fitted on: {unknown[:10].tolist()}; "
                    f"known classes are {self.classes_.tolist()}."
                )
        else:
            y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
            if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != n_out) or (y.ndim == 1 and n_out != 1):
                raise ValueError(
                    f"y must have shape (n_samples,{'' if n_out == 1 else f' {n_out}'}) "
                    f"for this model with {n_out} target(s); got {y.shape}."
                )
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X and y have different numbers of rows: {X.shape[0]} and {y.shape[0]}."
            )
        Y = objective.encode_targets(y, self.estimator_)
        objective.check_targets(Y)
        return X, Y

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
        method : {"if", "rif", "newton", "refit"}, default=None
            How the parameter change is predicted (see :meth:`influence`);
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``.
        linearized : bool, default=False
            ``False`` evaluates the target at the predicted parameters,
            ``F(θ̂ + Δ) − F(θ̂)`` (what the paper plots); ``True`` returns the
            first-order change ``∇F(θ̂)·Δ``. Both coincide for the raw output.
        fraction : float, default=1.0
            Multiply the rows' sample weights by ``1 − fraction`` instead of
            removing them (1 removes, 0.5 halves, negative upweights); see
            :meth:`influence`.

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
        method = self._resolve_method(method)
        X, Y = self._validate_eval(X, y, target)
        idx = self._removed_rows(X_removed_idx)
        fraction = check_fraction(fraction)
        effect = _attribution.removal_effect(
            self._problem, self._theta, self._d1, self._curvature, idx, X, Y, target, method,
            linearized=_check_bool(linearized, "linearized"), fraction=fraction,
        )
        return target.finalize(effect)

    @dask_aware
    def influence_scores(self, X, y=None, *, target="decision_function", method=None):
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
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_eval) or (n_samples, n_eval, n_outputs)
            Rows are training rows, columns evaluation rows; a trailing axis for
            targets with several outputs. Rows with leverage 1 are NaN under
            ``"rif"`` (with a :class:`~skrif.exceptions.HighLeverageWarning`).

        Notes
        -----
        ``scores = diag(c_i) · X̃ H⁻¹ X̃_evalᵀ · diag(∂F_j/∂z_j)`` with ``c_i`` the
        row's (rescaled) gradient coefficient. Computed with one solve with
        ``n_eval`` right-hand sides (O(p̃² n_eval) for ``p̃ ≤ n``, O(n p̃ n_eval +
        n² n_eval) otherwise) and products over blocks of training rows: O(n p̃
        n_eval) time, and O(p̃ n_eval + block · n_eval) memory beyond the result.

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
        method = self._additive_method(method, "influence_scores")
        X, Y = self._validate_eval(X, y, target)
        scores = _attribution.influence_scores(
            self._problem, self._theta, self._d1, self._curvature, X, Y, target, method
        )
        return target.finalize(scores)

    @dask_aware
    def self_influence(self, *, target="loss", method=None, linearized=False):
        """Effect of removing each training row on its own target.

        ``out[i]`` is the change of row ``i``'s own target (by default its loss) when
        row ``i`` alone is removed: **value without the row minus value with it**.
        Large positive values on the loss flag rows the model fits only because
        they are in the training set — mislabeled, poisoned or outlying rows.

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

        Returns
        -------
        self_influence : ndarray of shape (n_samples,) or (n_samples, n_outputs)

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
        method = self._additive_method(method, "self_influence")
        values = _attribution.self_influence(
            self._problem, self._theta, self._d1, self._curvature, target, method,
            linearized=_check_bool(linearized, "linearized"),
        )
        return target.finalize(values)

    @dask_aware
    def most_influential(
        self,
        X,
        y=None,
        *,
        k,
        target="loss",
        direction="increase",
        method=None,
        output=None,
        verify=False,
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
                default="loss"
            See :meth:`removal_effect`.
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
            Also refit the model exactly without the chosen rows.

        Returns
        -------
        rows : ndarray of int of shape (k,)
            Training row indices, largest effect first.
        predicted : float
            Only if ``verify``: the predicted (additive) change of the summed target.
        actual : float
            Only if ``verify``: the change after an exact refit without ``rows``.

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
        >>> rows, predicted, actual = est.most_influential(
        ...     X[:10], k=3, target="predict", direction="decrease", verify=True)
        >>> rows.shape
        (3,)
        >>> predicted < 0 and bool(np.isclose(predicted, actual, rtol=0.2))
        True
        """
        target = self._target(target)
        method = self._additive_method(method, "most_influential")
        k = _attribution.check_k(k, self._problem.design.n_samples)
        direction = _attribution.check_direction(direction)
        output = _attribution.check_output(target, output)
        X, Y = self._validate_eval(X, y, target)
        return _attribution.most_influential(
            self._problem, self._theta, self._d1, self._curvature, X, Y, target, k,
            direction, method, output=output, verify=_check_bool(verify, "verify"),
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

    # -- auditing: leave-one-out predictions, removals that flip a conclusion ----
    @dask_aware
    def loo_predict(self, *, target="decision_function", method=None):
        """Approximate leave-one-out predictions for every training row.

        ``out[i]`` is the target of training row ``i`` evaluated with the model
        fitted *without* row ``i``: ``F_i(θ̂ + Δ_{−i})``, i.e. its value on the fitted
        model plus its :meth:`self_influence`. With ``"rif"`` (the default) ``Δ_{−i}``
        is one exact Newton step on the leave-one-out objective: for least squares
        (``Ridge``, ``LinearRegression``) these are the exact leave-one-out values
        (as ``RidgeCV``'s efficient leave-one-out), otherwise a close approximation.

        Parameters
        ----------
        target : {"decision_function", "predict_proba", "predict", "loss"}, \
                default="decision_function"
            See :meth:`removal_effect`; evaluated on the training rows (with their
            own targets for ``"loss"``).
        method : {"if", "rif"}, default=None
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``.

        Returns
        -------
        loo : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            NaN for rows with leverage 1 under ``"rif"`` (their leave-one-out model
            is undetermined; a :class:`~skrif.exceptions.HighLeverageWarning` is
            emitted).

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
        target = self._target(target)
        method = self._additive_method(method, "loo_predict")
        values = _audit.loo_predict(
            self._problem, self._theta, self._d1, self._curvature, target, method
        )
        return target.finalize(values)

    @dask_aware
    def loo_score(self, *, method=None):
        """Leave-one-out score of the model on its training data, without refitting.

        Accuracy of the leave-one-out predicted classes for classifiers, R² of the
        leave-one-out predictions for regressors (as the wrapped estimator's
        ``score``, unweighted), from :meth:`loo_predict`.

        Parameters
        ----------
        method : {"if", "rif"}, default=None
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``.

        Returns
        -------
        score : float

        Raises
        ------
        ValueError
            If some leave-one-out prediction is undefined (rows with leverage 1).

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
        check_is_fitted(self)
        problem = self._problem
        classifier = problem.objective.is_classifier
        loo = self.loo_predict(target="decision_function" if classifier else "predict", method=method)
        if np.any(np.isnan(loo)):
            raise ValueError(
                "Some leave-one-out predictions are undefined (rows with leverage 1); "
                "use method='if' or add a penalty."
            )
        if classifier:
            Z = loo.reshape(len(loo), -1)
            return float(np.mean(
                _audit.predicted_classes(Z) == _audit.true_classes(problem.Y)
            ))
        from sklearn.metrics import r2_score

        return float(r2_score(problem.Y.reshape(loo.shape), loo))

    @dask_aware
    def removal_to_flip(
        self, X=None, *, coef=None, output=None, method=None, max_rows=None, max_refits=10
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
        coef : int, default=None
            Instead of ``X``: a feature index; flip the sign of ``coef_`` there.
            Negative values count from the end.
        output : int, default=None
            For models with several outputs, which output's decision function or
            which row of ``coef_`` (required for ``coef`` then, and for ``X`` with a
            multi-target regressor). Negative values count from the end.
        method : {"if", "rif"}, default=None
            Single-row effects used to choose the rows; ``None`` uses ``"rif"`` if
            ``rescaled`` else ``"if"``.
        max_rows : int, default=None
            Largest set considered (default: ``n_samples - 1``).
        max_refits : int, default=10
            Budget of exact refits (verification, extension and pruning).

        Returns
        -------
        result : FlipResult
            ``rows`` (in the order chosen), ``flipped`` (verified by the exact
            refit), ``initial`` value of the quantity, ``predicted_change``
            (additive, at the fitted model) and ``actual_change`` (refit) for those
            rows, ``n_refits`` and a ``message``.

        Raises
        ------
        ValueError
            If neither or both of ``X`` and ``coef`` are given, ``X`` is not a single
            row, the quantity is exactly zero, or an argument is out of range.

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
        check_is_fitted(self)
        method = self._additive_method(method, "removal_to_flip")
        if (X is None) == (coef is None):
            raise ValueError(
                "Pass exactly one of X (one evaluation row whose prediction to flip) "
                "and coef (a feature index whose coefficient sign to flip)."
            )
        n = self._problem.design.n_samples
        max_rows = n - 1 if max_rows is None else _audit.check_positive_int(max_rows, "max_rows", n - 1)
        max_refits = _audit.check_positive_int(max_refits, "max_refits")
        if X is not None:
            X = self._validate_X(X)
            if X.shape[0] != 1:
                raise ValueError(
                    f"X must hold exactly one evaluation row; got {X.shape[0]} rows."
                )
        classes = self.classes_ if self._problem.objective.is_classifier else None
        A, names = _audit.flip_functionals(
            self._problem.design, self._theta, X, coef, output, classes
        )
        return _audit.removal_to_flip(
            self._problem, self._theta, self._d1, self._curvature, A, names, method,
            max_rows, max_refits,
        )
