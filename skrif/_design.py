"""The augmented design matrix ``X̃ = [X, 1]`` without ever forming it.

Every linear model skrif supports sees the data only through ``z = X̃ θ``. Appending
a column of ones to ``X`` would copy an ``n × p`` matrix (and densify sparse input),
so this module offers the handful of products the rest of the package needs,
computed on ``X`` and the intercept column separately.
"""

import numpy as np
import scipy.sparse as sp

# Rows per block in chunked products: bounds temporary memory to
# ``_CHUNK_ROWS × n_params`` floats while keeping BLAS-3 efficiency.
_CHUNK_ROWS = 2048


class AugmentedDesign:
    """``X̃ = [X, 1]`` (or ``X`` alone) as a linear operator.

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        Training data; never copied or modified.
    fit_intercept : bool
        Whether a column of ones is appended (the intercept is the last parameter).
    """

    def __init__(self, X, fit_intercept):
        self.X = X
        self.fit_intercept = bool(fit_intercept)
        self.sparse = sp.issparse(X)
        self.n_samples, self.n_features = X.shape
        self.n_params = self.n_features + int(self.fit_intercept)

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

    def row_chunks(self):
        """Yield ``(slice, dense X̃[slice])`` blocks of at most ``_CHUNK_ROWS`` rows."""
        for start in range(0, self.n_samples, _CHUNK_ROWS):
            sl = slice(start, min(start + _CHUNK_ROWS, self.n_samples))
            yield sl, self.rows(sl)

    def weighted_gram(self, d):
        """Return ``X̃ᵀ diag(d) X̃`` (n_params × n_params) for ``d ≥ 0``.

        Cost O(n p²) dense (one symmetric product per row block), O(nnz·p) sparse.
        """
        p = self.n_features
        G = np.empty((self.n_params, self.n_params))
        if self.sparse:
            Xd = self.X.multiply(d[:, None]).tocsr()
            G[:p, :p] = (self.X.T @ Xd).toarray()
        else:
            G[:p, :p] = 0.0
            root = np.sqrt(d)
            for start in range(0, self.n_samples, _CHUNK_ROWS):
                sl = slice(start, min(start + _CHUNK_ROWS, self.n_samples))
                B = self.X[sl] * root[sl, None]
                G[:p, :p] += B.T @ B
        if self.fit_intercept:
            col = np.asarray(self.X.T @ d).ravel()
            G[:p, p] = col
            G[p, :p] = col
            G[p, p] = d.sum()
        return G

    def kernel(self, inv_penalty_coef, inv_penalty_intercept):
        """Return ``X̃ Λ⁻¹ X̃ᵀ`` (n × n) for a diagonal penalty ``Λ``.

        ``inv_penalty_intercept`` is ``1/λ_b`` for a penalised intercept, 0 when the
        intercept is handled separately. Cost O(n² p) dense, O(nnz·n) sparse.
        """
        if self.sparse:
            K = (self.X @ self.X.T).toarray()
        else:
            K = self.X @ self.X.T
        K *= inv_penalty_coef
        if self.fit_intercept and inv_penalty_intercept:
            K += inv_penalty_intercept
        return K
