"""Small input predicates shared by the public entry points."""

import numbers

import numpy as np


def is_integer(value):
    """True for Python and NumPy integers, False for booleans (which are Integral)."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )
