"""StandardScaler: means and variances without each row, by the reverse of Chan's
pairwise update (remove the row's count, mean and squared deviation), never
``E[x²] − E[x]²``."""

import numpy as np

from .base import ColumnAffine, ratio_m1

EPS = np.finfo(float).eps


def _constant(var, mean, n):
    """scikit-learn's near-constant test (``_is_constant_feature``)."""
    return var <= n * EPS * var + (n * mean * EPS) ** 2


class StandardScalerRemoval(ColumnAffine):
    def centre_scale(self):
        st = self.step
        p = st.n_features_in_
        c = np.asarray(st.mean_, dtype=float) if st.with_mean else np.zeros(p)
        k = 1.0 / np.asarray(st.scale_, dtype=float) if st.with_std else np.ones(p)
        return c, k

    def loo(self, u, change):
        st = self.step
        r = change.removed
        a, b = change.alpha_or_zero(), change.beta_or_zero()
        n, p = u.shape
        if st.mean_ is None:  # neither centring nor scaling: the identity
            return np.zeros((r.size, p)), -b, np.zeros(r.size, dtype=bool)
        present = ~np.isnan(u)
        N = present.sum(axis=0).astype(float)
        own = present[r]
        kept = N[None, :] - own
        discrete = np.any(kept < 1, axis=1)
        kept = np.maximum(kept, 1)
        mean = np.asarray(st.mean_, dtype=float)
        d = np.where(own, u[r] - mean, 0.0)
        # Tangent terms: kept-row means of each basis and its covariance with u.
        S = change.n_tangents
        t_mean = np.zeros((r.size, S))
        t_cov = np.zeros((r.size, S))
        for s, j in enumerate(change.cols):
            pres = present[:, j]
            B = np.where(pres, change.basis[:, s], 0.0)
            Bbar = B[pres].mean() if pres.any() else 0.0
            C_uB = np.sum(np.where(pres, (u[:, j] - mean[j]) * (B - Bbar), 0.0))
            Br = np.where(own[:, j], B[r] - Bbar, 0.0)
            t_mean[:, s] = Bbar - Br / kept[:, j]
            t_cov[:, s] = (C_uB - N[j] / kept[:, j] * d[:, j] * Br) / kept[:, j]
        tangent_mean = change.per_column(change.coef * t_mean)
        tangent_cov = change.per_column(change.coef * t_cov)
        # The tangents' own (co)variance: the quadratic term, so that an exact
        # tangent coefficient (an imputed mean) gives an exact new scale.
        tangent_var = np.zeros((r.size, p))
        for j in np.unique(change.cols):
            idx = np.flatnonzero(change.cols == j)
            pres = present[:, j]
            B = np.where(pres[:, None], change.basis[:, idx], 0.0)
            Bc = np.where(pres[:, None], B - B[pres].mean(axis=0), 0.0)
            G = Bc.T @ Bc
            own_dev = np.where(own[:, j, None], Bc[r], 0.0)
            W = change.coef[:, idx]
            # Σ_st C_s C_t cov_{-r}(B_s, B_t) over the kept rows of column j.
            quad = np.einsum("ms,st,mt->m", W, G, W) - N[j] / kept[:, j] * (W * own_dev).sum(axis=1) ** 2
            tangent_var[:, j] = quad / kept[:, j]
        if st.with_mean:
            shift = (1.0 + a) * (-d / kept) + tangent_mean
        else:
            shift = -b
        if not st.with_std:
            return np.zeros((r.size, p)), shift, discrete
        var = np.asarray(st.var_, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            # var_{-r} − var = (var − N d²/(N−1)) / (N−1) for a present row.
            dvar = np.where(own, (var - N * d**2 / kept) / kept, 0.0)
            var_loo = var + dvar
            # A row holding nearly all the variance: the subtraction loses digits;
            # recompute those few (at most one per column) directly.
            lost = own & (var_loo < 1e-3 * var)
            for i, j in zip(*np.nonzero(lost)):
                keep = present[:, j].copy()
                keep[r[i]] = False
                var_loo[i, j] = np.var(u[keep, j]) if keep.any() else 0.0
                dvar[i, j] = var_loo[i, j] - var[j]
            total = ((1.0 + a) ** 2 * dvar + a * (2.0 + a) * var + 2.0 * (1.0 + a) * tangent_cov
                     + tangent_var)
            new_var = var + total
            new_mean = mean + shift + a * mean + b
            new_constant = _constant(new_var, new_mean, kept)
            old_constant = _constant(var, mean, N)
            scale = np.asarray(st.scale_, dtype=float)
            rho = total / var
            r1 = ratio_m1(rho)  # s'/s − 1
            kr = np.where(
                old_constant | new_constant,
                scale / np.where(new_constant, 1.0, np.sqrt(np.abs(new_var))) - 1.0,
                -r1 / (1.0 + r1),
            )
        kr = np.where(old_constant & new_constant, 0.0, kr)
        return kr, shift, discrete
