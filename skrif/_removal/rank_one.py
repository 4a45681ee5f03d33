"""The Hessian ``H = X̃ᵀ D X̃ + Λ`` of a linear model, factored once.

``D = diag(d)`` holds each row's curvature (``c s_i ℓ''(y_i, z_i)``) and ``Λ`` the
diagonal L2 penalty (``λ_w`` on the coefficients, ``λ_b`` on the intercept, 0 when
the intercept is unpenalised). Nothing here knows which model produced ``d``.

An unpenalised intercept is eliminated exactly by its Schur complement, which
amounts to centring: with ``δ = Σ d_i``, the curvature-weighted mean
``x̄ = Σ d_i x_i / δ`` and ``S = (X − 1x̄ᵀ)ᵀ D (X − 1x̄ᵀ) + Λ_w``,

    x̃_iᵀ H⁻¹ x̃_j = (x_i − x̄)ᵀ S⁻¹ (x_j − x̄) + 1/δ,
    H⁻¹ (g_w, g_b) = (w, g_b/δ − x̄ᵀw),   w = S⁻¹(g_w − x̄ g_b).

Factoring ``S`` instead of ``H`` keeps the problem as well conditioned as the
centred data: with raw columns whose means are 1000× their spread, factoring ``H``
directly lost every digit. Two factorizations of the penalised, centred block
answer the same questions (solves, leverages, inner products of rows, leave-T-out
solves):

* :class:`PrimalCurvature` (``p̃ ≤ n``): Cholesky of the p̃ × p̃ block, with an
  eigendecomposition pseudo-inverse when it is singular.
* :class:`~skrif._removal.dual.DualCurvature` (``p̃ > n`` and a penalty on every
  coefficient; :mod:`skrif._removal.dual`, which also chooses between the two with
  :func:`~skrif._removal.dual.factor_curvature`): Cholesky of the n × n matrix ``B = I + D^½ X_c Λ⁻¹ X_cᵀ D^½``. No p̃ × p̃ matrix exists, and
  ``1 − h_i`` comes out of the diagonal of ``B⁻¹`` without cancellation.
"""


import numpy as np
import scipy.linalg as sla

from .._linalg.centered import CenteredDesign
from .._linalg.design import AugmentedDesign
from .._linalg.factor import SPDFactor
from .._linalg.inverse import (
    N_PROBES,
    InverseCheck,
    check_rows,
    prefer_inverse,
    probe_rows,
    row_nnz,
    verdict,
)
from .._linalg.woodbury import capacitance_coefficients, check_capacitance
from .base import (
    _ROW_BLOCK,
    _SOLVE_FLOATS,
    ADDITIVE,
    Curvature,
    _as_slice,
    _check_method,
    _own_entries,
    _step_table,
    solve_block_rows,
)

#: Least-squares residuals are recomputed without cancellation (see
#: :meth:`_LinearCurvature.exact_residuals`) in the primal form only when some row's
#: ``1 − h_i`` is below this: elsewhere ``y − X̃θ̂`` is accurate to working precision.
_NEAR_INTERPOLATION = 1e-4
#: Below this computed ``1 − h_i`` (or smallest capacitance eigenvalue) the cheap
#: form ``1 − d_i x̃_iᵀH⁻¹x̃_i`` has lost more than 3 digits to cancellation; such rows
#: (at most about ``rank(H)`` of them, since ``Σ h_i ≤ rank``) are recomputed by the
#: cancellation-free form of :meth:`_LinearCurvature._exact_capacitance`.
REFINE_BELOW = 1e-3
#: Largest explicit p̃ × p̃ inverse kept beside the factor (floats: 2 GiB).
_INVERSE_FLOATS = 1 << 28

def _block_penalty(n_block_params, n_features, penalty_coef, penalty_intercept):
    """Diagonal ``Λ`` of the factored block: ``λ_w`` (one value, or one per column,
    e.g. an unpenalised extra column) and the intercept's entry last, if it is in it."""
    penalty = np.empty(n_block_params)
    penalty[:n_features] = penalty_coef
    if n_block_params > n_features:
        penalty[-1] = penalty_intercept
    return penalty




class _LinearCurvature(Curvature):
    """``H = X̃ᵀ D X̃ + Λ`` with one scalar curvature per row and diagonal ``Λ``.

    The rank-one Hessian kind (least squares, binary logistic, RidgeClassifier).
    Eliminates an unpenalised intercept by centring (module docstring) and lets
    subclasses factor the penalised block ``S = B̃ᵀ D B̃ + Λ`` of the block design
    ``B̃`` (the centred ``X`` when the intercept is eliminated, else ``X̃``) through
    ``_factor``, ``_block_solve``, ``_block_inner`` and ``_block_rows_solve``.

    **Cancellation-free 1 − h and capacitance.** With ``P`` the orthogonal projector
    of the augmented least-squares system ``[D^½ X̃; Λ^½]`` (its data block is the
    weighted hat matrix, ``h_i = P_ii``) and ``V_T = H⁻¹X̃_Tᵀ``, idempotence
    ``P² = P`` gives for a row set T, with ``B_T = P_TT`` and ``C_T = I − B_T``,

        C_T B_T = N_T = D_T^½ V_Tᵀ H_{−T} V_T D_T^½,
        H_{−T} = Σ_{j∉T} d_j x̃_j x̃_jᵀ + Λ,

    a sum of squares: ``N_T`` (and so ``C_T = B_T⁻¹ N_T`` on the directions where
    ``B_T`` is not small) is computed without subtracting nearly equal numbers. For one
    row ``1 − h_i = [Σ_{j≠i} d_j (x̃_j·v_i)² + v_iᵀΛv_i] / (x̃_i·v_i)``. The cheap form
    ``1 − d_i x̃_iᵀH⁻¹x̃_i`` is used where it is accurate (above ``REFINE_BELOW``); the
    exact one costs O(nnz(X) + solve) per refined row or set.
    """

    kind = "rank_one"
    #: Row effects come from one n-space solve (the dual's push-through), not from
    #: products of the training rows with ``H⁻¹G``.
    _dual_effects = False

    def __init__(self, design, d, penalty_coef, penalty_intercept):
        super().__init__(design, d)
        self._delta = d.sum()
        self._border = design.fit_intercept and not penalty_intercept > 0 and self._delta > 0
        if self._border:
            self._mean = design.rmatvec(d[:, None])[: design.n_features, 0] / self._delta
            block = CenteredDesign(design.X, self._mean)
        else:
            block = design
        penalty = _block_penalty(block.n_params, design.n_features, penalty_coef, penalty_intercept)
        self._block_design = block
        self._block_penalty = penalty
        self.rank = self._factor(block, d, penalty) + int(self._border)

    def _compute_one_minus_leverage(self):
        one_minus = self._block_one_minus()
        if self._border:
            one_minus = one_minus - self.d / self._delta
        if not self._bound:
            # Every training row is here: refine where the cheap form lost digits.
            refine = self.refine_candidates(one_minus)
            for start in range(0, refine.size, _ROW_BLOCK):
                rows = refine[start : start + _ROW_BLOCK]
                one_minus[rows] = self._exact_one_minus(rows)
        one_minus[self.d == 0] = 1.0  # h_i = d_i x̃_iᵀH⁻¹x̃_i is exactly 0
        return one_minus

    def refine_candidates(self, one_minus):
        """Rows whose cheap ``1 − d_i x̃_iᵀH⁻¹x̃_i`` is below ``REFINE_BELOW`` (more
        than 3 digits lost): :meth:`_exact_one_minus` recomputes them."""
        if self.singular:
            return np.zeros(0, dtype=np.intp)
        return np.flatnonzero((one_minus < REFINE_BELOW) & (self.d > 0))

    def self_quadratic(self):
        """``x̃_i H⁻¹ x̃_iᵀ`` for every training row, shape (n_samples,) (cached).

        A by-product of the leverages (``h_i = d_i x̃_i H⁻¹ x̃_i``): O(n p̃²) primal,
        n³/3 dual once the factorization exists, instead of n solves.
        """
        if self._quad is None:
            quad = self._block_quadratic()
            self._quad = quad + 1.0 / self._delta if self._border else quad
        return self._quad

    def prediction_reach(self):
        """``‖x̃_i‖_{H⁻¹} = √(x̃_iᵀH⁻¹x̃_i)`` for every training row (n,): by
        Cauchy–Schwarz, a change ``Δ`` moves row i's linear predictor by at most
        ``‖x̃_i‖_{H⁻¹} ‖Δ‖_H``. From :meth:`self_quadratic` (cached)."""
        return np.sqrt(np.maximum(self.self_quadratic(), 0.0))

    def step_reach(self, rows, d1, method, fraction=1.0):
        """``‖Δ_j‖_H`` of the single-row changes ``Δ_j = H⁻¹x̃_j c_j`` of ``rows``
        (len(rows),): ``|c_j| ‖x̃_j‖_{H⁻¹}`` (largest over outputs); NaN at leverage one."""
        coef = self.row_coefficients(rows, d1, method, fraction)
        return np.max(np.abs(coef), axis=1) * self.prediction_reach()[rows]

    def solve(self, G):
        if not self._border:
            return self._block_solve(G)
        Gw, gb = G[:-1], G[-1]
        w = self._block_solve(Gw - np.outer(self._mean, gb))
        return np.vstack([w, gb / self._delta - self._mean @ w])

    def inner(self, idx):
        out = self._block_inner(idx)
        return out + 1.0 / self._delta if self._border else out

    # -- accurate solves with training rows --------------------------------------
    def _rows_block_solve(self, idx, coeffs=None):
        """``S⁻¹ B̃_Tᵀ C`` (block coordinates; ``C`` defaults to the identity)."""
        return self._block_rows_solve(np.asarray(idx), coeffs)

    def rows_solve(self, idx, coeffs=None):
        """``H⁻¹ X̃_Tᵀ C`` (p̃, m) for rows ``idx`` and coefficients ``C`` (k, m)
        (default the identity: the columns ``H⁻¹ x̃_i``).

        Exact forms for training rows (push-through in the dual, no cancellation).
        Cost O(k p̃²) primal, O(n² m + nnz(X) m) dual.
        """
        idx = np.asarray(idx)
        W = self._rows_block_solve(idx, coeffs)
        if not self._border:
            return W
        gb = np.ones(idx.size) if coeffs is None else np.asarray(coeffs).sum(axis=0)
        return np.vstack([W, gb / self._delta - self._mean @ W])

    def _set_inner(self, idx):
        """``(M_T, exact)``: ``X̃_T H⁻¹ X̃_Tᵀ`` from the block solves ``W = S⁻¹B̃_Tᵀ``
        (p̃ × k), and ``exact()``, the cancellation-free capacitance ``I − B_T``
        (:meth:`_capacitance`, from the same ``W``; computed only when asked)."""
        W = self._rows_block_solve(idx)
        M = self._inner_from(idx, W)
        return M, lambda: self._capacitance(idx, W, M)

    def _inner_from(self, idx, W):
        """``X̃_T H⁻¹ X̃_Tᵀ`` from ``W = S⁻¹ B̃_Tᵀ`` (k × k, symmetrized)."""
        M = self._block_design.rows_matvec(idx, W)
        if self._border:
            M = M + 1.0 / self._delta
        return 0.5 * (M + M.T)

    def _exact_capacitance(self, idx, W, M):
        """``C_T = I − B_T`` without cancellation (class docstring), k × k.

        Cost O(nnz(X) k + n k² + k³): one pass over the training rows
        (:meth:`sum_over_rows`).
        """
        root = np.sqrt(self.d[idx])
        B = root[:, None] * M * root[None, :]
        ids = self._ids(idx)

        def part(view, view_ids):
            Z = view._block_design.matvec(W)  # (c, k): x̃_j·v_i (block coordinates)
            if view._border:
                Z = Z + 1.0 / view._delta
            Z[_own_entries(view_ids, ids)[0]] = 0.0  # rows of T are not in H_{−T}
            return Z.T @ (view.d[:, None] * Z)

        N = self.sum_over_rows(part) + W.T @ (self._block_penalty[:, None] * W)
        N = root[:, None] * N * root[None, :]
        beta, U = np.linalg.eigh(B)
        nu = np.einsum("ij,ij->j", U, N @ U)  # diag(UᵀNU): one BLAS product, O(k³)
        big = beta > 0.5
        c = np.where(big, nu / np.where(big, beta, 1.0), 1.0 - beta)
        return (U * c) @ U.T

    def _exact_one_minus(self, rows):
        """``1 − h_i`` for ``rows`` by the sum-of-squares form; O(nnz(X) + solve) each
        (one pass over the training rows, :meth:`sum_over_rows`)."""
        W = self._rows_block_solve(rows)  # (p̃_block, r)

        def products(view):  # x̃_j·v_i (block coordinates)
            Z = view._block_design.matvec(W)
            return Z + 1.0 / view._delta if view._border else Z

        num, q = self.own_row_sums(self._ids(rows), products)
        num = num + np.einsum("ij,ij->j", W, self._block_penalty[:, None] * W)
        return num / q

    def _capacitance(self, idx, W=None, M=None):
        idx = np.asarray(idx)
        if W is None:
            W = self._rows_block_solve(idx)
            M = self._inner_from(idx, W)
        root = np.sqrt(self.d[idx])
        C = -(root[:, None] * M * root[None, :])
        C[np.diag_indices_from(C)] += 1.0
        if idx.size and np.linalg.eigvalsh(C)[0] < REFINE_BELOW and not self.singular:
            C = self._exact_capacitance(idx, W, M)
        return C

    # -- the protocol ------------------------------------------------------------
    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        """Single-row changes ``Δ_i = H⁻¹ x̃_i c_i``: (len(rows), q, p̃).

        Cost O(len(rows) p̃²) primal, O(n² len(rows)) dual, in row blocks of
        :func:`solve_block_rows` rows.
        """
        rows = self._row_index(rows)
        coef = self.row_coefficients(rows, d1, method, fraction)
        out = _step_table(out, rows.size, d1.shape[1], self.n_params)
        self._prepare_inverse(rows.size)
        block = solve_block_rows(self.n_params)
        pb = self.n_params - 1 if self._border else self.n_params
        for start in range(0, rows.size, block):
            sl = slice(start, min(start + block, rows.size))
            # rows_solve's two parts, written straight into ``out`` (no stacked copy).
            W = self._rows_block_solve(rows[sl])  # (p̃_block, c)
            np.multiply(coef[sl, :, None], W.T[:, None, :], out=out[sl, :, :pb])
            if self._border:
                out[sl, :, -1] = coef[sl] * (1.0 / self._delta - self._mean @ W)[:, None]
        return out

    def self_change(self, d1, theta, method, fraction=1.0):
        """``x̃_i·Δ_i = c_i x̃_iH⁻¹x̃_i`` (n, q): O(n q) after the leverages."""
        coef = self.row_coefficients(slice(None), d1, method, fraction)
        return coef * self.self_quadratic()[:, None]

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        """``c_ik x̃_i·H⁻¹G[:, j]`` (len(rows), q, m): one solve with m columns, then
        O(nnz(X) m)."""
        rows = self._row_index(slice(None) if rows is None else rows)
        coef = self.row_coefficients(rows, d1, method, fraction)
        M = self._rows_times_solve(rows, np.asarray(G, dtype=float))  # (r, m)
        return coef[:, :, None] * M[:, None, :]

    def _rows_times_solve(self, rows, G):
        """``X̃[rows] H⁻¹ G`` (len(rows), m); a run of consecutive rows is read as a
        view of X (no gathered copy)."""
        return self.design.rows_matvec(_as_slice(rows), self.solve(G))

    def _effect_blocks(self, G):
        """``(rows, X̃[rows] H⁻¹ G)`` over blocks of training rows: one solve, then
        one product per block of about ``_SOLVE_FLOATS / m`` rows (temporaries below
        the allocator's fresh-pages threshold)."""
        V = self.solve(G)
        n, step = self.design.n_samples, max(1, _SOLVE_FLOATS // max(G.shape[1], 1))
        for start in range(0, n, step):
            sl = slice(start, min(start + step, n))
            yield sl, self.design.rows_matvec(sl, V)

    def row_effects_into(self, G, d1, theta, method, out, fraction=1.0):
        """:meth:`row_effects` for every training row, written into ``out`` (n, q, m)
        block by block of training rows (each block's rows of ``out`` contiguous;
        no (n, m) temporary): one solve with G's m columns, then O(nnz(X) m)."""
        coef = self.row_coefficients(slice(None), d1, method, fraction)
        G = np.asarray(G, dtype=float)
        if coef.shape[1] == 1 and not self._dual_effects:
            # One output: each block's product goes straight into ``out``, then is
            # scaled in place (no temporary of the block's size).
            V = self.solve(G)
            dest2d = out[:, 0, :]
            if not self.design.sparse:
                # Dense rows: each block of rows scaled by its coefficients (intercept
                # column included) times H⁻¹G, one GEMM straight into the result: one
                # pass over the (n, m) output.
                for sl, rows in self.design.row_chunks():
                    # A new scaled block: rows may be a view of the user's X.
                    np.matmul(rows * coef[sl], V, out=dest2d[sl])
                return out
            n, step = self.design.n_samples, max(1, _SOLVE_FLOATS // max(G.shape[1], 1))
            for start in range(0, n, step):
                sl = slice(start, min(start + step, n))
                block = self.design.rows_matvec(sl, V, out=dest2d[sl])
                block *= coef[sl]
            return out
        for rows, M in self._effect_blocks(G):
            np.multiply(coef[rows, :, None], M[:, None, :], out=out[rows])
        return out

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        """``Δθ`` (q, p̃) for reweighting rows ``idx`` by ``1 − t`` (``t = fraction``).

        "if"/"rif": ``H⁻¹X̃_Tᵀ c_T`` (one solve); "newton":
        ``(H − t X̃_TᵀD_TX̃_T)⁻¹ t X̃_Tᵀd1_T = V_T (I − t D_T M_T)⁻¹ t d1_T`` with the
        capacitance formed without cancellation. Cost O(k p̃² + k³) primal,
        O(n² k + k³) dual (plus O(nnz(X) k) when the capacitance is ill-conditioned).
        """
        idx = np.asarray(idx)
        t = float(fraction)
        if method in ADDITIVE:
            coef = self.row_coefficients(idx, d1, method, t)
            if np.isnan(coef).any():
                return np.full_like(theta, np.nan)
            return self.rows_solve(idx, coef).T
        _check_method(method, ADDITIVE + ("newton",))
        if self.singular:
            raise ValueError(
                "The group Newton step needs a positive definite Hessian, but this "
                f"model's Hessian is singular (rank {self.rank} < {self.n_params}); "
                "use method='refit', or add a penalty."
            )
        C, root, M = self.set_capacitance(idx, t)
        c = capacitance_coefficients(C, root, M, t * np.asarray(d1[idx], dtype=float), t)
        return self.rows_solve(idx, c).T

    def set_capacitance(self, idx, t):
        """``(C, D_T^½, M_T)``: the checked capacitance ``I − t D_T^½ M_T D_T^½`` of
        reweighting rows ``idx`` by ``1 − t``, with ``M_T = X̃_T H⁻¹ X̃_Tᵀ``.

        For ``t > 0`` it is formed without cancellation as ``(1 − t) I + t (I − B_T)``
        (:meth:`_capacitance`). Cost O(k p̃² + k³) primal, O(n² k + k³) dual.

        Raises
        ------
        NotPositiveDefiniteError
            If the reweighted Hessian is not positive definite.
        """
        M, exact = self._set_inner(idx)
        root = np.sqrt(self.d[idx])
        if t > 0:
            C = t * exact()
            C[np.diag_indices_from(C)] += 1.0 - t
        else:
            C = -t * (root[:, None] * M * root[None, :])
            C[np.diag_indices_from(C)] += 1.0
        C = check_capacitance(C, "Removing these rows" if t == 1 else "Reweighting these rows")
        return C, root, M

    def exact_residuals(self, Y, Z):
        """Least-squares residuals ``y − z`` at the exact optimum, without cancellation.

        Only meaningful when this Hessian belongs to a quadratic loss
        (``ℓ = (y − z)²``: Ridge, LinearRegression, RidgeClassifier) whose targets
        are ``Y`` (n, q); then ``d1 = −d ∘ (y − z)``. Near interpolation the residual
        ``y − X̃θ̂`` is tiny and inherits the full error of θ̂ (condition number of
        H); here ``D^½ r = (I − Ĥ) D^½ y`` is computed directly: in the dual,
        ``(I − Ĥ) = Π B⁻¹ Π`` (a solve with the factor); in the primal, the
        projection of ``[D^½(y − ȳ); 0]`` off the range of ``[D^½B̃; Λ^½]`` by a
        Householder QR (O((n + p̃) p̃²) time and an (n + p̃) × p̃ temporary). Rows with
        ``d_i = 0`` (and a singular H) keep ``Y − Z``.
        """
        Y = np.asarray(Y, dtype=float)
        out = Y - Z
        if self.singular:
            return out
        root = np.sqrt(self.d)
        pos = root > 0
        Rw = self._weighted_residuals(root[:, None] * Y)
        out[pos] = Rw[pos] / root[pos, None]
        return out

    def residuals_need_recomputing(self):
        """Whether :meth:`exact_residuals` should replace ``y − X̃θ̂``: in the primal
        form only for dense ``X`` near interpolation (some ``1 − h_i`` below
        ``_NEAR_INTERPOLATION``), where the QR it needs is affordable and the plain
        residuals have lost digits."""
        return not self.design.sparse and bool(
            np.min(self.one_minus_leverage, initial=1.0) < _NEAR_INTERPOLATION
        )

    def _weighted_residuals(self, B):  # pragma: no cover - interface
        raise NotImplementedError

    # -- subclass hooks -------------------------------------------------------
    def _factor(self, block, d, penalty):  # pragma: no cover - interface
        """Factor ``S``; return the rank of ``S``."""
        raise NotImplementedError

    def _block_one_minus(self):  # pragma: no cover - interface
        """``1 − d_i b̃_iᵀS⁻¹b̃_i`` for every row."""
        raise NotImplementedError

    def _block_quadratic(self):  # pragma: no cover - interface
        """``b̃_iᵀS⁻¹b̃_i`` for every row."""
        raise NotImplementedError

    def _block_solve(self, G):  # pragma: no cover - interface
        raise NotImplementedError

    def _block_inner(self, idx):  # pragma: no cover - interface
        raise NotImplementedError

    def _block_rows_solve(self, idx, coeffs):  # pragma: no cover - interface
        raise NotImplementedError

    def _prepare_inverse(self, n_rows):
        """Hook: make solves with ``n_rows`` training rows cheaper (primal form)."""


class PrimalCurvature(_LinearCurvature):
    """Factor the p̃ × p̃ (centred) Hessian: O(n p̃² + p̃³/3) time, O(p̃²) memory.

    ``S`` is built by symmetric rank-k updates and factored in place (a single
    p̃ × p̃ array) by :class:`~skrif._linalg.factor.SPDFactor` (scale-invariant rank
    decision; never singular when every parameter is penalised). Leverages, on first
    use, cost another O(n p̃²): triangular solves of row blocks.
    """

    #: How the leverages were computed (:class:`~skrif._linalg.inverse.InverseCheck`).
    inverse_check = None
    #: How many-row solves are done (:class:`~skrif._linalg.inverse.InverseCheck`),
    #: once decided.
    steps_check = None
    _sinv = None

    def _factor(self, block, d, penalty):
        S = self._gram(block, d, penalty)
        return self._factor_matrix(block, S, penalty, lambda: self._gram(block, d, penalty))

    def _factor_matrix(self, block, S, penalty, rebuild=None, reference=None):
        self._block = block
        self._bquad = None
        self._spd = SPDFactor(S, penalised=bool(np.all(penalty > 0)), rebuild=rebuild,
                              reference=reference)
        self._chol = self._spd.chol
        return self._spd.rank

    @classmethod
    def from_gram(cls, gram, n_features, fit_intercept, penalty_coef, penalty_intercept,
                  shift=None):
        """The factorization from a summed Gram matrix instead of the rows (Dask).

        ``gram`` is ``Σ d_i b_i b_iᵀ`` (p̃ × p̃) over rows ``b_i = [x_i − shift, 1]``
        (``shift`` the column means, or ``None`` for ``[x_i, 1]``), e.g. summed over
        the blocks of a row-chunked array. The unpenalised intercept is eliminated as
        in memory: ``δ = Σ d_i``, curvature-weighted mean ``shift + g_b/δ`` and
        ``S = G_ww − g_b g_bᵀ/δ + Λ_w``. Bind rows with :meth:`on_rows`. O(p̃³).
        """
        G = np.array(gram, dtype=float)
        p = n_features
        design = AugmentedDesign(np.zeros((0, p)), fit_intercept)
        self = cls.__new__(cls)
        Curvature.__init__(self, design, np.zeros(0))
        self._delta = float(G[p, p]) if fit_intercept else 0.0
        self._border = fit_intercept and not penalty_intercept > 0 and self._delta > 0
        base = np.zeros(p) if shift is None else np.asarray(shift, dtype=float)
        reference = None
        if self._border:
            g = G[:p, p]
            self._mean = base + g / self._delta
            # Rows centred on ``shift`` rather than on their own weighted mean (a
            # subset's, a reweighting's): the rank is decided relative to the Gram
            # the complement was subtracted from (a column constant on these rows
            # leaves rounding noise, not the exact 0 of rows centred in memory).
            reference = np.diag(G)[:p].copy()
            S = G[:p, :p] - np.outer(g, g) / self._delta
            block = CenteredDesign(design.X, self._mean)
        else:
            if shift is not None and fit_intercept:
                # Back to rows [x_i, 1]: G ← M G Mᵀ with M = [[I, s], [0, 1]].
                G[:p] += np.outer(base, G[p])
                G[:, :p] += np.outer(G[:, p], base)
            S = G
            block = design
        penalty = _block_penalty(block.n_params, p, penalty_coef, penalty_intercept)
        S[np.diag_indices_from(S)] += penalty
        if reference is not None:
            reference += penalty
        self._block_design, self._block_penalty = block, penalty
        self.rank = self._factor_matrix(
            block, np.asfortranarray(S), penalty, reference=reference
        ) + int(self._border)
        return self

    def _bind_rows(self, quad=None):
        block = CenteredDesign(self.design.X, self._mean) if self._border else self.design
        self._block_design = self._block = block
        self._bquad = None
        self._quad = None if quad is None else np.asarray(quad, dtype=float)

    @staticmethod
    def _gram(block, d, penalty):
        S = block.weighted_gram(d)
        S[np.diag_indices_from(S)] += penalty
        return S

    def _block_quadratic(self):
        """``b̃_iᵀS⁻¹b̃_i`` for every row (cached), the cheapest exact way.

        Dense rows: ``‖L⁻¹b̃_i‖²`` by triangular solves of row blocks (O(n p̃²)).
        Sparse rows, when the cost model of :func:`~skrif._linalg.inverse.prefer_inverse`
        says so: the explicit ``S⁻¹`` (2p̃³/3) and ``Σ nnz_i²`` gathers, checked against
        solves on probe rows; rows whose expanded (centred) form cancelled more than 6
        digits are recomputed by solves. ``inverse_check`` records the outcome.
        """
        if self._bquad is not None:
            return self._bquad
        block = self._block
        self.inverse_check = InverseCheck("solve", "dense rows: triangular solves")
        if block.sparse and self._spd.chol is not None:
            use, reason = prefer_inverse(block.n_params, row_nnz(block.X))
            if use and block.n_params**2 > _INVERSE_FLOATS:
                use, reason = False, f"{reason}; the inverse would not fit the memory budget"
            self.inverse_check = InverseCheck("solve", reason)
            if use:
                Sinv = self._spd.inverse()
                quad, magnitude = block.row_quadratic(Sinv)
                cancelled = np.flatnonzero(quad <= 1e-6 * magnitude)
                probes = probe_rows(quad)
                redo = np.union1d(probes, cancelled)
                if redo.size <= max(64, block.n_samples // 8):
                    reference = self._solved_quadratic(redo)
                    at = np.searchsorted(redo, probes)
                    self.inverse_check = check_rows(quad, reference[at], probes, reason)
                    if self.inverse_check.strategy == "inverse":
                        quad[redo] = reference
                        self._sinv = Sinv
                        self._bquad = quad
                        return quad
                else:
                    self.inverse_check = InverseCheck(
                        "solve", f"{reason}; {cancelled.size} rows cancelled in the "
                        "expanded form"
                    )
                del Sinv
        self._bquad = self._solved_quadratic(slice(None))
        return self._bquad

    def _solved_quadratic(self, rows):
        """``‖L⁻¹b̃_i‖²`` (or ``‖Fᵀb̃_i‖²``) for ``rows`` (slice or positions) by
        triangular solves of dense row blocks: O(len(rows) p̃²)."""
        block = self._block
        idx = np.arange(block.n_samples)[rows]
        quad = np.empty(idx.size)
        step = block.chunk_rows
        for start in range(0, idx.size, step):
            part = _as_slice(idx[start : start + step])
            chunk = block.rows(part)
            # Solve in place when the block is a fresh copy (not a view of X).
            fresh = block.sparse or not np.may_share_memory(chunk, block.X)
            W = self._spd.whiten(chunk.T, overwrite=fresh)
            quad[start : start + step] = np.einsum("ij,ij->j", W, W)
        return quad

    def _block_one_minus(self):
        return 1.0 - self.d * self._block_quadratic()

    def _whiten(self, G, overwrite=False):
        return self._spd.whiten(G, overwrite=overwrite)

    def _block_solve(self, G):
        return self._spd.solve(G)

    def inverse_diagonal(self):
        """``diag(H⁻¹)`` from the factor (one triangular solve, O(p̃³/3)); the
        intercept's entry is ``1/δ + x̄ᵀS⁻¹x̄`` (Schur complement)."""
        diag = self._spd.inverse_diagonal()
        if not self._border:
            return diag
        w = self._spd.whiten(self._mean[:, None])[:, 0]
        return np.append(diag, 1.0 / self._delta + w @ w)

    def _block_inner(self, idx):
        W = self._spd.whiten(self._block.rows(idx).T)
        return W.T @ W

    def _prepare_inverse(self, n_rows):
        """For solves with many training rows, the explicit ``S⁻¹``: one GEMM in place
        of two triangular solves (the same flops at BLAS-3 speed, ~1.5× faster), once
        ``n_rows ≥ p̃`` amortizes ``potri``'s 2p̃³/3. Checked on probe rows against
        solves (``steps_check``); kept only if they agree to ``INVERSE_RTOL``."""
        pt = self._block.n_params
        if self._sinv is not None or self._spd.chol is None or n_rows < pt:
            return
        if pt * pt > _INVERSE_FLOATS or self.steps_check is not None:
            return
        Sinv = self._spd.inverse()
        probes = np.unique(np.linspace(0, self._block.n_samples - 1, N_PROBES).astype(np.intp))
        R = self._block.rows(probes).T
        reference = self._spd.solve(R)
        got = Sinv @ R
        err = float(np.max(np.linalg.norm(got - reference, axis=0)
                           / np.maximum(np.linalg.norm(reference, axis=0), np.finfo(float).tiny)))
        self.steps_check = verdict(
            err, probes.size, f"{n_rows} row solves: GEMM with the inverse in place of two "
            "triangular solves"
        )
        if self.steps_check.strategy == "inverse":
            self._sinv = Sinv

    def _block_rows_solve(self, idx, coeffs):
        if coeffs is None and self._sinv is not None:
            if self._block.sparse:  # S⁻¹B̃_Tᵀ = (B̃_T S⁻¹)ᵀ: O(nnz(rows) p̃)
                return self._block.rows_matvec(idx, self._sinv).T
            return (self._block.rows(_as_slice(idx)) @ self._sinv).T
        if coeffs is None:
            rows = self._block.rows(_as_slice(idx))
            # Solve in place when the block is a fresh copy (not a view of X).
            fresh = self._block.sparse or not np.may_share_memory(rows, self._block.X)
            return self._spd.solve(rows.T, overwrite=fresh)
        return self._spd.solve(self._block.rows_rmatvec(idx, np.asarray(coeffs, dtype=float)))

    def _weighted_residuals(self, B):
        root = np.sqrt(self.d)
        if self._border:
            B = B - np.outer(root, root @ B) / self._delta  # D^½(y − ȳ): off u
        A = np.vstack([root[:, None] * self._block.rows(slice(None)),
                       np.diag(np.sqrt(self._block_penalty))])
        Q, _ = sla.qr(A, mode="economic", check_finite=False)
        Baug = np.vstack([B, np.zeros((A.shape[1], B.shape[1]))])
        return (Baug - Q @ (Q.T @ Baug))[: B.shape[0]]


