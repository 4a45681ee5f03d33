"""Single-row removals from a whole pipeline: IF and RIF with the preprocessing term.

Removing training row ``r`` refits the preprocessing without it; every row's features
then move as :class:`~skrif._preprocess.change.RowChange` says,
``z' = z ∘ (1+α_r) + β_r + ρ_r`` (ρ: the tangents). In the coordinates of the *old*
features, ``v = (1+α_r) ∘ θ'`` (and the intercept absorbing ``β_r·θ'``), the new model
is the old one on the kept rows with

* features ``z̃_k + ρ_k / (1+α_r)`` (only the non-affine part remains),
* the penalty ``½ Σ_j λ_j v_j² / (1+α_rj)²``, i.e. a diagonal change
  ``E_r = λ (1/(1+α_r)² − 1)`` (exact),

and one Newton step from ``θ̂`` solves

    (H − H_r + diag(E_r) + T_r) Δv = g_r − q_r,

``q_r`` the gradient that the changed features and penalty add at ``θ̂`` (linear and
quadratic in the tangents: exact for least squares) and ``T_r`` their Hessian terms.
For least squares behind column-affine steps (scalers) and steps whose tangents are
exact (imputed means and medians, one-hot columns, polynomial features of scaled
inputs) this is the exact leave-one-out refit of the whole pipeline; for other
losses it is the one-step answer, as RIF is without preprocessing. ``"if"`` solves
with ``H`` alone.

The system is solved per row by conjugate gradients preconditioned with
``(H − H_r)⁻¹`` (Sherman–Morrison on the factored ``H``): ``E_r`` and ``T_r`` are
small except for rows that hold a scaler's extreme, so a few iterations reach
machine precision. Each iteration is one solve with ``H`` for a block of rows plus
O(p̃ S + S²) per row (S tangents); no p̃ × p̃ matrix is formed per row.

Rows whose removal changes a step discretely (the last row of a category) are
answered by the exact leave-that-row-out statistics and one Newton step
(:mod:`skrif._preprocess.sets`).
"""


import numpy as np

from .._utils.warn import warn
from ..exceptions import NotConvergedWarning
from .change import RowChange

#: Rows per block of the per-row solves.
ROW_BLOCK = 256
#: Relative residual at which the per-row conjugate gradients stop.
CG_TOL = 1e-13
CG_MAX_ITER = 60


class RowAlgebra:
    """The per-row removal algebra of one fitted pipeline (built lazily, cached).

    Parameters
    ----------
    rm : RemovalModel
        The final model's fitted state on the preprocessed training rows.
    removal : StepRemoval
        The preprocessing's removal module.
    X : array-like
        The raw training rows.
    """

    def __init__(self, rm, removal, X):
        self.rm, self.removal, self.X = rm, removal, X
        n = rm.n_samples
        change = removal.train(X, RowChange(np.arange(n), X.shape[1], n))
        self.discrete = change.discrete
        p = rm.design.n_features
        self.p = p
        self.alpha = change.alpha
        penalty = rm.problem.penalty
        # A free (unpenalised) intercept absorbs the column shifts β.
        self._absorbed = bool(rm.design.fit_intercept and penalty[p] == 0)
        coef, cols, basis = change.coef, change.cols, change.basis
        self._ones = np.zeros(0, dtype=np.intp)
        if change.beta is not None:
            if self._absorbed:
                self.beta = change.beta
            else:
                # No free intercept to absorb the shift: a tangent with basis 1.
                self._ones = np.flatnonzero(np.any(change.beta != 0, axis=0))
                coef = np.hstack([coef, change.beta[:, self._ones]])
                cols = np.concatenate([cols, self._ones])
                basis = np.hstack([basis, np.ones((n, self._ones.size))])
                self.beta = None
        else:
            self.beta = None
        if self.alpha is not None and cols.size:
            coef = coef / (1.0 + self.alpha[:, cols])  # tangents in v-coordinates
        self.coef, self.cols, self.basis = coef, cols, basis
        self.lam = penalty[:p]
        d2 = np.asarray(rm.curvature.d, dtype=float) if rm.curvature.kind != "block" else None
        self.d2 = d2
        S = cols.size
        if S and d2 is not None:
            self.K = rm.design.rmatvec(d2[:, None] * basis)          # Z̃ᵀ D B (p̃, S)
            self.G = basis.T @ (d2[:, None] * basis)                  # Bᵀ D B  (S, S)
            self.Bd1 = basis.T @ rm.d1                                # Bᵀ d1   (S, q)

    # -- per-row building blocks ----------------------------------------------------
    def penalty_change(self, rows):
        """``E_r`` on the coefficients (len(rows), p̃)."""
        out = np.zeros((rows.size, self.rm.n_params))
        if self.alpha is not None:
            a = self.alpha[rows]
            out[:, : self.p] = -self.lam * a * (2.0 + a) / (1.0 + a) ** 2
        return out

    def _tangent_apply(self, rows, c, V):
        """``T_r v`` for each row (rows, q, p̃) — the tangents' Hessian terms."""
        if not self.cols.size:
            return np.zeros_like(V)
        design, d2, B = self.rm.design, self.d2[rows], self.basis[rows]
        Zr = design.rows(rows)                                        # (b, p̃)
        out = np.zeros_like(V)
        cv = c[:, None, :] * V[:, :, self.cols]                       # (b, q, S)
        # Σ_s c_s K_r[:, s] v_{j_s}
        out += np.einsum("bqs,ps->bqp", cv, self.K)
        out -= (d2[:, None] * np.einsum("bqs,bs->bq", cv, B))[:, :, None] * Zr[:, None, :]
        # e_{j_s} c_s K_r[:, s]·v  and the quadratic block c_s c_t G_r[s, t] v_{j_t}
        kv = np.einsum("ps,bqp->bqs", self.K, V) - d2[:, None, None] * B[:, None, :] * np.einsum("bp,bqp->bq", Zr, V)[:, :, None]
        gv = np.einsum("bqs,ts->bqt", cv, self.G) - d2[:, None, None] * B[:, None, :] * np.einsum("bqs,bs->bq", cv, B)[:, :, None]
        _scatter(out, self.cols, c[:, None, :] * (kv + gv))
        return out

    def gradient_change(self, rows):
        """``q_r`` (rows, q, p̃): what the moved features and penalty add to the
        kept rows' gradient at ``θ̂``."""
        rm = self.rm
        theta = rm.theta
        E = self.penalty_change(rows)
        out = E[:, None, :] * theta[None, :, :]
        if self.cols.size:
            c = self.coef[rows]
            W = theta[:, : self.p][:, self.cols]                      # (q, S) w_k[j_s]
            # d1 term: Σ_{k≠r} d1_k ρ_k
            d1r = rm.d1[rows]                                         # (b, q)
            Br = self.basis[rows]                                     # (b, S)
            lin = (self.Bd1.T[None, :, :] - d1r[:, :, None] * Br[:, None, :])  # (b, q, S)
            _scatter(out, self.cols, c[:, None, :] * lin)
            # d2 terms: Σ_{k≠r} d2_k (ρ_k·θ̂) z̃_k (K) and Σ_{k≠r} d2_k (ρ_k·θ̂) ρ_k (G).
            design, d2 = rm.design, self.d2[rows]
            Zr = design.rows(rows)
            cw = c[:, None, :] * W[None]                              # (b, q, S)
            out += np.einsum("bqs,ps->bqp", cw, self.K)
            out -= (d2[:, None] * np.einsum("bqs,bs->bq", cw, Br))[:, :, None] * Zr[:, None, :]
            gv = np.einsum("bqs,ts->bqt", cw, self.G) - d2[:, None, None] * Br[:, None, :] * np.einsum("bqs,bs->bq", cw, Br)[:, :, None]
            _scatter(out, self.cols, c[:, None, :] * gv)
        return out

    def steps(self, rows, method):
        """``Δv`` (len(rows), q, p̃) for removing each row alone, in old-feature
        coordinates. Rows with leverage one get NaN (warned)."""
        rm = self.rm
        curv = rm.curvature
        rows = np.asarray(rows, dtype=np.intp)
        if curv.kind != "rank_one":
            return self._first_order_steps(rows, method)
        Zr = rm.design.rows(rows)
        g = rm.d1[rows][:, :, None] * Zr[:, None, :]                  # (b, q, p̃)
        rhs = g - self.gradient_change(rows)
        b, q, pt = rhs.shape
        if method == "if":
            return curv.solve(rhs.reshape(b * q, pt).T).T.reshape(b, q, pt)
        one_minus = curv.one_minus_leverage[rows]
        bad = curv._guard(one_minus, rows)
        Vr = curv.rows_solve(rows).T                                   # (b, p̃) H⁻¹ z̃_r
        d = np.asarray(curv.d, dtype=float)[rows]
        scale = np.where(bad, 0.0, d / np.where(bad, 1.0, one_minus))

        def precondition(R):
            HR = curv.solve(R.reshape(b * q, pt).T).T.reshape(b, q, pt)
            return HR + (scale[:, None] * np.einsum("bp,bqp->bq", Vr, R))[:, :, None] * Vr[:, None, :]

        E = self.penalty_change(rows)
        c = self.coef[rows] if self.cols.size else None

        def extra(V):
            out = E[:, None, :] * V
            if c is not None:
                out += self._tangent_apply(rows, c, V)
            return out

        x = precondition(rhs)
        r = -extra(x)
        z = precondition(r)
        p, u = z.copy(), r.copy()
        rz = np.einsum("bqp,bqp->bq", r, z)
        norm0 = np.linalg.norm(rhs, axis=2)
        done = np.linalg.norm(r, axis=2) <= CG_TOL * norm0
        for _ in range(CG_MAX_ITER):
            if np.all(done):
                break
            Ap = u + extra(p)
            pAp = np.einsum("bqp,bqp->bq", p, Ap)
            step = np.where(done | (pAp <= 0), 0.0, rz / np.where(pAp > 0, pAp, 1.0))
            x += step[:, :, None] * p
            r -= step[:, :, None] * Ap
            done |= (np.linalg.norm(r, axis=2) <= CG_TOL * norm0) | (pAp <= 0)
            z = precondition(r)
            rz_new = np.einsum("bqp,bqp->bq", r, z)
            beta = np.where(done, 0.0, rz_new / np.where(rz != 0, rz, 1.0))
            p = z + beta[:, :, None] * p
            u = r + beta[:, :, None] * u
            rz = rz_new
        else:
            if not np.all(done):
                warn(
                    "skrif's per-row solve with the preprocessing term did not converge "
                    f"in {CG_MAX_ITER} iterations for some rows; their answers may be "
                    "inaccurate.", NotConvergedWarning,
                )
        x[bad] = np.nan
        return x

    def _first_order_steps(self, rows, method):
        """Coupled-output (multinomial) and penalty-share (GLM) Hessians: the kind's
        own single-row step plus the preprocessing term through ``H⁻¹`` (first order
        in the preprocessing's change; the one-row Newton step of the kind is kept)."""
        rm = self.rm
        curv = rm.curvature
        if self.cols.size and self.d2 is None:
            from ..exceptions import UnsupportedModelError

            raise UnsupportedModelError(
                "Per-row IF/RIF through imputers, polynomial or spline features are not "
                "available for multinomial models; use method='newton' or 'refit' (the "
                "pipeline's exact statistics), or preprocessing='fixed'."
            )
        fixed = curv.row_steps(rows, rm.d1, rm.theta, method)       # (b, q, p̃)
        corr = self.gradient_change(rows)
        if method == "rif":
            corr = corr + self.penalty_change(rows)[:, None, :] * fixed
            if self.cols.size:
                corr = corr + self._tangent_apply(rows, self.coef[rows], fixed)
        b, q, pt = fixed.shape
        flat = corr.transpose(2, 0, 1).reshape(pt, b * q)
        if curv.kind == "block":
            # Coupled outputs: one solve over the stacked (class-major) parameters.
            flat = corr.reshape(b, q * pt).T
            return fixed - curv.solve(flat).T.reshape(b, q, pt)
        return fixed - curv.solve(flat).reshape(pt, b, q).transpose(1, 2, 0)

    # -- what the features ask for ----------------------------------------------------
    def eval_basis(self, X_eval):
        """Tangent basis of evaluation rows (m, S), in the order of :attr:`cols`."""
        m = X_eval.shape[0]
        B = self.removal.basis(X_eval, np.zeros((m, 0)))
        if self._ones.size:
            B = np.hstack([B, np.ones((m, self._ones.size))])
        return B

    def predictor_changes(self, rows, steps, design_eval, basis_eval):
        """``dZ[r, j, k]`` (len(rows), m, q): change of evaluation row j's linear
        predictor k when row r alone is removed, from its ``steps``."""
        b, q, pt = steps.shape
        # One product with every step as a column: no densified evaluation rows.
        M = design_eval.matvec(steps.reshape(b * q, pt).T)              # (m, b q)
        out = M.T.reshape(b, q, -1).transpose(0, 2, 1).copy()            # (b, m, q)
        if self.cols.size:
            c = self.coef[rows]
            W = self.rm.theta[:, : self.p][:, self.cols][None] + steps[:, :, self.cols]  # (b, q, S)
            out += np.einsum("bs,ms,bqs->bmq", c, basis_eval, W)
        return out

    def own_changes(self, rows, steps):
        """``x̃_r`` evaluated by the model without row r, minus its prediction: (b, q)."""
        Zr = self.rm.design.rows(rows)
        out = np.einsum("bp,bqp->bq", Zr, steps)
        if self.cols.size:
            c = self.coef[rows]
            W = self.rm.theta[:, : self.p][:, self.cols][None] + steps[:, :, self.cols]
            out += np.einsum("bs,bs,bqs->bq", c, self.basis[rows], W)
        return out

    def parameter_changes(self, rows, steps):
        """Change of the final model's coefficients in their *new* features
        (len(rows), q, p̃): ``θ' − θ̂`` with ``θ' = v / (1+α_r)`` and the intercept
        less ``β_r·θ'``."""
        theta = self.rm.theta
        out = steps.copy()
        p = self.p
        if self.alpha is not None:
            a = self.alpha[rows][:, None, :]
            out[:, :, :p] = (steps[:, :, :p] - a * theta[None, :, :p]) / (1.0 + a)
        if self.beta is not None and self.rm.design.fit_intercept:
            new_w = theta[None, :, :p] + out[:, :, :p]
            out[:, :, p] -= np.einsum("bp,bqp->bq", self.beta[rows], new_w)
        return out


def _scatter(out, cols, values):
    """``out[..., cols[s]] += values[..., s]`` (repeated columns add up)."""
    for s, j in enumerate(cols):
        out[..., j] += values[..., s]

