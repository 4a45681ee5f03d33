"""Warnings attributed to the user's line.

A warning raised deep inside skrif (a kind's leverage guard, the set-error check, a
refit's convergence) is reached from many public methods, through the Dask routing,
whole pipelines and validation, so no fixed ``stacklevel`` names the user's call
for all of them. :func:`warn` walks the stack to the first frame outside the
package instead, so that the warning's file and line are the user's and Python's
"once per location" filters act per call site of the user's code.
"""

import os
import sys
import warnings

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def warn(message, category):
    """``warnings.warn(message, category)`` at the first frame outside skrif.

    Examples
    --------
    >>> import warnings
    >>> from skrif._utils.warn import warn
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("leverage one", UserWarning)
    >>> caught[0].filename.endswith("warn.py")
    False
    """
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
