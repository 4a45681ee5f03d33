"""Removal effects on functionals of the model's outputs on reference rows.

A functional (:mod:`skrif.functionals`) is a scalar ``F`` of the model's outputs on
fixed reference rows. Removing training row ``i`` moves the parameters by ``Δ_i``
(:meth:`RemovalModel.row_steps <skrif._core.fitted.RemovalModel.row_steps>`) and
every reference row's linear predictor by ``δz_ij = x̃_j·Δ_i``; its effect is

* by default ``F(outputs(z + δz_i)) − F(outputs(z))``: the functional evaluated at
  the predicted parameters ``θ̂ + Δ_i`` (exact for least squares with RIF; the
  only meaningful answer for step functions such as accuracy or ROC AUC);
* with ``linearized=True`` (smooth functionals) the chain rule
  ``Σ_j ∂F/∂z_j · δz_ij = ⟨G, Δ_i⟩`` with ``G = Σ_j x̃_j ⊗ ∂F/∂z_j``: one solve and
  one pass over the training rows
  (:meth:`~skrif._core.fitted.RemovalModel.functional_changes`).

The default path works on blocks of training rows: the block's steps
``Δ`` (c, q, p̃), their effect on the reference rows ``δz`` (c, m, q), the outputs
and the functional's batched change — never an n × m matrix. Cost O(n p̃ m q) for
the products plus the functional's own cost per row (O(m) for means and gaps,
O(m) comparisons plus a sort of the reference rows whose order changes for ROC
AUC, O(m log m) for average precision), and the steps (O(n p̃²) primal).

Sign convention everywhere: **value without the rows minus value with them**.
"""

import dataclasses

import numpy as np

from .._core.targets import make_target
from ..functionals import Functional, ModelInfo
from .audit import flip_search

#: Floats per block temporary (c × m × q outputs, c × q × p̃ steps): 32 MB.
_BLOCK_FLOATS = 1 << 22


def check_functional(functional):
    """Raise ``TypeError`` unless ``functional`` is a :class:`~skrif.functionals.Functional`."""
    if not isinstance(functional, Functional):
        raise TypeError(
            "functional must be a skrif.functionals.Functional (e.g. "
            "skrif.functionals.roc_auc(), or Functional.from_callable(metric)); got "
            f"{type(functional).__name__}."
        )
    return functional


class Reference:
    """A functional bound to a model and to its reference rows.

    Parameters
    ----------
    functional : Functional
        Bound to the model (:meth:`Functional._bind`).
    for_rows : callable
        The training design's ``for_rows``: the model's design operator on other
        rows (the intercept column; kernel rows for kernel models).
    X_ref : {ndarray, sparse matrix}
        The validated reference rows.
    theta : ndarray of shape (q, p̃)
        The fitted parameters.
    y : ndarray or None
        Reference targets as the functional reads them (class indices for
        classifiers), or ``None``.
    Y : ndarray or None
        Encoded targets of the objective (for ``"loss"``).
    target : Target or None
        The output map, ``None`` for predicted classes.
    """

    def __init__(self, functional, for_rows, X_ref, theta, y, Y, target):
        self.functional, self.for_rows, self.X_ref = functional, for_rows, X_ref
        self.design = for_rows(X_ref)
        self.theta, self.y, self.Y, self.target = theta, y, Y, target
        self.Z = self.design.matvec(theta.T)
        self.out = self.outputs(self.Z)
        self.evaluator = functional._evaluator(y, self.out)

    def at(self, theta):
        """The same functional and reference rows at other parameters ``theta``."""
        return Reference(
            self.functional, self.for_rows, self.X_ref, theta, self.y, self.Y, self.target
        )

    @property
    def value(self):
        """The functional on the fitted model."""
        return self.evaluator.base

    def outputs(self, Z):
        """The functional's outputs from linear predictors ``Z`` (..., m, q)."""
        if self.target is None:  # predicted classes, as scikit-learn predicts them
            if Z.shape[-1] == 1:
                return (Z[..., 0] > 0).astype(np.intp)
            return np.argmax(Z, axis=-1)
        return self.target.finalize(self.target.value(Z, self.Y))

    def change(self, delta):
        """``F(θ̂ + Δ) − F(θ̂)`` for one parameter change ``delta`` (q, p̃)."""
        dZ = self.design.matvec(delta.T)
        return float(self.evaluator.changes(self.outputs(self.Z + dZ)[None])[0])

    def gradient_z(self):
        """``∂F/∂z_j`` (m, q) at the fitted model (smooth functionals)."""
        g = np.asarray(self.evaluator.gradient(), dtype=float)
        J = self.target.derivative(self.Z, self.Y)  # (m, r, q)
        g = g.reshape(J.shape[0], J.shape[1])
        return np.einsum("mr,mrq->mq", g, J)


def model_info(objective, estimator, n_outputs):
    """The :class:`~skrif.functionals.ModelInfo` of a fitted model."""
    classes = getattr(estimator, "classes_", None) if objective.is_classifier else None
    return ModelInfo(
        objective.is_classifier,
        classes,
        probabilistic=hasattr(estimator, "predict_proba"),
        n_outputs=n_outputs,
    )


def bind(functional, objective, estimator, n_outputs, multi_output, X_ref, y_ref, Y_ref, theta,
         for_rows):
    """A :class:`Reference` for ``functional`` on validated reference rows.

    ``y_ref`` holds the user's reference targets (labels), ``Y_ref`` the objective's
    encoded targets (for the loss). Raises ``ValueError`` for a functional of the
    wrong kind for this model, a missing ``y_ref`` it needs, or groups bound to
    another number of rows.
    """
    info = model_info(objective, estimator, 1 if not multi_output else n_outputs)
    bound = check_functional(functional)._bind(info)
    response = bound.response_method
    target = None
    if not (response == "predict" and objective.is_classifier):
        target = make_target(response, objective, n_outputs, multi_output, info.probabilistic)
    n_ref = X_ref.shape[0]
    bound._check_rows(n_ref)
    y = bound._encode_y(y_ref)
    if y is not None and y.shape[0] != n_ref:
        raise ValueError(
            f"X_ref and y_ref have different numbers of rows: {n_ref} and {y.shape[0]}."
        )
    return Reference(bound, for_rows, X_ref, theta, y, Y_ref, target)


def _rows_per_block(m, q, n_params):
    return max(1, _BLOCK_FLOATS // max(m * q, n_params * q, 1))


def row_effects(rm, ref, method, linearized=False):
    """Effect of removing each training row alone on the functional: shape (n,).

    ``method`` is additive ("if"/"rif"). See the module docstring for the two
    conventions and the cost.
    """
    if linearized:
        if not ref.functional._is_smooth():
            raise ValueError(
                f"The functional {ref.functional.name} is not smooth (a step function of "
                "the parameters): linearized=True does not apply; its effects are "
                "evaluated at the predicted parameters (linearized=False)."
            )
        G = ref.design.rmatvec(ref.gradient_z())  # (p̃, q)
        return rm.functional_changes(G.T[None], method)[:, 0]
    n, q = rm.n_samples, rm.n_outputs
    ev = ref.evaluator
    design, Z = ref.design, ref.Z
    if ev.order is not None:  # the evaluator reads the reference rows in its order
        design = ref.for_rows(ref.X_ref[ev.order])
        Z = Z[ev.order]
    m = design.n_samples
    out = np.empty(n)
    block = _rows_per_block(m, q, rm.n_params)
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        D = rm.row_steps(rows, method)  # (c, q, p̃)
        c = D.shape[0]
        dZ = design.matvec(D.reshape(c * q, -1).T).reshape(m, c, q).transpose(1, 0, 2)
        if ev.order is not None:
            out[rows] = ev.changes_sorted(ref.outputs(Z + dZ))
        else:
            out[rows] = ev.changes(ref.outputs(Z + dZ))
    return out


def group_effects(changes, ref, linearized=False):
    """Effect of removing each group (parameter changes (G, q, p̃)) on the
    functional: shape (G,). NaN for groups whose change is undefined."""
    G, q, _ = changes.shape
    out = np.full(G, np.nan)
    finite = np.flatnonzero(np.all(np.isfinite(changes.reshape(G, -1)), axis=1))
    if linearized:
        if not ref.functional._is_smooth():
            raise ValueError(
                f"The functional {ref.functional.name} is not smooth: linearized=True "
                "does not apply."
            )
        gz = ref.gradient_z()  # (m, q)
        A = ref.design.rmatvec(gz)  # (p̃, q)
        out[finite] = np.einsum("gqp,pq->g", changes[finite], A)
        return out
    m = ref.design.n_samples
    block = _rows_per_block(m, q, changes.shape[2])
    for start in range(0, finite.size, block):
        sel = finite[start : start + block]
        D = changes[sel]
        c = D.shape[0]
        dZ = ref.design.matvec(D.reshape(c * q, -1).T).reshape(m, c, q).transpose(1, 0, 2)
        out[sel] = ref.evaluator.changes(ref.outputs(ref.Z + dZ))
    return out


def set_change(ref, delta, linearized=False):
    """Change of the functional for one parameter change ``delta`` (q, p̃)."""
    if not np.all(np.isfinite(delta)):
        return float("nan")
    if linearized:
        if not ref.functional._is_smooth():
            raise ValueError(
                f"The functional {ref.functional.name} is not smooth: linearized=True "
                "does not apply."
            )
        return float(np.sum(ref.design.rmatvec(ref.gradient_z()).T * delta))
    return ref.change(delta)


def removal_to_threshold(rm, ref, threshold, method, max_rows, max_refits):
    """Greedy smallest set of training rows whose removal moves the functional to
    or past ``threshold``, verified by exact refits (:func:`~.audit.flip_search`).

    Rows are ranked by their single-row effects at the fitted model (evaluated at
    ``θ̂ + Δ_i``), re-ranked at each refitted model on the remaining rows; every
    reported change comes from an exact refit. Returns a
    :class:`~skrif.FlipResult` with ``conclusion="threshold"``.
    """
    theta0, base, name = rm.theta, ref.value, ref.functional.name
    if base == threshold:
        raise ValueError(
            f"{name} equals the threshold {threshold!r} on the fitted model: there is "
            "nothing to move past."
        )

    def quantity(theta):
        return np.array([base + ref.change(theta - theta0)])

    def score(state):
        at = ref if state is rm else ref.at(state.theta)
        return row_effects(state, at, method)[:, None]

    past = f"{name} to {threshold:g}"
    goal = ("the threshold", f"move {past}", f"moves {past}", f"move {past}")
    result = flip_search(rm, quantity, np.array([float(threshold)]), score, [name], max_rows,
                         max_refits, goal)
    return dataclasses.replace(
        result, conclusion="threshold", threshold=float(threshold), n_units=rm.n_samples,
        cap=max_rows, predicted_statistic="functional",
    )
