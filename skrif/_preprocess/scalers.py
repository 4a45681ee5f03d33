"""MinMaxScaler, MaxAbsScaler and RobustScaler: order statistics without each row."""

import numpy as np
from scipy import stats

from .base import ColumnAffine
from .order import loo_percentiles, tangent_at

EPS = np.finfo(float).eps


def _nonzero(scale):
    """scikit-learn's ``_handle_zeros_in_scale``."""
    return np.where(scale < 10 * EPS, 1.0, scale)


class MinMaxScalerRemoval(ColumnAffine):
    @staticmethod
    def check(step, path):
        from .compose import Unsupported

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
            k_new = width / _nonzero(new_rng)
            kr[:, j] = np.where(
                (rng < 10 * EPS) | (new_rng < 10 * EPS), k_new / k_old - 1.0,
                -(a[:, j] * rng + d_max - d_min) / new_rng,
            )
            # c = min − lo/k, so shift = c' − c(1+α) − β = Δmin − lo (1/k' − (1+α)/k).
            shift[:, j] = d_min - lo_f * (1.0 / k_new - (1 + a[:, j]) / k_old)
        return kr, shift, discrete


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
            new = _nonzero(new)
            kr[:, j] = (old - new) / new
        return kr, -b, discrete


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
                new_scale = _nonzero(new_rng) / adjust
                kr[:, j] = np.where(
                    (rng < 10 * EPS) | (new_rng < 10 * EPS), old_scale / new_scale - 1.0,
                    -(a[:, j] * rng + d) / new_rng,
                )
        return kr, shift, discrete
