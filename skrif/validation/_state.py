"""What validation reads of a fitted estimator: one small adapter over the fitted
removal state (in memory here; :mod:`skrif._dask._validation` on Dask), and the
evaluation of targets at a parameter change.
"""

import warnings

import numpy as np

from .._core.set_error import (
    second_newton_step,
)
from .._utils.dask import fitted_on_dask
from ._common import check_influence_estimator


class _InMemoryRemovals:
    """What validation reads of an in-memory fit: its :class:`~skrif._core.fitted.RemovalModel`.

    The functions of this module read a fitted estimator only through this
    adapter, so that the same code validates an estimator fitted on Dask
    (``skrif._dask._validation.DaskRemovals`` has the same attributes and
    methods, answered by distributed passes and refits).

    Attributes
    ----------
    n_samples, n_params, n_outputs : int
    theta : ndarray of shape (n_outputs, n_params)
        θ̂ (intercept last).
    fit_intercept : bool
    objective : Objective
    X : {ndarray, sparse matrix}
        The training rows (for :func:`removal_sets`).
    distributed : bool
        ``False``: the work runs in this process.
    """

    distributed = False

    def __init__(self, est, rm):
        self.est, self.rm = est, rm
        self.n_samples, self.n_params, self.n_outputs = rm.n_samples, rm.n_params, rm.n_outputs
        self.theta, self.objective = rm.theta, rm.objective
        self.fit_intercept = rm.design.fit_intercept
        #: The design of evaluation rows (kernel rows for KernelRidge).
        self.design_of = rm.design.for_rows
        self.X = rm.design.X
        self._second_step, self._Z_train = None, None

    def target(self, name):
        return self.est._target(name)

    def validate_eval(self, X, y, target):
        return self.est._validate_eval(X, y, target)

    def total_loss_scores(self, X, Y, target, method):
        from .._features import attribution as _attribution

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _attribution.additive_scores(self.rm, X, Y, target, method)

    def parameter_change(self, idx, method):
        return self.rm.parameter_change(idx, method)

    def second_step(self, idx, delta):
        if self._second_step is None:
            rm = self.rm
            self._second_step = second_newton_step(rm.problem, rm.theta, rm.curvature)
        return self._second_step(idx, delta)

    def train_loss_changes(self, loss, deltas):
        """Change of the total (unweighted) training ``loss`` at ``θ̂ + Δ`` for each
        ``Δ`` of ``deltas``: ``Σ_i [ℓ_i(θ̂ + Δ) − ℓ_i(θ̂)]``, differenced row by row
        (a difference of two totals would lose the digits the totals share)."""
        design = self.rm.design
        if self._Z_train is None:
            Z = design.matvec(self.theta.T)
            self._Z_train = Z, loss.value(Z, self.rm.problem.Y)
        Z, base = self._Z_train
        Y = self.rm.problem.Y
        return [float(np.sum(loss.value(Z + design.matvec(d.T), Y) - base)) for d in deltas]


class _PipelineRemovals(_InMemoryRemovals):
    """What validation reads of ``InfluenceEstimator(pipeline, preprocessing="refit")``:
    removals from the whole pipeline (:class:`~skrif._preprocess.removal.PipelineRemoval`).

    A "parameter change" here is an :class:`~skrif._preprocess.removal.Answer` (the
    refitted preprocessing and model, or the rows' additive changes); its effects on
    the targets are evaluated on the raw evaluation rows by :class:`_PipelineEvaluator`.
    Evaluation rows are validated to the old features (to rank them by loss, as for
    any model) and kept raw for the refitted preprocessing.
    """

    def __init__(self, est, pr):
        super().__init__(est, pr.rm)
        self.pipeline = pr

    def total_loss_scores(self, X, Y, target, method, raw=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ev = self.pipeline.eval_rows(raw, X)
            dZ = self.pipeline.row_predictor_changes(ev, method)
            J = target.derivative(ev.base, Y)
            return np.einsum("imq,mrq->ir", dZ, J)[:, 0]

    def parameter_change(self, idx, method):
        answer = self.pipeline.answer(idx, method)
        answer.compute()  # inside the caller's timing and error handling
        return answer

    def second_step(self, idx, delta):
        raise ValueError("no second step for whole-pipeline answers")

    def evaluator(self, est, X_eval, y_eval, Y_eval, raw):
        return _PipelineEvaluator(self, est, X_eval, y_eval, Y_eval, raw)


def is_answer(delta):
    """Whether ``delta`` is a whole-pipeline answer (not a parameter array)."""
    return hasattr(delta, "predictor_change")


def finite(delta):
    """Whether a parameter change (or a whole-pipeline answer) is usable."""
    return is_answer(delta) or bool(np.all(np.isfinite(delta)))


def _removals(est, caller="skrif.validation"):
    """The removal state of a fitted InfluenceEstimator (checked), in memory or on Dask."""
    check_influence_estimator(est, caller)
    if fitted_on_dask(est):
        from .._dask import validation_state

        return validation_state(est)
    pr = getattr(est, "_pipeline_removal", None)
    if pr is not None:
        est._fitted_removal().check_data()
        return _PipelineRemovals(est, pr)
    rm = est._fitted_removal()
    # Refits below turn errors into NaN rows: a changed X must raise here instead.
    rm.check_data()
    return _InMemoryRemovals(est, rm)


class _TargetEvaluator:
    """Values of the three validation targets at θ̂ + Δ, minus their values at θ̂.

    The first target depends on the model: ``"test_proba"`` (probability of the true
    class) for classifiers with ``predict_proba``, ``"test_margin"`` (decision
    function toward the true class) for those without (``RidgeClassifier``), and
    ``"test_prediction"`` (the prediction, e.g. ``exp(z)`` for log-link GLMs) for
    regressors. The test targets are computed here on the (small, in-memory) test
    subset; the training loss by the removal state (``state.train_losses``: one
    pass over the training rows for all the changes of a set).
    """

    def __init__(self, state, est, X_eval, y_eval, Y_eval, functional=None):
        self.state = state
        #: A functional bound to its reference rows (``Reference``): a fourth target.
        self.functional = functional
        self.theta = state.theta
        self.design_eval = state.design_of(X_eval)
        self.Y_eval = Y_eval
        self.loss = state.target("loss")
        self.kind = "test_prediction"
        if state.objective.is_classifier:
            self.true_class = np.searchsorted(est.classes_, np.asarray(y_eval).ravel())
            try:
                self.prediction = state.target("predict_proba")
                self.kind = "test_proba"
            except ValueError:  # no predict_proba: use the decision function
                self.prediction = state.target("decision_function")
                self.kind = "test_margin"
        else:
            self.prediction = state.target("predict")
        self.names = (self.kind, "test_loss", "self_loss")
        if functional is not None:
            self.names += (functional.functional.name,)
        self.Z_eval = self.design_eval.matvec(self.theta.T)
        self.base = self._test_values(self.Z_eval)

    def _first(self, Z_eval):
        values = np.asarray(self.prediction.value(Z_eval), dtype=float)
        rows = np.arange(values.shape[0])
        if self.kind == "test_proba" or (self.kind == "test_margin" and values.shape[1] > 1):
            return values[rows, self.true_class]
        if self.kind == "test_margin":  # one decision value: positive toward classes_[1]
            return values[:, 0] * (2.0 * self.true_class - 1.0)
        return values

    def _test_values(self, Z_eval):
        """Per-row values of the two test targets (differenced row by row below)."""
        return {self.kind: self._first(Z_eval), "test_loss": self.loss.value(Z_eval, self.Y_eval)}

    def effects(self, deltas):
        """Changes of the three targets at ``θ̂ + Δ`` for each ``Δ`` (q, p̃) of the dict
        ``deltas``; NaN for a non-finite ``Δ``. Returns a dict of the same keys.

        Each change is a sum of per-row differences, ``Σ_j [F_j(θ̂ + Δ) − F_j(θ̂)]``:
        a difference of two totals would lose the digits they share (the training
        loss over all rows is much larger than its change).
        """
        finite = [key for key, delta in deltas.items() if np.all(np.isfinite(delta))]
        train = self.state.train_loss_changes(self.loss, [deltas[k] for k in finite])
        train = dict(zip(finite, train))
        out = {}
        for key, delta in deltas.items():
            if key not in train:
                out[key] = dict.fromkeys(self.names, np.nan)
                continue
            values = self._test_values(self.Z_eval + self.design_eval.matvec(delta.T))
            out[key] = {t: float(np.sum(values[t] - self.base[t])) for t in values}
            out[key]["self_loss"] = train[key]
            if self.functional is not None:
                out[key][self.names[3]] = self.functional.change(delta)
        return out


class _PipelineEvaluator(_TargetEvaluator):
    """:class:`_TargetEvaluator` for whole-pipeline answers: the test rows' linear
    predictor moves as the refitted pipeline predicts them (raw rows through the
    refitted preprocessing); the training loss likewise, row by row."""

    def __init__(self, state, est, X_eval, y_eval, Y_eval, raw):
        super().__init__(state, est, X_eval, y_eval, Y_eval)
        pr = state.pipeline
        self.ev = pr.eval_rows(raw, X_eval)
        self.train = pr.eval_rows(pr.X, pr.rm.design.X)
        self.train_base = self.loss.value(self.train.base, pr.rm.problem.Y)

    def effects(self, deltas):
        out = {}
        Y = self.state.pipeline.rm.problem.Y
        for key, answer in deltas.items():
            if not is_answer(answer):
                out[key] = dict.fromkeys(self.names, np.nan)
                continue
            try:
                values = self._test_values(self.Z_eval + answer.predictor_change(self.ev))
                train = self.loss.value(self.train.base + answer.predictor_change(self.train), Y)
            except (ValueError, np.linalg.LinAlgError):
                out[key] = dict.fromkeys(self.names, np.nan)
                continue
            out[key] = {t: float(np.sum(values[t] - self.base[t])) for t in values}
            out[key]["self_loss"] = float(np.sum(train - self.train_base))
        return out
