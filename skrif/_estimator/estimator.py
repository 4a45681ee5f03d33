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
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier, is_regressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn.utils._param_validation import HasMethods, StrOptions

from .._features import amip as _amip, attribution as _attribution, audit as _audit
from .._features import conformal as _conformal
from .._core.fitted import RemovalModel
from .._utils.frames import (
    change_as_frame,
    check_same_row_order,
    removed_rows_from_pandas,
    training_index_of,
)
from .._core.influence import LEVERAGE_TOL, ParameterChange, check_removed_rows
from .dask_routing import dask_aware, route_fit
from .._core.influence import check_fraction
from .._core.methods import ADDITIVE_METHODS, METHODS, SPELLINGS, canonical
from .._objectives import objective_class_for
from .._utils.params import check_params
from .._features.influential import InfluentialRows
from .._core.problem import Problem, warn_not_converged
from .._core.separation import check_finite_optimum, check_polish_bounded
from .._linalg.design import AugmentedDesign
from .._features.groups import fold_splits, group_changes, group_method, group_scores
from .._features.groups import own_rows_change, rows_of_labels, training_groups
from .._core.set_error import answer_set, second_newton_step
from .._core.targets import make_target
from .._core.fitting import (
    POLISH_TOL,
    WARN_TOL,
    check_prefit,
    optimality_advice,
)
from .._utils.checks import (
    check_bool,
    check_class_weight_values,
    check_eval_targets,
    check_effective_weights,
    check_finite_state,
    check_finite_values,
    undefined_single_removals,
)
from ..exceptions import (
    DataChangedError,
    HighLeverageWarning,
    OptimalityWarning,
    SingularHessianWarning,
    UndefinedRemovalWarning,
)


def _estimator_has(attr):
    """Check the fitted ``estimator_`` if present, else the unfitted ``estimator``."""

    def check(self):
        inner = self.estimator_ if hasattr(self, "estimator_") else self._get_estimator()
        getattr(inner, attr)
        return True

    return check


def _wraps_regressor(self):
    """``available_if`` check: the wrapped estimator is a regressor."""
    return is_regressor(self.estimator_ if hasattr(self, "estimator_") else self._get_estimator())


def _wraps_probabilistic_classifier(self):
    """``available_if`` check: the wrapped estimator is a classifier with predict_proba."""
    inner = self.estimator_ if hasattr(self, "estimator_") else self._get_estimator()
    return is_classifier(inner) and hasattr(inner, "predict_proba")



_METHOD_CONSTRAINT = {"method": [StrOptions(set(SPELLINGS)), None]}



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
    }

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
        """Validate the constructor parameters against ``_parameter_constraints``.

        Called in :meth:`fit` and again by every method that reads a parameter, so
        ``set_params(rescaled="no")`` after ``fit`` raises instead of being read as
        truthy.
        """
        check_params(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller=type(self).__name__,
            messages={"rescaled": "True or False", "polish": "True or False"},
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
        what = f"the fitted {type(self.estimator_).__name__}"
        with np.errstate(over="ignore", invalid="ignore"):
            d1, d2 = problem.row_derivatives(theta)
        check_finite_state(problem, theta, d1, d2, what=what)
        curvature = problem.curvature(d2)
        with np.errstate(over="ignore", invalid="ignore"):
            self.optimality_gap_ = problem.optimality_gap(theta, curvature, d1)
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
                + optimality_advice(self.estimator_, problem.design.n_samples)
            )
        if self.polish and self.optimality_gap_ > POLISH_TOL:
            # The factorization at the starting point serves the first Newton step;
            # release it before refactoring at the polished optimum.
            start = theta
            theta, self.n_polish_steps_, converged = problem.newton(theta, curvature=curvature)
            curvature = None
            check_polish_bounded(problem, start, theta, converged, names, model_name)
            if not frozen:
                problem.objective.set_theta(self.estimator_, theta)
            with np.errstate(over="ignore", invalid="ignore"):
                d1, d2 = problem.row_derivatives(theta)
            check_finite_state(problem, theta, d1, d2, what=f"{what} after polishing")
            curvature = problem.curvature(d2)

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

    # -- attribution ---------------------------------------------------------
    def _resolve_method(self, method, allow_auto=False):
        """The canonical method name (an alias such as ``"ns"`` is accepted);
        ``None`` follows ``rescaled``, validated here because it is read here.
        ``allow_auto`` admits ``"auto"`` (set queries: see :meth:`influence`)."""
        self._check_params()
        if allow_auto and method == "auto":
            return method
        allowed = (*METHODS, "auto") if allow_auto else METHODS
        check_params(
            _METHOD_CONSTRAINT, {"method": method}, messages={"method": f"one of {allowed} or None"}
        )
        if method is None:
            return "rif" if self.rescaled else "if"
        return canonical(method)

    def _groups(self, groups):
        """Validated :class:`~skrif._utils.groups.Groups` of the training rows (or None)."""
        if groups is None:
            return None
        return training_groups(groups, self._fitted_removal().n_samples)

    def _set_rows(self, X_removed_idx, groups):
        """Removed rows: positions/mask, or the rows of the named groups."""
        if groups is None:
            return self._removed_rows(X_removed_idx)
        return rows_of_labels(self._groups(groups), X_removed_idx)

    def _answer_set(self, idx, method, fraction, measure=None, what="parameter change"):
        """Parameter change for a set, the method used and its error estimate."""
        rm = self._fitted_removal()

        def change(rows, how):
            return rm.parameter_change(rows, how, fraction)

        return answer_set(
            change, idx, method, leverages=self.leverages_, curvature=rm.curvature,
            second_step=second_newton_step(rm.problem, rm.theta, rm.curvature, fraction),
            measure=measure, what=what, stacklevel=3,
        )

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
        coef, intercept = rm.objective.split_theta(delta, self.estimator_)
        change = ParameterChange(
            coef=coef, intercept=intercept, method=method, removed=idx, error_estimate=error
        )
        return change_as_frame(self, change) if as_frame else change

    def _removed_rows(self, X_removed_idx):
        """Validated positions of removed rows; pandas inputs are aligned or refused.

        ``X_train.index[...]`` is the natural thing to pass with a DataFrame, but its
        labels are positions only for a default ``RangeIndex``, and a boolean Series
        is keyed by label, not position: either, applied by position, would
        silently remove other rows (see :func:`~skrif._utils.frames.removed_rows_from_pandas`).
        """
        n = self._removal.n_samples
        index = getattr(self, "training_index_", None)
        X_removed_idx = removed_rows_from_pandas(X_removed_idx, index, n)
        return check_removed_rows(X_removed_idx, n)

    # -- attribution: effects on targets -----------------------------------------
    def _target(self, target):
        """The :class:`~skrif._core.targets.Target` ``target`` for the fitted model."""
        rm = self._fitted_removal()
        n_model_outputs = rm.n_outputs
        if rm.objective.is_classifier:
            multi_output = n_model_outputs > 1
        else:
            multi_output = np.ndim(self.estimator_.coef_) == 2
        return make_target(
            target,
            rm.objective,
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

    def _nan_undefined_removals(self, values):
        """NaN the rows of ``values`` (one per training row) whose removal alone is
        undefined (e.g. the only training row of a class), with a warning: their
        single-row effects are not numbers, as :meth:`influence` refuses them."""
        rows = undefined_single_removals(self._removal.problem)
        if rows.size:
            values[rows] = np.nan
            warnings.warn(
                f"Removing training row(s) {rows[:10].tolist()} alone leaves a model "
                "that cannot be fitted (each is the only training row of its class): "
                "their single-row effects are undefined and reported as NaN.",
                UndefinedRemovalWarning,
                stacklevel=3,
            )
        return values

    def _validate_eval(self, X, y, target):
        """Validate evaluation rows; encode ``y`` when the target needs it."""
        X = self._validate_X(X)
        rm = self._removal
        Y = check_eval_targets(
            y, X.shape[0], target, rm.objective, self.estimator_, getattr(self, "classes_", None),
            rm.n_outputs,
        )
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
        groups=None,
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
        X, Y = self._validate_eval(X, y, target)
        idx = self._set_rows(X_removed_idx, groups)
        fraction = check_fraction(fraction)
        linearized = check_bool(linearized, "linearized")
        rm = self._fitted_removal()
        design = AugmentedDesign(X, rm.design.fit_intercept)
        Z = design.matvec(rm.theta.T)
        J = target.derivative(Z, Y) if linearized else None

        def effect_of(delta):
            return _attribution._apply(target, Z, design.matvec(delta.T), Y, J, linearized)

        delta, _, _ = self._answer_set(idx, method, fraction, effect_of, "effect")
        return target.finalize(effect_of(delta))

    @dask_aware
    def influence_scores(
        self, X, y=None, *, target="decision_function", method=None, groups=None
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
        if groups is not None:
            X, Y = self._validate_eval(X, y, target)
            changes, _ = self._group_changes(groups, method)
            rm = self._fitted_removal()
            design = AugmentedDesign(X, rm.design.fit_intercept)
            return target.finalize(group_scores(changes, design, rm.theta, target, Y))
        method = self._additive_method(method, "influence_scores")
        X, Y = self._validate_eval(X, y, target)
        scores = _attribution.influence_scores(self._removal, X, Y, target, method)
        return target.finalize(self._nan_undefined_removals(scores))

    @dask_aware
    def self_influence(self, *, target="loss", method=None, linearized=False, groups=None):
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
        groups : array-like of shape (n_samples,), default=None
            Group labels of the training rows: ``out[g]`` is then the change of the
            total target over group ``labels[g]``'s own rows when the whole group is
            removed (``labels = np.unique(groups)``), by the group Newton step
            (``method=None``; see :meth:`influence_scores`) or the additive sum.

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
        if groups is not None:
            return self._group_self_influence(groups, target, method, linearized)
        method = self._additive_method(method, "self_influence")
        values = _attribution.self_influence(
            self._removal, target, method,
            linearized=check_bool(linearized, "linearized"),
        )
        return target.finalize(self._nan_undefined_removals(values))

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
        groups=None,
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
        groups : array-like of shape (n_samples,), default=None
            Group labels of the training rows: rank whole groups instead (each by
            its group Newton step, see :meth:`influence_scores`; ``method`` may then
            also be ``"newton"``, the default); ``k`` counts groups, the result holds
            the rows of the ``k`` groups and ``result.groups`` their labels, best
            first. ``predicted`` is the sum of the groups' effects.

        Returns
        -------
        result : :class:`~skrif.InfluentialRows`
            The training row indices, largest effect first (an integer array of
            shape ``(k,)``), with ``result.rows`` (the plain array),
            ``result.predicted`` (the predicted additive change of the summed
            target) and ``result.actual`` (the change after an exact refit without
            the rows if ``verify``, else ``None``). A verified result also unpacks
            as ``rows, predicted, actual``.

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
        target = self._target(target)
        if groups is not None:
            return self._most_influential_groups(
                X, y, target, k, direction, method, output, verify, groups
            )
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
        return InfluentialRows(*found)

    # -- groups as removal units ----------------------------------------------
    def _group_changes(self, groups, method):
        """``(changes (G, q, p̃), Groups)`` of removing each group on its own."""
        rm = self._fitted_removal()
        groups = self._groups(groups)
        method = group_method(method, groups)

        def change(rows, how):
            return rm.parameter_change(rows, how)

        return group_changes(change, groups, method, stacklevel=3), groups

    def _most_influential_groups(self, X, y, target, k, direction, method, output, verify, groups):
        """:meth:`most_influential` with whole groups as the units."""
        rm = self._fitted_removal()
        direction = _attribution.check_direction(direction)
        output = _attribution.check_output(target, output)
        X, Y = self._validate_eval(X, y, target)
        changes, groups = self._group_changes(groups, method)
        k = _attribution.check_k(k, groups.n_groups)
        design = AugmentedDesign(X, rm.design.fit_intercept)
        scores = group_scores(changes, design, rm.theta, target, Y)[:, :, output].sum(axis=1)
        best = _attribution.top_k(scores, k, direction)
        rows = groups.rows(np.sort(best))
        actual = None
        if check_bool(verify, "verify"):
            actual = float(np.sum(
                _attribution.removal_effect(rm, rows, X, Y, target, "refit")[:, output]
            ))
        result = InfluentialRows(rows, float(np.sum(scores[best])), actual)
        result.groups = groups.labels[best]
        return result

    def _group_self_influence(self, groups, target, method, linearized):
        changes, groups = self._group_changes(groups, method)
        rm = self._fitted_removal()
        Z = rm.linear_predictor()
        dZ = own_rows_change(changes, rm.design, rm.theta, groups)
        Y = rm.problem.Y if target.needs_y else None
        # Groups whose removal is undefined carry NaN changes (already warned about).
        with np.errstate(invalid="ignore"):
            if check_bool(linearized, "linearized"):
                per_row = np.einsum("mq,mrq->mr", dZ, target.derivative(Z, Y))
            else:
                per_row = target.value(Z + dZ, Y) - target.value(Z, Y)
        totals = np.zeros((groups.n_groups, per_row.shape[1]))
        np.add.at(totals, groups.codes, per_row)
        return target.finalize(totals)

    def _group_loo_predict(self, groups, target, method):
        changes, groups = self._group_changes(groups, method)
        rm = self._fitted_removal()
        Z = rm.linear_predictor()
        dZ = own_rows_change(changes, rm.design, rm.theta, groups)
        Y = rm.problem.Y if target.needs_y else None
        with np.errstate(invalid="ignore"):  # NaN for undefined groups (warned)
            return target.finalize(target.value(Z + dZ, Y))

    def cv_predict(self, *, cv=5, groups=None, target="decision_function", method="newton"):
        """Out-of-fold predictions of every training row from this one fit.

        ``out[i]`` is the target of training row ``i`` evaluated with the model
        fitted without the fold that holds row ``i`` — what
        :func:`sklearn.model_selection.cross_val_predict` computes with one refit
        per fold, here from one group step per fold (exact for ``Ridge`` and
        ``LinearRegression``; one Newton step from the full fit otherwise).

        Parameters
        ----------
        cv : int or cross-validation splitter, default=5
            Number of folds (``GroupKFold`` when ``groups`` are given, else
            ``KFold`` without shuffling), or a scikit-learn splitter whose test
            folds partition the training rows (``KFold``, ``GroupKFold``,
            ``StratifiedKFold``, ``LeaveOneGroupOut``, ...).
        groups : array-like of shape (n_samples,), default=None
            Group labels passed to the splitter.
        target : {"decision_function", "predict_proba", "predict", "loss"}, \
                default="decision_function"
            See :meth:`removal_effect`; evaluated on the training rows.
        method : {"newton", "refit", "rif", "if"}, default="newton"
            How each fold's removal is computed: ``"newton"`` the group Newton step,
            ``"refit"`` an exact refit per fold, ``"rif"``/``"if"`` additive.

        Returns
        -------
        predictions : ndarray of shape (n_samples,) or (n_samples, n_outputs)

        Notes
        -----
        For folds of sizes ``k_f``: Σ_f O(k_f p̃² + k_f³) for ``"newton"`` in the
        primal form (O(k_f n² + k_f³) in the dual form), plus O(nnz(X) q).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from sklearn.model_selection import GroupKFold, cross_val_predict
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(60, 3)); y = X @ [1.0, 2.0, 0.0] + rng.normal(size=60)
        >>> groups = np.repeat(np.arange(12), 5)
        >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
        >>> fast = est.cv_predict(cv=GroupKFold(4), groups=groups, target="predict")
        >>> slow = cross_val_predict(Ridge(alpha=1.0), X, y, cv=GroupKFold(4), groups=groups)
        >>> bool(np.allclose(fast, slow))
        True
        """
        target = self._target(target)
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
        rm = self._fitted_removal()
        problem = rm.problem
        labels = problem.Y
        if problem.objective.is_classifier:
            labels = self.classes_[_audit.true_classes(problem.Y)]
        if groups is not None:
            groups = self._groups(groups).codes
        splits = fold_splits(cv, problem.design.X, labels, groups)
        Z = rm.linear_predictor()
        dZ = np.empty_like(Z)
        for _, test in splits:
            delta = rm.parameter_change(np.sort(test), method)
            dZ[test] = problem.design.rows_matvec(test, delta.T)
        Y = problem.Y if target.needs_y else None
        return target.finalize(target.value(Z + dZ, Y))

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

    # -- regression diagnostics ------------------------------------------------
    def diagnostics(self, *, columns=None):
        """Per-row regression diagnostics: R's ``influence.measures`` table and more.

        One row per training row (indexed like the training DataFrame): the
        leverage ``hat_diag``; residuals ``resid_response``, ``resid_pearson`` and
        ``resid_deviance``; standardized (``standard_resid``, Pearson;
        ``standard_resid_deviance``) and studentized (``student_resid``)
        residuals; Cook's distance ``cooks_d``; ``dffits_internal`` and ``dffits``;
        ``covratio``; ``dfb_<name>`` (DFBETAS) and ``dfbeta_<name>`` (DFBETA) per
        coefficient; and R's ``influence.measures`` flags ``inf_dfb_<name>``,
        ``inf_dffits``, ``inf_covratio``, ``inf_cooks_d``, ``inf_hat`` with their
        disjunction ``influential``. Names follow statsmodels' ``summary_frame()``;
        unpenalised ``LinearRegression`` (with weights), ``LogisticRegression``
        and ``PoissonRegressor`` reproduce R and statsmodels (the two differ for
        GLM DFBETA(S), see the "Regression diagnostics" guide). Penalised models
        use the generalization documented there: the one-step leave-one-out
        change of the penalised objective (RIF; exact for ridge), the penalised
        Hessian as Cook's metric and ``tr(hat)`` degrees of freedom.

        DFBETA follows R's sign, **with the row minus without it**: the opposite
        of skrif's convention in :meth:`influence`.

        Parameters
        ----------
        columns : list of str, default=None
            Coefficients to report DFBETA(S) for (feature names, or
            ``"intercept"``); ``None`` reports all, ``[]`` none. The flags'
            thresholds always use every coefficient.

        Returns
        -------
        table : pandas.DataFrame
            One row per training row. Models with several independent outputs
            (multi-target least squares, multiclass ``RidgeClassifier``) get one
            table per output side by side, under a column MultiIndex
            ``(output, column)``. Without pandas, a dict of column name (or
            ``(output, name)``) to array.

        Raises
        ------
        ValueError
            For unknown names in ``columns``, multinomial logistic regression
            (coupled outputs), or fewer fitted rows than degrees of freedom + 2.

        Notes
        -----
        Rows with leverage 1 get NaN (with a
        :class:`~skrif.exceptions.HighLeverageWarning`); rows with sample weight 0
        are not part of the fit and get NaN, as R drops them. Cost: O(n p̃²) for
        the parameter changes, O(n p̃) for the rest, in row blocks; never an
        n × n matrix.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(30, 2)); y = X @ [1.0, -1.0] + rng.normal(size=30)
        >>> y[7] += 8.0
        >>> table = InfluenceEstimator(LinearRegression()).fit(X, y).diagnostics()
        >>> int(table["cooks_d"].idxmax())
        7
        >>> list(table.columns[:3])
        ['dfb_x0', 'dfb_x1', 'dfb_intercept']
        """
        check_is_fitted(self)
        from .._features.diagnostics import diagnostics

        return diagnostics(self, columns)

    # -- conformal prediction (logic in skrif._features.conformal) -----------------------
    @available_if(_wraps_regressor)
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
        return _conformal.predict_interval(self, X, alpha, method, cv)

    @available_if(_wraps_probabilistic_classifier)
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
        return _conformal.predict_set(self, X, alpha, method)

    # -- auditing: leave-one-out predictions, removals that flip a conclusion ----
    @dask_aware
    def loo_predict(self, *, target="decision_function", method=None, groups=None):
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
            ``None`` uses ``"rif"`` if ``rescaled`` else ``"if"``. With ``groups``:
            ``{"if", "rif", "newton"}``, and ``None`` is ``"newton"``.
        groups : array-like of shape (n_samples,), default=None
            Group labels: leave-one-*group*-out predictions instead, ``out[i]``
            evaluated with the model fitted without row ``i``'s whole group (the
            group Newton step: exact for ``Ridge``/``LinearRegression``; NaN, with
            a :class:`~skrif.exceptions.SetInteractionWarning`, for groups whose
            removal leaves the model undetermined).

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
        target = self._target(target)
        if groups is not None:
            return self._group_loo_predict(groups, target, method)
        method = self._additive_method(method, "loo_predict")
        values = _audit.loo_predict(self._removal, target, method)
        return target.finalize(self._nan_undefined_removals(values))

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
        problem = self._fitted_removal().problem
        classifier = problem.objective.is_classifier
        loo = self.loo_predict(
            target="decision_function" if classifier else "predict", method=method, groups=groups
        )
        if np.any(np.isnan(loo)):
            raise ValueError(
                "Some leave-one-out predictions are undefined (rows with leverage 1, "
                "or the only training row of a class): the leave-one-out score is "
                "undefined. For leverage 1, use method='if' or add a penalty."
            )
        if classifier:
            Z = loo.reshape(len(loo), -1)
            return float(np.mean(
                _audit.predicted_classes(Z) == _audit.true_classes(problem.Y)
            ))
        from sklearn.metrics import r2_score

        return float(r2_score(problem.Y.reshape(loo.shape), loo))

    def amip_summary(
        self, coef=None, *, alpha=0.05, cov_type="nonrobust", groups=None, unit="rows",
        max_rows=None, max_fraction=0.1, max_refits=None, use_t=None,
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
        check_is_fitted(self)
        return _amip.summary(
            self, coef, alpha=alpha, cov_type=cov_type, groups=groups, unit=unit,
            max_rows=max_rows, max_fraction=max_fraction, max_refits=max_refits,
            use_t=use_t,
        )

    @dask_aware
    def removal_to_flip(
        self, X=None, *, coef=None, output=None, method=None, max_rows=None, max_refits=None,
        conclusion="sign", alpha=0.05, cov_type="nonrobust", groups=None, unit="rows",
        max_fraction=0.1, use_t=None,
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
        if (X is None) == (coef is None):
            raise ValueError(
                "Pass exactly one of X (one evaluation row whose prediction to flip) "
                "and coef (a feature index whose coefficient sign to flip)."
            )
        n = rm.n_samples
        # -- significance audit (skrif/_features/amip.py): coef names, caps, new searches --
        if coef is not None:
            coef = _amip.resolve_coef(
                coef, self.n_features_in_, getattr(self, "feature_names_in_", None)
            )
        if max_refits is not None:
            max_refits = _audit.check_positive_int(max_refits, "max_refits")
        if X is not None:
            X = self._validate_X(X)
            if X.shape[0] != 1:
                raise ValueError(
                    f"X must hold exactly one evaluation row; got {X.shape[0]} rows."
                )
        classes = self.classes_ if rm.objective.is_classifier else None
        A, names = _audit.flip_functionals(rm.design, rm.theta, X, coef, output, classes)
        if _amip.uses_search(X, conclusion, cov_type, groups, unit):
            return _amip.run(
                self, A, names, coef, conclusion=conclusion, alpha=alpha,
                cov_type=cov_type, groups=groups, unit=unit, max_rows=max_rows,
                max_fraction=max_fraction, max_refits=max_refits, use_t=use_t,
                method=method,
            )
        _amip.prepare(
            self, _amip.RemovalState(self), coef, conclusion, alpha, cov_type, groups,
            unit, use_t,
        )
        max_rows = _amip.cap_for(n, max_rows, max_fraction)
        max_refits = 10 if max_refits is None else max_refits
        # -- the historic sign search --
        result = _audit.removal_to_flip(rm, A, names, method, max_rows, max_refits)
        return _amip.annotate(self, result, coef, cov_type, groups, use_t, alpha, max_rows)
