"""The augmented design matrix ``X̃ = [X, 1]`` without ever forming it.

Every linear model skrif supports sees the data only through ``z = X̃ θ``. Appending
a column of ones to ``X`` would copy an ``n × p`` matrix (and densify sparse input),
so this module offers the handful of products the rest of the package needs,
computed on ``X`` and the intercept column separately.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dgemm, dsyrk

# Dense floats per row block in chunked products (16 MB): bounds temporary memory
# (a few blocks are alive at once) while keeping blocks large enough for BLAS-3
# efficiency (≥ 600 rows up to p̃ = 3300).
_BLOCK_FLOATS = 1 << 21


class AugmentedDesign:
    """``X̃ = [X, 1]`` (or ``X`` alone) as a linear operator.

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        Training data; never copied or modified.
    fit_intercept : bool
        Whether a column of ones is appended (the intercept is the last parameter).
    """

    #: Parameters after the linear ones (intercept included) that no row's linear
    #: predictor uses (:class:`ExtraParameterDesign`).
    n_extra = 0

    def __init__(self, X, fit_intercept):
        self.X = X
        self.fit_intercept = bool(fit_intercept)
        self.sparse = sp.issparse(X)
        self.n_samples, self.n_features = X.shape
        self.n_params = self.n_features + int(self.fit_intercept)

    def for_rows(self, X):
        """The same operator on other rows ``X`` (e.g. evaluation rows)."""
        return AugmentedDesign(X, self.fit_intercept)

    def matvec(self, V):
        """Return ``X̃ V`` for ``V`` of shape (n_params, m); cost O(nnz(X) m)."""
        out = np.asarray(self.X @ V[: self.n_features])
        if self.fit_intercept:
            out = out + V[self.n_features]
        return out

    def rmatvec(self, R):
        """Return ``X̃ᵀ R`` for ``R`` of shape (n_samples, m); cost O(nnz(X) m)."""
        top = np.asarray(self.X.T @ R)
        if not self.fit_intercept:
            return top
        return np.vstack([top, R.sum(axis=0, keepdims=True)])

    def rows(self, idx):
        """Return the dense rows ``X̃[idx]``, shape (len(idx), n_params)."""
        block = self.X[idx]
        block = block.toarray() if self.sparse else np.asarray(block, dtype=float)
        if self.fit_intercept:
            block = np.hstack([block, np.ones((block.shape[0], 1))])
        return block

    def rows_matvec(self, idx, V, out=None):
        """Return ``X̃[idx] V`` for ``V`` of shape (n_params, m) without densifying rows
        (written into ``out`` when given: dense rows by one GEMM into it).

        Cost O(nnz(X[idx]) m).
        """
        rows = self.X[idx]
        if out is None:
            out = np.asarray(rows @ V[: self.n_features])
            if self.fit_intercept:
                out = out + V[self.n_features]
            return out
        if self.sparse:
            out[...] = rows @ V[: self.n_features]
        else:
            np.matmul(rows, V[: self.n_features], out=out)
        if self.fit_intercept:
            out += V[self.n_features]
        return out

    def rows_rmatvec(self, idx, R):
        """Return ``X̃[idx]ᵀ R`` for ``R`` of shape (len(idx), m) without densifying rows.

        Cost O(nnz(X[idx]) m).
        """
        top = np.asarray(self.X[idx].T @ R)
        if not self.fit_intercept:
            return top
        return np.vstack([top, R.sum(axis=0, keepdims=True)])

    def row_quadratic(self, Sinv):
        """``x̃_iᵀ S⁻¹ x̃_i`` for every row, from the explicit symmetric ``S⁻¹``
        (n_params × n_params), with the size of the terms summed (for a
        cancellation check): ``(quad, magnitude)``, each of shape (n_samples,).

        Sparse ``X``: ``Σ nnz_i²`` gathers (:func:`~skrif._linalg.inverse.pair_quadratic`)
        plus O(nnz) for the intercept's terms; dense ``X``: a GEMM, O(n p̃²).
        """
        p = self.n_features
        A = Sinv[:p, :p]
        if self.sparse:
            from .inverse import pair_quadratic

            quad = pair_quadratic(self.X, A)
        else:
            quad = np.empty(self.n_samples)
            for sl in self.row_slices():
                R = np.asarray(self.X[sl], dtype=float)
                quad[sl] = np.einsum("ij,ij->i", R @ A, R)
        if not self.fit_intercept:
            return quad, np.abs(quad)
        cross = 2.0 * np.asarray(self.X @ Sinv[:p, p]).ravel()
        magnitude = np.abs(quad) + np.abs(cross) + abs(Sinv[p, p])
        return quad + cross + Sinv[p, p], magnitude

    def shifted_rows(self, sl, shift=None):
        """Dense rows ``[x_i − shift, 1]`` (the intercept column if fitted) for the
        rows ``sl`` of dense ``X``: a fresh (len, n_features + fit_intercept) array."""
        p = self.n_features
        R = np.empty((sl.stop - sl.start, p + int(self.fit_intercept)))
        if shift is None:
            R[:, :p] = self.X[sl]
        else:
            np.subtract(self.X[sl], shift, out=R[:, :p])
        if self.fit_intercept:
            R[:, p] = 1.0
        return R

    def weighted_grams(self, W, shift=None):
        """``X̃ᵀ diag(W[:, j]) X̃`` for every column of ``W`` (n, m), any signs: shape
        (m, n_params, n_params). With ``shift``, rows are ``[x_i − shift, 1]``.

        Dense ``X``: one GEMM per block of rows for all m weightings at once (centred
        blocks, so no digits are lost to large column means), O(n m p̃²); sparse
        ``X``: one sparse product per weighting, the shift applied to the products.
        """
        W = np.asarray(W, dtype=float)
        n, m = W.shape
        # Parameters the rows use (an extra parameter no row uses gets zeros).
        p, pt = self.n_features, self.n_features + int(self.fit_intercept)
        out = np.zeros((m, self.n_params, self.n_params))
        if self.sparse:
            X = self.X
            for j in range(m):
                d = W[:, j]
                G = out[j]
                scatter_sparse(X.T @ X.multiply(d[:, None]).tocsr(), G[:p, :p])
                col = np.asarray(X.T @ d).ravel()
                if shift is not None:
                    total = d.sum()
                    G[:p, :p] -= np.outer(col, shift) + np.outer(shift, col) - total * np.outer(shift, shift)
                    col = col - total * shift
                if self.fit_intercept:
                    G[:p, p] = col
                    G[p, :p] = col
                    G[p, p] = d.sum()
            return out
        symmetric = m == 1 and bool(np.all(W >= 0))
        acc = np.zeros((pt, m * pt), order="F")
        step = max(1, _BLOCK_FLOATS // (m * pt))
        for start in range(0, n, step):
            sl = slice(start, min(start + step, n))
            R = self.shifted_rows(sl, shift)
            if symmetric:
                # One non-negative weighting: a symmetric rank-k update (half the flops).
                R *= np.sqrt(W[sl, :1])
                acc = dsyrk(1.0, R.T, beta=1.0, c=acc, trans=0, lower=1, overwrite_c=1)
                continue
            WR = (W[sl, :, None] * R[:, None, :]).reshape(R.shape[0], m * pt)
            acc = dgemm(1.0, R, WR, beta=1.0, c=acc, trans_a=1, overwrite_c=1)
        if symmetric:
            _symmetrize_lower(acc)
        out[:, :pt, :pt] = acc.reshape(pt, m, pt).transpose(1, 0, 2)
        return out

    @property
    def chunk_rows(self):
        """Rows per dense block: ``_BLOCK_FLOATS / n_params`` (at least 1)."""
        return max(1, _BLOCK_FLOATS // self.n_params)

    def row_slices(self):
        """Yield slices of at most :attr:`chunk_rows` consecutive rows."""
        step = self.chunk_rows
        for start in range(0, self.n_samples, step):
            yield slice(start, min(start + step, self.n_samples))

    def row_chunks(self):
        """Yield ``(slice, dense X̃[slice])`` blocks of at most :attr:`chunk_rows` rows."""
        for sl in self.row_slices():
            yield sl, self.rows(sl)

    def weighted_gram(self, d):
        """Return ``X̃ᵀ diag(d) X̃`` (n_params × n_params, Fortran order) for ``d ≥ 0``.

        Cost O(n p̃²) dense: one symmetric rank-k update (BLAS ``dsyrk``, half the
        flops of a general product) per block of :attr:`chunk_rows` rows, accumulated in
        place; O(Σ nnz_i²) sparse (a sparse product). Temporary memory: one block of ``_BLOCK_FLOATS`` floats.
        """
        p = self.n_features
        if self.sparse:
            G = np.zeros((self.n_params, self.n_params), order="F")
            scatter_sparse(self.X.T @ self.X.multiply(d[:, None]).tocsr(), G[:p, :p])
            if self.fit_intercept:
                col = np.asarray(self.X.T @ d).ravel()
                G[:p, p] = col
                G[p, :p] = col
                G[p, p] = d.sum()
            return G
        G = np.zeros((self.n_params, self.n_params), order="F")
        root = np.sqrt(d)
        for sl in self.row_slices():
            B = np.empty((sl.stop - sl.start, self.n_params))
            np.multiply(self.X[sl], root[sl, None], out=B[:, :p])
            if self.fit_intercept:
                B[:, p] = root[sl]
            # Bᵀ is Fortran-ordered (p̃ × c): G += (Bᵀ)(Bᵀ)ᵀ in G's lower triangle.
            G = dsyrk(1.0, B.T, beta=1.0, c=G, trans=0, lower=1, overwrite_c=1)
        _symmetrize_lower(G)
        return G

    def kernel(self, inv_penalty_coef, inv_penalty_intercept):
        """Return ``X̃ Λ⁻¹ X̃ᵀ`` (n × n) for a diagonal penalty ``Λ``.

        ``inv_penalty_intercept`` is ``1/λ_b`` for a penalised intercept, 0 when the
        intercept is handled separately. Cost O(n² p) dense (a symmetric product),
        O(nnz·n) sparse; the only n × n array allocated is the result.
        """
        if self.sparse:
            # Row blocks of the sparse product, densified one at a time: the
            # sparse n × n intermediate of X @ X.T would cost more than K itself.
            K = np.empty((self.n_samples, self.n_samples))
            step = max(1, _BLOCK_FLOATS // max(self.n_samples, 1))
            XT = self.X.T
            for start in range(0, self.n_samples, step):
                sl = slice(start, min(start + step, self.n_samples))
                scatter_sparse(self.X[sl] @ XT, K[sl])
        else:
            K = self.X @ self.X.T  # NumPy uses a symmetric rank-k update for A @ A.T
        K *= inv_penalty_coef
        if self.fit_intercept and inv_penalty_intercept:
            K += inv_penalty_intercept
        return K

    def kernel_rows(self, idx, inv_penalty_coef, inv_penalty_intercept):
        """Return the rows ``idx`` of :meth:`kernel` (len(idx) × n) without the rest.

        Cost O(len(idx) · nnz(X)) (dense: O(len(idx) n p)).
        """
        if self.sparse:
            K = scatter_sparse(self.X[idx] @ self.X.T)
        else:
            K = self.X[idx] @ self.X.T
        K *= inv_penalty_coef
        if self.fit_intercept and inv_penalty_intercept:
            K += inv_penalty_intercept
        return K


def scatter_sparse(M, out=None):
    """The sparse matrix ``M`` written into the dense ``out`` (zeroed first; a new
    array by default). Several times faster than scipy's ``toarray`` for the
    products of sparse designs (Gram and kernel blocks)."""
    if out is None:
        out = np.zeros(M.shape)
    else:
        out[...] = 0.0
    coo = M.tocoo()
    coo.sum_duplicates()  # a temporary product: no-op when already canonical
    out[coo.row, coo.col] = coo.data
    return out


class ExtraParameterDesign(AugmentedDesign):
    """``X̃ = [X, 1]`` with one more parameter, last, that no row's linear predictor
    uses (e.g. HuberRegressor's scale σ): ``z = X̃ θ[:-1]``.

    Products with parameter vectors ignore the extra entry; products giving
    parameter vectors (``rmatvec``, rows) carry a zero there. Same costs as
    :class:`AugmentedDesign`.
    """

    n_extra = 1

    def __init__(self, X, fit_intercept):
        super().__init__(X, fit_intercept)
        self.n_params += 1

    def for_rows(self, X):
        return ExtraParameterDesign(X, self.fit_intercept)

    @staticmethod
    def _pad_rows(A):
        return np.vstack([A, np.zeros((1,) + A.shape[1:])])

    # ``matvec`` and ``rows_matvec`` read θ[:n_features] and the intercept only.
    def rmatvec(self, R):
        return self._pad_rows(super().rmatvec(R))

    def rows_rmatvec(self, idx, R):
        return self._pad_rows(super().rows_rmatvec(idx, R))

    def rows(self, idx):
        block = super().rows(idx)
        return np.hstack([block, np.zeros((block.shape[0], 1))])

    def weighted_gram(self, d):
        inner = AugmentedDesign(self.X, self.fit_intercept).weighted_gram(d)
        G = np.zeros((self.n_params, self.n_params), order="F")
        G[:-1, :-1] = inner
        return G


def _symmetrize_lower(G, block=512):
    """Copy the lower triangle of square ``G`` into its upper triangle, in place."""
    m = G.shape[0]
    for start in range(0, m, block):
        stop = min(start + block, m)
        G[start:stop, stop:] = G[stop:, start:stop].T
        tile = G[start:stop, start:stop]
        tile[np.triu_indices(stop - start, 1)] = tile.T[np.triu_indices(stop - start, 1)]
