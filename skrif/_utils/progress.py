"""Progress lines for long-running functions (scikit-learn's ``verbose`` convention).

``verbose=0`` prints nothing; ``verbose >= 1`` prints one line per unit of work
(a coefficient, a removal set, a fold) to stderr, prefixed by the function's name,
with the elapsed time, so that a run of seconds or minutes shows what it is doing.
"""

import numbers
import sys
import time


def check_verbose(verbose):
    """``verbose`` as an int ``>= 0`` (``True``/``False`` count as 1/0)."""
    if isinstance(verbose, (bool,)) or (
        isinstance(verbose, numbers.Integral) and verbose >= 0
    ):
        return int(verbose)
    raise ValueError(f"verbose must be a non-negative integer (0 = silent); got {verbose!r}.")


class Progress:
    """``Progress(verbose, "amip_summary").line("coef x0: sign ...")``.

    ``min_elapsed``: lines are printed only once that many seconds have passed since
    ``start`` (default: creation), so quick runs stay silent.
    """

    def __init__(self, verbose, name, stream=None, min_elapsed=0.0, start=None):
        self.level = check_verbose(verbose)
        self.name = name
        self.stream = stream
        self.min_elapsed = float(min_elapsed)
        self.start = time.perf_counter() if start is None else start

    def __bool__(self):
        return self.level > 0

    def line(self, message, level=1):
        """Print ``message`` (with the elapsed time) when ``verbose >= level``."""
        if self.level < level:
            return
        stream = sys.stderr if self.stream is None else self.stream
        elapsed = time.perf_counter() - self.start
        if elapsed < self.min_elapsed:
            return
        print(f"[{self.name}] {message} ({elapsed:.1f} s)", file=stream, flush=True)
