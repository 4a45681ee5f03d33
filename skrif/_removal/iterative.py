"""The matrix-free Hessian kind: problems past a dense factor.

When neither a p̃ × p̃ nor an n × n factorization fits in memory (e.g. 200,000 rows
× 200,000 sparse features), ``H = X̃ᵀDX̃ + Λ`` is only applied
(:class:`~skrif._removal.operator.HessianOperator`: two passes over ``X``) and every
solve is preconditioned conjugate gradients (diagonal preconditioner) to
``ITERATIVE_RTOL``. Memory is O(nnz(X) + (n + p̃) m) for m right-hand sides.

* **Requested rows and sets are exact** (to the solve tolerance): single-row steps
  solve ``H⁻¹x̃_i`` for the rows asked, which also gives their exact leverages
  ``h_i = d_i x̃_i·H⁻¹x̃_i``; the group Newton step solves the leave-T-out system
  ``(H − X̃_TᵀD_TX̃_T) Δ = X̃_Tᵀd1_T`` directly by conjugate gradients (breakdown
  means the leave-T-out Hessian is not positive definite).
* **All-row leverages are estimated** by a Gaussian sketch of the projector ``P`` of
  the augmented least-squares system ``Ã = [D^½X̃; Λ^½]`` (the diagonal of its data
  block is ``h``): for ω standard normal in ``R^(n+p̃)``, ``(Pω)_i = ⟨Pe_i, ω⟩`` and
  ``((I − P)ω)_i = ⟨(I − P)e_i, ω⟩`` are independent normals with variances ``h_i``
  and ``1 − h_i`` (``Pe_i ⊥ (I − P)e_i``), and ``Pω = ÃH⁻¹Ãᵀω`` costs one solve. Over
  m probes the sums of squares ``a_i = h_i χ²_m``, ``b_i = (1 − h_i) χ²_m`` give
  ``ĥ_i = a_i/(a_i + b_i)``, and ``(b_i/a_i)/((1 − h_i)/h_i)`` follows an F(m, m)
  law exactly, so each row has an exact interval for ``h_i`` (``leverage_bounds``)
  whose rescale factor ``1/(1 − h)`` is uncertain by about ``±2·1.96 h/√m``
  relative (never unbounded near ``h = 1``). Rows whose interval leaves
  ``1/(1 − h_i)`` uncertain by more than ``UNCERTAIN_FACTOR`` are recomputed exactly
  (the ``EXACT_ROWS`` largest leverages); any left are reported by a
  :class:`~skrif.exceptions.LeverageEstimateWarning`.

Requires a positive penalty on every coefficient (the kind never forms anything
it could rank-check). Implements the rank-one kind's protocol.
"""


import numpy as np
from scipy.stats import f as f_dist

from .._linalg.cg import block_pcg, pcg
from .._utils.warn import warn
from ..exceptions import (
    LeverageEstimateWarning,
    NotConvergedWarning,
    NotPositiveDefiniteError,
)
from .base import ADDITIVE, Curvature, _check_method, _fraction_one_minus
from .operator import HessianOperator

#: Relative preconditioned residual of every solve.
ITERATIVE_RTOL = 1e-10
#: The leverage sketch's solves: their error (relative) is far below the sketch's
#: own (about 2/√m).
SKETCH_RTOL = 1e-6
#: Conjugate-gradient iterations allowed per solve.
MAX_ITER = 20000
#: Gaussian probes of the all-row leverage estimate (relative standard deviation of
#: the rescale factor about 2h/√m: 18% h).
N_PROBES = 128
#: Confidence level of the per-row leverage intervals.
LEVERAGE_CONFIDENCE = 0.95
#: A row's rescale factor counts as uncertain when its interval's upper end exceeds
#: the estimate's factor by more than this fraction (with 128 probes: h ≳ 0.7).
UNCERTAIN_FACTOR = 0.25
#: Uncertain rows recomputed exactly (largest estimates first).
EXACT_ROWS = 64
#: Rows per batch of exact single-row solves.
_BATCH = 64


class IterativeCurvature(Curvature):
    """``H = X̃ᵀ diag(d) X̃ + Λ`` applied, never formed; solves by conjugate gradients.

    Parameters
    ----------
    design : AugmentedDesign
    d : ndarray of shape (n_samples,)
        Non-negative per-row curvature.
    penalty_coef, penalty_intercept : float
        Diagonal L2 penalty (``penalty_coef > 0``).
    random_state : int
        Seed of the leverage sketch (deterministic answers).

    Attributes
    ----------
    leverage_bounds : ndarray of shape (n_samples, 2)
        Per-row interval (confidence ``LEVERAGE_CONFIDENCE``) for ``h_i``; both ends
        equal for rows computed exactly.
    n_products : int
        Hessian-vector products so far (each column counts once).
    """

    kind = "rank_one"
    #: Solves are iterative: not a factorization to precondition other solves with.
    factored = False

    def __init__(self, design, d, penalty_coef, penalty_intercept, *, random_state=0):
        if not penalty_coef > 0:
            raise ValueError(
                "The iterative solver needs a positive penalty on every coefficient "
                "(an unpenalised model's Hessian may be singular); use solver='direct'."
            )
        super().__init__(design, np.asarray(d, dtype=float))
        penalty = np.full(design.n_params, float(penalty_coef))
        if design.fit_intercept:
            penalty[-1] = penalty_intercept
        self.penalty = penalty
        self.operator = HessianOperator(design, self.d, penalty)
        self._diag = self.operator.diagonal(1)[:, 0]
        self.rank = design.n_params
        self.random_state = random_state
        self.leverage_bounds = None
        self.n_products = 0
        self._rows_cache = None

    # -- solves ----------------------------------------------------------------
    def _precondition(self, R):
        return R / (self._diag[:, None] if R.ndim == 2 else self._diag)

    def solve(self, G, rtol=ITERATIVE_RTOL):
        """``H⁻¹ G`` for ``G`` (n_params, m) by conjugate gradients on all columns
        at once: O(iterations × nnz(X) m)."""
        G = np.asarray(G, dtype=float)
        flat = G.ndim == 1
        B = G[:, None] if flat else G
        result = block_pcg(
            self.operator.matvec, B, self._precondition, rtol=rtol, maxiter=MAX_ITER
        )
        self.n_products += result.n_iter * B.shape[1]
        if not np.all(result.converged):
            warn(
                f"Conjugate gradients did not reach the tolerance {rtol:g} in "
                f"{result.n_iter} iterations (worst relative residual "
                f"{np.max(result.residual):.2g}); the answers may be inaccurate.",
                NotConvergedWarning,
            )
        return result.x[:, 0] if flat else result.x

    def _row_solves(self, rows):
        """``(W, q)``: ``W = H⁻¹ X̃_Tᵀ`` (n_params, k) and ``q_i = x̃_i·H⁻¹x̃_i`` for
        ``rows``, in batches of ``_BATCH`` rows."""
        rows = np.asarray(rows)
        key = rows.tobytes()
        if self._rows_cache is not None and self._rows_cache[0] == key:
            return self._rows_cache[1]  # the same set again (e.g. its error estimate)
        W = np.empty((self.n_params, rows.size))
        quad = np.empty(rows.size)
        for start in range(0, rows.size, _BATCH):
            part = rows[start : start + _BATCH]
            block = self.solve(self.design.rows_rmatvec(part, np.eye(part.size)))
            W[:, start : start + part.size] = block
            quad[start : start + part.size] = np.diag(self.design.rows_matvec(part, block))
        self._rows_cache = (key, (W, quad))
        return W, quad

    def inner(self, idx):
        """``X̃_T H⁻¹ X̃_Tᵀ`` (k × k): k solves."""
        idx = np.asarray(idx)
        M = self.design.rows_matvec(idx, self._row_solves(idx)[0])
        return 0.5 * (M + M.T)

    # -- leverages ------------------------------------------------------------
    def exact_one_minus(self, rows):
        """``1 − h_i`` for ``rows`` from their own solves (exact to the tolerance)."""
        rows = np.asarray(rows)
        return 1.0 - self.d[rows] * self._row_solves(rows)[1]

    def _compute_one_minus_leverage(self):
        n, pt = self.design.n_samples, self.n_params
        m = N_PROBES
        rng = np.random.default_rng(self.random_state)
        root = np.sqrt(self.d)
        # Ãᵀω = X̃ᵀD^½ω₁ + Λ^½ω₂ (p̃, m): one block solve gives the data part of Pω,
        # T = D^½X̃H⁻¹Ãᵀω, and of (I − P)ω, ω₁ − T.
        omega = rng.standard_normal((n, m))
        R = self.design.rmatvec(root[:, None] * omega)
        R += np.sqrt(self.penalty)[:, None] * rng.standard_normal((pt, m))
        T = self.design.matvec(self.solve(R, rtol=SKETCH_RTOL))
        del R
        T *= root[:, None]
        inside = np.einsum("ij,ij->i", T, T)  # h_i χ²_m
        omega -= T
        outside = np.einsum("ij,ij->i", omega, omega)  # (1 − h_i) χ²_m, independent
        del T, omega
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = outside / inside  # (1 − h)/h times an F(m, m) variable
        alpha = 1.0 - LEVERAGE_CONFIDENCE
        q_low, q_high = f_dist.ppf(alpha / 2.0, m, m), f_dist.ppf(1.0 - alpha / 2.0, m, m)
        total = inside + outside
        one_minus = np.where(total > 0, outside / np.where(total > 0, total, 1.0), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            bounds = np.column_stack([1.0 / (1.0 + odds / q_low), 1.0 / (1.0 + odds / q_high)])
        bounds[~np.isfinite(bounds)] = 0.0
        uncertain = self._uncertain(one_minus, bounds)
        refine = uncertain[np.argsort(one_minus[uncertain], kind="stable")][:EXACT_ROWS]
        if refine.size:
            exact = self.exact_one_minus(refine)
            one_minus[refine] = exact
            bounds[refine] = (1.0 - exact)[:, None]
            uncertain = np.setdiff1d(uncertain, refine)
        if uncertain.size:
            warn(
                f"The randomized leverage estimate ({m} probes, "
                f"{LEVERAGE_CONFIDENCE:.0%} intervals in leverage_bounds_) leaves the "
                f"rescale factor 1/(1 − h) of {uncertain.size} rows uncertain by more "
                f"than {UNCERTAIN_FACTOR:.0%} (e.g. rows {uncertain[:10].tolist()}); "
                f"the {refine.size} most extreme were recomputed exactly. Their all-row "
                "RIF values (self_influence, loo_predict, influence_scores) are "
                "uncertain; influence() on specific rows uses exact leverages.",
                LeverageEstimateWarning,
            )
        one_minus[self.d == 0] = 1.0
        bounds[self.d == 0] = 0.0
        self.leverage_bounds = bounds
        return one_minus

    @staticmethod
    def _uncertain(one_minus, bounds):
        upper = 1.0 - bounds[:, 1]
        with np.errstate(divide="ignore"):
            ratio = np.where(upper > 0, one_minus / np.where(upper > 0, upper, 1.0), np.inf)
        return np.flatnonzero(ratio > 1.0 + UNCERTAIN_FACTOR)

    # -- the protocol ------------------------------------------------------------
    def _coefficients(self, rows, d1, method, fraction, one_minus):
        _check_method(method, ADDITIVE)
        t = float(fraction)
        coef = t * np.array(d1[rows], dtype=float)
        if method == "rif":
            one_minus = _fraction_one_minus(one_minus, t)
            bad = self._guard(one_minus, rows)
            coef /= np.where(bad, 1.0, one_minus)[:, None]
            coef[bad] = np.nan
        return coef

    def row_coefficients(self, rows, d1, method, fraction=1.0):
        """``c_i`` with ``Δ_i = H⁻¹x̃_i c_i``, from the all-row leverage estimates."""
        rows = self._row_index(rows)
        one_minus = self.one_minus_leverage[rows] if method == "rif" else None
        return self._coefficients(rows, d1, method, fraction, one_minus)

    def row_steps(self, rows, d1, theta, method, fraction=1.0, out=None):
        """Single-row changes (len(rows), q, p̃): one solve per row, and the rows'
        exact leverages from the same solves."""
        rows = self._row_index(rows)
        W, quad = self._row_solves(rows)  # (p̃, k), (k,)
        coef = self._coefficients(rows, d1, method, fraction, 1.0 - self.d[rows] * quad)
        steps = coef[:, :, None] * W.T[:, None, :]
        if out is None:
            return steps
        out[...] = steps
        return out

    def self_change(self, d1, theta, method, fraction=1.0):
        """``x̃_i·Δ_i = c_i h_i / d_i`` (n, q) from the leverage estimates."""
        rows = self._row_index(slice(None))
        coef = self.row_coefficients(rows, d1, method, fraction)
        quad = np.where(self.d > 0, (1.0 - self.one_minus_leverage) / np.where(self.d > 0, self.d, 1.0), 0.0)
        return coef * quad[:, None]

    def row_effects(self, G, d1, theta, method, rows=None, fraction=1.0):
        """``c_ik x̃_i·H⁻¹G[:, j]``: one block solve with m columns."""
        rows = self._row_index(slice(None) if rows is None else rows)
        coef = self.row_coefficients(rows, d1, method, fraction)
        M = self.design.rows_matvec(rows, self.solve(G))
        return coef[:, :, None] * M[:, None, :]

    def set_change(self, idx, d1, theta, method, fraction=1.0):
        """``Δθ`` (q, p̃) for reweighting rows ``idx`` by ``1 − t``: "if"/"rif" from the
        rows' own solves (exact leverages); "newton" by conjugate gradients on the
        leave-T-out Hessian."""
        idx = np.asarray(idx)
        t = float(fraction)
        if method in ADDITIVE:
            steps = self.row_steps(idx, d1, theta, method, t)
            if np.isnan(steps).any():
                return np.full_like(np.asarray(theta, dtype=float), np.nan)
            return steps.sum(axis=0)
        _check_method(method, ADDITIVE + ("newton",))
        dT = t * self.d[idx]

        def matvec(V):
            return self.operator.matvec(V) - self.design.rows_rmatvec(
                idx, dT[:, None] * self.design.rows_matvec(idx, V)
            )

        rhs = self.design.rows_rmatvec(idx, t * np.asarray(d1[idx], dtype=float))  # (p̃, q)
        result = pcg(matvec, rhs, self._precondition, rtol=ITERATIVE_RTOL, maxiter=MAX_ITER)
        self.n_products += result.n_iter * rhs.shape[1]
        if result.breakdown:
            raise NotPositiveDefiniteError(
                "Removing these rows leaves a Hessian that is not positive definite: "
                "the remaining rows do not determine every parameter."
            )
        if not result.converged:
            warn(
                f"Conjugate gradients for the group Newton step did not reach "
                f"{ITERATIVE_RTOL:g} in {result.n_iter} iterations.",
                NotConvergedWarning,
            )
        return result.x.T

    def residuals_need_recomputing(self):
        return False
