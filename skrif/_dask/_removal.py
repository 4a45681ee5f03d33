"""The removal model of a Dask fit: the :class:`~skrif._core.fitted.RemovalModel` protocol
on row-chunked data.

Same attributes and methods as the in-memory :class:`~skrif._core.fitted.RemovalModel`,
answered by the same algebra:

* **per-row** quantities (leverages, single-row steps and effects, anything a
  feature computes row by row) come from :meth:`DaskRemovalModel.rowwise`: the
  in-memory ``RemovalModel`` of each row block (the fitted factorization bound to
  the block's rows, :meth:`~skrif._removal.base.Curvature.on_rows`) runs the
  in-memory function on the block; the result is a lazy dask array chunked like
  ``X``;
* **set** quantities (IF/RIF/NS of a set, capacitance checks, the set error
  estimate) gather the set's ``k`` rows and run the Hessian kind's set algebra on
  them; the cancellation-free forms that need every row get their sums from one
  blockwise reduction (:meth:`~skrif._removal.base.Curvature.sum_over_rows`); the
  group step of a large set, where the kept rows' Hessian is the cheaper algebra
  (:func:`~skrif._core.group_step.kept_is_cheaper`), reads no rows of the set:
  one weighted pass (:meth:`DaskRemovalModel.kept_solver`);
* **refits** run skrif's one Newton solver with one pass over ``X`` per step;
* **reductions over rows** the features need (top-k, order statistics, group sums)
  are distributed (:meth:`top_k`, :meth:`kth_smallest`, :meth:`group_sums`).
"""

import dask
import dask.array as da
import numpy as np

from .._core.fitted import RemovalModel, identified_rank, refuse_unidentified
from .._core.fitting import warn_leverage_one_rows, warn_singular
from .._core.group_step import (
    KeptSolver,
    check_kept_rank,
    group_method_by_cost,
    hessian_norms,
    joint_leverage,
    kept_is_cheaper,
)
from .._core.problem import warn_not_converged
from .._utils.checks import finite_change
from . import _blocks
from ._engine import DaskDesign, Objective, constant
from ._selection import kth_smallest, top_k

#: Floats of gathered rows :meth:`DaskRemovalModel.prefetch` keeps on the client (128 MB).
PREFETCH_FLOATS = 1 << 24


class DaskRemovalModel:
    """The fitted removal state of an :class:`~skrif.InfluenceEstimator` fitted on Dask.

    Built by :func:`build` (in ``fit``), available as ``est._removal``. Per-row
    results are lazy dask arrays chunked like ``X``; p̃-sized ones NumPy arrays.

    Attributes
    ----------
    design : DaskDesign
        The training rows (``X``, encoded targets ``Y``, weights ``S``).
    objective : Objective
    theta : ndarray of shape (n_outputs, n_params)
    curvature : Curvature
        ``H`` at θ̂ factored from the summed Gram (no rows bound).
    n_samples, n_params, n_outputs : int
    """

    distributed = True

    def __init__(self, design, problem, theta, curvature, one_minus, quad, counts, classes,
                 gradient=None):
        self.design, self._problem = design, problem
        # ∇J(θ̂) (p̃, q) of the fit's last pass: the removed rows' share of it is
        # what remains after a pass without them (kept_solver).
        self._gradient = gradient
        self._kept = None
        self.objective = design.objective
        self.theta = theta
        self.curvature = curvature
        self.n_samples = design.n_samples
        self.n_outputs, self.n_params = theta.shape
        self.one_minus_leverage = one_minus
        self._quad = quad
        self.counts, self.classes = counts, classes
        model = _blocks.RowModel(design.objective, theta, curvature)
        self._model = constant(model, nbytes=_factor_bytes(curvature))
        self._local_model = model
        self._full_rank = None
        self._probe = None
        self._cache = {}

    # -- the factored Hessian and the training data ----------------------------------
    @property
    def Y(self):
        """Encoded training targets (n, q), lazy."""
        return self.design.Y

    @property
    def weights(self):
        """Effective training weights ``s_i`` (n,), lazy."""
        return self.design.S[:, 0]

    @property
    def rank(self):
        """Rank of the Hessian (``n_params`` unless it is singular)."""
        return self.curvature.rank

    @property
    def penalty(self):
        """The penalty's diagonal ``λ_j`` on the parameters (p̃,), intercept last."""
        return self._problem.penalty

    @property
    def curvature_coefficients(self):
        """Per-row curvature ``c s_i ℓ''(y_i, z_i)`` at θ̂ (lazy, (n,) or (n, K, K))."""
        return self.rowwise(_curvature_coefficients)

    @property
    def penalty_share_coefficients(self):
        """Each row's share of the penalty ``α m_i`` (lazy, (n,))."""
        return self.rowwise(_penalty_share_coefficients)

    def dense_design(self):
        """Refused: the standard errors of the AMIP audit (``removal_to_flip`` and
        ``amip_summary`` for models with standard errors, and their significance
        conclusions) are computed from the dense training design in memory."""
        raise NotImplementedError(
            "removal_to_flip and amip_summary with standard errors (LinearRegression, "
            "unpenalised LogisticRegression or PoissonRegressor(alpha=0), or "
            "conclusion='significance'/cov_type) are not available for a model fitted on "
            "Dask: they need the dense n × p̃ training design in memory. Fit in memory "
            "(e.g. on X.compute()) for this audit; sign flips of penalised models run on "
            "Dask."
        )

    def linear_predictor_of(self, X):
        """``X̃ θ̂ᵀ`` for new validated in-memory rows ``X`` (m, p): shape (m, q)."""
        return RemovalModel.linear_predictor_of(self, X)

    def solve(self, G):
        return self.curvature.solve(G)

    def inverse_diagonal(self):
        return self.curvature.inverse_diagonal()

    def linear_predictor(self, theta=None):
        """Lazy ``X̃ θᵀ`` (n, q); θ̂ by default."""
        return self.design.linear_predictor(self.theta if theta is None else theta)

    def check_data(self, rows=slice(None)):
        """Dask arrays are immutable: nothing to check."""

    # -- rows -----------------------------------------------------------------------
    def _probe_model(self):
        """The in-memory removal model of the first training row (shapes of results)."""
        if self._probe is None:
            X, Y, s, om = self.design.rows([0], self.one_minus_leverage)
            quad = None if self._quad is None else self._quad[:1].compute()
            self._probe = self._local_model.block_model(X, Y, s, om, quad)
        return self._probe

    def rowwise(self, func, *args, per_row=(), **kwargs):
        """Lazy ``func(block model, *args, *per_row blocks, **kwargs)`` over the row
        blocks, chunked like ``X`` (the in-memory code on each block)."""
        first = tuple(np.asarray(r[:1]) if not isinstance(r, da.Array) else r[:1].compute()
                      for r in per_row)
        probe = np.asarray(func(self._probe_model(), *args, *first, **kwargs))
        rows = [da.from_array(r, chunks=(self.design.X.chunks[0],) + np.shape(r)[1:])
                if not isinstance(r, da.Array) else r.rechunk({0: self.design.X.chunks[0]})
                for r in per_row]
        return self.design.per_row(
            _blocks.rowwise_block, probe.shape[1:], rows=(self.one_minus_leverage, self._quad, *rows),
            dtype=probe.dtype, model=self._model, fn=func, args=args, kwargs=kwargs,
        )

    def self_change(self, method):
        return self.rowwise(RemovalModel.self_change, method)

    def functional_changes(self, A, method):
        return self.rowwise(RemovalModel.functional_changes, A, method)

    def predictor_changes(self, design_eval, method, chunk):
        yield slice(0, self.n_samples), self.rowwise(_predictor_changes, design_eval, method)

    def row_steps(self, rows, method, out=None):
        """Single-row changes for ``rows`` (gathered, NumPy); all rows: lazy."""
        if isinstance(rows, slice) and rows == slice(None):
            return self.rowwise(RemovalModel.row_steps, slice(None), method)
        idx = np.arange(self.n_samples)[rows]
        rm = self.gathered(idx).block_model
        steps = rm.row_steps(slice(None), method)
        if out is not None:
            out[...] = steps
            return out
        return steps

    def target_changes(self, target, deltas):
        """As :meth:`skrif._core.fitted.RemovalModel.target_changes`: one blockwise pass
        for all the changes."""
        if not len(deltas):
            return []
        deltas = np.stack([np.asarray(d, dtype=float) for d in deltas])
        totals = self.design.reduce(
            _blocks.target_changes_block, len(deltas), objective=self.objective,
            theta=self.theta, deltas=constant(deltas), target=target,
        ).compute()
        return [float(t) for t in totals]

    def support_changes(self, idx, delta, fraction=1.0):
        """Active-set changes of a set's answer: none (the Dask engine fits smooth
        objectives only; models with an L1 term are refused in ``fit``)."""
        return []

    def active_set_changed(self, idx, delta, fraction=1.0):
        """Whether a set's answer moves the active set: never (smooth objectives)."""
        return False

    def changing_rows(self, method):
        """Rows whose removal alone changes the active set: none (smooth objectives)."""
        return da.zeros(self.n_samples, dtype=bool, chunks=(self.design.X.chunks[0],))

    def leverages_of(self, idx):
        """``h_i`` of rows ``idx`` (NumPy): gathered."""
        return np.clip(1.0 - self.one_minus_leverage[np.asarray(idx)].compute(), 0.0, 1.0)

    # -- sets of rows -------------------------------------------------------------
    def _row_sums(self, fn):
        """``Σ fn(view, ids)`` over the row blocks (one blockwise reduction)."""
        p = self.design.n_features
        empty = self._local_model.bind(np.zeros((0, p)), np.zeros((0, self.n_outputs)), np.zeros(0))[0]
        shape = np.shape(fn(empty, np.zeros(0, dtype=np.intp)))
        total = self.design.reduce(
            _blocks.exact_sum_block, int(np.prod(shape)), with_start=True, rows=(self._quad,),
            model=self._model, fn=fn,
        ).compute()
        return total.reshape(shape)

    @staticmethod
    def retained(values):
        """A lazy per-row result used more than once, computed once and kept on the
        workers (its n entries)."""
        return values.persist() if isinstance(values, da.Array) else values

    def prefetch(self, sets, method):
        """Gather the rows of many sets (groups, folds) about to be answered by
        ``method`` in one pass when they fit in :data:`PREFETCH_FLOATS` floats on the
        client (else each set is gathered when asked for): the set methods then read
        them from memory. Sets whose answer reads no rows (the group step with the
        kept rows' Hessian, :meth:`kept_solver`) are left out."""
        sets = [np.sort(np.asarray(s, dtype=np.intp)) for s in sets]
        sets = [s for s in sets if self._reads_rows(s.size, method)]
        union = np.unique(np.concatenate(sets)) if sets else np.zeros(0, dtype=np.intp)
        width = self.design.n_features + self.n_outputs + 3
        self._cache = {}
        if not union.size or union.size * width > PREFETCH_FLOATS:
            return
        extra = (self.one_minus_leverage,) + ((self._quad,) if self._quad is not None else ())
        got = self.design.rows(union, *extra)
        for rows in sets:
            at = np.searchsorted(union, rows)
            self._cache[rows.tobytes()] = tuple(np.asarray(a)[at] for a in got)

    def _reads_rows(self, k, method):
        how = group_method_by_cost(self, k) if method == "auto" else method
        return not (how == "newton" and kept_is_cheaper(self, k))

    def gathered(self, idx):
        """The rows ``idx`` gathered: :class:`Gathered` (their curvature, bound with
        the sums over every row, and their in-memory removal model); ``idx`` sorted."""
        idx = np.asarray(idx, dtype=np.intp)
        if idx.size > 1 and np.any(np.diff(idx) <= 0):
            raise ValueError("gathered rows must be sorted and unique.")
        extra = (self.one_minus_leverage,) + ((self._quad,) if self._quad is not None else ())
        cached = self._cache.get(idx.tobytes())
        X, Y, s, om, *quad = cached if cached is not None else self.design.rows(idx, *extra)
        view, Z, d1 = self._local_model.bind(
            X, Y, s, one_minus=om, quad=quad[0] if quad else None, row_ids=idx,
            row_sums=self._row_sums,
        )
        view._quiet = False  # warnings here name the global rows, once
        return Gathered(idx, X, Y, s, view, d1, self)

    def check_removal(self, Y_T, s_T, fraction=1.0):
        """Refuse removals the in-memory path refuses (no rows left, a class gone),
        from the training class counts and the gathered rows."""
        pos = (s_T * (1.0 - fraction) == 0) & (s_T > 0)
        if self.classes is None:
            Ysyn, kept = np.zeros((1, self.n_outputs)), np.array([self.counts[0] - pos.sum()])
        elif len(self.classes) == 2:
            ones = np.sum(pos & (Y_T[:, 0] == 1))
            Ysyn = np.array([[0.0], [1.0]])
            kept = np.array([self.counts[0] - (pos.sum() - ones), self.counts[1] - ones])
        else:
            Ysyn, kept = np.eye(len(self.classes)), self.counts - pos @ Y_T
        self.objective.check_removal(Ysyn, kept)

    @finite_change
    def parameter_change(self, idx, method, fraction=1.0):
        """``Δθ`` (q, p̃) for removing rows ``idx`` (or reweighting them by ``1 − fraction``).

        "if"/"rif"/"newton": the Hessian kind's set algebra on the ``k`` gathered rows
        (O(k p̃² + k³) after one gather); "refit": distributed Newton from θ̂
        (:meth:`refit_without`, a few passes over ``X``).
        """
        idx = np.sort(np.asarray(idx, dtype=np.intp))
        if idx.size == 0 or fraction == 0.0:
            return np.zeros_like(self.theta)
        if method == "newton" and kept_is_cheaper(self, idx.size):
            self.check_removal(*self._targets_of(idx), fraction)
            return self.kept_solver(idx, fraction).group_step()
        rows = self.gathered(idx)
        self.check_removal(rows.Y, rows.s, fraction)
        if method == "refit":
            if fraction == 1.0:
                return self.refit_without(idx, rows=rows) - self.theta
            return self._refit(idx, 1.0 - fraction, rows) - self.theta
        return rows.view.set_change(np.arange(idx.size), rows.d1, self.theta, method, fraction)

    def _targets_of(self, idx):
        """``(Y_T, s_T)`` of sorted rows ``idx`` (NumPy): their targets and weights only."""
        Y, S = dask.compute(self.design.Y[idx], self.design.S[idx])
        return np.asarray(Y, dtype=float), np.asarray(S, dtype=float).reshape(-1)

    def kept_solver(self, idx, fraction=1.0):
        """:meth:`skrif._core.fitted.RemovalModel.kept_solver` from one pass over ``X``
        and no gathered rows: the kept rows' Hessian at θ̂ (the rows' weights times
        ``1 − fraction``) factored from the pass's Gram, and the removed share of the
        gradient ``t Σ_T g_i = ∇J(θ̂) − ∇J_{−T}(θ̂)`` from the same pass (the penalty
        terms cancel: this form excludes mean-form objectives). Its rounding error is
        that of the n-row sums, ``ε Σ_i |g_i|``, not ``ε Σ_T |g_i|``: a few digits of
        the ~16, for a form that is chosen only for large sets."""
        idx = np.sort(np.asarray(idx, dtype=np.intp))
        if not kept_is_cheaper(self, idx.size):
            return None
        key = (idx.tobytes(), float(fraction))
        if self._kept is not None and self._kept[0] == key:
            return self._kept[1]
        problem = Objective(self.design, self._problem.weight_total, self._problem.share_total,
                            weights=(idx, 1.0 - fraction))
        point = problem.point(self.theta, hessian=True)
        curvature = point.factor()
        check_kept_rank(curvature.rank, self.curvature.rank, idx.size)
        full = self._gradient
        if full is None:
            full = self._problem.point(self.theta, hessian=False).gradient
            self._gradient = full
        solver = KeptSolver(curvature, full - point.gradient)
        self._kept = (key, solver)
        return solver

    def _objective_without(self, idx, scale, rows):
        obj = self.objective
        removed_share = 0.0
        if obj.mean_form:
            removed_share = float(np.sum(obj.penalty_shares(rows.s, rows.s))
                                  - np.sum(obj.penalty_shares(rows.s * scale, rows.s)))
        return Objective(self.design, self._problem.weight_total, self._problem.share_total,
                         weights=(idx, scale), removed_share=removed_share)

    def _refit(self, idx, scale, rows, start=None):
        problem = self._objective_without(idx, scale, rows)
        theta, n_iter, converged = problem.minimize(self.theta if start is None else start)
        if not converged:
            warn_not_converged(n_iter, "the exact refit")
        return theta

    def refit_without(self, idx, start=None, rows=None):
        """``θ`` refitted without rows ``idx``: distributed Newton from ``start``
        (default θ̂), after the checks of the in-memory model (classes left,
        identification)."""
        idx = np.sort(np.asarray(idx, dtype=np.intp))
        rows = self.gathered(idx) if rows is None else rows
        self.check_removal(rows.Y, rows.s)
        self.check_identified(idx, rows)
        return self._refit(idx, 0.0, rows, start)

    def _reweighted(self, weights):
        """``(design, objective, kept counts)`` of the training rows with ``weights``
        (n; NumPy or dask) instead of theirs: one validation pass for the totals."""
        w = weights if isinstance(weights, da.Array) else da.from_array(
            np.asarray(weights, dtype=float), chunks=(self.design.X.chunks[0],))
        # Kept on the workers (n floats): every pass of the refit reads them.
        w = w.rechunk({0: self.design.X.chunks[0]}).astype(float).reshape(-1, 1).persist()
        design = DaskDesign(self.design.X, self.design.Y, w, self.objective, self.design.shift)
        p = design.n_features
        n_classes = 0 if self.classes is None else len(self.classes)
        sums = design.reduce(
            _blocks.check_block, p + 3 + max(n_classes, 1), objective=self.objective,
            n_classes=n_classes,
        ).compute()
        return design, Objective(design, sums[p + 1], sums[p + 2]), sums[p + 3 :]

    def _check_counts(self, kept):
        """Refuse a fit on rows whose positive-weight class counts are ``kept``."""
        if self.classes is None:
            Ysyn = np.zeros((1, self.n_outputs))
        elif len(self.classes) == 2:
            Ysyn = np.array([[0.0], [1.0]])
        else:
            Ysyn = np.eye(len(self.classes))
        self.objective.check_removal(Ysyn, np.asarray(kept, dtype=float))

    def refit(self, weights, start=None):
        """``θ`` minimising the training objective with sample ``weights`` (n,), from
        ``start`` (default θ̂): distributed Newton, one pass per step."""
        _, problem, _ = self._reweighted(weights)
        theta, n_iter, converged = problem.minimize(self.theta if start is None else start)
        if not converged:
            warn_not_converged(n_iter, "the exact refit")
        return theta

    def refit_kept(self, keep, start=None):
        """``θ`` refitted with every row's weight multiplied by ``keep`` (n,); the
        checks of :meth:`skrif._core.fitted.RemovalModel.refit_kept`."""
        _, problem, kept = self._reweighted(self.weights * keep)
        self._check_counts(kept)
        theta, n_iter, converged = problem.minimize(self.theta if start is None else start)
        if not converged:
            warn_not_converged(n_iter, "the exact refit")
        return theta

    def functional_changes_kept(self, A, method, keep, theta):
        """:meth:`skrif._core.fitted.RemovalModel.functional_changes_kept` (lazy, (n,)):
        the rows with ``keep = 0`` weigh nothing in the model at ``theta`` (one pass
        for its Hessian, one for its leverages) and get NaN."""
        keep = np.asarray(keep, dtype=float)
        if np.all(keep > 0) and theta is self.theta:
            return self.functional_changes(A[None], method)[:, 0]
        design, problem, kept = self._reweighted(self.weights * keep)
        sub = build(design, problem, theta, kept, self.classes, warn=False)
        values = sub.functional_changes(A[None], method)[:, 0]
        mask = da.from_array(keep > 0, chunks=(self.design.X.chunks[0],))
        return da.where(mask, values, np.nan)

    def check_identified(self, idx, rows=None):
        """The in-memory rule (:meth:`skrif._core.fitted.RemovalModel.check_identified`):
        the rank of the kept rows' equilibrated Gram, from one blockwise pass."""
        idx = np.sort(np.asarray(idx, dtype=np.intp))
        obj = self.objective
        coef = obj.penalty_coef
        if obj.mean_form:
            rows = self.gathered(idx) if rows is None else rows
            kept = self._problem.share_total - float(np.sum(obj.penalty_shares(rows.s, rows.s)))
            coef = coef + obj.penalty_share_coef * kept
        if coef > 0 or self.design.n_features == 0 or self.n_params > self.n_samples + 1:
            return
        if self._full_rank is None:
            self._full_rank = self._support_rank(None)
        refuse_unidentified(len(idx), self._support_rank(idx), self._full_rank)

    def _support_rank(self, removed):
        p = self.design.n_features
        shift = self.design.shift if self.design.shift is not None else np.zeros(p)
        total = self.design.reduce(
            _blocks.identification_block, 1 + p + p * p, with_start=True, shift=shift,
            removed=removed,
        ).compute()
        w, u, G = total[0], total[1 : 1 + p], total[1 + p :].reshape(p, p)
        if w == 0:
            return 0
        if self.objective.fit_intercept:
            G = G - np.outer(u, u) / w
        return identified_rank(G, self.objective.fit_intercept)

    def subset(self, rows, theta):
        """The removal model of the objective on training ``rows`` only, at ``theta``
        (one pass for its Hessian, one for its leverages)."""
        design = self.design.take(rows)
        sums = design.reduce(_blocks.check_block, design.n_features + 3 + max(len(self.counts), 1),
                             objective=self.objective, n_classes=0 if self.classes is None else len(self.classes)).compute()
        return build(design, Objective(design, sums[design.n_features + 1], sums[design.n_features + 2]),
                     theta, self.counts, self.classes, warn=False)

    def second_step(self, idx, delta, fraction=1.0):
        """The next Newton step on the objective without rows ``idx`` from
        ``θ̂ + delta`` (:func:`skrif._core.set_error.second_newton_step`): one gradient
        pass, then the Woodbury-updated Hessian at θ̂ (rank-one kind, removal) or
        the Hessian at the moved point (same pass)."""
        idx = np.sort(np.asarray(idx, dtype=np.intp))
        kept = self.kept_solver(idx, fraction)
        rows = None if kept is not None and not self.objective.mean_form else self.gathered(idx)
        problem = self._objective_without(idx, 1.0 - fraction, rows)
        woodbury = (kept is None and fraction == 1.0 and self.curvature.kind == "rank_one"
                    and not self.curvature.singular)
        point = problem.point(self.theta + delta, hessian=kept is None and not woodbury)
        grad = point.gradient
        if not np.all(np.isfinite(grad)):
            return np.zeros_like(delta)
        if kept is not None:
            return -np.asarray(kept.solve(grad)).T
        if woodbury:
            return -rows.view.solve_without(np.arange(idx.size), grad).T
        return -point.factor().solve(grad).T

    def hessian_norms(self, deltas):
        """``‖Δ‖_H`` per independent output (:func:`skrif._core.group_step.hessian_norms`:
        one pass)."""
        return hessian_norms(self, deltas)

    def joint_leverage(self, idx):
        """The set's joint leverage (:func:`skrif._core.group_step.joint_leverage`) on
        its gathered rows."""
        idx = np.sort(np.asarray(idx, dtype=np.intp))
        if self.curvature.kind != "rank_one":
            return np.nan
        return joint_leverage(self.gathered(idx).block_model, np.arange(idx.size))

    def undefined_single_removals(self):
        """Rows whose removal alone leaves a model that cannot be fitted (the only
        positive-weight row of a class): one pass when some class has one row."""
        if self.classes is None:
            if self.counts[0] > 1:
                return np.zeros(0, dtype=np.intp)
            mask = self.weights > 0
        else:
            lonely = np.flatnonzero(self.counts == 1)
            if lonely.size == 0:
                return np.zeros(0, dtype=np.intp)
            Y = self.Y
            labels = (Y[:, 0] > 0).astype(int) if Y.shape[1] == 1 else da.argmax(Y, axis=1)
            mask = (self.weights > 0) & da.isin(labels, lonely)
        return np.asarray(da.flatnonzero(mask).compute(), dtype=np.intp)

    # -- reductions over rows ---------------------------------------------------------
    def top_k(self, scores, k, direction):
        return top_k(scores, self.design.starts, k, direction)

    @staticmethod
    def kth_smallest(V, k):
        return kth_smallest(V, k)

    def group_sums(self, values, codes, n_groups):
        """``Σ_{i in group g} values[i]`` (n_groups, ...) of lazy per-row ``values``:
        a partial sum per block, tree-reduced."""
        codes = codes if isinstance(codes, da.Array) else da.from_array(
            np.asarray(codes), chunks=(values.chunks[0],))
        tail = values.shape[1:]
        flat = values.reshape(values.shape[0], -1).rechunk({1: -1})
        width = n_groups * flat.shape[1]
        parts = da.blockwise(
            _group_sum_block, "iz", flat, "ij", codes.rechunk({0: flat.chunks[0]}), "i",
            new_axes={"z": width}, adjust_chunks={"i": 1}, concatenate=True, dtype=float,
            meta=np.empty((0, 0)), n_groups=n_groups,
        )
        return parts.sum(axis=0, split_every=8).compute().reshape((n_groups,) + tail)


def _group_sum_block(values, codes, *, n_groups):
    out = np.zeros((n_groups, values.shape[1]))
    np.add.at(out, np.asarray(codes), np.asarray(values, dtype=float))
    return out.reshape(1, -1)


def _curvature_coefficients(rm):
    return rm.curvature_coefficients


def _penalty_share_coefficients(rm):
    return rm.penalty_share_coefficients


class Gathered:
    """Rows of a Dask fit gathered on the client: their data, curvature bound to them
    (with sums over every training row), gradient coefficients, removal model."""

    def __init__(self, idx, X, Y, s, view, d1, owner):
        self.idx, self.X, self.Y, self.s, self.view, self.d1 = idx, X, Y, s, view, d1
        self._owner = owner

    @property
    def block_model(self):
        from .._core.problem import Problem

        problem = Problem(self._owner.objective, self.X, self.Y, self.s)
        return RemovalModel.on_rows(problem, self._owner.theta, self.d1, self.view)


def _predictor_changes(rm, design_eval, method):
    return next(rm.predictor_changes(design_eval, method, rm.n_samples))[1]


def _factor_bytes(curvature):
    spd = getattr(curvature, "_spd", None)
    if spd is None:
        return 0
    return (spd.chol.nbytes if spd.chol is not None else spd.F.nbytes) + getattr(
        getattr(curvature, "_V", None), "nbytes", 0)


def build(design, problem, theta, counts, classes, point=None, warn=True):
    """The :class:`DaskRemovalModel` at ``theta``: the Hessian kind factored from one
    pass's Gram, then one pass for every row's ``1 − h_i`` (persisted on the
    workers), refined where the cheap form lost digits (one more pass for those
    rows, as in memory). Warns, as the in-memory fit does, about a singular Hessian
    and leverage-one rows."""
    point = problem.point(theta, hessian=True) if point is None else point
    point.factor()  # the Gram at θ (one pass if not already there)
    curvature = problem.factor(point._gram, point._negative, removals=True)
    if warn and curvature.singular:
        warn_singular(curvature.rank, curvature.n_params)
    model = _blocks.RowModel(design.objective, theta, curvature)
    parts = design.per_row(
        _blocks.leverage_block, (3,), with_start=True,
        model=constant(model, nbytes=curvature.n_params ** 2 * 8),
    ).persist()
    one_minus, quad, refine = parts[:, 0], parts[:, 1], parts[:, 2]
    if design.objective.hessian_kind != "rank_one":
        quad = None
    rm = DaskRemovalModel(design, problem, theta, curvature, one_minus, quad, counts, classes,
                          gradient=point.gradient)
    rows = np.flatnonzero(np.asarray(refine.compute()) > 0)
    if rows.size:
        exact = rm.gathered(rows).view._exact_one_minus(np.arange(rows.size))
        one_minus = da.map_blocks(
            _patch_block, one_minus, design.starts, rows=rows, exact=exact, dtype=float,
        ).persist()
        rm.one_minus_leverage = one_minus
    if warn:
        tol = curvature.leverage_tol
        degenerate = np.flatnonzero(np.asarray((one_minus <= tol).compute()))
        if degenerate.size:
            warn_leverage_one_rows(degenerate, tol)
    return rm


def _patch_block(block, start, *, rows, exact):
    """``block`` with the global ``rows`` (sorted) set to ``exact`` (refined 1 − h)."""
    out = np.array(block, dtype=float)
    first = _blocks.first_row(start)
    lo, hi = np.searchsorted(rows, [first, first + out.size])
    out[rows[lo:hi] - first] = exact[lo:hi]
    return out
