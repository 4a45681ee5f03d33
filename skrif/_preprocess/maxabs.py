"""MaxAbsScaler: the column's largest absolute value without each row.

Only the row holding it moves the scale (to the next largest); no centring.
"""

import numpy as np

from .base import ColumnAffine
from .order import loo_percentiles, nonzero_scale, tangent_at


class MaxAbsScalerRemoval(ColumnAffine):
    def centre_scale(self):
        p = self.step.n_features_in_
        return np.zeros(p), 1.0 / np.asarray(self.step.scale_, dtype=float)

    def loo(self, u, change):
        r = change.removed
        a, b = change.alpha_or_zero(), change.beta_or_zero()
        m, p = r.size, u.shape[1]
        kr = np.zeros((m, p))
        discrete = np.zeros(m, dtype=bool)
        for j in range(p):
            au = np.abs(u[:, j])
            top, full, rows, w, count = loo_percentiles(au, 100.0, r)
            discrete |= count < 1
            at = rows[:, 1]
            # |u(1+α) + β + T| at the row that stays largest (first order in β, T).
            new = np.abs((1 + a[:, j]) * u[at, j] + b[:, j] + tangent_at(change, j, rows, w))
            old = self.step.scale_[j]
            new = nonzero_scale(new)
            kr[:, j] = (old - new) / new
        return kr, -b, discrete
