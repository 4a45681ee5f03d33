"""Removal algebra of L1 / elastic-net models on their active set (the "active_set" kind).

An L1 term ``λ₁‖w‖₁`` is not differentiable at 0, but at an optimum ``θ̂`` the
coefficients split into the *support* ``A`` (non-zero: there the L1 term is the linear
function ``λ₁ sign(ŵ_A)·w_A``, smooth) and the rest, held at 0 by the KKT bounds
``|∂_j J_smooth(θ̂)| ≤ λ₁``. As long as a removal keeps that split, the leave-T-out
optimum is the optimum of the smooth objective on ``A`` with the signs fixed, so every
removal question is the same question for a smooth model on the reduced design
``X̃_A`` (the support's columns, plus the intercept when it is free):

* sum-form penalties (``LogisticRegression``): the rank-one kind on ``X̃_A`` with the
  elastic net's L2 part — the L1 term belongs to no row;
* mean-form penalties (``Lasso``, ``ElasticNet``, SGD): every row also owns a share
  ``m_j (α₁‖w‖₁ + α₂/2‖w‖²)`` of the penalty. With ``α₂ > 0`` its gradient on ``A`` is
  ``m_j α₂ (w̃ + (α₁/α₂) sign w̃)``: the penalty-share kind evaluated at the shifted
  point ``θ + (α₁/α₂) sign θ``; with ``α₂ = 0`` (the Lasso) the share's Hessian
  vanishes and its gradient ``m_j α₁ sign w̃`` is a fixed direction
  (:mod:`skrif._removal.fixed_direction`).

Changes are reported in the full parameter space (zeros off the support). For least
squares with the support unchanged the group Newton step is the exact refit.

**Support changes.** A removal whose step would move a coefficient across 0, or would
push an off-support coordinate past its KKT bound, changes the active set, and the
answer above is then only a first-order one. :meth:`ActiveSetCurvature.support_changes`
(a set) and :meth:`ActiveSetCurvature.changing_rows` (every single row) detect it
after the step, on the Newton model of the objective (exact for least squares):

    g'_j = g_j − t X_{T,j}ᵀ d1_T + [H_{jA} − t X_{T,j}ᵀ D_T X̃_{T,A}] Δ_A,
    violated when |g'_j| > λ₁' = λ₁ − ρ(t) α₁ Σ_T m_i        (j off the support),

with ``g`` the smooth gradient at ``θ̂``. For single rows the cross-Hessian
``H_{ĀA}`` is formed once, in column blocks (O(nnz(X) |A| + n |Ā| |A|) for all rows);
for a set the product is one pass over ``X`` (O(nnz(X))).
"""

import numpy as np

from .._linalg.design import AugmentedDesign
from .base import _ROW_BLOCK, Curvature, _step_table

#: Relative slack on an off-support KKT bound before it counts as violated (the
#: optimum is solved to ~1e-13; the bound is met with equality only by accident).
KKT_SLACK = 1e-9
#: Floats of the cross-Hessian block ``H_{ĀA}`` formed at a time for row checks.
_CROSS_FLOATS = 1 << 22


class KKTBounds:
    """What the support-change checks need about the L1 term.

    Parameters
    ----------
    l1 : ndarray of shape (n_params,)
        The L1 weight of every parameter at the training weights (0: not L1-penalised).
    grad : ndarray of shape (n_outputs, n_params)
        Gradient of the smooth part (loss and L2 terms) at ``θ̂``.
    share_l1 : float
        ``α₁``: the L1 weight each unit of penalty share carries (mean form; else 0).
    shares : ndarray of shape (n_samples,) or None
        Penalty shares ``m_j`` (mean form).
    share_of_fraction : callable
        ``ρ(t)``: the part of a row's share removed with a fraction ``t`` of its weight.
    """

    def __init__(self, l1, grad, share_l1=0.0, shares=None, share_of_fraction=float):
        self.l1 = np.asarray(l1, dtype=float)
        self.grad = np.asarray(grad, dtype=float)
        self.share_l1 = float(share_l1)
        self.shares = shares
        self.share_of_fraction = share_of_fraction

    def bound_after(self, rows_share, t, penalised):
        """``λ₁'`` on the L1-penalised coefficients after removing shares ``rows_share``."""
        if self.shares is None or self.share_l1 == 0.0:
            return self.l1
        return self.l1 - penalised * (self.share_of_fraction(t) * self.share_l1 * rows_share)


class ActiveSetCurvature(Curvature):
    """Factored Hessian of an L1 / elastic-net objective on its active set.

    Parameters
    ----------
    design : AugmentedDesign
        The full design.
    d : ndarray of shape (n_samples,)
        Per-row curvature.
    theta : ndarray of shape (n_outputs, n_params)
        The optimum; its non-zero entries (and every parameter without an L1 weight,
        e.g. an unpenalised intercept) form the support of each output.
    factory : callable
        ``factory(reduced_design, outputs, params)`` → the factored kind on the
        reduced design for those outputs (which share the support ``params``).
    l1 : ndarray of shape (n_params,)
        The L1 weight of every parameter (0: always free, e.g. an unpenalised
        intercept).
    kkt : KKTBounds or None
        For the support-change checks (``None``: only solves are needed).
    theta_shift : ndarray of shape (n_outputs, n_params) or None
        Added to ``θ`` before it is handed to the inner kinds (the elastic net's
        ``(α₁/α₂) sign θ``, module docstring).
    """

    kind = "active_set"

    def __init__(self, design, d, theta, factory, l1, kkt=None, theta_shift=None):
        super().__init__(design, np.asarray(d, dtype=float))
        theta = np.asarray(theta, dtype=float)
        self.theta = theta
        self.kkt = kkt
        self._shift = np.zeros_like(theta) if theta_shift is None else theta_shift
        self.support = (theta != 0) | (np.asarray(l1) == 0)[None, :]
        self.groups = []  # (outputs, parameter indices, inner kind)
        for key in np.unique(self.support, axis=0):
            outputs = np.flatnonzero(np.all(self.support == key, axis=1))
            params = np.flatnonzero(key)
            reduced = reduced_design(design, params)
            self.groups.append((outputs, params, factory(reduced, outputs, params)))
        self.rank = min(inner.rank + design.n_params - params.size for _, params, inner in self.groups)
        self._cross = {}
        self._row_flags = {}

    # -- the factored Hessian -------------------------------------------------------
    @property
    def one_minus_leverage(self):
        """``1 − h_i`` on the support (the smallest over outputs with different supports)."""
        if self._one_minus is None:
            self._one_minus = np.min([inner.one_minus_leverage for *_, inner in self.groups], axis=0)
        return self._one_minus

    def _single(self, what):
        if len(self.groups) != 1:
            raise NotImplementedError(
                f"{what} is not defined when the outputs have different supports (one "
                "Hessian per output); fit one InfluenceEstimator per target instead."
            )
        return self.groups[0]

    def solve(self, G):
        """``H_A⁻¹ G_A`` embedded in the full space (zeros off the support)."""
        _, params, inner = self._single("A solve with the Hessian")
        out = np.zeros((self.n_params,) + np.shape(G)[1:])
        out[params] = inner.solve(np.asarray(G)[params])
        return out

    def solve_outputs(self, G):
        """``H_k⁻¹ G[:, k]`` for every output ``k`` (its own support): (n_params, q)."""
        out = np.zeros_like(G, dtype=float)
        for outputs, params, inner in self.groups:
            out[np.ix_(params, outputs)] = inner.solve(G[np.ix_(params, outputs)])
        return out

    def inverse_diagonal(self):
        """``diag(H_A⁻¹)`` on the support, 0 off it (those coordinates do not move)."""
        _, params, inner = self._single("diag(H⁻¹)")
        out = np.zeros(self.n_params)
        out[params] = inner.inverse_diagonal()
        return out

    def inner(self, idx):
        return self._single("X̃_T H⁻¹ X̃_Tᵀ")[2].inner(idx)

    # -- the protocol ---------------------------------------------------------------
    def _reduced_theta(self, theta, outputs, params):
        return (np.asarray(theta, dtype=float) + self._shift)[np.ix_(outputs, params)]

    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        rows = self._row_index(rows)
        out = _step_table(out, rows.size, d1.shape[1], self.n_params)
        out[...] = 0.0
        for outputs, params, inner in self.groups:
            steps = inner.row_steps(
                rows, d1[:, outputs], self._reduced_theta(theta, outputs, params), method, fraction
            )
            out[np.ix_(np.arange(rows.size), outputs, params)] = steps
        return out

    def self_change(self, d1, theta, method, fraction=1.0):
        out = np.empty(d1.shape)
        for outputs, params, inner in self.groups:
            out[:, outputs] = inner.self_change(
                d1[:, outputs], self._reduced_theta(theta, outputs, params), method, fraction
            )
        return out

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        rows = self._row_index(slice(None) if rows is None else rows)
        out = np.empty((rows.size, d1.shape[1], G.shape[1]))
        for outputs, params, inner in self.groups:
            out[:, outputs] = inner.row_effects(
                G[params], d1[:, outputs], self._reduced_theta(theta, outputs, params),
                method, rows=rows, fraction=fraction,
            )
        return out

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        out = np.zeros((d1.shape[1], self.n_params))
        for outputs, params, inner in self.groups:
            out[np.ix_(outputs, params)] = inner.set_change(
                idx, d1[:, outputs], self._reduced_theta(theta, outputs, params), method, fraction
            )
        return out

    # -- support changes ------------------------------------------------------------
    def _crossings(self, delta):
        """L1-penalised support coordinates whose sign the step ``delta`` (…, q, p̃)
        flips (an unpenalised intercept may change sign freely)."""
        theta = self.theta
        penalised = self.kkt.l1 > 0
        return penalised & (theta != 0) & (np.sign(theta + delta) != np.sign(theta))

    def support_changes(self, idx, delta, d1, fraction=1.0):
        """Coordinates whose status the step ``delta`` (q, p̃) for removing rows ``idx``
        (weights × ``1 − fraction``) would change: a list of ``(output, parameter)``.

        Crossing zero, or an off-support KKT bound violated after the step (module
        docstring). Cost O(nnz(X) q + k p̃).
        """
        if self.kkt is None:
            return []
        idx = np.asarray(idx)
        t = float(fraction)
        delta = np.asarray(delta, dtype=float)
        changed = self._crossings(delta)
        # Off-support gradient after the step, on the Newton model.
        dZ = self.design.matvec(delta.T)  # (n, q): X̃_A Δ_A
        weights = np.ones(self.design.n_samples)
        weights[idx] = 1.0 - t
        grad = self.kkt.grad.T - self.design.rows_rmatvec(idx, t * np.asarray(d1[idx], dtype=float))
        grad = grad + self.design.rmatvec((weights * self.d)[:, None] * dZ)
        share = 0.0 if self.kkt.shares is None else float(np.sum(self.kkt.shares[idx]))
        penalised = self.kkt.l1 > 0
        bound = self.kkt.bound_after(share, t, penalised)
        off = (~self.support) & penalised[None, :]
        changed |= off & (np.abs(grad.T) > bound[None, :] * (1 + KKT_SLACK))
        return [tuple(map(int, c)) for c in np.argwhere(changed)]

    def changing_rows(self, d1, theta, method):
        """Boolean (n,): whether removing each row alone changes the support (for
        ``method``'s single-row steps). Cached per method.

        Cost: the single-row steps, plus the cross-Hessian ``H_{ĀA}`` (O(nnz(X) |A|),
        formed once, in column blocks of at most ``_CROSS_FLOATS`` floats) and
        O(n |Ā| |A|) products.
        """
        if method in self._row_flags:
            return self._row_flags[method]
        n = self.design.n_samples
        flags = np.zeros(n, dtype=bool)
        if self.kkt is None:
            return flags
        penalised = self.kkt.l1 > 0
        off = (~self.support) & penalised[None, :]  # (q, p̃)
        for start in range(0, n, _ROW_BLOCK):
            rows = np.arange(start, min(start + _ROW_BLOCK, n))
            D = self.row_steps(rows, d1, theta, method)  # (r, q, p̃)
            flags[rows] |= self._crossings(D).any(axis=(1, 2))
            if not off.any():
                continue
            drop = 0.0
            if self.kkt.shares is not None:
                drop = self.kkt.share_of_fraction(1.0) * self.kkt.share_l1 * self.kkt.shares[rows]
            Xr = self.design.rows(rows)  # (r, p̃)
            own = np.einsum("rp,rqp->rq", Xr, D)  # x̃_j·Δ_j
            for k in range(d1.shape[1]):
                for block, cross in self._cross_blocks(k, np.flatnonzero(off[k])):
                    grad = (
                        self.kkt.grad[k, block][None, :]
                        - d1[rows, k][:, None] * Xr[:, block]
                        + D[:, k, self._support_cols(k)] @ cross.T
                        - (self.d[rows] * own[:, k])[:, None] * Xr[:, block]
                    )
                    limit = self.kkt.l1[block][None, :] - np.reshape(drop, (-1, 1))
                    flags[rows] |= np.any(np.abs(grad) > limit * (1 + KKT_SLACK), axis=1)
        self._cross = {}  # |Ā| × |A| floats: kept only while checking
        self._row_flags[method] = flags
        return flags

    def _support_cols(self, k):
        return np.flatnonzero(self.support[k])

    def _cross_blocks(self, k, cols):
        """Yield ``(block, H[block, A])`` for column blocks of ``cols`` (off output
        ``k``'s support): ``X_blockᵀ D X̃_A`` (|block| × |A|; n × |block| dense
        temporaries of at most ``_CROSS_FLOATS`` floats)."""
        group = next(g for g in self.groups if k in g[0])
        support, inner_design = group[1], group[2].design
        step = max(1, _CROSS_FLOATS // max(self.design.n_samples, support.size, 1))
        for start in range(0, cols.size, step):
            block = cols[start : start + step]
            key = (k, int(block[0]), block.size)
            if key not in self._cross:
                E = np.zeros((self.n_params, block.size))
                E[block, np.arange(block.size)] = 1.0
                XB = self.design.matvec(E)  # (n, |block|)
                self._cross[key] = inner_design.rmatvec(self.d[:, None] * XB).T
            yield block, self._cross[key]


def reduced_design(design, params):
    """The design restricted to parameter indices ``params`` (intercept last if kept):
    a copy of those columns of ``X`` (O(n |A|) dense, O(nnz of them) sparse)."""
    p = design.n_features
    cols = params[params < p]
    keep_intercept = design.fit_intercept and bool(np.any(params == p))
    if cols.size == 0 and keep_intercept:
        # Only the intercept is free: one column of ones (``intercept_only`` tells
        # the caller to give it the intercept's penalty).
        reduced = AugmentedDesign(np.ones((design.n_samples, 1)), False)
        reduced.intercept_only = True
        return reduced
    return AugmentedDesign(design.X[:, cols], keep_intercept)
