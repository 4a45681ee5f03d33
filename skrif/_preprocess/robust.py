"""RobustScaler: the median and quantile range without each row.

Removing a row shifts the order statistics above it down one place: the
percentiles without it are the same interpolation between neighbours of the sorted
column (:mod:`skrif._preprocess.order`), exact.
"""

import numpy as np
from scipy import stats

from .base import ColumnAffine
from .order import EPS, loo_percentiles, nonzero_scale, tangent_at


class RobustScalerRemoval(ColumnAffine):
    def centre_scale(self):
        st = self.step
        p = st.n_features_in_
        c = np.asarray(st.center_, dtype=float) if st.with_centering else np.zeros(p)
        k = 1.0 / np.asarray(st.scale_, dtype=float) if st.with_scaling else np.ones(p)
        return c, k

    def loo(self, u, change):
        st = self.step
        r = change.removed
        a, b = change.alpha_or_zero(), change.beta_or_zero()
        m, p = r.size, u.shape[1]
        kr, shift = np.zeros((m, p)), -b.copy()
        discrete = np.zeros(m, dtype=bool)
        q_lo, q_hi = st.quantile_range
        adjust = (stats.norm.ppf(q_hi / 100.0) - stats.norm.ppf(q_lo / 100.0)) if st.unit_variance else 1.0
        for j in range(p):
            col = u[:, j]
            if st.with_centering:
                med, full, rows, w, count = loo_percentiles(col, 50.0, r)
                discrete |= count < 1
                shift[:, j] = (1 + a[:, j]) * (med - full) + tangent_at(change, j, rows, w)
            if st.with_scaling:
                lo, lo_full, lo_rows, lo_w, _ = loo_percentiles(col, q_lo, r)
                hi, hi_full, hi_rows, hi_w, _ = loo_percentiles(col, q_hi, r)
                rng = hi_full - lo_full
                d = ((1 + a[:, j]) * ((hi - hi_full) - (lo - lo_full))
                     + tangent_at(change, j, hi_rows, hi_w) - tangent_at(change, j, lo_rows, lo_w))
                new_rng = (1 + a[:, j]) * rng + d
                old_scale = st.scale_[j]
                new_scale = nonzero_scale(new_rng) / adjust
                kr[:, j] = np.where(
                    (rng < 10 * EPS) | (new_rng < 10 * EPS), old_scale / new_scale - 1.0,
                    -(a[:, j] * rng + d) / new_rng,
                )
        return kr, shift, discrete
