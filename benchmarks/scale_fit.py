"""Fit cost of skrif against the wrapped estimator's own fit (issue 24): sparse text-like
problems and the family-overhead table, with peak memory, one fresh process per case.

Run (the committed figures; BLAS limited to one thread by the script)::

    .venv/bin/python benchmarks/scale_fit.py                # every case
    .venv/bin/python benchmarks/scale_fit.py --cases s5000 digits --repeats 3

Each case prints and records, in the same process and run:

* ``sklearn``: the wrapped estimator's own ``fit`` (default tolerance);
* ``skrif``: ``InfluenceEstimator(model).fit`` (includes that fit, polishing, the one
  Hessian factorization at the optimum and all-row leverages); *overhead* = skrif −
  sklearn, and its ratio to the sklearn fit;
* ``factor``: forming and factoring the Hessian once at the fitted optimum
  (skrif's ``Problem.curvature``), the unit of the FrozenEstimator target, and for
  the sparse table the target ``3 × (sklearn + factor)``;
* ``frozen``: ``InfluenceEstimator(FrozenEstimator(fitted)).fit`` and its ratio to
  ``factor``;
* peak resident memory of the process above its size before skrif ran
  (``ru_maxrss``), and the size of X as a dense array.

Times are medians over ``--repeats`` (wall clock and process CPU time); the machine is
shared, so read the ratios, which are measured in the same process.

Data: sparse rows with exactly ``k`` nonzeros at uniform columns and exponential
values, labels from a planted logistic model (``sparse_rows``); dense Gaussian
features with a planted multinomial / binary / Poisson / linear target; scikit-learn's
``digits``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

SPARSE = {
    # name: (n, p, nnz per row)
    "s2500": (20000, 2500, 5),
    "s5000": (20000, 5000, 10),
    "s20000": (20000, 20000, 10),
    "dual100k": (8000, 100000, 100),
}
FAMILIES = ["digits", "digits-newton", "multi300", "binary", "poisson", "ridge", "sgd"]


def sparse_rows(n, p, k, seed=0, signal=2.0):
    """CSR with k nonzeros per row at uniform columns (exponential values) and labels
    of a planted logistic model."""
    rng = np.random.default_rng(seed)
    cols = np.sort(rng.integers(0, p, size=(n, k)), axis=1)
    X = sp.csr_matrix(
        (rng.exponential(1.0, n * k), (np.repeat(np.arange(n), k), cols.ravel())), shape=(n, p)
    )
    X.sum_duplicates()
    z = X @ rng.standard_normal(p)
    z *= signal / z.std()
    return X, (rng.uniform(size=n) < expit(z)).astype(int)


def dense_classes(n, p, K, seed=0, signal=3.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Z = X @ (rng.standard_normal((p, K)) / np.sqrt(p) * signal)
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return X, (P.cumsum(axis=1) > rng.uniform(size=n)[:, None]).argmax(axis=1)


def make_case(name):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import (
        LogisticRegression,
        PoissonRegressor,
        Ridge,
        SGDClassifier,
    )

    if name in SPARSE:
        X, y = sparse_rows(*SPARSE[name])
        return X, y, LogisticRegression(C=1.0)
    if name.startswith("digits"):
        X, y = load_digits(return_X_y=True)
        solver = "newton-cholesky" if name == "digits-newton" else "lbfgs"
        return X.astype(float), y, LogisticRegression(solver=solver)
    if name == "multi300":
        X, y = dense_classes(20000, 300, 10)
        return X, y, LogisticRegression()
    if name == "binary":
        X, y = dense_classes(20000, 300, 2)
        return X, y, LogisticRegression()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 300))
    if name == "poisson":
        y = rng.poisson(np.exp(X @ (rng.standard_normal(300) * 0.5 / np.sqrt(300))))
        return X, y, PoissonRegressor()
    if name == "ridge":
        return X, X @ rng.standard_normal(300) + rng.standard_normal(20000), Ridge()
    if name == "sgd":
        X, y = dense_classes(20000, 300, 2)
        return X, y, SGDClassifier(loss="log_loss", alpha=1e-3, random_state=0)
    raise ValueError(name)


def rss_peak_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def timed(fn, repeats):
    """Median wall and CPU seconds of ``fn()`` over ``repeats`` calls (last result)."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        out = None  # the previous result is freed first (peak memory of one run)
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus)), out


def worker(name, repeats):
    import warnings

    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    from skrif import InfluenceEstimator

    warnings.filterwarnings("ignore")
    X, y, model = make_case(name)
    out = {"case": name, "n": X.shape[0], "p": X.shape[1], "sparse": sp.issparse(X)}
    out["dense_mb"] = X.shape[0] * X.shape[1] * 8 / 2**20
    out["sk_wall"], out["sk_cpu"], fitted = timed(lambda: clone(model).fit(X, y), repeats)
    before = rss_now_mb()
    out["skrif_wall"], out["skrif_cpu"], est = timed(
        lambda: InfluenceEstimator(clone(model)).fit(X, y), repeats
    )
    out["peak_mb"] = rss_peak_mb() - before
    removal = est._removal
    out["curvature"] = type(removal.curvature).__name__
    out["polish_steps"] = int(est.n_polish_steps_)
    check = getattr(removal.curvature, "inverse_check", None)
    out["leverages"] = "n/a" if check is None else check.strategy
    # One Hessian formation + factorization at the optimum (the Frozen target's unit),
    # with nothing else alive (large dual factors are n × n).
    problem, theta = removal.problem, removal.theta
    del est, removal
    _, d2 = problem.row_derivatives(theta)
    out["factor_wall"], out["factor_cpu"], _ = timed(lambda: problem.curvature(d2), repeats)
    _ = None
    out["frozen_wall"], out["frozen_cpu"], _ = timed(
        lambda: InfluenceEstimator(FrozenEstimator(fitted)).fit(X, y), repeats
    )
    print(json.dumps(out))


def run_case(name, repeats, timeout):
    cmd = [sys.executable, __file__, "--worker", name, "--repeats", str(repeats)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        return {"case": name, "error": f"did not finish in {timeout} s"}
    if res.returncode != 0:
        return {"case": name, "error": res.stderr.strip().splitlines()[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def fmt(x, digits=2):
    return f"{x:.{digits}g}" if x < 1 else f"{x:.{max(digits - 1, 1)}f}" if x < 100 else f"{x:.0f}"


def table(rows):
    head = (
        "| case | n × p | sklearn fit (wall / CPU s) | skrif fit (wall / CPU s) | overhead ÷ sklearn "
        "(CPU) | factor once (CPU s) | skrif ÷ 3·(sklearn + factor) (CPU) | frozen fit (CPU s) "
        "| frozen ÷ factor | polish steps | leverages | peak RSS above start | X dense |\n"
        + "|---" * 13
        + "|"
    )
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case']} | {r['error']} |" + " |" * 11)
            continue
        overhead = (r["skrif_cpu"] - r["sk_cpu"]) / r["sk_cpu"]
        target = r["skrif_cpu"] / (3 * (r["sk_cpu"] + r["factor_cpu"]))
        lines.append(
            f"| {r['case']} | {r['n']:,} × {r['p']:,}{' sparse' if r['sparse'] else ''} "
            f"| {fmt(r['sk_wall'])} / {fmt(r['sk_cpu'])} | {fmt(r['skrif_wall'])} / "
            f"{fmt(r['skrif_cpu'])} | {overhead:.1f}× | {fmt(r['factor_cpu'])} | {target:.2f} "
            f"| {fmt(r['frozen_cpu'])} | {r['frozen_cpu'] / r['factor_cpu']:.1f}× "
            f"| {r['polish_steps']} | {r['curvature']}, {r['leverages']} "
            f"| {r['peak_mb']:.0f} MB | {r['dense_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="*", default=list(SPARSE) + FAMILIES)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--worker")
    ap.add_argument("--out", default=str(HERE / "results" / "scale_fit.md"))
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.repeats)
        return
    rows = []
    for name in args.cases:
        rows.append(run_case(name, args.repeats, args.timeout))
        print(json.dumps(rows[-1]), flush=True)
    text = (
        "# Fit cost against the wrapped estimator (issue 24)\n\n"
        f"`{' '.join(['.venv/bin/python', 'benchmarks/scale_fit.py'] + sys.argv[1:])}` "
        f"(1 BLAS thread, median of {args.repeats}; {time.strftime('%Y-%m-%d %H:%M')})\n\n"
        + table(rows)
        + "\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
