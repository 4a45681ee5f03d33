"""Declarative parameter validation, on scikit-learn's constraint machinery.

Constraints are written as in scikit-learn's ``_parameter_constraints`` (``"boolean"``,
``StrOptions``, ``Interval``, ``HasMethods``, ``None``, types, callables; see
:mod:`sklearn.utils._param_validation`) and checked by scikit-learn's own constraint
objects; a violation raises scikit-learn's
:class:`~sklearn.utils._param_validation.InvalidParameterError` (a ``ValueError`` and
``TypeError``). The message follows skrif's house style — ``"<name> must be <what>;
got <value>."`` — with an optional hand-written ``<what>`` per parameter where
scikit-learn's generic description would be less helpful.
"""

import functools
import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    make_constraint,
)

__all__ = ["InvalidParameterError", "Integer", "RealNumber", "check_params", "validate_arguments"]


def _describe(constraints):
    shown = [str(c) for c in constraints if not getattr(c, "hidden", False)]
    if len(shown) == 1:
        return shown[0]
    return f"{', '.join(shown[:-1])} or {shown[-1]}"


def check_params(constraints, params, *, caller=None, messages=None, estimator_params=False):
    """Check ``params`` (a dict) against ``constraints`` (name → list of constraints).

    Parameters absent from ``constraints`` are not checked. ``messages`` maps a
    parameter name to the description of what it must be (default: scikit-learn's).
    ``estimator_params`` formats the message for constructor parameters (``"The
    'rescaled' parameter must be ...; got ... (InfluenceEstimator)."``).

    Raises
    ------
    InvalidParameterError
        For the first parameter that satisfies none of its constraints.
    """
    messages = messages or {}
    for name, value in params.items():
        if name not in constraints or constraints[name] == "no_validation":
            continue
        objs = [make_constraint(c) for c in constraints[name]]
        if any(c.is_satisfied_by(value) for c in objs):
            continue
        what = messages.get(name) or _describe(objs)
        if estimator_params:
            where = f" ({caller})" if caller else ""
            text = f"The {name!r} parameter must be {what}; got {value!r}{where}."
        else:
            text = f"{name} must be {what}; got {value!r}."
        raise InvalidParameterError(text)
    return params


def validate_arguments(constraints, messages=None):
    """Decorator: validate a function's arguments declaratively before it runs
    (like :func:`sklearn.utils._param_validation.validate_params`, with skrif's
    messages)."""

    def decorator(func):
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check_params(constraints, bound.arguments, caller=func.__qualname__, messages=messages)
            return func(*args, **kwargs)

        wrapper._skrif_parameter_constraints = constraints
        return wrapper

    return decorator


class Integer(Interval):
    """``Interval(Integral, ...)`` without booleans (``True`` is not a count)."""

    def __init__(self, left, right, *, closed="both"):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


class RealNumber(Interval):
    """``Interval(Real, ...)`` without booleans (``True`` is not a level or a share)."""

    def __init__(self, left, right, *, closed="both"):
        super().__init__(Real, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)
