"""What :mod:`skrif.validation` reads of an estimator fitted on Dask.

:func:`skrif.validation.validate_influence` runs the same code on both paths; it
reads the fitted state through a small adapter (see ``skrif.validation._removals``).
This is the Dask one: every answer comes from the Dask path's own machinery —
predicted changes from :func:`~skrif._dask._estimator._delta` (the ``k`` removed
rows gathered once per set), the exact change from the distributed Newton refit
warm-started at θ̂, scores and training losses from blockwise passes over ``X``.
Nothing here builds a table: that stays in :mod:`skrif.validation`.
"""

import numpy as np

from .._linalg.design import AugmentedDesign
from . import _blocks
from ._engine import constant, solve_without, to_centred, to_original
from ._estimator import _additive_scores, _delta, _fit_state, _target, eval_data


class DaskRemovals:
    """The removal state of a Dask fit, as :mod:`skrif.validation` reads it.

    Attributes
    ----------
    n_samples, n_params, n_outputs : int
    theta : ndarray of shape (n_outputs, n_params)
        θ̂ in the estimator's coordinates ``(w, b)`` (intercept last).
    fit_intercept : bool
    objective : Objective
    X : dask.array.Array
        The training rows (for :func:`~skrif.validation.removal_sets`).
    distributed : bool
        ``True``: the work runs on the cluster (no local BLAS limits, no joblib).
    """

    distributed = True

    def __init__(self, est):
        fs = _fit_state(est)
        self.est, self.fs = est, fs
        spec = fs.spec
        self.n_samples = fs.design.n_samples
        self.n_outputs, self.n_params = spec.q, spec.n_params
        self.theta = to_original(spec, fs.state.theta)
        self.fit_intercept = spec.fit_intercept
        #: The design of evaluation rows (the Dask engine fits linear models only).
        self.design_of = lambda X: AugmentedDesign(X, spec.fit_intercept)
        self.objective = spec.objective
        self.X = fs.design.X
        self._key, self._rows = None, None

    def target(self, name):
        return _target(self.est, name)

    def validate_eval(self, X, y, target):
        """``(X, Y)`` as NumPy, ``Y`` encoded (dask input is computed)."""
        return eval_data(self.est, X, y, target)

    def total_loss_scores(self, X, Y, target, method):
        """Lazy (n,) additive effect of each training row on ``Σ_j loss_j`` (one pass)."""
        B = _blocks.augment(self.fs.spec, X)
        return _additive_scores(self.est, B, Y, target, method, 0)

    def _gathered(self, idx):
        """``design.rows(idx)``, read once per set (the last set is kept)."""
        key = idx.tobytes()
        if key != self._key:
            self._key, self._rows = None, self.fs.design.rows(idx)
            self._key = key
        return self._rows

    def parameter_change(self, idx, method):
        """``Δθ`` (q, p̃) for removing ``idx``: IF/RIF/NS on the gathered rows, or the
        distributed Newton refit from θ̂ ("refit", a few passes over ``X``)."""
        return _delta(self.est, idx, method, rows=self._gathered(idx))

    def second_step(self, idx, delta):
        """The next Newton step on the objective without ``idx`` from ``θ̂ + delta``
        (as :func:`skrif._core.set_error.second_newton_step`): one gradient pass, then
        the Woodbury-updated Hessian at θ̂ (rank-one curvature) or, for coupled
        outputs and penalty shares, the Hessian at the moved point (same pass)."""
        fs = self.fs
        spec = fs.spec
        B, Y, s = self._gathered(idx)
        moved = fs.state.theta + to_centred(spec, delta)
        share = float(np.sum(spec.objective.penalty_shares(s, s))) if spec.objective.mean_form else 0.0
        pen = fs.objective.penalty(share)
        woodbury = spec.kind == "linear" and not fs.state.factor.singular
        _, grad, G = fs.design.newton_pass(moved, not woodbury, removed=idx, scale=0.0)
        grad = grad + pen[:, None] * moved.T
        if not np.all(np.isfinite(grad)):
            return np.zeros_like(delta)
        if woodbury:
            _, _, d2 = _blocks.derivatives(spec, B, Y, s, fs.state.theta)
            step = -solve_without(fs.state, B, d2, grad).T
        else:
            step = -fs.objective.solve(fs.objective.factor(G, pen)[0], grad).T
        return to_original(spec, step)

    def train_loss_changes(self, loss, deltas):
        """``Σ_i [ℓ_i(θ̂ + Δ) − ℓ_i(θ̂)]`` over all training rows (unweighted) for each
        ``Δ`` of ``deltas``, differenced row by row: one pass for all of them."""
        if not deltas:
            return []
        spec = self.fs.spec
        deltas = np.stack([to_centred(spec, d) for d in deltas])  # (m, q, p̃)
        totals = self.fs.design._reduce(
            _blocks.target_changes_block, len(deltas), spec=spec, theta=self.fs.state.theta,
            deltas=constant(deltas), target=loss,
        ).compute()
        return [float(t) for t in totals]


def validation_state(est):
    """The :class:`DaskRemovals` of an estimator fitted on Dask."""
    return DaskRemovals(est)
