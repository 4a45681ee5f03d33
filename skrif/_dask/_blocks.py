"""What runs on the workers: NumPy kernels applied to one row block of ``X``.

Every function here receives one row block (``Xb`` of shape (c, p), encoded targets
``Yb`` (c, q), effective weights ``Sb`` (c, 1) and the block's first row index
``start`` (1,)) plus small client-side constants, and returns either a row of
partial sums (shape (1, L), summed over blocks by a tree reduction) or per-row
values (shape (c, ...), chunked like ``X``). Nothing here imports dask: the
kernels are plain NumPy and can be unit-tested on arrays.

Coordinates are *centred* (see :class:`Spec`): design rows are
``b_i = [x_i − x̄, 1]`` and parameters ``θ_c = (w, b + x̄·w)``, so ``z_i = b_i·θ_c``
is unchanged and large column means cost no digits (the in-memory curvatures
centre the same way).
"""

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.linalg.blas import dsyrk

from .._linalg.factor import SPDFactor, shift_null_space
from .._removal.leverage import LEVERAGE_TOL

# Floats per temporary array inside one kernel call (32 MB): row blocks are split
# further so that multinomial expansions (c × K p̃ × K) stay bounded.
_SUB_FLOATS = 1 << 22


@dataclass
class Spec:
    """The objective and coordinates shared by every kernel (small, picklable).

    Attributes
    ----------
    objective : Objective
        skrif's objective of the wrapped estimator (loss, derivatives, scalars).
    kind : {"linear", "block", "mean"}
        ``"linear"``: rank-one per-row Hessians ``d_i b_i b_iᵀ`` shared by every
        output (least squares, binary logistic); ``"block"``: K × K coupled
        blocks (multinomial); ``"mean"``: mean-form objective, each row owning a
        share of the penalty (GLMs).
    n_features : int
    q : int
        Number of outputs (rows of θ).
    shift : ndarray of shape (n_features,) or None
        Column means ``x̄`` when the intercept is fitted and unpenalised.
    """

    objective: object
    kind: str
    n_features: int
    q: int
    shift: object = None

    @property
    def fit_intercept(self):
        return self.objective.fit_intercept

    @property
    def n_params(self):
        return self.n_features + int(self.fit_intercept)


def augment(spec, Xb):
    """Dense centred design rows ``[x_i − x̄, 1]`` of a block: shape (c, p̃)."""
    Xb = np.asarray(Xb, dtype=float)
    c, p = Xb.shape
    B = np.empty((c, spec.n_params))
    if spec.shift is None:
        B[:, :p] = Xb
    else:
        np.subtract(Xb, spec.shift, out=B[:, :p])
    if spec.fit_intercept:
        B[:, p] = 1.0
    return B


def _weights(Sb, start, removed, scale=0.0):
    """Block weights with the rows in ``removed`` (global, sorted) multiplied by ``scale``."""
    s = np.array(Sb, dtype=float).reshape(-1)
    if removed is not None and len(removed):
        first = int(np.asarray(start).reshape(-1)[0])
        lo, hi = np.searchsorted(removed, [first, first + s.size])
        s[removed[lo:hi] - first] *= scale
    return s


def derivatives(spec, B, Y, s, theta):
    """``(Z, d1, d2)``: linear predictor, ``c s_i ℓ'`` (c, q), ``c s_i ℓ''`` ((c,) or (c, K, K))."""
    Z = B @ theta.T
    dl, d2l = spec.objective.loss_derivatives(Y, Z)
    c = spec.objective.loss_scale
    d1 = c * s[:, None] * dl
    d2 = c * s.reshape((-1,) + (1,) * (np.ndim(d2l) - 1)) * d2l
    return Z, d1, d2


def lower_gram(B, d):
    """Lower triangle of ``Bᵀ diag(d) B`` (p̃ × p̃; upper part zero): BLAS ``dsyrk``."""
    if np.all(d >= 0):
        R = B * np.sqrt(d)[:, None]
        return dsyrk(1.0, R.T, trans=0, lower=1)
    return np.tril((B * d[:, None]).T @ B)


def symmetrize(G):
    """Full symmetric matrix from a lower triangle (summed over blocks)."""
    return G + np.tril(G, -1).T


# -- passes: partial sums ----------------------------------------------------------


def check_block(Xb, Yb, Sb, *, spec, n_classes):
    """Validation pass: finite data, valid weights and targets; sums for ``x̄``.

    Returns ``[Σ x_i (p), n_rows, Σ s_i, positive-weight rows per class or output
    (n_classes or 1)]``.
    """
    Xb = np.asarray(Xb, dtype=float)
    s = np.asarray(Sb, dtype=float).reshape(-1)
    if not np.all(np.isfinite(Xb)):
        raise ValueError("Input X contains NaN or infinity.")
    if not np.all(np.isfinite(s)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(s < 0):
        raise ValueError("sample_weight must be non-negative.")
    Y = np.asarray(Yb, dtype=float)
    if not np.all(np.isfinite(Y)):
        raise ValueError("Input y contains NaN or infinity.")
    spec.objective.check_targets(Y)
    pos = s > 0
    if n_classes == 0:
        counts = np.array([pos.sum()], dtype=float)
    elif n_classes == 2:
        ones = float(np.sum(pos & (Y[:, 0] == 1)))
        counts = np.array([pos.sum() - ones, ones])
    else:
        counts = (pos @ Y).astype(float)
    return np.concatenate([Xb.sum(axis=0), [Xb.shape[0], s.sum()], counts])[None, :]


def newton_block(Xb, Yb, Sb, start, *, spec, theta, gram, removed, scale):
    """One block's share of ``J``, ``∇J`` and (if ``gram``) the Hessian at ``theta``.

    Returns ``[value, ∇ (p̃ q), lower Gram (p̃²) or K² p̃² blocks]`` as one row.
    """
    B = augment(spec, Xb)
    s = _weights(Sb, start, removed, scale)
    Y = np.asarray(Yb, dtype=float)
    Z = B @ theta.T
    loss = spec.objective.loss(Y, Z)
    value = spec.objective.loss_scale * np.sum(s[:, None] * loss)
    _, d1, d2 = derivatives(spec, B, Y, s, theta)
    parts = [np.array([value]), (B.T @ d1).ravel()]
    if gram:
        if spec.kind == "block":
            K, pt = spec.q, spec.n_params
            H = np.zeros((K, pt, K, pt))
            for k in range(K):
                for m in range(k, K):
                    H[k, :, m, :] = (B * d2[:, k, m, None]).T @ B
            parts.append(H.ravel())
        else:
            parts.append(lower_gram(B, d2).ravel())
    return np.concatenate(parts)[None, :]


def target_changes_block(Xb, Yb, Sb, *, spec, theta, deltas, target):
    """``[Σ_i (F_i(θ + Δ_j) − F_i(θ)) for each Δ_j]`` as one row (1, m), ``deltas`` of
    shape (m, q, p̃): a target's change summed over the block's rows (unweighted,
    e.g. the training loss), differenced row by row, for several changes in one
    read of the block."""
    B = augment(spec, Xb)
    Y = np.asarray(Yb, dtype=float) if target.needs_y else None
    Z = B @ theta.T
    base = target.value(Z, Y)
    return np.array([[np.sum(target.value(Z + B @ delta.T, Y) - base) for delta in deltas]])


def eval_block(Xb, *, spec, theta):
    """Linear predictor ``Z`` (c, q) of a block (for predictions at ``theta``)."""
    return augment(spec, Xb) @ theta.T


# -- the factored Hessian (built on the client, used on workers) ------------------


class Factor:
    """``H⁺`` of a symmetric positive semi-definite matrix: Cholesky or eigenvectors.

    Parameters
    ----------
    H : ndarray of shape (P, P)
    null : ndarray of shape (P, r) or None
        Orthonormal basis of a known null space (multinomial parametrization):
        ``H + N diag(σ) Nᵀ`` (:func:`~skrif._linalg.factor.shift_null_space`) is
        factored and right-hand sides and results are projected
        onto ``N⊥`` (as :class:`skrif._removal.block.BlockCurvature`).
    check_psd : bool
        Raise :class:`NotPositiveDefiniteError` for a negative eigenvalue.
    penalised : bool
        Every coefficient carries a penalty (multinomial): the shifted ``H`` is then
        positive definite and never judged singular, as in memory.
    """

    def __init__(self, H, null=None, check_psd=False, penalised=False):
        self.N = null if null is not None and null.shape[1] else None
        if self.N is None:
            # No parametrization null space: the in-memory factorization with its
            # scale-invariant rank decision (judged on the equilibrated matrix).
            spd = SPDFactor(np.array(H, dtype=float, order="F"), check_psd=check_psd)
            self.L, self.F, self.rank = spd.chol, spd.F, spd.rank
            return
        # The in-memory rule (skrif._removal.block): the null space moved to
        # eigenvalues of its own coordinates' scale, then the scale-invariant factor.
        spd = SPDFactor(
            np.asfortranarray(shift_null_space(np.asarray(H, dtype=float), self.N)),
            penalised=penalised, check_psd=check_psd,
        )
        self.L, self.F = spd.chol, spd.F
        self.rank = spd.rank - self.N.shape[1]

    @property
    def singular(self):
        return self.F is not None

    def _project(self, G):
        if self.N is None:
            return G
        return G - self.N @ (self.N.T @ G)

    def solve(self, G):
        """``H⁺ G`` for ``G`` of shape (P, m)."""
        if self.L is not None:
            return self._project(sla.cho_solve((self.L, True), self._project(G), check_finite=False))
        return self._project(self.F @ (self.F.T @ self._project(G)))

    def whiten(self, G):
        """``W`` with ``WᵀW = Gᵀ H⁺ G`` for ``G`` of shape (P, m)."""
        if self.L is not None:
            return sla.solve_triangular(self.L, self._project(G), lower=True, check_finite=False)
        return self.F.T @ self._project(G)


@dataclass
class State:
    """Everything the per-row kernels need at the optimum (client-built, shipped once).

    ``factor`` factors ``H`` in centred coordinates ((K p̃)² for ``"block"``).
    Mean form adds the generalized eigenpairs ``P v = π H v`` (``V``, ``pi``), the
    penalised coefficients in ``V`` coordinates ``omega = Vᵀ w̃`` and ``alpha``
    (the penalty per unit of penalty share).
    """

    spec: Spec
    theta: np.ndarray
    factor: Factor
    V: object = None
    pi: object = None
    omega: object = None
    alpha: float = 0.0
    #: ``H`` itself (centred coordinates): the metric of the set error estimate.
    hessian: object = None


def solve_theta(state, G):
    """``H⁻¹`` applied to gradient-shaped columns ``G`` (p̃, q) → (p̃, q)."""
    if state.spec.kind != "block":
        return state.factor.solve(G)
    K, pt = state.spec.q, state.spec.n_params
    return state.factor.solve(G.T.reshape(K * pt, 1)).reshape(K, pt).T


def _expand(B, K):
    """``V_iᵀ = I_K ⊗ b_i`` for each row: shape (r, K p̃, K)."""
    r, pt = B.shape
    out = np.zeros((r, K, pt, K))
    for k in range(K):
        out[:, k, :, k] = B
    return out.reshape(r, K * pt, K)


def _sub_slices(c, per_row):
    step = max(1, _SUB_FLOATS // max(per_row, 1))
    return [slice(a, min(a + step, c)) for a in range(0, c, step)]


def block_inputs(spec, Xb, Yb, Sb):
    """A block's rows ``b_i`` (centred, augmented), targets and weights as floats."""
    return augment(spec, Xb), np.asarray(Yb, dtype=float), np.asarray(Sb, dtype=float).reshape(-1)


def rank_one_parts(state, B, Y, s, method, quad=None):
    """Rank-one curvature: ``(Z, one_minus, quad, coef)`` of a block, with
    ``Δ_i = H⁻¹ b_i coef_i``: ``d1_i`` ("if"), ``d1_i / (1 − h_i)`` ("rif"; NaN at
    leverage one) or ``None`` (``method=None``). ``quad``: precomputed
    ``b_iᵀ H⁻¹ b_i`` (else whitened here, O(c p̃²))."""
    Z, d1, d2 = derivatives(state.spec, B, Y, s, state.theta)
    quad = quadratic(state, B) if quad is None else np.asarray(quad, dtype=float).reshape(-1)
    one_minus = 1.0 - d2 * quad
    if method is None:
        coef = None
    elif method == "if":
        coef = d1
    else:
        coef = d1 / np.where(one_minus <= LEVERAGE_TOL, np.nan, one_minus)[:, None]
    return Z, one_minus, quad, coef


def row_algebra(state, B, Y, s, method, want_steps=False, quad=None):
    """Per-row removal algebra for a block: ``(Z, one_minus, dZ_self, steps)``.

    ``one_minus`` is ``1 − h_i`` (c,), ``dZ_self`` the change of each row's own
    linear predictor when it alone is removed (c, q) and, if ``want_steps``,
    ``steps`` the single-row parameter changes in centred coordinates (c, q, p̃);
    ``method`` in {"if", "rif", None} (None: leverages only); ``quad`` (rank-one
    curvature only) gives precomputed ``b_iᵀ H⁻¹ b_i`` (no whitening). Rows with
    ``1 − h_i ≤ LEVERAGE_TOL`` get NaN under "rif". Cost O(c p̃²) ("linear",
    "mean"), O(c K³ p̃²) ("block").
    """
    spec, theta = state.spec, state.theta
    c, pt = B.shape
    q = spec.q
    dZ = np.full((c, q), np.nan) if method is not None else None
    steps = np.full((c, q, pt), np.nan) if want_steps else None
    if spec.kind == "linear":
        Z, one_minus, quad, coef = rank_one_parts(state, B, Y, s, method, quad)
        if method is not None:
            dZ = coef * quad[:, None]
            if want_steps:
                S = state.factor.solve(B.T)  # (p̃, c)
                steps = coef[:, :, None] * S.T[:, None, :]
        return Z, one_minus, dZ, steps
    Z, d1, d2 = derivatives(spec, B, Y, s, theta)
    if spec.kind == "block":
        K = q
        one_minus = np.empty(c)
        for sl in _sub_slices(c, K * K * pt):
            E = _expand(B[sl], K)  # (r, Kp̃, K)
            r = E.shape[0]
            W = state.factor.whiten(np.moveaxis(E, 1, 0).reshape(K * pt, r * K))
            W = W.reshape(-1, r, K)
            M = np.einsum("ark,arl->rkl", W, W)
            AM = d2[sl] @ M
            one_minus[sl] = 1.0 - np.max(np.linalg.eigvals(AM).real, axis=1)
            if method is None:
                continue
            if method == "if":
                cc = d1[sl]
            else:
                cc = np.linalg.solve(np.eye(K) - AM, d1[sl][:, :, None])[:, :, 0]
                cc[one_minus[sl] <= LEVERAGE_TOL] = np.nan
            dZ[sl] = np.einsum("rkl,rl->rk", M, cc)
            if want_steps:
                G = (cc[:, :, None] * B[sl][:, None, :]).reshape(r, K * pt).T  # (Kp̃, r)
                steps[sl] = state.factor.solve(G).T.reshape(r, K, pt)
        return Z, one_minus, dZ, steps
    # Mean form: (H − ε_i P)⁻¹ = V diag(1 / (1 − ε_i π)) Vᵀ, then Sherman–Morrison.
    eps = state.alpha * spec.objective.penalty_shares(s, s)
    U = B @ state.V
    Dinv = 1.0 / (1.0 - np.multiply.outer(eps, state.pi))
    Du = Dinv * U
    one_minus = 1.0 - d2 * np.einsum("ij,ij->i", U, Du)
    if method is None:
        return Z, one_minus, dZ, steps
    a = d1[:, 0][:, None] * U + eps[:, None] * state.omega[None, :]
    if method == "if":
        coords = a
    else:
        Da = Dinv * a
        proj = np.einsum("ij,ij->i", U, Da)
        ratio = d2 * proj / np.where(one_minus <= LEVERAGE_TOL, np.nan, one_minus)
        coords = Da + Du * ratio[:, None]
    dZ = np.einsum("ij,ij->i", U, coords)[:, None]
    if want_steps:
        steps = (coords @ state.V.T)[:, None, :]
    return Z, one_minus, dZ, steps


def quadratic(state, B):
    """``b_iᵀ H⁻¹ b_i`` for each row (rank-one curvature): triangular solves, O(c p̃²)."""
    quad = np.empty(B.shape[0])
    for sl in _sub_slices(B.shape[0], B.shape[1]):
        W = state.factor.whiten(B[sl].T)
        quad[sl] = np.einsum("ij,ij->j", W, W)
    return quad


# -- per-row kernels (outputs chunked like X) ---------------------------------------


def quad_block(Xb, Yb, Sb, *, state):
    """``b_iᵀ H⁻¹ b_i`` of each row of the block (cached on the workers after fit)."""
    return quadratic(state, augment(state.spec, Xb))


def leverage_block(Xb, Yb, Sb, quad=None, *, state):
    """``1 − h_i`` of each row of the block: shape (c,)."""
    B, Y, s = block_inputs(state.spec, Xb, Yb, Sb)
    return row_algebra(state, B, Y, s, None, quad=quad)[1]


def self_block(Xb, Yb, Sb, quad=None, *, state, method, target, linearized, loo):
    """Self-influence (or leave-one-out value) of each row on its own target: (c, r)."""
    B, Y, s = block_inputs(state.spec, Xb, Yb, Sb)
    Z, _, dZ, _ = row_algebra(state, B, Y, s, method, quad=quad)
    Yt = Y if target.needs_y else None
    if linearized:
        out = np.einsum("mq,mrq->mr", dZ, target.derivative(Z, Yt))
    else:
        out = target.value(Z + dZ, Yt) - target.value(Z, Yt)
    if loo:
        out = target.value(Z, Yt) + out
    return out


def scores_block(Xb, Yb, Sb, quad=None, *, state, method, target, Z_eval, Y_eval, J, S_eval, B_eval):
    """Effects of each row of the block on each evaluation row: (c, m, r).

    Linearized (``J`` the target's Jacobian at the evaluation rows). Rank-one
    curvature uses ``S_eval = H⁻¹ B_evalᵀ`` (p̃, m); structured ones the explicit
    single-row steps against ``B_eval`` (m, p̃).
    """
    B, Y, s = block_inputs(state.spec, Xb, Yb, Sb)
    if state.spec.kind == "linear":
        coef = rank_one_parts(state, B, Y, s, method, quad)[3]
        M = B @ S_eval  # (c, m)
        dZ = M[:, :, None] * coef[:, None, :]
    else:
        steps = row_algebra(state, B, Y, s, method, want_steps=True)[3]  # (c, q, p̃)
        dZ = np.einsum("cqp,mp->cmq", steps, B_eval)
    return np.einsum("...mq,mrq->...mr", dZ, J)


def additive_block(Xb, Yb, Sb, start, quad=None, *, state, method, G, u):
    """Additive score of each row on ``Σ_j F_j``: (c,). ``G = B_evalᵀ J`` (p̃, q),
    ``u = H⁻¹ G`` (rank-one curvature)."""
    B, Y, s = block_inputs(state.spec, Xb, Yb, Sb)
    if state.spec.kind == "linear":
        coef = rank_one_parts(state, B, Y, s, method, quad)[3]
        return np.sum(coef * (B @ u), axis=1)
    steps = row_algebra(state, B, Y, s, method, want_steps=True)[3]
    return np.einsum("cqp,pq->c", steps, G)


def topk_block(scores, start, *, k, direction):
    """Local candidates for a distributed top-k: ``[[key, global index], ...]`` (≤ k rows).

    Keys sort ascending (``−score`` for "increase"), NaN last; ties keep the lower
    index first (as the in-memory ``top_k``).
    """
    scores = np.asarray(scores, dtype=float)
    key = -scores if direction == "increase" else scores.copy()
    key = np.where(np.isnan(key), np.inf, key)
    order = np.argsort(key, kind="stable")[:k]
    first = int(np.asarray(start).reshape(-1)[0])
    return np.column_stack([key[order], order + first])
