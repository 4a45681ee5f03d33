"""Objective adapters: one module per model family, plus a registry."""

from ._base import Objective
from ._logistic import LogisticObjective
from ._registry import objective_class_for
from ._squared import SquaredObjective

__all__ = ["Objective", "LogisticObjective", "SquaredObjective", "objective_class_for"]
