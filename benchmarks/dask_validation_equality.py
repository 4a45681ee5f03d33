"""validate_influence on Dask vs in memory: largest relative differences of the table.

Runs the small cases of tests/test_dask.py (240 training rows in 3 blocks, column
means 5) on a 2-worker LocalCluster, 8 sets of all strategies, 3 seeds. Not a
timing benchmark; about a minute. Run from the repository root:

    python benchmarks/dask_validation_equality.py
"""

import sys
from pathlib import Path

# This checkout's skrif and tests (the script's folder comes first on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import distributed  # noqa: E402

import tests.test_dask as cases  # noqa: E402
from skrif.validation import STRATEGIES, validate_influence  # noqa: E402

if __name__ == "__main__":

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    client = distributed.Client(cluster)
    try:
        for name in ("ridge", "binary", "multinomial", "poisson"):
            mem, dsk, Xte, yte, *_ = cases._validation_case(client, name)
            for seed in (0, 1, 2):
                kw = dict(n_sets=8, strategies=STRATEGIES, n_eval_rows=10, max_fraction=0.1,
                          random_state=seed, as_frame=False)
                worst = cases._same_validation(validate_influence(mem, Xte, yte, **kw),
                                               validate_influence(dsk, Xte, yte, **kw))
                print(name, seed, " ".join(f"{k}={v:.1e}" for k, v in worst.items()))
    finally:
        client.close()
        cluster.close()
