"""Preconditioned conjugate gradients on a symmetric positive (semi-)definite operator.

The matrix-free solver of skrif: Newton steps near a factored Hessian (the factor is
then a preconditioner whose error is the small change of curvature, so a few
iterations reach machine precision), polishing and refits without a new
factorization, and every solve of the iterative path (:mod:`skrif._removal.iterative`).

The unknown is one array of any shape (e.g. θᵀ of shape (p̃, q)); inner products
run over all its entries. Several independent systems are solved at once by
:func:`block_pcg` (one operator application per iteration for all columns).
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class CGResult:
    """Outcome of a conjugate-gradient solve.

    Attributes
    ----------
    x : ndarray
        The solution (the last iterate when not converged).
    converged : bool or ndarray of bool
        Whether the preconditioned residual fell below ``rtol`` of its start
        (per column for :func:`block_pcg`).
    n_iter : int
        Operator applications.
    residual : float or ndarray
        Final relative preconditioned residual ``√(rᵀM⁻¹r) / √(bᵀM⁻¹b)``.
    breakdown : bool
        A search direction with ``pᵀAp ≤ 0`` was met: ``A`` is not positive definite
        (:func:`pcg` only).
    """

    x: np.ndarray
    converged: object
    n_iter: int
    residual: object
    breakdown: bool = False


def pcg(matvec, b, precond=None, *, rtol=1e-10, maxiter=100, project=None):
    """Solve ``A x = b`` by preconditioned conjugate gradients from ``x = 0``.

    Parameters
    ----------
    matvec : callable
        ``A v`` for an array shaped like ``b`` (``A`` symmetric positive
        semi-definite, ``b`` in its range).
    b : ndarray
    precond : callable or None
        ``M⁻¹ r`` for a symmetric positive definite ``M ≈ A`` (``None``: identity).
    rtol : float
        Stop when the preconditioned residual norm drops below ``rtol`` times its
        initial value (in the ``A``-norm this bounds the error when ``M ≈ A``).
    maxiter : int
        Operator applications allowed.
    project : callable or None
        Orthogonal projection off a known null space of ``A``: ``b`` and the
        preconditioned residuals are projected, so the iterates stay off it.

    Returns
    -------
    CGResult

    Notes
    -----
    Cost per iteration: one ``matvec``, one ``precond`` and O(size of b) vector
    work; memory: four arrays shaped like ``b``.
    """
    if project is not None:
        # Preconditioned on the complement of the null space (P M⁻¹ P): rounding in
        # b or in M⁻¹r along the null space would otherwise stall the iteration.
        inner = precond if precond is not None else (lambda v: v)
        precond = lambda v: project(inner(v))
        b = project(b)
    x = np.zeros_like(b, dtype=float)
    r = np.array(b, dtype=float)
    z = r if precond is None else precond(r)
    rz = float(np.vdot(r, z))
    if not np.isfinite(rz):
        return CGResult(x, False, 0, float("nan"))
    if not rz > 0:
        return CGResult(x, True, 0, 0.0)
    start = np.sqrt(rz)
    p = np.array(z, dtype=float)
    n_iter = 0
    while n_iter < maxiter:
        Ap = matvec(p)
        n_iter += 1
        pAp = float(np.vdot(p, Ap))
        if not pAp > 0:  # breakdown: A not positive definite along p
            return CGResult(x, False, n_iter, np.sqrt(max(rz, 0.0)) / start, True)
        alpha = rz / pAp
        x += alpha * p
        r -= alpha * Ap
        z = r if precond is None else precond(r)
        rz_new = float(np.vdot(r, z))
        if not np.isfinite(rz_new):
            break
        if not rz_new > 0 or np.sqrt(rz_new) <= rtol * start:
            return CGResult(x, True, n_iter, np.sqrt(max(rz_new, 0.0)) / start)
        p *= rz_new / rz
        p += z
        rz = rz_new
    return CGResult(x, False, n_iter, np.sqrt(max(rz, 0.0)) / start)


def block_pcg(matvec, B, precond=None, *, rtol=1e-10, maxiter=100):
    """:func:`pcg` for the columns of ``B`` (p, m) as independent systems, with one
    ``matvec`` of all active columns per iteration (a sparse-times-dense product
    instead of m sparse matrix-vector products).

    Returns a :class:`CGResult` with per-column ``converged`` and ``residual``.
    """
    B = np.asarray(B, dtype=float)
    X = np.zeros_like(B)
    R = B.copy()
    Z = R if precond is None else precond(R)
    rz = np.einsum("ij,ij->j", R, Z)
    start = np.sqrt(np.maximum(rz, 0.0))
    done = ~(rz > 0)
    residual = np.zeros(B.shape[1])
    P = np.array(Z, dtype=float)
    n_iter = 0
    while n_iter < maxiter and not np.all(done):
        # Columns still iterating (a slice while all are, so no gathered copies).
        act = slice(None) if not done.any() else np.flatnonzero(~done)
        Pa = P[:, act]
        AP = matvec(Pa)
        n_iter += 1
        pAp = np.einsum("ij,ij->j", Pa, AP)
        broke = ~(pAp > 0)
        alpha = np.where(broke, 0.0, rz[act] / np.where(broke, 1.0, pAp))
        X[:, act] += alpha * Pa
        Ra = R[:, act]
        Ra -= alpha * AP
        R[:, act] = Ra
        Za = Ra if precond is None else precond(Ra)
        rz_new = np.einsum("ij,ij->j", Ra, Za)
        start_a = start[act]
        res = np.sqrt(np.maximum(rz_new, 0.0)) / np.where(start_a > 0, start_a, 1.0)
        residual[act] = res
        finished = (res <= rtol) | broke
        rz_a = rz[act]
        P[:, act] = Za + (rz_new / np.where(rz_a > 0, rz_a, 1.0)) * Pa
        rz[act] = rz_new
        done[np.arange(B.shape[1])[act][finished]] = True
    converged = residual <= rtol
    return CGResult(X, converged, n_iter, residual)
