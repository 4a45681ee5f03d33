"""Peak memory of ``influence_scores`` on sparse, text-like data (issue 17, item S).

Fits ``InfluenceEstimator(Ridge(alpha=1.0))`` on a sparse 2000 × 200000 CSR matrix
(density 0.001, about 200 nonzeros per row, like bag-of-words text; p̃ > n, so the
dual n × n factorization is used) and measures, in a fresh process per size, the
memory of ``influence_scores(X_eval)`` for ``n_eval`` sparse evaluation rows:

* ``traced_peak_mb``: peak of memory allocated *during the call* (tracemalloc,
  which sees NumPy/SciPy array buffers), including the (n, n_eval) result;
* ``rss_peak_mb`` / ``rss_before_mb``: the process's peak resident set size
  (``ru_maxrss``) after the call, and its resident size just before it.

Usage (BLAS limited to one thread; the skrif imported is the one on PYTHONPATH)::

    PYTHONPATH=. python benchmarks/sparse_scores_memory.py --n-eval 1000 5000
    PYTHONPATH=. python benchmarks/sparse_scores_memory.py --check

``--check`` compares, on a smaller case (n=300, p=20000, 150 evaluation rows),
the blocked implementation with the previous one (``skrif/_attribution.py`` at
commit ``PREVIOUS``, loaded from git) and with brute-force exact refits for a
few entries (for Ridge the linearized RIF score of the decision function is the
exact leave-one-out change).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp

#: The commit holding the implementation before blocking (main when item S began).
PREVIOUS = "145c789"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_data(n, p, density, n_eval, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=rng, dtype=float)
    X.data = rng.poisson(2.0, size=X.nnz) + 1.0  # word counts
    w = np.zeros(p)
    hot = rng.choice(p, size=200, replace=False)
    w[hot] = rng.normal(size=200)
    y = X @ w + rng.normal(size=n)
    X_eval = sp.random(n_eval, p, density=density, format="csr", random_state=rng, dtype=float)
    X_eval.data = rng.poisson(2.0, size=X_eval.nnz) + 1.0
    return X, y, X_eval


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(n, p, density, n_eval):
    from sklearn.linear_model import Ridge
    from threadpoolctl import threadpool_limits

    import skrif
    from skrif import InfluenceEstimator

    with threadpool_limits(limits=1, user_api="blas"):
        X, y, X_eval = make_data(n, p, density, n_eval)
        est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
        rss_before = _rss_mb()
        tracemalloc.start()
        start = time.perf_counter()
        scores = est.influence_scores(X_eval)
        seconds = time.perf_counter() - start
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(json.dumps({
        "skrif": os.path.dirname(skrif.__file__),
        "n": n, "p": p, "density": density, "n_eval": n_eval,
        "eval_nnz": int(X_eval.nnz),
        "eval_sparse_mb": round((X_eval.data.nbytes + X_eval.indices.nbytes
                                 + X_eval.indptr.nbytes) / 2**20, 1),
        "result_mb": round(scores.nbytes / 2**20, 1),
        "seconds": round(seconds, 2),
        "traced_peak_mb": round(traced_peak / 2**20, 1),
        "rss_before_mb": round(rss_before, 1),
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "checksum": float(np.sum(scores[:, :50])),
    }))


def _previous_attribution():
    """``skrif._features.attribution`` as of commit PREVIOUS, imported inside the skrif package."""
    import importlib.util

    source = subprocess.run(
        ["git", "-C", ROOT, "show", f"{PREVIOUS}:skrif/_attribution.py"],
        check=True, capture_output=True, text=True,
    ).stdout
    import skrif  # noqa: F401  (the package the relative imports resolve in)

    spec = importlib.util.spec_from_loader("skrif._attribution_previous", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "skrif"
    exec(compile(source, f"{PREVIOUS}:skrif/_attribution.py", "exec"), module.__dict__)
    return module


def check():
    from sklearn.linear_model import Ridge

    from skrif import InfluenceEstimator, _attribution

    n, p, m = 300, 20_000, 150
    X, y, X_eval = make_data(n, p, 0.005, m, seed=1)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    saved = _attribution._SOLVE_FLOATS
    _attribution._SOLVE_FLOATS = 7 * (p + 1)  # blocks of 7 evaluation rows
    try:
        new = est.influence_scores(X_eval)
    finally:
        _attribution._SOLVE_FLOATS = saved
    previous = _previous_attribution()
    old = previous.influence_scores(
        est._problem, est._theta, est._d1, est._curvature, X_eval, None,
        est._target("decision_function"), "rif",
    )[:, :, 0]
    rel = np.max(np.abs(new - old)) / np.max(np.abs(old))
    print(f"blocked (7 rows/solve) vs previous implementation: max rel. difference {rel:.1e}")
    Xd, Xe = X.toarray(), X_eval.toarray()
    full = Ridge(alpha=1.0, solver="cholesky").fit(Xd, y)
    worst = 0.0
    for i in (0, 17, 123, 299):
        keep = np.arange(n) != i
        refit = Ridge(alpha=1.0, solver="cholesky").fit(Xd[keep], y[keep])
        truth = refit.predict(Xe) - full.predict(Xe)
        worst = max(worst, np.max(np.abs(new[i] - truth)) / np.max(np.abs(truth)))
    print(f"blocked vs brute-force refits (rows 0, 17, 123, 299): max rel. error {worst:.1e}")
    assert rel < 1e-10 and worst < 1e-6


def main():
    # The wrapped Ridge stops at its default tol=1e-4; skrif polishes it (the
    # warning says so): irrelevant to the memory measured here.
    from skrif.exceptions import OptimalityWarning

    warnings.filterwarnings("ignore", category=OptimalityWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-eval", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--p", type=int, default=200_000)
    parser.add_argument("--density", type=float, default=0.001)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        check()
        return
    if args.child:
        child(args.n, args.p, args.density, args.n_eval[0])
        return
    for m in args.n_eval:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--n-eval", str(m),
               "--n", str(args.n), "--p", str(args.p), "--density", str(args.density)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(json.dumps({"n_eval": m, "error": out.stderr.strip().splitlines()[-1:]}))
        else:
            print(out.stdout.strip())
        sys.stdout.flush()


if __name__ == "__main__":
    main()
