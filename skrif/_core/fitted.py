"""The fitted removal state of an InfluenceEstimator: one object, built once in ``fit``.

:class:`RemovalModel` captures everything a removal question needs — the objective on
the training data (``problem``), the optimum ``θ̂``, the per-row gradient coefficients
``d1`` and the factored Hessian (``curvature``) — and answers each measure in a few
lines on that state, in the manner of statsmodels' ``MLEInfluence``. Attribution
(:mod:`skrif._features.attribution`), auditing (:mod:`skrif._features.audit`), validation
(:mod:`skrif.validation`), the display and the command line use it through its
methods; nothing above it reads the pieces positionally or dispatches on the kind of
Hessian.

The Hessian kinds themselves (rank-one per row, multinomial K × K blocks, mean-form
with a per-row penalty share) live one floor below, in the curvature objects and
:func:`skrif._core.influence.parameter_change`.

Sign convention everywhere: **value without the rows minus value with them**.
"""

import functools

import numpy as np
import scipy.sparse as sp

from .._removal.methods import ADDITIVE_METHODS
from .._utils.checks import check_finite_state
from .._utils.warn import warn
from ..exceptions import (
    ActiveSetChangeWarning,
    DataChangedError,
    NotPositiveDefiniteError,
)
from .group_step import KeptSolver, hessian_norms, joint_leverage, kept_is_cheaper
from .influence import parameter_change as _parameter_change
from .problem import warn_not_converged

#: A rank decision on the equilibrated Gram matrix (unit diagonal): eigenvalues below
#: this fraction of the largest are zero.
IDENTIFICATION_RTOL = 1e-12


def _check_additive(method, what):
    if method not in ADDITIVE_METHODS:
        raise ValueError(
            f"{what} uses additive single-row effects, so method must be one of "
            f"{ADDITIVE_METHODS} (or None); got {method!r}. For a group Newton step "
            "or an exact refit of a set, use removal_effect(..., method='newton' or "
            "'refit')."
        )


class DataFingerprint:
    """A cheap checksum of the training ``X`` (kept by reference), per row.

    ``X r`` for a fixed pseudo-random vector ``r`` (and ``|X| |r|`` for the rounding
    tolerance), computed once at ``fit``: O(nnz(X)) time, 2n floats. Checking rows
    recomputes their products (O(nnz of those rows)); any edit of an entry larger
    than rounding moves some product (``r`` has no zero entry). Sparse matrices also
    compare their structure (shape, ``nnz``).
    """

    def __init__(self, X):
        self._X = X
        rng = np.random.default_rng(20250606)
        self._r = rng.uniform(0.5, 1.5, X.shape[1]) * rng.choice([-1.0, 1.0], X.shape[1])
        self._nnz = X.nnz if sp.issparse(X) else None
        self._proj = self._project(slice(None))
        self._scale = self._abs_project(X)
        # Dot products of the same row may round differently through different
        # kernels: allow a few units of rounding per term.
        self._tol = 4.0 * max(X.shape[1], 1) * np.finfo(float).eps

    def _abs_project(self, X):
        """``|X| |r|`` without a copy of ``X``: blocks of rows (dense), or the data
        array only (sparse)."""
        r = np.abs(self._r)
        if sp.issparse(X):
            X = X.tocsr()
            return np.asarray(sp.csr_matrix((np.abs(X.data), X.indices, X.indptr), shape=X.shape) @ r).ravel()
        out = np.empty(X.shape[0])
        block = max(1, (1 << 20) // max(X.shape[1], 1))
        for start in range(0, X.shape[0], block):
            out[start : start + block] = np.abs(X[start : start + block]) @ r
        return out

    def _project(self, rows):
        return np.asarray(self._X[rows] @ self._r, dtype=float).ravel()

    def changed_rows(self, rows=slice(None)):
        """Positions (within ``rows``) whose entries no longer match the fit."""
        if self._nnz is not None and self._X.nnz != self._nnz:
            return np.arange(self._proj.shape[0])[rows]
        got = self._project(rows)
        bad = ~(np.abs(got - self._proj[rows]) <= self._tol * self._scale[rows])
        return np.arange(self._proj.shape[0])[rows][bad]

    def check(self, rows=slice(None)):
        """Raise :class:`~skrif.exceptions.DataChangedError` if ``X[rows]`` changed."""
        bad = self.changed_rows(rows)
        if bad.size:
            raise DataChangedError(
                f"The training X was modified after fit (e.g. rows {bad[:10].tolist()} "
                "changed): InfluenceEstimator keeps X by reference, so refits and "
                "per-row effects would mix the old model with the new data. Fit again "
                "on the changed data, or pass a copy of X to fit (X.copy()) if you "
                "need to edit it afterwards."
            )


def _exact_gradient_coefficients(problem, theta, d1, curvature):
    """``d1`` of a least-squares fit from residuals computed without cancellation.

    Near interpolation the residuals ``y − X̃θ̂`` are tiny and carry the full error of
    ``θ̂`` (condition number of ``H``); every single-row effect is proportional to
    them. :meth:`~skrif._removal.rank_one._LinearCurvature.exact_residuals` computes
    ``(I − Ĥ) y`` directly: a solve with the existing factor in the dual form
    (O(n² q)); a Householder QR in the primal form (O((n + p̃) p̃²) time and a dense
    (n + p̃) × p̃ temporary), used only for dense ``X`` near interpolation. Other
    losses, singular Hessians and sparse primal problems keep ``d1``.
    """
    if (
        not problem.objective.quadratic
        or curvature.singular
        or not curvature.residuals_need_recomputing()
    ):
        return d1
    # Least squares always has the rank-one kind, whose factor computes them.
    residuals = curvature.exact_residuals(problem.Y, problem.linear_predictor(theta))
    return -np.asarray(curvature.d, dtype=float)[:, None] * residuals


def top_k(scores, k, direction):
    """Indices of the ``k`` largest (``"increase"``) or smallest (``"decrease"``)
    scores, best first; NaN scores rank last. Ties keep the lower index first."""
    key = -scores if direction == "increase" else np.array(scores, dtype=float)
    key = np.where(np.isnan(key), np.inf, key)
    return np.argsort(key, kind="stable")[:k]


def identified_rank(gram, fit_intercept):
    """Rank of the rows behind ``gram`` (p × p: ``Σ (x_i − x̄)(x_i − x̄)ᵀ`` over them,
    centred when there is an intercept), plus one for the intercept: judged on the
    equilibrated Gram (unit diagonal), so independent of column scales. O(p³)."""
    diag = np.diag(gram).copy()
    live = diag > 0
    if not np.any(live):
        return int(fit_intercept)
    s = 1.0 / np.sqrt(diag[live])
    E = gram[np.ix_(live, live)] * s[:, None] * s[None, :]
    ev = np.linalg.eigvalsh(E)
    rank = int(np.sum(ev > IDENTIFICATION_RTOL * ev[-1]))
    return rank + int(fit_intercept)


def refuse_unidentified(n_removed, rank, full_rank):
    """Raise :class:`~skrif.exceptions.NotPositiveDefiniteError` when the rows left
    after removing ``n_removed`` rows determine fewer parameter directions (``rank``)
    than the full data (``full_rank``): the refit has no unique answer."""
    if rank < full_rank:
        raise NotPositiveDefiniteError(
            f"Removing these {n_removed} rows leaves a model that is not identified: "
            f"the remaining rows determine only {rank} of the "
            f"{full_rank} parameter directions the full data determine (e.g. a "
            "column that is nonzero only in the removed rows). The refit has no "
            "unique answer; add a penalty, or remove fewer rows."
        )


class RemovalModel:
    """The fitted state of an :class:`~skrif.InfluenceEstimator` and its removal measures.

    Built once in :meth:`~skrif.InfluenceEstimator.fit` after polishing and the
    Hessian factorization, and available as ``est._removal``.

    Parameters
    ----------
    problem : Problem
        The objective on the training data (design, encoded targets, weights).
    theta : ndarray of shape (n_outputs, n_params)
        The optimum ``θ̂`` (intercept last).
    d1 : ndarray of shape (n_samples, n_outputs)
        Per-row gradient coefficients at ``θ̂`` (``g_i = d1_i x̃_i``).
    curvature : Curvature
        ``H`` at ``θ̂``, factored.
    check_data : bool, default=True
        Record a checksum of ``X`` and verify it before refits and row gathers.

    Attributes
    ----------
    problem, theta, d1, curvature
        As passed.
    objective : Objective
        ``problem.objective``.
    design : AugmentedDesign
        ``problem.design``: the training ``X`` with its intercept column.
    n_samples, n_params, n_outputs : int
        ``n``, ``p̃`` (parameters per output, intercept included) and ``q``.
    """

    #: Per-row results are NumPy arrays here; a Dask fit's removal model
    #: (:class:`skrif._dask._removal.DaskRemovalModel`) returns lazy ones.
    distributed = False

    def __init__(self, problem, theta, d1, curvature, *, check_data=True):
        self.problem = problem
        self.objective = problem.objective
        self.design = problem.design
        self.theta = theta
        self.d1 = _exact_gradient_coefficients(problem, theta, d1, curvature)
        self.curvature = curvature
        if check_data:  # the fitted model itself, not a subset of it
            problem.check_optimum(theta)
        self.n_samples = problem.design.n_samples
        self.n_outputs, self.n_params = theta.shape
        self._fingerprint = DataFingerprint(problem.design.X) if check_data else None
        self._full_rank = None
        self._kept = None  # (key, KeptSolver) of the last large set (see kept_solver)

    @classmethod
    def on_rows(cls, problem, theta, d1, curvature):
        """The removal model of some training rows only (a block of a row-chunked
        array), with ``curvature`` the fitted factorization bound to them
        (:meth:`~skrif._removal.base.Curvature.on_rows`): its per-row methods answer
        for these rows exactly as the full model does. No checksum, and ``d1`` is
        taken as given (the least-squares residual refinement needs every row)."""
        rm = cls.__new__(cls)
        rm.problem, rm.objective, rm.design = problem, problem.objective, problem.design
        rm.theta, rm.d1, rm.curvature = theta, d1, curvature
        rm.n_samples = problem.design.n_samples
        rm.n_outputs, rm.n_params = theta.shape
        rm._fingerprint, rm._full_rank = None, None
        return rm

    # -- rows: what a Dask fit's model does blockwise ------------------------------
    def rowwise(self, func, *args, per_row=(), **kwargs):
        """``func(self, *args, *per_row, **kwargs)``: a computation whose result has one
        entry per training row that depends only on that row (and the fit). A Dask
        fit runs ``func`` on the removal model of each row block instead (per-row
        arrays ``per_row`` sliced alike) and returns a lazy array."""
        return func(self, *args, *per_row, **kwargs)

    @staticmethod
    def retained(values):
        """``values`` (a per-row result) kept for use more than once: as is in memory;
        a Dask fit keeps the lazy result on the workers instead of recomputing it."""
        return values

    def prefetch(self, sets, method):
        """Announce the row sets about to be answered by ``method`` (groups, folds):
        nothing to do in memory; a Dask fit gathers their rows in one pass."""

    @staticmethod
    def top_k(scores, k, direction):
        """Positions of the ``k`` largest (``"increase"``) or smallest scores, best
        first, NaN last, ties by position (:func:`top_k`)."""
        return top_k(scores, k, direction)

    @staticmethod
    def kth_smallest(V, k):
        """``k``-th smallest (1-based) of each column of ``V`` (n, m) over the rows:
        introselect on a contiguous transposed copy, O(n m)."""
        W = np.ascontiguousarray(np.asarray(V, dtype=float).T)
        W.partition(k - 1, axis=-1)
        return W[..., k - 1]

    @staticmethod
    def group_sums(values, codes, n_groups):
        """``Σ_{i in group g} values[i]`` (n_groups, ...) for group ``codes`` (n,)."""
        totals = np.zeros((n_groups,) + np.shape(values)[1:])
        np.add.at(totals, codes, values)
        return totals

    def undefined_single_removals(self):
        """Rows whose removal alone leaves a model that cannot be fitted (sorted)."""
        from .._utils.checks import undefined_single_removals

        return undefined_single_removals(self.problem)

    def second_step(self, idx, delta, fraction=1.0):
        """The next Newton step on the objective without rows ``idx`` (weights times
        ``1 − fraction``) from ``θ̂ + delta`` (see
        :func:`skrif._core.set_error.second_newton_step`)."""
        from .set_error import second_newton_step

        return second_newton_step(self, fraction)(idx, delta)

    def target_changes(self, target, deltas):
        """``Σ_i [F_i(θ̂ + Δ) − F_i(θ̂)]`` over the training rows (unweighted) for each
        ``Δ`` (q, p̃) of ``deltas``: a list of floats, differenced row by row (a
        difference of two totals would lose the digits they share). O(nnz(X) q)
        per change."""
        if not len(deltas):
            return []
        Y = self.Y if target.needs_y else None
        cached = getattr(self, "_target_base", None)
        if cached is None or cached[0] != target.name:
            Z = self.linear_predictor()
            cached = self._target_base = (target.name, Z, target.value(Z, Y))
        _, Z, base = cached
        return [float(np.sum(target.value(Z + self.design.matvec(d.T), Y) - base))
                for d in deltas]

    def leverages_of(self, idx):
        """``h_i`` of rows ``idx`` (NumPy)."""
        return np.clip(1.0 - self.one_minus_leverage[idx], 0.0, 1.0)

    # -- the factored Hessian ----------------------------------------------------
    @property
    def one_minus_leverage(self):
        """``1 − h_i`` for every training row, shape (n_samples,)."""
        return self.curvature.one_minus_leverage

    def solve(self, G):
        """``H⁻¹ G`` for ``G`` of shape (p̃, m) (multinomial: (K p̃, m), class-major)."""
        return self.curvature.solve(G)

    def inverse_diagonal(self):
        """``diag(H⁻¹)`` (p̃,) (multinomial: (K p̃,)), from the Hessian kind: O(p̃³)."""
        return self.curvature.inverse_diagonal()

    @property
    def weights(self):
        """The effective sample weights ``s_i`` of the training rows (n,)."""
        return self.problem.weights

    @property
    def Y(self):
        """The encoded training targets (n, q)."""
        return self.problem.Y

    @property
    def rank(self):
        """Rank of the Hessian (``n_params`` unless it is singular)."""
        return self.curvature.rank

    @property
    def penalty(self):
        """The penalty's diagonal ``λ_j`` on the parameters (p̃,), intercept last."""
        return self.problem.penalty

    @functools.cached_property
    def curvature_coefficients(self):
        """Per-row curvature at ``θ̂``: ``c s_i ℓ''(y_i, z_i)``, shape (n,) (the block
        kind: (n, K, K) blocks). Computed once, O(nnz(X) q)."""
        return self.problem.row_derivatives(self.theta)[1]

    @property
    def penalty_share_coefficients(self):
        """Each row's share of the penalty, ``α m_i`` (n,): 0 unless the objective is
        in mean form (GLMs, SGD), where removing a row removes its share too."""
        if not self.objective.mean_form:
            return np.zeros(self.n_samples)
        return self.objective.penalty_share_coef * np.asarray(self.problem.shares, dtype=float)

    def dense_design(self):
        """``X̃`` as a dense (n, p̃) array (intercept column last): what the standard
        errors of the AMIP audit are computed from (low-dimensional models)."""
        return self.design.rows(slice(None))

    def linear_predictor_of(self, X):
        """``X̃ θ̂ᵀ`` for new validated rows ``X`` (m, p): shape (m, q); O(nnz(X) q)
        (the family's design of those rows: kernel rows for KernelRidge)."""
        return np.asarray(self.design.for_rows(X).matvec(self.theta.T), dtype=float)

    def hessian_norms(self, deltas):
        """``‖Δ‖_H`` per independent output (see :func:`skrif._core.group_step.hessian_norms`)."""
        return hessian_norms(self, deltas)

    def joint_leverage(self, idx):
        """The set's joint leverage ``λ_max(B_T)`` (rank-one kinds; ``nan`` otherwise)."""
        return joint_leverage(self, idx)

    def kept_solver(self, idx, fraction=1.0):
        """Solves with ``H − t Σ_T H_i`` factored afresh (a
        :class:`~skrif._core.group_step.KeptSolver`), or ``None`` where the kind's
        Woodbury algebra is the cheaper (:func:`~skrif._core.group_step.kept_is_cheaper`).
        The last one is kept: the error estimate solves twice with it."""
        idx = np.asarray(idx, dtype=np.intp)
        if not kept_is_cheaper(self, idx.size):
            return None
        key = (idx.tobytes(), float(fraction))
        cached = self._kept
        if cached is not None and cached[0] == key:
            return cached[1]
        solver = KeptSolver.in_memory(self, idx, float(fraction))
        self._kept = (key, solver)
        return solver

    def linear_predictor(self, theta=None):
        """``X̃ θᵀ`` on the training rows, shape (n, q); ``θ̂`` by default."""
        self.check_data()
        return self.problem.linear_predictor(self.theta if theta is None else theta)

    # -- data integrity ----------------------------------------------------------
    def check_data(self, rows=slice(None)):
        """Raise :class:`~skrif.exceptions.DataChangedError` if ``X[rows]`` changed
        since ``fit`` (O(nnz of those rows))."""
        if self._fingerprint is not None:
            self._fingerprint.check(rows)

    # -- sets of rows ------------------------------------------------------------
    def parameter_change(self, idx, method, fraction=1.0):
        """``Δθ`` (q, p̃) for removing rows ``idx`` (or reweighting them by ``1 − fraction``).

        ``idx``: validated, unique positions. ``method``: a canonical name of the
        method table. ``"refit"`` goes through :meth:`refit` (checks identification);
        the approximations through :func:`skrif._core.influence.parameter_change`.
        """
        idx = np.asarray(idx, dtype=np.intp)
        if idx.size == 0:
            return np.zeros_like(self.theta)
        self.check_data(idx)
        if method == "refit" and fraction != 0.0:
            if fraction == 1.0:
                return self.refit_without(idx) - self.theta
            weights = self.problem.weights.copy()
            weights[idx] *= 1.0 - fraction
            self.objective.check_removal(self.problem.Y, weights)
            return self.refit(weights) - self.theta
        if method == "newton" and fraction != 0.0 and kept_is_cheaper(self, idx.size):
            weights = self.problem.weights.copy()
            weights[idx] *= 1.0 - fraction
            self.objective.check_removal(self.problem.Y, weights)
            return self.kept_solver(idx, fraction).group_step()
        delta = _parameter_change(
            self.problem, self.theta, self.d1, self.curvature, idx, method, fraction
        )
        warn_active_set_change(
            self.support_changes(idx, delta, fraction), method, idx.size,
            self.design.n_features, self.n_outputs,
            crossing=self.crossing_rows(idx, delta, fraction),
            crossed=getattr(self.curvature, "piece_name", None),
        )
        return delta

    # -- active sets (L1 supports, margins) ----------------------------------------
    def support_changes(self, idx, delta, fraction=1.0):
        """``(output, parameter)`` pairs whose active-set status the predicted change
        ``delta`` (q, p̃) for removing rows ``idx`` would flip (an L1 coefficient
        crossing zero, an off-support coordinate leaving its KKT bound); empty for
        models without an active set. Cost O(nnz(X) q) for an active-set model."""
        return self.curvature.support_changes(np.asarray(idx), delta, self.d1, fraction)

    def crossing_rows(self, idx, delta, fraction=1.0):
        """Training rows (sorted positions) that the predicted change ``delta`` (q, p̃)
        for removing rows ``idx`` moves to another piece of a piecewise-quadratic loss
        (across the squared-hinge margin, the ε-tube's edge, the Huber threshold);
        empty for other models. Cost O(nnz(X)) for a piecewise model."""
        return self.curvature.crossing_rows(np.asarray(idx), delta, fraction)

    def active_set_changed(self, idx, delta, fraction=1.0):
        """Whether the change ``delta`` for removing rows ``idx`` moves the active set
        (:meth:`support_changes` or :meth:`crossing_rows` non-empty)."""
        return bool(
            len(self.support_changes(idx, delta, fraction))
            or len(self.crossing_rows(idx, delta, fraction))
        )

    def changing_rows(self, method):
        """Boolean (n,): whether removing each training row alone changes the active
        set (for ``method``'s single-row steps); all False without an active set."""
        return self.curvature.changing_rows(self.d1, self.theta, method)

    def _warn_changing_rows(self, method):
        """One :class:`~skrif.exceptions.ActiveSetChangeWarning` naming the rows whose
        single-row answers hold a changing active set fixed."""
        rows = np.flatnonzero(self.changing_rows(method))
        if rows.size:
            warn(
                f"Removing any one of {rows.size} training rows (e.g. rows "
                f"{rows[:10].tolist()}) changes the fitted model's active set "
                f"({self.curvature.active_set_description}): their single-row "
                f"{method!r} effects hold the active set fixed, so they are first-order "
                "answers only; est._fitted_removal().changing_rows(method) lists them, "
                "and method='refit' is exact.",
                ActiveSetChangeWarning,
            )

    def refit(self, weights, start=None):
        """``θ`` minimising the training objective with sample ``weights`` (n,).

        Newton's method from ``start`` (default ``θ̂``) to machine precision, with a
        :class:`~skrif.exceptions.NotConvergedWarning` if it does not converge. A row
        whose weight drops from positive to 0 is a removal (it also leaves its share
        of a mean-form penalty). Cost: a few Hessian factorizations.
        """
        self.check_data()
        start = self.theta if start is None else start
        # The full-data factorization preconditions the steps: the Hessian without a
        # few rows is a low-rank change of it, so no new factorization is needed.
        near = self.curvature if self.problem.matrix_free_steps else None
        theta, n_iter, converged = self.problem.newton(start, weights, curvature=near)
        # An overflowed objective would stop Newton at once with a "zero change".
        check_finite_state(self.problem, theta, weights=weights, what="the exact refit")
        if not converged:
            warn_not_converged(n_iter, "the exact refit")
        return theta

    def refit_kept(self, keep, start=None):
        """``θ`` refitted with every row's weight multiplied by ``keep`` (n,): 0 removes
        a row, 1 keeps it. ``ValueError`` if the rows left cannot be fitted (e.g. a
        single class). Cost: a few Hessian factorizations."""
        weights = self.problem.weights * keep
        self.objective.check_removal(self.problem.Y, weights)
        return self.refit(weights, start=start)

    def refit_without(self, idx, start=None):
        """``θ`` refitted without rows ``idx`` (validated positions).

        Unlike :meth:`refit` with zero weights, this removes a row whose training
        weight is already 0 too (with its share of an SGD penalty, which every row
        carries whatever its weight). Raises ``ValueError`` when the remaining rows
        cannot be fitted (e.g. a single class) and
        :class:`~skrif.exceptions.NotPositiveDefiniteError` when they leave some
        parameter undetermined (a rank decision on the equilibrated Gram matrix of
        the remaining rows, so independent of column scales).
        """
        idx = np.asarray(idx, dtype=np.intp)
        weights = self.problem.weights.copy()
        weights[idx] = 0.0
        self.objective.check_removal(self.problem.Y, weights)
        self.check_identified(idx)
        problem = self.problem
        if problem.objective.mean_form and np.any(problem.weights[idx] == 0):
            # A zero-weight row still owns a penalty share, which only dropping the
            # row (not its weight) removes: refit on the remaining rows.
            kept = np.ones(self.n_samples, dtype=bool)
            kept[idx] = False
            self.check_data()
            solver = problem.solver
            problem = type(problem)(
                problem.objective, problem.design.X[kept], problem.Y[kept],
                problem.weights[kept],
            )
            problem.solver = solver
            start = self.theta if start is None else start
            theta, n_iter, converged = problem.newton(start)
            check_finite_state(problem, theta, what="the exact refit")
            if not converged:
                warn_not_converged(n_iter, "the exact refit")
            return theta
        return self.refit(weights, start)

    def _penalised_coefficients(self, weights):
        """Whether the objective with ``weights`` penalises every coefficient."""
        penalty = self.problem.penalty_for(weights)
        return bool(np.all(penalty[: self.design.n_features] > 0))

    def _identified_rank(self, support):
        """Rank of ``X̃`` restricted to the rows in ``support`` (bool, n), judged on the
        equilibrated, centred Gram matrix: scale-invariant. O(n p̃² + p̃³)."""
        from .._removal.penalty_share import signed_gram

        w = support.astype(float)
        total = w.sum()
        if total == 0:
            return 0
        X = self.design.X
        mean = np.asarray(X.T @ w).ravel() / total
        G = signed_gram(self.design, w, shift=mean if self.design.fit_intercept else None)
        return identified_rank(G[: self.design.n_features, : self.design.n_features],
                               self.design.fit_intercept)

    def check_identified(self, idx):
        """Raise :class:`~skrif.exceptions.NotPositiveDefiniteError` if removing rows
        ``idx`` leaves a parameter that the remaining rows do not determine (only
        possible without a penalty on every coefficient). Compared with the full
        data's rank, so a model that was rank-deficient to begin with (served by a
        pseudo-inverse, with a SingularHessianWarning) is not refused again."""
        weights = self.problem.weights.copy()
        weights[idx] = 0.0
        if self._penalised_coefficients(weights) or self.design.n_params > self.n_samples + 1:
            return
        if self._full_rank is None:
            self._full_rank = self._identified_rank(self.problem.weights > 0)
        refuse_unidentified(len(idx), self._identified_rank(weights > 0), self._full_rank)

    def subset(self, rows, theta):
        """A RemovalModel of the objective on training ``rows`` only, at ``theta``
        (e.g. a refitted optimum): copies those rows and factors its Hessian."""
        self.check_data(rows)
        p = self.problem
        sub = type(p)(p.objective, p.design.X[rows], p.Y[rows], p.weights[rows])
        sub.solver = p.solver
        d1, d2 = sub.row_derivatives(theta)
        return RemovalModel(sub, theta, d1, sub.curvature(d2, theta=theta), check_data=False)

    # -- single rows -------------------------------------------------------------
    def row_steps(self, rows, method, out=None):
        """Single-row changes ``Δ_i`` for ``rows`` (slice or int array): (len(rows), q, p̃),
        written into ``out`` when given.

        The Hessian kind's vectorized per-row algebra (no loop over rows in Python):
        O(len(rows) p̃²) primal, O(n² len(rows)) dual.
        """
        _check_additive(method, "This computation")
        # A slice is checked as a view of X (no gathered copy of its rows).
        self.check_data(rows if isinstance(rows, slice) else np.asarray(rows))
        rows = np.arange(self.n_samples)[rows]
        self._warn_changing_rows(method)
        return self.curvature.row_steps(rows, self.d1, self.theta, method, out=out)

    def self_change(self, method):
        """Change of each row's own linear predictor when it alone is removed: (n, q).

        ``x̃_i·Δ_i``, from the Hessian kind: O(n q) beyond the leverages for rank-one
        and uniform-share kinds, O(n p̃²) otherwise. No n × n matrix.
        """
        _check_additive(method, "This computation")
        self.check_data()
        self._warn_changing_rows(method)
        return self.curvature.self_change(self.d1, self.theta, method)

    def functional_changes(self, A, method):
        """``s_ij = ⟨A_j, Δ_i⟩``: effect of removing each row alone on linear
        functionals ``A`` (m, q, p̃) of the parameters. Returns (n, m).

        One :meth:`row_effects <skrif._removal.base.Curvature.row_effects>` call per
        output: O(p̃² m q + nnz(X) m q) for rank-one kinds.
        """
        _check_additive(method, "This computation")
        self.check_data()
        self._warn_changing_rows(method)
        m, q, pt = A.shape
        out = np.zeros((self.n_samples, m))
        for k in range(q):
            G = np.ascontiguousarray(A[:, k, :].T)  # (p̃, m)
            out += self.curvature.row_effects(G, self.d1, self.theta, method)[:, k, :]
        return out


    def functional_changes_kept(self, A, method, keep, theta):
        """:meth:`functional_changes` of one functional ``A`` (q, p̃) at the model
        ``theta`` fitted on the rows where ``keep > 0``: the additive effect of
        removing each further row, shape (n,) (NaN for rows already removed).
        O(n p̃²) for the subset's factorization."""
        if np.all(keep > 0) and theta is self.theta:
            return self.functional_changes(A[None], method)[:, 0]
        out = np.full(self.n_samples, np.nan)
        kept = np.flatnonzero(keep > 0)
        out[kept] = self.subset(kept, theta).functional_changes(A[None], method)[:, 0]
        return out
    def predictor_changes(self, design_eval, method, chunk):
        """Yield ``(rows, dZ)`` over blocks of ``chunk`` training rows, with
        ``dZ[i, j, k]`` (c, m, q) the change of evaluation row ``j``'s linear
        predictor ``k`` when training row ``i`` alone is removed.

        The Hessian kind's ``row_effects`` on ``X̃_evalᵀ`` (densified: callers block
        the evaluation rows): O(n p̃ m) time in total, O(p̃ m + n m q) memory
        (``chunk`` is kept for callers; the rows come in one block).
        """
        _check_additive(method, "This computation")
        self.check_data()
        self._warn_changing_rows(method)
        G = design_eval.rows(slice(None)).T  # (p̃, m)
        # One call: rank-one kinds solve with G once (not once per chunk).
        D = self.curvature.row_effects(G, self.d1, self.theta, method)  # (n, q, m)
        yield slice(0, self.n_samples), D.transpose(0, 2, 1)


def warn_active_set_change(changes, method, n_rows, n_features, n_outputs,
                           crossing=(), crossed=None):
    """One :class:`~skrif.exceptions.ActiveSetChangeWarning` naming the coordinates
    ``changes`` (``(output, parameter)`` pairs) a predicted set change would flip, or
    the training rows ``crossing`` it would move across ``crossed`` (a margin)."""
    if method == "refit" or not (len(changes) or len(crossing)):
        return

    def name(k, j):
        what = "the intercept" if j == n_features else f"coefficient {j}"
        return f"{what} of output {k}" if n_outputs > 1 else what

    if len(changes):
        shown = ", ".join(name(k, j) for k, j in changes[:10])
        more = f" and {len(changes) - 10} more" if len(changes) > 10 else ""
        what = f"active set ({shown}{more} would cross zero or leave its KKT bound)"
    else:
        shown = np.asarray(crossing)[:10].tolist()
        what = (
            f"active set (the step moves {len(crossing)} other training rows, e.g. rows "
            f"{shown}, across {crossed or 'their piece boundaries'})"
        )
    warn(
        f"Removing these {n_rows} rows changes the fitted model's {what}: the "
        f"{method!r} answer holds the active set fixed, so it is a first-order answer "
        "only; method='refit' is exact.",
        ActiveSetChangeWarning,
    )
