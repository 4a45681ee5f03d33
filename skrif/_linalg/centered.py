"""``X − 1 x̄ᵀ`` as a linear operator: the design after eliminating the intercept.

An unpenalised intercept is eliminated from the Hessian by its Schur complement,
which amounts to centring the data with the curvature-weighted mean ``x̄``
(see :mod:`skrif._removal.rank_one`). Centring must not copy ``X`` (nor densify sparse
``X``), and it must not lose precision to large column means either: products
with vectors subtract the shift after multiplying (exact up to rounding of the
result), while the Gram and kernel matrices of dense ``X`` centre each row block
explicitly, since the expanded forms ``XᵀDX − δx̄x̄ᵀ`` or ``K − k1ᵀ − 1kᵀ + κ`` cancel
digits in proportion to (column mean / column spread)².
"""

import numpy as np
from scipy.linalg.blas import dsyr2, dsyrk

from .design import AugmentedDesign, _symmetrize_lower


class CenteredDesign(AugmentedDesign):
    """Rows ``x_i − shift`` (no intercept column).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Never copied or modified.
    shift : ndarray of shape (n_features,)
    """

    def __init__(self, X, shift):
        super().__init__(X, fit_intercept=False)
        self.shift = np.asarray(shift, dtype=float)

    def matvec(self, V):
        return super().matvec(V) - self.shift @ V

    def rmatvec(self, R):
        return super().rmatvec(R) - np.outer(self.shift, R.sum(axis=0))

    def rows(self, idx):
        return super().rows(idx) - self.shift

    def rows_matvec(self, idx, V, out=None):
        if out is None:
            return super().rows_matvec(idx, V) - self.shift @ V
        out = super().rows_matvec(idx, V, out=out)
        out -= self.shift @ V
        return out

    def rows_rmatvec(self, idx, R):
        return super().rows_rmatvec(idx, R) - np.outer(self.shift, R.sum(axis=0))

    def row_quadratic(self, Sinv):
        """``(x_i − s)ᵀ S⁻¹ (x_i − s)`` for every row in the expanded form
        ``x_iᵀS⁻¹x_i − 2 x_i·S⁻¹s + sᵀS⁻¹s`` (sparse ``X`` stays sparse), with the
        size of the terms for a cancellation check; dense ``X``: centred blocks."""
        if not self.sparse:
            quad = np.empty(self.n_samples)
            for sl in self.row_slices():
                R = self.rows(sl)
                quad[sl] = np.einsum("ij,ij->i", R @ Sinv, R)
            return quad, np.abs(quad)
        quad, magnitude = AugmentedDesign(self.X, False).row_quadratic(Sinv)
        u = Sinv @ self.shift
        cross = 2.0 * np.asarray(self.X @ u).ravel()
        c = float(self.shift @ u)
        return quad - cross + c, magnitude + np.abs(cross) + abs(c)

    def weighted_gram(self, d):
        """``(X − 1sᵀ)ᵀ D (X − 1sᵀ)``: O(n p²) dense by centred row blocks, O(nnz·p) sparse."""
        if not self.sparse:
            # Symmetric rank-k updates of centred blocks, accumulated in place in
            # G's lower triangle (half the flops of B.T @ B, no p × p temporary).
            G = np.zeros((self.n_params, self.n_params), order="F")
            root = np.sqrt(d)
            for sl, rows in self.row_chunks():
                rows *= root[sl, None]  # rows() returns a fresh centred block
                G = dsyrk(1.0, rows.T, beta=1.0, c=G, trans=0, lower=1, overwrite_c=1)
            _symmetrize_lower(G)
            return G
        # Sparse data are mostly non-negative counts with small means: the expanded
        # form is accurate there and keeps X sparse.
        G = super().weighted_gram(d)
        col = np.asarray(self.X.T @ d).ravel()
        # G − c sᵀ − s cᵀ + δ s sᵀ = G − u sᵀ − s uᵀ with u = c − δ s / 2: one
        # in-place symmetric rank-2 update (no p × p temporaries).
        u = col - 0.5 * d.sum() * self.shift
        G = dsyr2(-1.0, u, self.shift, a=G, lower=1, overwrite_a=1)
        _symmetrize_lower(G)
        return G

    def kernel(self, inv_penalty_coef, inv_penalty_intercept=0):
        """``(X − 1sᵀ) Λ⁻¹ (X − 1sᵀ)ᵀ`` (n × n): O(n² p) dense, O(nnz·n) sparse."""
        if self.sparse:
            K = super().kernel(1.0, 0)
            k = np.asarray(self.X @ self.shift).ravel()
            K -= k[:, None]
            K -= k[None, :]
            K += self.shift @ self.shift
        else:
            K = np.empty((self.n_samples, self.n_samples))
            slices = list(self.row_slices())
            for a, sa in enumerate(slices):
                Ca = self.rows(sa)
                for sb in slices[:a]:
                    K[sa, sb] = Ca @ self.rows(sb).T
                    K[sb, sa] = K[sa, sb].T
                K[sa, sa] = Ca @ Ca.T
        K *= inv_penalty_coef
        return K

    def kernel_rows(self, idx, inv_penalty_coef, inv_penalty_intercept=0):
        """Rows ``idx`` of :meth:`kernel` (len(idx) × n): O(len(idx) · nnz(X))."""
        if self.sparse:
            K = super().kernel_rows(idx, 1.0, 0)
            k = np.asarray(self.X @ self.shift).ravel()
            K -= k[idx][:, None]
            K -= k[None, :]
            K += self.shift @ self.shift
        else:
            C = self.rows(idx)
            K = np.empty((C.shape[0], self.n_samples))
            for sl in self.row_slices():
                K[:, sl] = C @ self.rows(sl).T
        K *= inv_penalty_coef
        return K
