"""FunctionTransformer: stateless, but skrif cannot differentiate ``func``."""

import numpy as np

from .base import StepRemoval, Unsupported


class FunctionTransformerRemoval(StepRemoval):
    def train(self, U, change):
        if self.step.func is None:
            self._identity = True
            return change
        self._identity = False
        if change.alpha is not None or change.beta is not None or change.n_tangents:

            raise Unsupported(
                "FunctionTransformer applied after a step whose statistics move: skrif "
                "cannot differentiate its function."
            )
        width = np.shape(self.step.transform(U[:1] if not hasattr(U, "iloc") else U.iloc[:1]))[1]
        return change.like(width, coef=np.zeros((change.m, 0)), cols=None, basis=np.zeros((change.n, 0)))

    def basis(self, U, B):
        return B if self._identity else np.zeros((np.shape(U)[0], 0))


class MissingIndicatorRemoval(StepRemoval):
    def train(self, U, change):
        from .imputer import missing_mask

        ind = self.step
        M = missing_mask(U, ind.missing_values)
        r = change.removed
        discrete = change.discrete.copy()
        if ind.features == "missing-only":
            f = ind.features_
            discrete |= np.any(M[r][:, f] & (M[:, f].sum(axis=0) == 1), axis=1)
        return change.like(ind.features_.size, coef=np.zeros((change.m, 0)), cols=None,
                           basis=np.zeros((change.n, 0)), discrete=discrete)

    def basis(self, U, B):
        return np.zeros((np.shape(U)[0], 0))
