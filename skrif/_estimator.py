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
from sklearn.linear_model import LogisticRegression
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._influence import LEVERAGE_TOL, METHODS, ParameterChange, check_removed_rows, parameter_change
from ._objectives import objective_class_for
from ._problem import Problem, warn_not_converged
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
        and multi-target, dense or sparse ``X``) and binary ``LogisticRegression``
        with an L2 penalty or none (any solver). Anything else raises
        :class:`~skrif.exceptions.UnsupportedModelError` in :meth:`fit`.
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
        is still emitted).

    Attributes
    ----------
    estimator_ : estimator object
        The fitted (and possibly polished) clone of ``estimator``.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit` (only for inputs with string
        column names).
    classes_ : ndarray of shape (n_classes,)
        Class labels (classifiers only).
    leverages_ : ndarray of shape (n_samples,)
        Generalized leverage ``h_i = d_i x̃_iᵀ H⁻¹ x̃_i`` of each training row,
        with ``d_i`` the row's curvature (``c s_i ℓ''``). ``0 ≤ h_i ≤ 1``.
    rescale_factors_ : ndarray of shape (n_samples,)
        ``1 / (1 − h_i)``, the factor by which RIF exceeds IF for each row; ``inf``
        where ``1 − h_i ≤ 1e-8`` (such rows are reported by a
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
    training data are kept by reference, not copied (unless validation had to
    convert them).

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
    def _is_classifier(self):
        return get_tags(self._get_estimator()).estimator_type == "classifier"

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
        sw = np.asarray(sample_weight, dtype=float)
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
        estimator = self._get_estimator()
        objective_cls = objective_class_for(estimator)
        classifier = objective_cls.is_classifier
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

        self.estimator_ = clone(estimator)
        if sample_weight is None:
            self.estimator_.fit(X, y)
        else:
            self.estimator_.fit(X, y, sample_weight=sample_weight)

        objective = objective_cls(self.estimator_)
        if classifier:
            objective.check_classes(self.estimator_)
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        weights = objective.effective_weights(y, weights, self.estimator_)
        problem = Problem(objective, X, objective.encode_targets(y, self.estimator_), weights)
        self._set_optimum(problem, objective.get_theta(self.estimator_))
        return self

    def _set_optimum(self, problem, theta):
        """Measure the optimality gap, polish if asked, factor and store the state."""
        d1, d2 = problem.row_derivatives(theta)
        curvature = problem.curvature(d2)
        self.optimality_gap_ = problem.optimality_gap(theta, curvature, d1)
        self.n_polish_steps_ = 0
        if self.optimality_gap_ > WARN_TOL:
            action = (
                "skrif polished it with Newton steps on that objective; predictions use "
                "the polished coefficients (polish=False keeps the original ones)"
                if self.polish
                else "attributions are computed at these coefficients (polish=False)"
            )
            warnings.warn(
                f"The fitted {type(self.estimator_).__name__} is {self.optimality_gap_:.2g} "
                "(relative Newton step) away from the optimum of its own objective, as "
                f"large as a single row's effect; {action}. Tighten the solver "
                "(e.g. tol=1e-10, solver='newton-cholesky') to silence this warning.",
                OptimalityWarning,
                stacklevel=3,
            )
        if self.polish and self.optimality_gap_ > POLISH_TOL:
            theta, self.n_polish_steps_, converged = problem.newton(theta)
            if not converged:
                warn_not_converged(self.n_polish_steps_, "polishing the fit")
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

    # -- attribution ---------------------------------------------------------
    def _resolve_method(self, method):
        if method is None:
            return "rif" if self.rescaled else "if"
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} or None; got {method!r}.")
        return method

    def influence(self, X_removed_idx, *, method=None):
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

        Returns
        -------
        change : ParameterChange
            ``change.coef`` and ``change.intercept`` are the parameters *without* the
            rows minus *with* them, shaped like ``estimator_.coef_`` and
            ``estimator_.intercept_``.

        Notes
        -----
        With ``k`` removed rows: "if"/"rif" cost O(k p̃) plus one solve; "newton"
        O(k p̃² + k³) (primal) or O(k n² + k³) (dual); "refit" a few
        factorizations. Rows with leverage 1 make "rif" NaN (with a
        :class:`~skrif.exceptions.HighLeverageWarning`).
        """
        check_is_fitted(self)
        method = self._resolve_method(method)
        idx = check_removed_rows(X_removed_idx, self._problem.design.n_samples)
        delta = parameter_change(self._problem, self._theta, self._d1, self._curvature, idx, method)
        coef, intercept = self._problem.objective.split_theta(delta, self.estimator_)
        return ParameterChange(coef=coef, intercept=intercept, method=method, removed=idx)

    # -- delegated prediction ------------------------------------------------
    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float64)

    def predict(self, X):
        """Predict with the fitted (polished) estimator."""
        X = self._validate_X(X)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the fitted (polished) estimator."""
        X = self._validate_X(X)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities from the fitted (polished) estimator."""
        X = self._validate_X(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Raw outputs (logits) from the fitted (polished) estimator."""
        X = self._validate_X(X)
        return self.estimator_.decision_function(X)

    def score(self, X, y, sample_weight=None):
        """The wrapped estimator's ``score``: accuracy for classifiers, R² otherwise."""
        X = self._validate_X(X)
        return self.estimator_.score(X, y, sample_weight=sample_weight)
