"""The Hessian ``H = X̃ᵀ D X̃ + Λ`` as an operator: products without forming it.

The matrix-free primitive of every Hessian kind. For a θᵀ-shaped array ``V``
(n_params, q):

* ``"rank_one"`` and ``"penalty_share"`` (``d`` of shape (n,)): every output has the
  same Hessian, ``H V = X̃ᵀ(d ∘ X̃V) + Λ V`` column by column (a mean-form
  objective's penalty shares are in ``Λ``, the total penalty of the weights);
* ``"block"`` (``A`` of shape (n, K, K)): ``V`` is one vector of the K p̃ coupled
  parameters, ``(H V)_k = X̃ᵀ(Σ_l A_{·kl} (X̃V)_{·l}) + Λ V_k``.

Each product costs two passes over ``X`` (O(nnz(X) q), never densified); the
diagonal (a Jacobi preconditioner) one pass over the squared entries.
"""

import numpy as np
import scipy.sparse as sp


class HessianOperator:
    """``V ↦ H V`` for the Hessian of a linear model with per-row curvature ``d2``.

    Parameters
    ----------
    design : AugmentedDesign
    d2 : ndarray of shape (n,) or (n, K, K)
        Per-row curvature (scalars, or K × K blocks for coupled outputs).
    penalty : ndarray of shape (n_params,)
        Diagonal L2 penalty (shared by every output).
    """

    def __init__(self, design, d2, penalty):
        self.design = design
        self.d2 = np.asarray(d2, dtype=float)
        self.penalty = np.asarray(penalty, dtype=float)
        self.coupled = self.d2.ndim == 3
        self.n_matvec = 0

    def matvec(self, V):
        """``H V`` for ``V`` of shape (n_params, q) (q = K for coupled outputs)."""
        self.n_matvec += 1
        V = np.asarray(V, dtype=float)
        Z = self.design.matvec(V)  # (n, q)
        if self.coupled:
            Z = np.einsum("ikl,il->ik", self.d2, Z)
        else:
            Z *= self.d2[:, None]
        return self.design.rmatvec(Z) + self.penalty[:, None] * V

    def diagonal(self, q):
        """``diag(H)`` as a (n_params, q) array: ``Σ_i d_i x̃_ij² + Λ_j`` (coupled:
        with ``A_{i,kk}`` for output k). Non-positive entries (an unpenalised
        empty column) are returned as 1, so the diagonal can precondition."""
        X = self.design.X
        sq = X.multiply(X).tocsr() if sp.issparse(X) else None
        weights = (
            np.ascontiguousarray(self.d2[:, np.arange(q), np.arange(q)])
            if self.coupled
            else np.repeat(self.d2[:, None], q, axis=1)
        )
        if sq is not None:
            top = np.asarray(sq.T @ weights)
        else:
            top = np.empty((X.shape[1], q))
            step = max(1, (1 << 20) // max(X.shape[1], 1))
            top[:] = 0.0
            for start in range(0, X.shape[0], step):
                block = np.asarray(X[start : start + step], dtype=float)
                top += (block * block).T @ weights[start : start + step]
        diag = np.zeros((self.penalty.size, q))  # a parameter no row uses: penalty only
        diag[: top.shape[0]] = top
        if self.design.fit_intercept:
            diag[top.shape[0]] = weights.sum(axis=0)
        diag += self.penalty[:, None]
        return np.where(diag > 0, diag, 1.0)

    def null_projection(self):
        """Projection off the known null space of coupled outputs (adding one vector
        to every class's unpenalised parameters changes nothing), or ``None``."""
        if not self.coupled:
            return None
        free = self.penalty == 0
        if not np.any(free):
            return None

        def project(V):
            V = np.array(V, dtype=float)
            V[free] -= V[free].mean(axis=1, keepdims=True)
            return V

        return project
