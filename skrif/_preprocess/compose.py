"""Pipelines, ColumnTransformer and FeatureUnion of supported steps."""

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import FeatureUnion, Pipeline

from .base import StepRemoval
from .change import hstack
from .registry import module_for


def removal_for(step, path):
    """The removal module of a fitted step (``path`` names it in messages)."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return Passthrough(step)
    if isinstance(step, str) and step == "drop":
        return Drop(step)
    if isinstance(step, Pipeline):
        return ChainRemoval(step, path)
    if isinstance(step, ColumnTransformer):
        return ColumnTransformerRemoval(step, path)
    if isinstance(step, FeatureUnion):
        return FeatureUnionRemoval(step, path)
    return module_for(step, path)


def transform(step, U):
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return U
    return step.transform(U)


class Passthrough(StepRemoval):
    def train(self, U, change):
        return change

    def basis(self, U, B):
        return B


class Drop(StepRemoval):
    def train(self, U, change):
        return change.like(0, coef=np.zeros((change.m, 0)), cols=None, basis=np.zeros((change.n, 0)))

    def basis(self, U, B):
        return B[:, :0]


class ChainRemoval(StepRemoval):
    def __init__(self, pipe, path):
        super().__init__(pipe)
        self.parts = [
            (removal_for(step, f"{path}{name}"), step)
            for name, step in pipe.steps if not (isinstance(step, str) and step == "drop")
        ]

    def train(self, U, change):
        for removal, step in self.parts:
            change = removal.train(U, change)
            U = transform(step, U)
        return change

    def basis(self, U, B):
        for removal, step in self.parts:
            B = removal.basis(U, B)
            U = transform(step, U)
        return B


def _select(U, idx):
    if hasattr(U, "iloc"):
        return U.iloc[:, idx]
    return U[:, idx]


class ColumnTransformerRemoval(StepRemoval):
    def __init__(self, ct, path):
        super().__init__(ct)
        indices = ct._transformer_to_input_indices  # name -> input column positions
        self.parts = []
        for name, trans, _ in ct.transformers_:
            if isinstance(trans, str) and trans == "drop":
                continue
            idx = np.asarray(indices[name], dtype=np.intp)
            sl = ct.output_indices_[name]
            if sl.stop == sl.start:
                continue  # nothing in the output (e.g. an empty remainder)
            self.parts.append((name, idx, removal_for(trans, f"{path}{name}__"), trans))

    def train(self, U, change):
        outs, self._masks = [], []
        for name, idx, removal, trans in self.parts:
            self._masks.append(change.tangent_mask(idx))
            outs.append(removal.train(_select(U, idx), change.columns(idx)))
        return hstack(outs, change.removed, change.n)

    def basis(self, U, B):
        return np.hstack([
            removal.basis(_select(U, idx), B[:, mask])
            for (name, idx, removal, trans), mask in zip(self.parts, self._masks)
        ]) if self.parts else B[:, :0]


class FeatureUnionRemoval(StepRemoval):
    def __init__(self, union, path):
        super().__init__(union)
        self.parts = [
            (removal_for(trans, f"{path}{name}__"), trans)
            for name, trans in union.transformer_list
            if not (isinstance(trans, str) and trans == "drop")
        ]

    def train(self, U, change):
        return hstack([removal.train(U, change) for removal, _ in self.parts], change.removed, change.n)

    def basis(self, U, B):
        return np.hstack([removal.basis(U, B) for removal, _ in self.parts])
