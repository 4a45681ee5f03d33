"""How the features of every row move when one training row is removed.

For each removed training row ``r`` (one of ``removed``, positions of training rows)
the fitted preprocessing is refitted without it, and every row ``k`` (training or
evaluation) gets new features

    z'_k = z_k ∘ (1 + alpha[r]) + beta[r] + Σ_s coef[r, s] basis_s(k) e_{cols[s]}

``alpha``/``beta`` (m, p) are the exact column-affine part (scalers: new centre and
scale); the ``S`` *tangents* carry what is not column-affine (an imputed value that
moves on the rows where it is imputed, the columns a polynomial or spline builds from
a moved input): a basis function ``basis_s`` living in one output column ``cols[s]``,
with one coefficient per removed row. Tangent coefficients are exact where the step
makes them so (an imputed mean) and first order otherwise.

``discrete[r]`` marks removals that change a step discretely (the last row of a
category, a mode that switches): their per-row answers come from the exact path for
that single row instead.
"""

import numpy as np


class RowChange:
    """Per-removed-row feature change of a block of ``p`` columns (see module doc).

    Attributes
    ----------
    removed : ndarray (m,) of int
        Training rows whose removal is described.
    alpha, beta : ndarray (m, p) or None
        Column-affine part; ``None`` means zeros.
    coef : ndarray (m, S)
    cols : ndarray (S,) of int
        Output column of each tangent.
    basis : ndarray (n, S)
        Tangent basis values on the training rows.
    discrete : ndarray (m,) of bool
    """

    def __init__(self, removed, p, n, alpha=None, beta=None, coef=None, cols=None,
                 basis=None, discrete=None):
        self.removed = removed
        self.m, self.p, self.n = removed.size, p, n
        self.alpha, self.beta = alpha, beta
        self.coef = np.zeros((self.m, 0)) if coef is None else coef
        self.cols = np.zeros(0, dtype=np.intp) if cols is None else np.asarray(cols, dtype=np.intp)
        self.basis = np.zeros((n, 0)) if basis is None else basis
        self.discrete = np.zeros(self.m, dtype=bool) if discrete is None else discrete

    @property
    def n_tangents(self):
        return self.cols.size

    def alpha_or_zero(self):
        return np.zeros((self.m, self.p)) if self.alpha is None else self.alpha

    def beta_or_zero(self):
        return np.zeros((self.m, self.p)) if self.beta is None else self.beta

    def like(self, p, **parts):
        """A change of ``p`` columns for the same removed rows."""
        parts.setdefault("discrete", self.discrete.copy())
        return RowChange(self.removed, p, self.n, **parts)

    def tangent_mask(self, idx):
        """Tangents living in input columns ``idx``."""
        inside = np.zeros(self.p, dtype=bool)
        inside[np.asarray(idx, dtype=np.intp)] = True
        return inside[self.cols]

    def columns(self, idx):
        """The change restricted to columns ``idx`` (renumbered 0..len−1)."""
        idx = np.asarray(idx, dtype=np.intp)
        position = np.full(self.p, -1)
        position[idx] = np.arange(idx.size)
        keep = self.tangent_mask(idx)
        return self.like(
            idx.size,
            alpha=None if self.alpha is None else self.alpha[:, idx],
            beta=None if self.beta is None else self.beta[:, idx],
            coef=self.coef[:, keep], cols=position[self.cols[keep]],
            basis=self.basis[:, keep],
        )

    def per_column(self, values):
        """Sum of per-tangent ``values`` (m, S) into their columns: (m, p)."""
        out = np.zeros((self.m, self.p))
        for s, j in enumerate(self.cols):
            out[:, j] += values[:, s]
        return out


def hstack(changes, removed, n):
    """Column-wise concatenation of the changes of several blocks."""
    widths = [c.p for c in changes]
    offsets = np.cumsum([0] + widths)
    p, m = int(offsets[-1]), removed.size
    if not changes:
        return RowChange(removed, 0, n)
    alpha = (np.hstack([c.alpha_or_zero() for c in changes])
             if any(c.alpha is not None for c in changes) else None)
    beta = (np.hstack([c.beta_or_zero() for c in changes])
            if any(c.beta is not None for c in changes) else None)
    discrete = np.zeros(m, dtype=bool)
    for c in changes:
        discrete |= c.discrete
    return RowChange(
        removed, p, n, alpha, beta,
        np.hstack([c.coef for c in changes]),
        np.concatenate([c.cols + off for c, off in zip(changes, offsets)]),
        np.hstack([c.basis for c in changes]), discrete,
    )
