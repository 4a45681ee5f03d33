"""Whether worker processes pay: a cost model for ``n_jobs``.

Parallel refits only pay when they take longer than starting the worker processes
(import numpy, scipy, scikit-learn and skrif, unpickle the estimator): one
representative refit (5% of the rows) is timed, and more than one job is used only
when the refits of all sets would take longer than starting the workers. The plan
is stated in notes, so a caller can say what ran where.
"""

import os
import time

import numpy as np

#: Seconds to start one joblib worker process, measured on the 2-core machine of the
#: benchmarks.
WORKER_START_SECONDS = 1.5


def available_cpus():
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def plan_jobs(requested, est, n_sets, name="n_jobs"):
    """``(n_jobs, notes)``: the jobs to use for ``n_sets`` exact refits of ``est`` and
    the sentences that explain the choice.

    Capped at the CPUs available (``n_jobs=1000`` on 2 cores would start ~130
    processes); one process unless the refits (one is timed, O(a refit)) take longer
    than starting the workers. ``name`` is how the caller's option is written in the
    notes (``"--n-jobs"`` on the command line).
    """
    notes = []
    cpus = available_cpus()
    n_jobs = 1 if requested is None else requested
    if n_jobs < 0:  # joblib's convention: -1 all CPUs, -2 all but one, ...
        n_jobs = max(1, cpus + 1 + n_jobs)
    if n_jobs > cpus:
        notes.append(f"{name} {requested} capped at the {cpus} CPUs available.")
        n_jobs = cpus
    if n_jobs == 1:
        return 1, notes
    n = est.leverages_.shape[0]
    rows = np.arange(max(1, int(0.05 * n)))
    start = time.perf_counter()
    try:
        est.influence(rows, method="refit")
    except (ValueError, np.linalg.LinAlgError):
        pass
    estimate = (time.perf_counter() - start) * n_sets
    if estimate < WORKER_START_SECONDS * n_jobs:
        notes.append(
            f"{name} {requested}: the {n_sets} exact refits take about {estimate:.2g} s in "
            f"all, less than starting {n_jobs} worker processes (~{WORKER_START_SECONDS} s "
            "each), so they ran in this process."
        )
        return 1, notes
    notes.append(
        f"refits ran in {n_jobs} worker processes, {max(1, cpus // n_jobs)} BLAS thread(s) each."
    )
    return n_jobs, notes
