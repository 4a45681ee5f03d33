"""SplineTransformer with fixed knots: B-splines of a moved input, to first order.

Each output column depends on one input column ``f``: ``z_o = B_o(u_f)``, so a move
``u_f α_f + β_f + T_f`` moves it by ``B_o'(u_f)(u_f α_f + β_f + T_f)``: tangents with
bases ``B_o'(u_f) u_f``, ``B_o'(u_f)`` and ``B_o'(u_f) T``. ``B_o'`` is taken by a
central difference of the fitted transform (step ``1e-6`` of the knot span; error
about 1e-10 relative), which follows the step's own extrapolation rule.
"""

import numpy as np

from .base import StepRemoval, Unsupported, as_float


class SplineTransformerRemoval(StepRemoval):
    @staticmethod
    def check(step, path):

        if isinstance(step.knots, str):
            raise Unsupported(
                f"The pipeline step {path!r} is SplineTransformer(knots={step.knots!r}): its "
                "knots are fitted to the data and move when rows are removed. Pass the "
                "knots as an array to fix them."
            )

    def _derivative(self, u):
        spans = np.array([np.ptp(s.t) for s in self.step.bsplines_])
        h = 1e-6 * np.maximum(spans, 1.0)
        return (self.step.transform(u + h) - self.step.transform(u - h)) / (2 * h[self._owner])

    def _owner_of_columns(self, n_in):
        n_out = self.step.n_features_out_
        return np.repeat(np.arange(n_in), n_out // n_in)

    def train(self, U, change):
        u = as_float(U)
        self._owner = self._owner_of_columns(u.shape[1])
        D = self._derivative(u)
        a, b = change.alpha, change.beta
        coef, cols, basis, self._plan = [], [], [], []
        for o, f in enumerate(self._owner):
            if a is not None and np.any(a[:, f]):
                coef.append(a[:, f]); cols.append(o); basis.append(D[:, o] * u[:, f]); self._plan.append((o, "a", f))
            if b is not None and np.any(b[:, f]):
                coef.append(b[:, f]); cols.append(o); basis.append(D[:, o]); self._plan.append((o, "b", f))
            for s in np.flatnonzero(change.cols == f):
                coef.append(change.coef[:, s]); cols.append(o); basis.append(D[:, o] * change.basis[:, s]); self._plan.append((o, "t", s))
        return change.like(
            self._owner.size,
            coef=np.column_stack(coef) if coef else np.zeros((change.m, 0)),
            cols=np.asarray(cols, dtype=np.intp),
            basis=np.column_stack(basis) if basis else np.zeros((change.n, 0)),
        )

    def basis(self, U, B):
        u = as_float(U)
        D = self._derivative(u)
        out = []
        for o, kind, x in self._plan:
            out.append(D[:, o] * (u[:, x] if kind == "a" else 1.0 if kind == "b" else B[:, x]))
        return np.column_stack(out) if out else np.zeros((u.shape[0], 0))
