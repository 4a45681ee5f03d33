"""The protocol every supported transformer module implements (see change.py)."""

import numpy as np
import scipy.sparse as sp


def as_float(U):
    """Dense float array of a step's input."""
    if sp.issparse(U):
        return U.toarray()
    return np.asarray(U, dtype=float)


class Unsupported(Exception):
    """A step whose fitted statistics skrif cannot move analytically (the message
    names it); the caller turns it into a refusal with the ways out."""


class StepRemoval:
    """How one fitted transformer's output moves when one training row is removed.

    ``train(U, change)``: ``U`` the step's input on the training rows, ``change`` the
    :class:`~change.RowChange` of that input; returns the change of the output.
    ``basis(U, B)``: the output tangent basis on any rows from their input ``U`` and
    input basis ``B`` (the tangents of ``train``, in the same order).
    """

    def __init__(self, step):
        self.step = step

    def train(self, U, change):  # pragma: no cover - interface
        raise NotImplementedError

    def basis(self, U, B):  # pragma: no cover - interface
        raise NotImplementedError


class ColumnAffine(StepRemoval):
    """``z = (u − c) k`` column-wise, with statistics that move when rows leave.

    A module supplies ``centre_scale()`` = ``(c, k)`` and ``loo(u, change)``: per
    removed row, ``kr = k'/k − 1`` and ``shift = c' − (c (1+α) + β)`` (the new
    centre beyond the affine image of the old one), each (m, p), computed without
    cancellation, and ``discrete`` (m,). Then

        z' = (u (1+α) + β + T − c') k' = z (1+α)(1+kr) − k' shift + T k'

    so ``alpha = (1+α)(1+kr) − 1``, ``beta = −k' shift`` and tangent coefficients
    scale by ``1 + kr`` (their basis by ``k``).
    """

    def train(self, U, change):
        u = as_float(U)
        c, k = self.centre_scale()
        kr, shift, discrete = self.loo(u, change)
        a = change.alpha_or_zero()
        self._cols = change.cols
        return change.like(
            u.shape[1],
            alpha=a + kr + a * kr,
            beta=-(k * (1.0 + kr)) * shift,
            coef=change.coef * (1.0 + kr[:, change.cols]),
            cols=change.cols,
            basis=change.basis * k[change.cols],
            discrete=change.discrete | discrete,
        )

    def basis(self, U, B):
        return B * self.centre_scale()[1][self._cols]


def loo_sum(values, present, removed):
    """Sums of ``values`` (n, q) over ``present`` (n, q) rows without each removed
    row, and the counts: two (m, q) arrays."""
    v = np.where(present, values, 0.0)
    own = present[removed]
    return v.sum(axis=0) - v[removed], present.sum(axis=0) - own


def ratio_m1(rho):
    """``sqrt(1 + ρ) − 1`` without cancellation."""
    return rho / (np.sqrt(1.0 + rho) + 1.0)
