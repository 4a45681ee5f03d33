"""Floor 3: the model families, one module each, and the registry that picks one.

A family (:class:`~skrif._objectives._base.Objective`) knows the exact objective a
scikit-learn estimator minimises: its per-row loss derivatives, penalty, Hessian
kind and what the features need to know about it. Nothing outside this package
asks which estimator type it holds.

May import: :mod:`skrif._utils`, :mod:`skrif.exceptions`, scikit-learn.
"""

from ._base import Objective
from ._logistic import LogisticObjective
from ._registry import objective_class_for
from ._squared import SquaredObjective

__all__ = ["Objective", "LogisticObjective", "SquaredObjective", "objective_class_for"]
