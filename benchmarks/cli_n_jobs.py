"""Wall time of `skrif report --n-jobs N` on statsmodels' anes96 (issue 16, item 4).

    python benchmarks/cli_n_jobs.py [--repo DIR] [--repeats 3] [--csv anes96|big]

Runs the command line of the skrif checkout in DIR (default: this one) in a fresh
process per run, so worker start-up and imports are included, as a user sees them.
``big`` is a synthetic 3000 × 150 logistic table whose refits take long enough that
worker processes can pay off.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def write_csv(kind, folder):
    import numpy as np
    import pandas as pd

    path = os.path.join(folder, f"{kind}.csv")
    if kind == "anes96":
        import statsmodels.api as sm

        sm.datasets.anes96.load_pandas().data.to_csv(path, index=False)
        return path, "vote"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 150))
    y = (X @ rng.normal(size=150) / 6 + rng.logistic(size=3000) > 0).astype(int)
    pd.DataFrame(X, columns=[f"x{j}" for j in range(150)]).assign(y=y).to_csv(path, index=False)
    return path, "y"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--csv", default="anes96", choices=("anes96", "big"))
    parser.add_argument("--jobs", default="1,2,-1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, target = write_csv(args.csv, tmp)
        for jobs in args.jobs.split(","):
            times = []
            for r in range(args.repeats):
                start = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "skrif", "report", "--data", path, "--target", target,
                     "--out", os.path.join(tmp, "rep"), "--overwrite", "--quiet", "--n-jobs", jobs],
                    cwd=args.repo, capture_output=True, text=True,
                )
                times.append(time.perf_counter() - start)
                if proc.returncode:
                    sys.exit(proc.stderr)
            print(f"{args.csv} --n-jobs {jobs:>3}: median {statistics.median(times):.2f} s "
                  f"(runs {', '.join(f'{t:.2f}' for t in times)})", flush=True)


if __name__ == "__main__":
    main()
