"""MinMaxScaler: the column's minimum and maximum without each row.

Only a row holding an extreme moves them (to the next value in order); the map
``z = u·scale + min`` stays column-affine, so the change is exact.
"""

import numpy as np

from .base import ColumnAffine, Unsupported
from .order import EPS, loo_percentiles, nonzero_scale, tangent_at


class MinMaxScalerRemoval(ColumnAffine):
    @staticmethod
    def check(step, path):

        if step.clip:
            raise Unsupported(
                f"The pipeline step {path!r} is MinMaxScaler(clip=True): clipping makes "
                "the features of evaluation rows outside the range non-linear in the "
                "statistics."
            )

    def centre_scale(self):
        st = self.step
        k = np.asarray(st.scale_, dtype=float)
        return -np.asarray(st.min_, dtype=float) / k, k

    def loo(self, u, change):
        st = self.step
        r = change.removed
        a, b = change.alpha_or_zero(), change.beta_or_zero()
        lo_f, hi_f = st.feature_range
        width = hi_f - lo_f
        m, p = r.size, u.shape[1]
        kr, shift = np.zeros((m, p)), np.zeros((m, p))
        discrete = np.zeros(m, dtype=bool)
        for j in range(p):
            mn, mn_full, mn_rows, mn_w, count = loo_percentiles(u[:, j], 0.0, r)
            mx, mx_full, mx_rows, mx_w, _ = loo_percentiles(u[:, j], 100.0, r)
            discrete |= count < 1
            # New extremes of u(1+α)+β+T (1+α > 0: the same rows stay extreme).
            d_min = (1 + a[:, j]) * (mn - mn_full) + tangent_at(change, j, mn_rows, mn_w)
            d_max = (1 + a[:, j]) * (mx - mx_full) + tangent_at(change, j, mx_rows, mx_w)
            rng = mx_full - mn_full
            new_rng = (1 + a[:, j]) * rng + d_max - d_min
            k_old = st.scale_[j]
            k_new = width / nonzero_scale(new_rng)
            kr[:, j] = np.where(
                (rng < 10 * EPS) | (new_rng < 10 * EPS), k_new / k_old - 1.0,
                -(a[:, j] * rng + d_max - d_min) / new_rng,
            )
            # c = min − lo/k, so shift = c' − c(1+α) − β = Δmin − lo (1/k' − (1+α)/k).
            shift[:, j] = d_min - lo_f * (1.0 / k_new - (1 + a[:, j]) / k_old)
        return kr, shift, discrete
