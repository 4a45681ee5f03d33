"""PolynomialFeatures: products of moved inputs.

For an output ``z_o = Π_f u_f^{π_f}`` and inputs moving affinely,
``u_f (1+α_f) + β_f``, the binomial expansion is exact:

    Π_f (u_f (1+α_f) + β_f)^{π_f} = Σ_{κ ≤ π} Π_f C(π_f, κ_f) (1+α_f)^{κ_f} β_f^{π_f−κ_f} u^κ

— the term ``κ = π`` is the output's scale ``α_o = Π_f (1+α_f)^{π_f} − 1``, each other
``κ`` a tangent with basis ``u^κ``. Input tangents enter to first order through
``∂z_o/∂u_f`` (basis ``∂z_o/∂u_f · T``).
"""

import itertools
from math import comb

import numpy as np

from .base import StepRemoval, as_float


def _monomial(u, powers):
    return np.prod(u ** powers, axis=1)


class PolynomialFeaturesRemoval(StepRemoval):
    def train(self, U, change):
        u = as_float(U)
        P = self.step.powers_
        m = change.m
        a = change.alpha_or_zero()
        b = change.beta
        shifted = np.zeros(u.shape[1], dtype=bool) if b is None else np.any(b != 0, axis=0)
        scale = np.prod((1.0 + a)[:, None, :] ** P[None, :, :], axis=2)  # (m, n_out)
        coef, cols, self._plan = [], [], []
        for o in range(P.shape[0]):
            support = np.flatnonzero(P[o])
            # Exact binomial terms of the shifted inputs.
            ranges = [range(P[o, f] + 1) if shifted[f] else (P[o, f],) for f in support]
            for kappa in itertools.product(*ranges):
                kappa = np.asarray(kappa)
                if np.array_equal(kappa, P[o, support]):
                    continue
                c = np.ones(m)
                for f, k in zip(support, kappa):
                    c = c * comb(int(P[o, f]), int(k)) * (1.0 + a[:, f]) ** k * b[:, f] ** (P[o, f] - k)
                powers = np.zeros(u.shape[1], dtype=int)
                powers[support] = kappa
                coef.append(c); cols.append(o); self._plan.append(("mono", powers, None))
            # Input tangents, to first order.
            for f in support:
                partial = P[o].copy()
                partial[f] -= 1
                factor = scale[:, o] / (1.0 + a[:, f]) * P[o, f]
                for s in np.flatnonzero(change.cols == f):
                    coef.append(change.coef[:, s] * factor); cols.append(o)
                    self._plan.append(("partial", partial, s))
        self._cols = np.asarray(cols, dtype=np.intp)
        return change.like(
            P.shape[0],
            alpha=scale - 1.0 if change.alpha is not None else None,
            beta=None,
            coef=np.column_stack(coef) if coef else np.zeros((m, 0)),
            cols=self._cols,
            basis=self.basis(u, change.basis),
        )

    def basis(self, U, B):
        u = as_float(U)
        out = [_monomial(u, pw) if kind == "mono" else _monomial(u, pw) * B[:, s]
               for kind, pw, s in self._plan]
        return np.column_stack(out) if out else np.zeros((u.shape[0], 0))
