"""The Dask engine: a blockwise design operator, distributed Newton, the removal state.

What runs where:

* **workers** run the NumPy kernels of :mod:`skrif._dask._blocks` on one row block
  of ``X`` at a time (value, gradient and Gram of a block; per-row leverages and
  effects); partial sums are combined by dask's tree reduction (``sum`` with
  ``split_every``), so no worker ever holds more than a few blocks and a p̃ × p̃
  (or K p̃ × K p̃) partial sum;
* **the client** holds θ, the summed gradient and Hessian, factors the Hessian
  (Cholesky, O(p̃³)) and takes the Newton step.

Each Newton iteration is one pass over ``X`` (O(n p̃²) flops for the Gram, O(n p̃)
when the previous factorization is reused); memory on the client is O(p̃²), on a
worker O(block · p̃ + p̃²). The Hessian at the optimum is shipped to the workers
once (scattered when a distributed client is active) for the per-row kernels.
"""

import dask
import dask.array as da
import numpy as np
import scipy.linalg as sla

from .._linalg.factor import SINGULAR_RTOL
from .._removal.leverage import LEVERAGE_TOL
from ..exceptions import NotPositiveDefiniteError
from . import _blocks
from ._blocks import Factor, State, symmetrize

#: Relative Newton step below which the iteration stops (as ``Problem.newton``).
NEWTON_TOL = 1e-11
#: Constants larger than this are scattered to the workers once instead of being
#: embedded in the task graph.
_SCATTER_BYTES = 1 << 20


def _client():
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def constant(value):
    """``value`` as an argument of many tasks: scattered once if large (distributed)."""
    nbytes = getattr(value, "nbytes", 0)
    if isinstance(value, State):
        nbytes = value.factor.L.nbytes if value.factor.L is not None else value.factor.F.nbytes
    if nbytes > _SCATTER_BYTES:
        client = _client()
        if client is not None:
            return client.scatter(value, broadcast=True, hash=False)
    return value


class DaskDesign:
    """Row-chunked training data as a blockwise operator, in centred coordinates.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows only (one column chunk).
    Y : dask.array.Array of shape (n_samples, q)
        Encoded targets, chunked like ``X``'s rows.
    S : dask.array.Array of shape (n_samples, 1)
        Effective sample weights, chunked like ``X``'s rows.
    spec : Spec

    Notes
    -----
    Products are lazy where the result has one entry per row (``matvec``) and
    computed (tree-reduced) where it is p̃-sized (``rmatvec``, ``weighted_gram``);
    ``rows(idx)`` gathers only the blocks holding ``idx``.
    """

    def __init__(self, X, Y, S, spec):
        self.X, self.Y, self.S, self.spec = X, Y, S, spec
        self.n_samples, self.n_features = X.shape
        self.n_params = spec.n_params
        # Row positions chunked like X: a kernel reads its block's first row from it.
        self.starts = da.arange(self.n_samples, chunks=(X.chunks[0],), dtype=np.int64)
        self.n_blocks = len(X.chunks[0])

    def _reduce(self, func, width, with_start=False, **kwargs):
        args = [self.X, "ij", self.Y, "ik", self.S, "il"]
        if with_start:
            args += [self.starts, "i"]
        parts = da.blockwise(
            func, "iz", *args, new_axes={"z": width}, adjust_chunks={"i": 1},
            concatenate=True, dtype=float, meta=np.empty((0, 0)), **kwargs,
        )
        return parts.sum(axis=0, split_every=8)

    def per_row(self, func, extra_shape=(), with_start=False, rows=None, **kwargs):
        """Lazy per-row output of ``func`` on each block: shape (n,) + extra_shape.

        ``rows``: an optional (n,) dask array passed to ``func`` after the blocks.
        """
        letters = "abc"[: len(extra_shape)]
        args = [self.X, "ij", self.Y, "ik", self.S, "il"]
        if with_start:
            args += [self.starts, "i"]
        if rows is not None:
            args += [rows, "i"]
        return da.blockwise(
            func, "i" + letters, *args, new_axes=dict(zip(letters, extra_shape)),
            concatenate=True, dtype=float, meta=np.empty((0,) * (1 + len(extra_shape))),
            **kwargs,
        )

    # -- the operator interface ------------------------------------------------
    def matvec(self, theta):
        """Lazy ``Z = B θᵀ`` (n, q) for centred parameters ``theta`` (q, p̃)."""
        return self.X.map_blocks(
            _blocks.eval_block, spec=self.spec, theta=theta,
            chunks=(self.X.chunks[0], (theta.shape[0],)), dtype=float,
        )

    def newton_pass(self, theta, gram, removed=None, scale=0.0):
        """``(J_loss, ∇ (p̃, q), Gram)`` at ``theta`` in one pass (Gram None unless asked).

        ``J_loss`` is the summed loss part of the objective (no penalty); rows in
        ``removed`` have their weights multiplied by ``scale``.
        """
        pt, q = self.n_params, self.spec.q
        width = 1 + pt * q
        if gram:
            width += (q * pt) ** 2 if self.spec.kind == "block" else pt * pt
        total = self._reduce(
            _blocks.newton_block, width, with_start=True, spec=self.spec,
            theta=constant(theta), gram=gram, removed=removed, scale=scale,
        ).compute()
        value = float(total[0])
        grad = total[1 : 1 + pt * q].reshape(pt, q)
        if not gram:
            return value, grad, None
        if self.spec.kind == "block":
            H = total[1 + pt * q :].reshape(q, pt, q, pt)
            for k in range(q):
                for m in range(k + 1, q):
                    H[m, :, k, :] = H[k, :, m, :].T
            return value, grad, H.reshape(q * pt, q * pt)
        return value, grad, symmetrize(total[1 + pt * q :].reshape(pt, pt))

    def sample(self, max_rows, max_fraction=0.25):
        """In-memory ``(X, Y, s)`` of a few evenly spaced blocks: at most ``max_rows``
        rows and ``max_fraction`` of the blocks (at least one block)."""
        sizes = np.asarray(self.X.chunks[0])
        n_pick = max(1, min(int(max_fraction * len(sizes)), len(sizes)))
        picks = np.unique(np.linspace(0, len(sizes) - 1, n_pick).round().astype(int))
        keep = picks[np.cumsum(sizes[picks]) <= max(max_rows, sizes[picks[0]])]
        parts = [(self.X.blocks[i], self.Y.blocks[i], self.S.blocks[i]) for i in keep]
        parts = dask.compute(*parts)
        return tuple(np.concatenate([part[j] for part in parts]) for j in range(3))

    def rows(self, idx):
        """``(B_T, Y_T, s_T)`` for sorted row positions ``idx``: gathers k rows only."""
        idx = np.asarray(idx, dtype=np.intp)
        X, Y, S = dask.compute(self.X[idx], self.Y[idx], self.S[idx])
        return _blocks.augment(self.spec, X), np.asarray(Y, dtype=float), np.asarray(S, dtype=float).reshape(-1)


class DaskObjective:
    """The penalised objective on a :class:`DaskDesign`, with totals from the check pass.

    ``weight_total`` (``Σ s_i``) gives the mean-form penalty ``α Σ m_i``.
    """

    def __init__(self, design, weight_total):
        self.design = design
        self.spec = design.spec
        self.weight_total = float(weight_total)

    def penalty(self, removed_share=0.0):
        """Diagonal penalty (p̃,) in centred coordinates; mean form without ``removed_share``."""
        obj = self.spec.objective
        coef = obj.penalty_coef
        if obj.mean_form:
            coef = coef + obj.penalty_share_coef * (self.weight_total - removed_share)
        pen = np.full(self.spec.n_params, float(coef))
        if self.spec.fit_intercept:
            pen[-1] = obj.penalty_intercept
        return pen

    def null_space(self, pen):
        """Multinomial parametrization null space ``1_K ⊗ e_j / √K`` for unpenalised j."""
        if self.spec.kind != "block":
            return None
        K, pt = self.spec.q, self.spec.n_params
        free = np.flatnonzero(pen == 0)
        N = np.zeros((K, pt, free.size))
        N[:, free, np.arange(free.size)] = 1.0 / np.sqrt(K)
        return N.reshape(K * pt, free.size)

    def factor(self, gram, pen):
        """Factor ``H = Gram + Λ`` (``I_K ⊗ Λ`` for multinomial)."""
        H = np.array(gram, dtype=float)
        reps = self.spec.q if self.spec.kind == "block" else 1
        H[np.diag_indices_from(H)] += np.tile(pen, reps)
        # As in memory: a multinomial model whose coefficients are all penalised has a
        # positive definite shifted Hessian (only its intercepts' shift is free).
        coef = pen[:-1] if self.spec.fit_intercept else pen
        penalised = self.spec.kind == "block" and coef.size > 0 and bool(np.all(coef > 0))
        return Factor(H, self.null_space(pen), check_psd=self.spec.objective.mean_form,
                      penalised=penalised), H

    def solve(self, factor, G):
        if self.spec.kind != "block":
            return factor.solve(G)
        K, pt = self.spec.q, self.spec.n_params
        return factor.solve(G.T.reshape(K * pt, 1)).reshape(K, pt).T

    def newton(self, theta, removed=None, removed_share=0.0, scale=0.0, tol=NEWTON_TOL, max_iter=100):
        """Minimise the objective from ``theta`` (q, p̃, centred) by distributed Newton.

        One pass over ``X`` per iteration; a factorization is reused (gradient-only
        passes) while steps shrink at least 8-fold, as in ``Problem.newton``.
        Backtracking (Armijo) re-evaluates the objective at the damped point (one
        more pass). The final, negligible step (below ``tol · max(1, ‖θ‖)``) is taken
        without evaluating the objective there.

        Returns
        -------
        theta : ndarray (q, p̃)
        n_iter : int
            Newton steps taken.
        n_passes : int
            Passes over ``X``.
        converged : bool
        """
        pen = self.penalty(removed_share)
        design = self.design
        theta = np.array(theta, dtype=float)

        def evaluate(th, gram):
            loss, grad, G = design.newton_pass(th, gram, removed, scale)
            value = loss + 0.5 * np.sum(pen * th**2)
            return value, grad + pen[:, None] * th.T, G

        value, grad, G = evaluate(theta, True)
        passes = 1
        factor, fresh, previous = self.factor(G, pen)[0], True, None
        it = 0
        while it < max_iter:
            it += 1
            step = -self.solve(factor, grad).T
            size = np.linalg.norm(step)
            if not fresh and not size <= 0.125 * previous:
                # The reused factorization no longer contracts fast: refactor here.
                value, grad, G = evaluate(theta, True)
                passes += 1
                factor, fresh = self.factor(G, pen)[0], True
                step = -self.solve(factor, grad).T
                size = np.linalg.norm(step)
            threshold = tol if fresh else 1e-3 * tol
            if size <= threshold * max(1.0, np.linalg.norm(theta)):
                return theta + step, it, passes, True
            slope = np.sum(grad.T * step)
            t, accepted = 1.0, False
            while t >= 1e-8:
                trial = theta + t * step
                # The Hessian at the trial point is needed unless Newton is already
                # contracting quadratically (then the factorization is reused).
                quadratic = t == 1.0 and previous is not None and size <= 0.125 * previous
                trial_value, trial_grad, trial_G = evaluate(trial, gram=not quadratic)
                passes += 1
                if trial_value <= value + 1e-4 * t * slope + 1e-13 * abs(value):
                    accepted = True
                    break
                if not fresh:
                    break
                t *= 0.5
            if not accepted:
                if not fresh:  # no decrease with a reused factorization: refactor at θ
                    value, grad, G = evaluate(theta, True)
                    passes += 1
                    factor, fresh, previous = self.factor(G, pen)[0], True, np.inf
                    continue
                return theta, it, passes, size <= tol * max(1.0, np.linalg.norm(theta))
            theta, value, grad = trial, trial_value, trial_grad
            previous = t * size
            if trial_G is not None:
                factor, fresh = self.factor(trial_G, pen)[0], True
            else:
                fresh = False
        return theta, max_iter, passes, False

    def pilot(self, max_rows=100_000):
        """A starting point for :meth:`newton`: the optimum on a few blocks, in memory.

        Blocks spread over ``X`` (at most ``max_rows`` rows and a quarter of the
        blocks) are fitted with skrif's in-memory Newton solver, their weights
        scaled so that they carry the total weight of the data (the penalty keeps
        its weight relative to the loss). Distributed Newton from there needs a few
        passes instead of about ten from zero; any failure (a class missing from
        the sample, no convergence) falls back to ``θ = 0``.
        """
        import warnings

        from .._core.problem import Problem

        spec = self.spec
        zeros = np.zeros((spec.q, spec.n_params))
        X, Y, s = self.design.sample(max_rows)
        s = s.reshape(-1)
        if not np.sum(s) > 0 or (spec.objective.is_classifier and np.any(Y.sum(axis=0) == 0)) or (
            spec.objective.is_classifier and spec.q == 1 and np.all(Y == 1)
        ):
            return zeros
        problem = Problem(spec.objective, X, Y, s * (self.weight_total / np.sum(s)))
        with warnings.catch_warnings():
            # Only a starting point: its accuracy does not matter.
            warnings.simplefilter("ignore")
            try:
                theta, _, converged = problem.newton(np.zeros((spec.q, spec.n_params)), max_iter=30)
            except (np.linalg.LinAlgError, ValueError):
                return zeros
        if not converged or not np.all(np.isfinite(theta)):
            return zeros
        return to_centred(spec, theta)

    def state(self, theta):
        """One pass at ``theta``: its Hessian factored, plus the relative Newton step there.

        Returns ``(State, gap, H)``.
        """
        pen = self.penalty()
        loss, grad, G = self.design.newton_pass(theta, True)
        grad = grad + pen[:, None] * theta.T
        factor, H = self.factor(G, pen)
        # Measured in the estimator's coordinates (w, b), as in memory.
        step = to_original(self.spec, self.solve(factor, grad).T)
        gap = float(np.linalg.norm(step) / max(np.linalg.norm(to_original(self.spec, theta)), 1e-300))
        state = State(self.spec, theta, factor, hessian=H)
        if self.spec.kind == "mean":
            if factor.singular:
                raise NotPositiveDefiniteError(
                    "The Hessian of this GLM objective is singular on these data "
                    "(collinear features without a penalty): skrif on Dask needs a "
                    "positive definite Hessian for mean-form models; add alpha > 0."
                )
            Pdiag = np.ones(self.spec.n_params)
            if self.spec.fit_intercept:
                Pdiag[-1] = 0.0
            state.pi, state.V = sla.eigh(np.diag(Pdiag), H, check_finite=False)
            wt = np.array(theta[0], dtype=float)
            if self.spec.fit_intercept:
                wt[-1] = 0.0
            state.omega = state.V.T @ wt
            state.alpha = self.spec.objective.penalty_share_coef
        return state, gap, H


# -- removal algebra for a gathered set of rows (client) ------------------------------


def set_change(state, B, Y, s, method):
    """``Δθ_c`` (q, p̃) for removing the gathered rows ``(B, Y, s)`` by if/rif/newton.

    Returns ``(delta, degenerate)``: ``degenerate`` flags rows with leverage 1
    (then "rif" is NaN). Cost O(k p̃²) plus one solve ("newton": O(k p̃² + k³)).
    """
    spec = state.spec
    k = B.shape[0]
    q = spec.q
    _, d1, d2 = _blocks.derivatives(spec, B, Y, s, state.theta)
    if method == "rif":
        _, one_minus, _, steps = _blocks.row_algebra(state, B, Y, s, "rif", want_steps=True)
        degenerate = one_minus <= LEVERAGE_TOL
        if np.any(degenerate):
            return np.full((q, spec.n_params), np.nan), degenerate
        return steps.sum(axis=0), degenerate
    wt = np.array(state.theta, dtype=float)
    if spec.fit_intercept:
        wt[:, -1] = 0.0
    eps = state.alpha * spec.objective.penalty_shares(s, s) if spec.kind == "mean" else np.zeros(k)
    G = B.T @ d1 + np.sum(eps) * wt.T  # (p̃, q)
    none = np.zeros(k, dtype=bool)
    if method == "if":
        return solve_theta(state, G).T, none
    if state.factor.singular:
        raise ValueError(
            "The group Newton step needs a positive definite Hessian, but this "
            f"model's Hessian is singular (rank {state.factor.rank}); use "
            "method='refit', or add a penalty."
        )
    if spec.kind == "linear":
        return solve_without(state, B, d2, G).T, none
    if spec.kind == "block":
        K, pt = q, spec.n_params
        E = _blocks._expand(B, K)  # (k, Kp̃, K)
        W = state.factor.whiten(np.moveaxis(E, 1, 0).reshape(K * pt, k * K))
        M = W.T @ W
        A_T = sla.block_diag(*d2)
        C = np.eye(k * K) - A_T @ M
        if not np.linalg.eigvals(C).real.min() > SINGULAR_RTOL:
            raise NotPositiveDefiniteError(
                "Removing these rows leaves a Hessian that is not positive definite: "
                "the remaining rows do not determine every parameter."
            )
        c = np.linalg.solve(C, d1.reshape(-1)).reshape(k, K)
        return solve_theta(state, B.T @ c).T, none
    # Mean form: (H − ε_T P − B_Tᵀ D_T B_T)⁻¹ G in V coordinates (as MeanFormCurvature).
    U = B @ state.V
    eps_T = float(np.sum(eps))
    Dinv = 1.0 / (1.0 - eps_T * state.pi)
    a = state.V.T @ G  # (p̃, 1)
    Da = Dinv[:, None] * a
    DU = U * Dinv
    M = DU @ U.T
    C = np.eye(k) - d2[:, None] * M
    root = np.sqrt(np.maximum(d2, 0.0))
    smallest = np.linalg.eigvalsh(np.eye(k) - root[:, None] * M * root)[0]
    if not smallest > SINGULAR_RTOL:
        raise NotPositiveDefiniteError(
            "Removing these rows leaves a Hessian that is not positive definite: "
            "the remaining rows do not determine every parameter."
        )
    y = np.linalg.solve(C, d2[:, None] * (U @ Da))
    coords = Da + DU.T @ y
    return (state.V @ coords).T, none


def solve_without(state, B, d2, G):
    """``(H − B_Tᵀ D_T B_T)⁻¹ G`` by Woodbury for rank-one curvature ("linear" kind).

    ``B`` (k, p̃) are the gathered centred rows, ``d2`` (k,) their curvatures at θ̂,
    ``G`` of shape (p̃, m). With ``U = D_T^½ B_T``: ``(H − UᵀU)⁻¹ = H⁻¹ + H⁻¹Uᵀ C⁻¹ U
    H⁻¹``, ``C = I − U H⁻¹ Uᵀ``. Cost O(k p̃² + k³); no new p̃ × p̃ factorization.

    Raises
    ------
    NotPositiveDefiniteError
        If ``C`` (equivalently the leave-T-out Hessian) is not positive definite.
    """
    k = B.shape[0]
    root = np.sqrt(d2)
    W = state.factor.whiten(B.T)
    C = np.eye(k) - root[:, None] * (W.T @ W) * root[None, :]
    try:
        cf = sla.cho_factor(C, lower=True, check_finite=False)
        ok = np.min(np.diag(cf[0])) ** 2 > SINGULAR_RTOL
    except np.linalg.LinAlgError:
        ok = False
    if not ok:
        raise NotPositiveDefiniteError(
            "Removing these rows leaves a Hessian that is not positive definite: "
            "the remaining rows do not determine every parameter."
        )
    HG = state.factor.solve(G)
    y = sla.cho_solve(cf, root[:, None] * (B @ HG), check_finite=False)
    return HG + state.factor.solve(B.T @ (root[:, None] * y))


def solve_theta(state, G):
    return _blocks.solve_theta(state, G)


def to_original(spec, theta_c):
    """Centred parameters (or changes) back to ``(w, b)``: ``b = b_c − x̄·w``."""
    theta = np.array(theta_c, dtype=float)
    if spec.shift is not None:
        theta[:, -1] -= theta[:, :-1] @ spec.shift
    return theta


def to_centred(spec, theta):
    theta_c = np.array(theta, dtype=float)
    if spec.shift is not None:
        theta_c[:, -1] += theta_c[:, :-1] @ spec.shift
    return theta_c
