"""Entry point of the ``skrif`` console script, light enough to handle Ctrl-C at once.

``import skrif`` loads NumPy, SciPy and scikit-learn (about 1.5 s); a Ctrl-C during
that import used to print a KeyboardInterrupt traceback (or, caught inside an import
callback, was ignored and the run went on). This module imports only ``os``,
``signal`` and ``sys`` and, while the heavy imports run, handles SIGINT by exiting
at once: nothing has been written yet, so there is nothing to clean up. Once the
imports are done, Ctrl-C raises KeyboardInterrupt again and ``skrif.cli`` ends the
run cleanly (temporary files removed). Either way: ``skrif: interrupted`` on stderr,
exit status 130, no files. ``python -m skrif_cli`` is the same command.
"""

import os
import signal
import sys

__all__ = ["main"]


def _interrupted(message="skrif: interrupted\n"):
    try:
        os.write(2, message.encode())
    except OSError:  # stderr closed
        pass


def _exit_now(signum, frame):
    _interrupted()
    os._exit(130)


def main(argv=None):
    """Run the ``skrif`` command line; return its exit status."""
    previous = signal.signal(signal.SIGINT, _exit_now)
    try:
        from skrif.cli import main as run
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        return run(argv)
    except KeyboardInterrupt:
        _interrupted()
        return 130
