"""A kernel matrix ``K(X_rows, X_fit)`` as a design operator, evaluated in row blocks.

Kernel ridge regression predicts ``z = K(x, X_fit) α``: its "design" rows are kernel
rows and its parameters the dual coefficients ``α`` (one per training row). This
operator offers the products :class:`~skrif._linalg.design.AugmentedDesign` offers,
without keeping the kernel: every product evaluates the rows it needs, in blocks of
at most ``_BLOCK_FLOATS`` floats.
"""

import numpy as np

from .design import AugmentedDesign


class KernelDesign(AugmentedDesign):
    """``K = kernel(X_rows, X_fit)`` (m × n) as a linear operator.

    Parameters
    ----------
    X_rows : ndarray or sparse matrix of shape (m, p)
        The rows (training or evaluation); for ``kernel="precomputed"`` the kernel
        rows themselves (m × n).
    X_fit : ndarray or sparse matrix of shape (n, p)
        The training rows (the columns of ``K``).
    kernel : callable
        ``kernel(A, B)`` → the dense kernel matrix between the rows of ``A`` and ``B``.
    """

    fit_intercept = False
    sparse = False

    def __init__(self, X_rows, X_fit, kernel):
        self.X = X_rows
        self.X_fit = X_fit
        self.kernel = kernel
        self.n_samples = X_rows.shape[0]
        self.n_features = self.n_params = X_fit.shape[0]

    def for_rows(self, X):
        """The same kernel between other rows ``X`` and the training rows."""
        return KernelDesign(X, self.X_fit, self.kernel)

    def rows(self, idx):
        """Kernel rows ``K[idx]`` (len(idx), n): O(len(idx) n p)."""
        return np.asarray(self.kernel(self.X[idx], self.X_fit), dtype=float)

    def gram(self):
        """The whole kernel matrix (m × n) — the one n × n array of a fit."""
        return self.rows(slice(None))

    def matvec(self, V):
        """``K V`` (m, k) for ``V`` (n, k), in row blocks."""
        V = np.asarray(V, dtype=float)
        out = np.empty((self.n_samples,) + V.shape[1:])
        for sl in self.row_slices():
            out[sl] = self.rows(sl) @ V
        return out

    def rmatvec(self, R):
        """``Kᵀ R`` (n, k) for ``R`` (m, k), in row blocks."""
        R = np.asarray(R, dtype=float)
        out = np.zeros((self.n_params,) + R.shape[1:])
        for sl in self.row_slices():
            out += self.rows(sl).T @ R[sl]
        return out

    def rows_matvec(self, idx, V):
        return self.rows(idx) @ np.asarray(V, dtype=float)

    def rows_rmatvec(self, idx, R):
        return self.rows(idx).T @ np.asarray(R, dtype=float)
