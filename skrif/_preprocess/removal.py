"""PipelineRemoval: the answers of every removal question for a whole pipeline.

It wraps the final model's :class:`~skrif._core.fitted.RemovalModel` (its objective
on the preprocessed training rows, factored once) with the fitted preprocessing and
the raw training rows, and answers in *pipeline semantics*: removing rows removes
them from every step's fit. Sets go through :mod:`skrif._preprocess.sets` (exact
statistics, then the model's Newton step or refit); single rows through
:mod:`skrif._preprocess.rows` (additive IF/RIF with the preprocessing term).

Every answer is a change of the final model's *linear predictor* on raw evaluation
rows (the quantity every target is a function of), or a change of its coefficients
in their new features (:meth:`parameter_change`).
"""

import numpy as np

from .._linalg.design import AugmentedDesign
from ..exceptions import UnsupportedModelError
from .base import Unsupported
from .compose import removal_for
from .sets import aligned_change, as_design, refit_without

#: Methods answered through the analytic removal modules (the others refit).
ANALYTIC = ("if", "rif", "newton")


class EvalRows:
    """Raw evaluation rows with their old features and linear predictor."""

    def __init__(self, state, X, Z=None):
        self.X = X
        Z = as_design(state.preprocessing.transform(X)) if Z is None else Z
        self.design = AugmentedDesign(Z, state.rm.design.fit_intercept)
        self.base = self.design.matvec(state.rm.theta.T)
        self._state = state
        self._basis = None

    @property
    def n_samples(self):
        return self.design.n_samples

    def basis(self):
        if self._basis is None:
            self._basis = self._state.rows.eval_basis(self.X)
        return self._basis


class PipelineRemoval:
    """Removal of training rows from a fitted pipeline, preprocessing refitted.

    Parameters
    ----------
    rm : RemovalModel
        The final model's removal state on the preprocessed training rows.
    preprocessing : fitted transformer
        Every step but the last (``pipeline[:-1]``).
    X, y : raw training rows and targets (as passed to ``fit``).
    feature_names : list of str or None
        Output names of the preprocessing, for coefficient changes.
    reselect : callable or None
        ``reselect(Z, kept)`` → ``(objective, Y, weights)`` of the final model
        refitted with its hyperparameter selection on new features ``Z`` of the kept
        training rows (exact refits of a CV model with ``hyperparameters="reselect"``).
    """

    def __init__(self, rm, preprocessing, X, y, feature_names=None, reselect=None):
        self.rm, self.preprocessing, self.X, self.y = rm, preprocessing, X, y
        self.feature_names = feature_names
        self.reselect = reselect
        self.n_samples = rm.n_samples
        try:
            self.removal = removal_for(preprocessing, "")
            self.unsupported = None
        except Unsupported as exc:
            self.removal, self.unsupported = None, str(exc)
        self._rows = None
        self._full_rank = None

    # -- checks -----------------------------------------------------------------------
    def check_method(self, method):
        """Refuse an approximate method when a step has no removal module, or when
        the final model is not a smooth L2 model (the penalty algebra is L2's)."""
        kind = getattr(self.rm.objective, "problem_kind", "smooth")
        if method in ANALYTIC and kind != "smooth":
            raise UnsupportedModelError(
                f"Whole-pipeline {method!r} answers are derived for smooth models with an "
                f"L2 penalty, not for this {kind} model; use method='refit' (the pipeline "
                "refitted without the rows), or preprocessing='fixed' (the final model "
                "with this preprocessing held fixed)."
            )
        if method in ANALYTIC and self.removal is None:
            raise UnsupportedModelError(
                f"{self.unsupported} Method {method!r} needs how every fitted statistic "
                "moves; use method='refit' (the pipeline refitted without the rows), or "
                "preprocessing='fixed' (the final model with this preprocessing held "
                "fixed)."
            )

    @property
    def rows(self):
        """The per-row algebra (built on first use: O(n p + n S) memory)."""
        if self._rows is None:
            from .rows import RowAlgebra

            self.check_method("rif")
            try:
                self._rows = RowAlgebra(self.rm, self.removal, self.X)
            except Unsupported as exc:
                self.removal, self.unsupported = None, str(exc)
                self.check_method("rif")
        return self._rows

    def eval_rows(self, X, Z=None):
        """:class:`EvalRows` of raw rows ``X`` (``Z``: their preprocessed features,
        if already computed)."""
        return EvalRows(self, X, Z)

    def answer(self, idx, method):
        """The removal of rows ``idx`` by ``method`` (:class:`Answer`)."""
        self.check_method(method)
        return Answer(self, np.asarray(idx, dtype=np.intp), method)

    # -- sets -----------------------------------------------------------------------
    def set_refit(self, idx, method):
        self.check_method(method)
        return refit_without(self, idx, method)

    def set_predictor_change(self, idx, method, ev):
        """Change of ``ev``'s linear predictor (m, q) when rows ``idx`` go."""
        idx = np.asarray(idx, dtype=np.intp)
        if idx.size == 0:
            return np.zeros_like(ev.base)
        if method in ("newton", "refit"):
            return self.set_refit(idx, method).linear_predictor(ev.X) - ev.base
        return self.row_predictor_changes(ev, method, rows=idx).sum(axis=0)

    def parameter_change(self, idx, method):
        """``θ' − θ̂`` (q, p̃) of the final model, in its features after the removal
        (aligned to the old ones by name; a vanished column counts as 0)."""
        idx = np.asarray(idx, dtype=np.intp)
        if idx.size == 0:
            return np.zeros_like(self.rm.theta)
        if method in ("newton", "refit"):
            return aligned_change(self, self.set_refit(idx, method))
        alg = self.rows
        out = np.zeros_like(self.rm.theta)
        smooth = idx[~alg.discrete[idx]]
        if smooth.size:
            out += alg.parameter_changes(smooth, alg.steps(smooth, method)).sum(axis=0)
        for r in idx[alg.discrete[idx]]:
            out += aligned_change(self, self.set_refit(np.array([r]), "newton"))
        return out

    # -- single rows ------------------------------------------------------------------
    def row_predictor_changes(self, ev, method, rows=None, block=256):
        """``dZ[i, j, k]`` (len(rows), m, q): change of evaluation row j's linear
        predictor k when training row ``rows[i]`` alone is removed."""
        alg = self.rows
        rows = np.arange(self.n_samples) if rows is None else np.asarray(rows, dtype=np.intp)
        out = np.empty((rows.size, ev.n_samples, self.rm.n_outputs))
        basis = ev.basis()
        for start in range(0, rows.size, block):
            part = rows[start : start + block]
            smooth = ~alg.discrete[part]
            if np.any(smooth):
                steps = alg.steps(part[smooth], method)
                out[start : start + block][smooth] = alg.predictor_changes(part[smooth], steps, ev.design, basis)
            for i in np.flatnonzero(~smooth):
                out[start + i] = self.set_predictor_change(part[i : i + 1], "newton", ev)
        return out

    def own_predictor_changes(self, method, block=256):
        """Change of each training row's own linear predictor when it alone is
        removed, evaluated with the refitted preprocessing: (n, q)."""
        alg = self.rows
        n = self.n_samples
        out = np.empty((n, self.rm.n_outputs))
        for start in range(0, n, block):
            part = np.arange(start, min(start + block, n))
            smooth = ~alg.discrete[part]
            if np.any(smooth):
                out[part[smooth]] = alg.own_changes(part[smooth], alg.steps(part[smooth], method))
            for r in part[~smooth]:
                refit = self.set_refit(np.array([r]), "newton")
                from .sets import rows_of

                x = rows_of(self.X, np.array([r]))
                out[r] = refit.linear_predictor(x)[0] - self.rm.design.rows_matvec(np.array([r]), self.rm.theta.T)[0]
        return out


class Answer:
    """One set removal: its effect on evaluation rows' linear predictor and on the
    final model's coefficients (computed on demand, the refit once)."""

    def __init__(self, state, idx, method):
        self.state, self.idx, self.method = state, idx, method
        self._refit = None

    def _set(self):
        if self._refit is None:
            self._refit = self.state.set_refit(self.idx, self.method)
        return self._refit

    def compute(self):
        """Do the set's refit now (a no-op for additive answers)."""
        if self.method in ("newton", "refit") and self.idx.size:
            self._set()
        return self

    def predictor_change(self, ev):
        """(m, q) change of the linear predictor of :class:`EvalRows` ``ev``."""
        if self.idx.size == 0:
            return np.zeros_like(ev.base)
        if self.method in ("newton", "refit"):
            return self._set().linear_predictor(ev.X) - ev.base
        return self.state.row_predictor_changes(ev, self.method, rows=self.idx).sum(axis=0)

    def parameter_change(self):
        if self.method in ("newton", "refit") and self.idx.size:
            return aligned_change(self.state, self._set())
        return self.state.parameter_change(self.idx, self.method)
