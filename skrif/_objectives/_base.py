"""The Objective interface: one small class per model family.

Every supported estimator minimises, in *sum form*,

    J(θ) = c Σ_i s_i Σ_k ℓ(y_ik, z_ik) + ½ λ_w ‖w‖² + ½ λ_b b²,   z_i = X̃_i θ_k

with ``c`` the loss scale, ``s_i`` the effective sample weights and ``θ_k = (w_k, b_k)``
one parameter row per output. An Objective reads ``c, λ_w, λ_b`` and the intercept
flag off a (fitted) estimator, converts its targets and weights, and provides the
pointwise loss with its first two derivatives in ``z``. All the linear algebra is
generic (``_problem.py``, ``_curvature.py``).
"""

import numpy as np

from ..exceptions import UnsupportedModelError
from ._link import IDENTITY

#: lbfgs stops short of 1e-10 whatever its tol; Newton–Cholesky converges.
NEWTON_CHOLESKY = {"solver": "newton-cholesky", "tol": 1e-10}


def class_weighted(y, sample_weight, estimator):
    """``sample_weight`` times the estimator's ``class_weight`` dict entry of each label."""
    if not estimator.class_weight:
        return sample_weight
    classes = estimator.classes_
    factor = np.array([estimator.class_weight.get(c, 1.0) for c in classes])
    return sample_weight * factor[np.searchsorted(classes, np.asarray(y))]


def check_class_weight(objective_cls, estimator):
    """Refuse ``class_weight="balanced"`` (any string): it depends on every row's label."""
    if isinstance(estimator.class_weight, str):
        objective_cls._refuse(
            estimator,
            f"class_weight={estimator.class_weight!r}",
            "Balanced weights depend on every row's label; pass an explicit "
            "class_weight dict or sample_weight instead.",
        )


def check_not_positive(objective_cls, estimator):
    """Refuse ``positive=True``: the constraint makes the solution non-smooth in the data."""
    if getattr(estimator, "positive", False):
        objective_cls._refuse(
            estimator,
            "positive=True",
            "The positivity constraint makes the solution non-smooth in the data; "
            "use positive=False.",
        )


def check_two_classes_left(Y, kept_weights):
    """Refuse a removal leaving one class of a binary (0/1-encoded) classifier."""
    kept = kept_weights > 0
    if np.all(Y[kept] == 1) or np.all(Y[kept] == 0):
        raise ValueError(
            "Removing these rows leaves training rows of a single class: the "
            "classifier without them is not defined."
        )


class BinaryTargets:
    """Targets of a binary classifier: ``y == classes_[1]`` as 0/1, ``class_weight``
    dicts folded into the sample weights, and removals that must leave both classes
    (mixed into an :class:`Objective`)."""

    is_classifier = True

    def encode_targets(self, y, estimator):
        return (np.asarray(y) == estimator.classes_[1]).astype(float).reshape(-1, 1)

    def effective_weights(self, y, sample_weight, estimator):
        return class_weighted(y, sample_weight, estimator)

    def check_removal(self, Y, kept_weights):
        super().check_removal(Y, kept_weights)
        check_two_classes_left(Y, kept_weights)


class Objective:
    """Base class: sum-form loss + diagonal L2 penalty of a linear model.

    Attributes
    ----------
    fit_intercept : bool
    loss_scale : float
        ``c`` multiplying the summed loss.
    penalty_coef : float
        ``λ_w``: the penalty is ``½ λ_w ‖w‖²``.
    penalty_intercept : float
        ``λ_b``; 0 when the intercept is unpenalised.
    """

    #: estimator classes this objective handles (checked with ``type(est) is cls``).
    estimator_types = ()
    is_classifier = False
    #: Mean-form objectives (``(1/S) Σ s_i ℓ_i + (α/2)‖w‖²``) are handled in sum form
    #: ``Σ s_i ℓ_i + (α/2) Σ_i m_i ‖w‖²``: each row owns a share ``m_i`` of the
    #: penalty (:meth:`penalty_shares`) and removing the row removes its share too,
    #: so its Hessian is not rank one (see ``skrif/_removal/penalty_share.py``).
    mean_form = False
    #: Whether the loss is quadratic in ``z`` (least squares): the gradient
    #: coefficients are then ``−d ∘ r`` with ``r`` the residuals, which skrif can
    #: compute without cancellation near interpolation (see :mod:`skrif._core.fitted`).
    quadratic = False
    #: ``α``: the penalty on ``w`` per unit of penalty share (mean form only).
    penalty_share_coef = 0.0
    #: Which recession-direction check (:mod:`skrif._core.separation`) decides whether the
    #: unpenalised objective has a finite optimum: ``"binary"`` / ``"multinomial"``
    #: (separable classes) or ``"count"`` (log-link counts with zero targets);
    #: ``None`` when it always has one (e.g. least squares).
    recession = None
    #: Which removal-Hessian kind factors this objective's Hessian
    #: (:func:`skrif._removal.make_hessian`): "rank_one" (per-row Hessians
    #: ``d_i x̃_i x̃_iᵀ`` shared by the outputs), "block" (coupled outputs: K × K
    #: blocks per row) or "penalty_share" (mean-form: each row also owns a share of
    #: the penalty).
    hessian_kind = "rank_one"
    #: Which :class:`~skrif._core.problem.Problem` evaluates the objective
    #: (:func:`skrif._core.problems.make_problem`): "smooth", or "l1" for an objective
    #: with an L1 term (solved and attributed on its active set).
    problem_kind = "smooth"
    #: The L1 term (``problem_kind="l1"``): ``λ₁`` on every coefficient, ``α₁`` per
    #: unit of penalty share (mean form) and ``λ₁ᵇ`` on the intercept.
    l1_coef = 0.0
    l1_share_coef = 0.0
    l1_intercept = 0.0
    #: Optimality gap above which a fit is polished (``None``: skrif's default
    #: ``POLISH_TOL``). L1 families polish any gap: one active-set Newton step, and a
    #: single row's effect (1e-4 of ‖θ‖ on 6,000 rows) would otherwise carry the fit's
    #: 1e-12 error as a 1e-8 relative one.
    polish_tol = None
    #: How the linear predictor maps to the predicted mean (``"predict"`` of a
    #: regressor, the positive class's probability of a binary classifier).
    link = IDENTITY

    # -- what the features need to know about the family ------------------------
    # Declared here and read by the features, which never ask which estimator type
    # they hold: diagnostics, standard errors, the OptimalityWarning's advice.
    #: Why regression diagnostics are not defined for this family (shown when
    #: :meth:`exponential_family` is ``None``).
    no_diagnostics_reason = "skrif does not know the exponential family of its loss"

    def exponential_family(self):
        """The :class:`~skrif._objectives._family.ExponentialFamily` of the loss, which
        regression diagnostics need; ``None`` when the table is not defined for it."""
        return None

    def standard_error_family(self):
        """``(family, None)`` when statsmodels' standard errors apply to this fitted
        objective (unpenalised maximum likelihood or least squares, one output), else
        ``(None, reason)``; ``family`` is ``"gaussian"``, ``"binomial"`` or
        ``"poisson"``."""
        return None, (
            "standard errors are supported for LinearRegression, unpenalised binary "
            f"LogisticRegression and PoissonRegressor(alpha=0), not for {self.estimator_name}"
        )

    #: Settings with which the estimator fits to skrif's polishing tolerance
    #: (:meth:`tight_fit_params`); ``None``: no setting does.
    tight_fit = None

    @classmethod
    def tight_fit_params(cls, estimator):
        """Parameters with which ``estimator`` fits to skrif's polishing tolerance,
        or ``None`` if no setting does (what an OptimalityWarning advises)."""
        return None if cls.tight_fit is None else dict(cls.tight_fit)

    @classmethod
    def optimality_advice(cls, estimator, n_samples):
        """The "how to silence it" sentence of the OptimalityWarning for ``estimator``."""
        name = type(estimator).__name__
        params = cls.tight_fit_params(estimator)
        if params is not None:
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            return f"Fit {name}({shown}) to reach the optimum and silence this warning."
        return (
            f"{name} does not reach the optimum at any tolerance; filter the warning "
            "(warnings.filterwarnings('ignore', category=OptimalityWarning)) if the "
            "polished coefficients are what you want."
        )

    def removed_share(self, fraction):
        """Fraction ``ρ`` of a row's penalty share removed when its weight is
        multiplied by ``1 − fraction`` (mean form only; see :meth:`penalty_shares`)."""
        return float(fraction)

    def penalty_shares(self, weights, original_weights):
        """Penalty share ``m_i`` of every row under ``weights`` (mean form only).

        ``original_weights`` are the training weights: a row whose weight went from
        positive to 0 was removed (and takes its share along).
        """
        return np.zeros_like(weights)

    def check_classes(self, estimator):
        """Raise :class:`UnsupportedModelError` for an unsupported set of classes."""

    def __init__(self, estimator):
        self.fit_intercept = bool(getattr(estimator, "fit_intercept", True))
        #: The wrapped estimator's class name, for messages.
        self.estimator_name = type(estimator).__name__

    # -- support ------------------------------------------------------------
    @classmethod
    def check_supported(cls, estimator):
        """Raise :class:`UnsupportedModelError` naming an unsupported setting."""

    @staticmethod
    def _refuse(estimator, setting, fix):
        raise UnsupportedModelError(
            f"{type(estimator).__name__} with {setting} is not supported by skrif: "
            f"its objective is not twice differentiable or removal is ill-defined. {fix}"
        )

    # -- data ---------------------------------------------------------------
    def encode_targets(self, y, estimator):
        """Return the targets as a float array of shape (n_samples, n_outputs).

        Always a copy (n × q floats), so the fitted objective does not change when
        the caller later changes their ``y``.
        """
        y = np.array(y, dtype=float)
        return y.reshape(len(y), -1)

    def effective_weights(self, y, sample_weight, estimator):
        """Return ``s_i``: the weights the estimator really used (e.g. × class_weight)."""
        return sample_weight

    def check_targets(self, Y):
        """Raise ``ValueError`` if encoded targets lie outside the loss's domain."""

    def check_removal(self, Y, kept_weights):
        """Raise ``ValueError`` if the rows left after a removal cannot be fitted."""
        if not np.any(kept_weights > 0):
            raise ValueError(
                "Removing these rows leaves no training row with positive weight: "
                "there is no model to compare with."
            )

    # -- loss ---------------------------------------------------------------
    def loss(self, Y, Z):  # pragma: no cover - interface
        """Pointwise loss ``ℓ(y, z)``, shape (n_samples, n_outputs)."""
        raise NotImplementedError

    def loss_derivatives(self, Y, Z):  # pragma: no cover - interface
        """Return ``(ℓ'(y, z), ℓ''(y, z))`` of shapes (n, n_outputs) and (n,).

        For independent outputs the second derivative must be shared by all of
        them (true of every single-index family here), so one Hessian serves every
        output. Coupled outputs (multinomial) return ``ℓ''`` as (n, K, K) blocks
        instead, which :mod:`skrif._removal.block` factors.
        """
        raise NotImplementedError

    # -- parameters -----------------------------------------------------------
    def multi_output(self, estimator):
        """Whether the fitted regressor predicts a 2-D array (one column per target)."""
        return np.ndim(estimator.coef_) == 2

    def get_theta(self, estimator):
        """Return θ of shape (n_outputs, n_features + fit_intercept), intercept last."""
        coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
        if not self.fit_intercept:
            return coef.copy()
        intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=float))
        return np.hstack([coef, intercept.reshape(-1, 1)])

    def split_theta(self, theta, like):
        """Split θ (or a change Δθ) into ``(coef, intercept)`` shaped like ``like``'s."""
        coef_shape = np.shape(like.coef_)
        coef = theta[:, : theta.shape[1] - int(self.fit_intercept)].reshape(coef_shape)
        intercept_shape = np.shape(like.intercept_)
        if self.fit_intercept:
            intercept = theta[:, -1].reshape(intercept_shape)
        else:
            intercept = np.zeros(intercept_shape)
        if intercept.ndim == 0:
            intercept = float(intercept)
        return coef, intercept

    def split_extra(self, theta):
        """Parameters of θ (or a change Δθ) beyond ``(coef, intercept)``, by their
        :class:`~skrif.ParameterChange` field (``{"scale": …}`` for HuberRegressor)."""
        return {}

    def set_theta(self, estimator, theta):
        """Write θ into ``estimator.coef_`` / ``intercept_`` keeping their shapes."""
        coef, intercept = self.split_theta(theta, estimator)
        estimator.coef_ = coef
        if self.fit_intercept:
            estimator.intercept_ = intercept
