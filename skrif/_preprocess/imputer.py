"""SimpleImputer: the imputed statistic without each row moves the rows it fills.

Observed entries pass through (with their input's change); the rows where column
``j`` was missing get the statistic refitted without the removed row. That move is a
tangent whose basis is the missing-value indicator of ``j`` and whose coefficient is
exact: ``m'_r − (m (1+α) + β)`` (mean: the reverse update of the mean; median: the
order statistics without the row; most_frequent: the count without the row).
"""

import numbers

import numpy as np

from .base import StepRemoval, Unsupported
from .order import loo_percentiles, tangent_at


def missing_mask(U, missing_values):
    """Boolean mask of missing entries, as scikit-learn's imputers define them."""
    U = np.asarray(U)
    if missing_values is None or (isinstance(missing_values, numbers.Real) and np.isnan(missing_values)):
        if U.dtype.kind == "f":
            return np.isnan(U)
        import pandas as pd

        return np.asarray(pd.isna(U))
    return U == missing_values


class SimpleImputerRemoval(StepRemoval):
    @staticmethod
    def check(step, path):

        if callable(step.strategy):
            raise Unsupported(
                f"The pipeline step {path!r} is SimpleImputer with a custom strategy "
                "function: skrif cannot recompute it without each row."
            )

    def _valid(self):
        """Input columns kept in the output (all-missing columns are dropped)."""
        st = self.step
        stats = st.statistics_
        if st.keep_empty_features:
            return np.arange(stats.shape[0])
        return np.flatnonzero(~missing_mask(stats.reshape(1, -1).astype(object), np.nan)[0])

    def _indicator_width(self):
        ind = getattr(self.step, "indicator_", None)
        return 0 if ind is None else ind.features_.size

    def train(self, U, change):
        st = self.step
        r = change.removed
        M = missing_mask(U, st.missing_values)
        valid = self._valid()
        numeric = np.asarray(U).dtype.kind in "fiub"
        a, b = change.alpha_or_zero(), change.beta_or_zero()
        discrete = change.discrete.copy()
        observed = ~M
        count = observed.sum(axis=0)
        own = observed[r]
        # A column whose only observed rows are removed is dropped by the refit.
        discrete |= np.any((count[valid][None, :] - own[:, valid]) < 1, axis=1)
        new_coef, new_cols, new_basis = [], [], []
        if numeric:
            u = np.asarray(U, dtype=float)
        for out_j, j in enumerate(valid):
            if not M[:, j].any():
                continue
            if st.strategy == "constant":
                if change.alpha is None and change.beta is None:
                    continue
                fill = float(st.statistics_[j])
                t = -(a[:, j] * fill + b[:, j])
            elif not numeric:
                # A categorical mode that switches is a discrete change.
                discrete |= self._mode_switches(np.asarray(U)[:, j], M[:, j], r)
                continue
            elif st.strategy == "mean":
                m = float(st.statistics_[j])
                kept = np.maximum(count[j] - own[:, j], 1)
                t = (1 + a[:, j]) * np.where(own[:, j], (m - np.where(own[:, j], u[r, j], m)) / kept, 0.0)
                for s in np.flatnonzero(change.cols == j):
                    B = np.where(observed[:, j], change.basis[:, s], 0.0)
                    t += change.coef[:, s] * (B.sum() - np.where(own[:, j], B[r], 0.0)) / kept
            elif st.strategy == "median":
                col = np.where(observed[:, j], u[:, j], np.nan)
                med, full, rows, w, _ = loo_percentiles(col, 50.0, r)
                t = (1 + a[:, j]) * (med - full) + tangent_at(change, j, rows, w)
            else:  # most_frequent on numbers: the mode without the row (a jump)
                if change.n_tangents and np.any(change.cols == j):

                    raise Unsupported("most_frequent imputation of a column with tangents")
                t = (1 + a[:, j]) * (self._loo_mode(u[:, j], observed[:, j], r) - float(st.statistics_[j]))
            new_coef.append(t)
            new_cols.append(out_j)
            new_basis.append(M[:, j].astype(float))
        # Input tangents of kept columns, zeroed where the entry is imputed.
        position = np.full(change.p, -1)
        position[valid] = np.arange(valid.size)
        keep_t = position[change.cols] >= 0 if change.n_tangents else np.zeros(0, dtype=bool)
        in_cols = change.cols[keep_t]
        self._keep_t, self._in_cols = keep_t, in_cols
        self._new_cols_in = valid[np.asarray(new_cols, dtype=np.intp)]
        basis_in = change.basis[:, keep_t] * observed[:, in_cols]
        p_out = valid.size + self._indicator_width()
        m = r.size
        return change.like(
            p_out,
            alpha=None if change.alpha is None else np.hstack([a[:, valid], np.zeros((m, p_out - valid.size))]),
            beta=None if change.beta is None else np.hstack([b[:, valid], np.zeros((m, p_out - valid.size))]),
            coef=np.hstack([change.coef[:, keep_t]] + [c[:, None] for c in new_coef]),
            cols=np.concatenate([position[in_cols], np.asarray(new_cols, dtype=np.intp)]),
            basis=np.hstack([basis_in] + [c[:, None] for c in new_basis]),
            discrete=discrete | self._indicator_vanishes(M, r),
        )

    def _indicator_vanishes(self, M, r):
        """Removing the last missing row of an indicator column drops the column."""
        ind = getattr(self.step, "indicator_", None)
        if ind is None or ind.features != "missing-only":
            return np.zeros(r.size, dtype=bool)
        f = ind.features_
        return np.any(M[r][:, f] & (M[:, f].sum(axis=0) == 1), axis=1)

    @staticmethod
    def _loo_mode(col, observed, r):
        values, codes, counts = np.unique(col[observed], return_inverse=True, return_counts=True)
        code_of = np.full(col.size, -1)
        code_of[observed] = codes
        out = np.empty(r.size)
        best = np.argmax(counts)  # ties -> smallest value, as scikit-learn
        for i, row in enumerate(r):
            c = code_of[row]
            if c < 0 or c != best:
                out[i] = values[best]
                continue
            counts[c] -= 1
            out[i] = values[np.argmax(counts)]
            counts[c] += 1
        return out

    @staticmethod
    def _mode_switches(col, missing, r):
        observed = ~missing
        values, codes, counts = np.unique(col[observed].astype(str), return_inverse=True, return_counts=True)
        best = np.argmax(counts)
        code_of = np.full(col.size, -1)
        code_of[observed] = codes
        out = np.zeros(r.size, dtype=bool)
        for i, row in enumerate(r):
            if code_of[row] == best:
                counts[best] -= 1
                out[i] = np.argmax(counts) != best
                counts[best] += 1
        return out

    def basis(self, U, B):
        M = missing_mask(U, self.step.missing_values)
        return np.hstack([B[:, self._keep_t] * ~M[:, self._in_cols], M[:, self._new_cols_in].astype(float)])
