"""The matrix-free path past a dense factor (issue 24): 200,000 × 200,000 sparse logistic
regression, 20 nonzeros per row.

Run (the committed figures; one BLAS thread)::

    .venv/bin/python benchmarks/scale_iterative.py
    .venv/bin/python benchmarks/scale_iterative.py --n 20000 --p 20000 --solver iterative  # quick

A dense factor of this problem would hold 200,000² floats (320 GB), so
``solver="auto"`` chooses the iterative solver. Measured in one process:

* the wrapped ``LogisticRegression(C=1)`` fit, and skrif's fit (polishing by
  preconditioned conjugate gradients, the randomized all-row leverage estimate);
* all-row RIF self-influence (``self_influence(target="loss")``);
* one exact refit of a removal set (``influence(rows, method="refit")``, Newton with
  conjugate-gradient steps) and the group Newton step of the same set;
* the estimated leverages against exact ones (one solve per row) on a random
  subsample of rows: relative errors, and how often the exact value lies in the
  reported 95% interval (``leverage_bounds_``);
* the process's peak resident memory (``ru_maxrss``).
"""

import argparse
import os
import resource
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import numpy as np
from scale_fit import sparse_rows
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from skrif import InfluenceEstimator
from skrif.exceptions import LeverageEstimateWarning


def peak_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--p", type=int, default=200_000)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--set-size", type=int, default=100)
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--solver", default="auto", help="'iterative' for small quick runs")
    ap.add_argument("--out", default=str(HERE / "results" / "scale_iterative.md"))
    args = ap.parse_args()
    lines = []

    def log(text):
        print(text, flush=True)
        lines.append(text)

    t = time.perf_counter()
    X, y = sparse_rows(args.n, args.p, args.k)
    log(f"data {args.n:,} × {args.p:,}, {X.nnz:,} nonzeros: {time.perf_counter() - t:.1f} s")
    model = LogisticRegression(C=1.0)
    t = time.perf_counter()
    clone(model).fit(X, y)
    sk = time.perf_counter() - t
    log(f"scikit-learn fit: {sk:.1f} s")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LeverageEstimateWarning)
        t = time.perf_counter()
        est = InfluenceEstimator(model, solver=args.solver).fit(X, y)
        fit = time.perf_counter() - t
    curv = est._removal.curvature
    log(
        f"skrif fit (solver_={est.solver_!r}, {est.n_polish_steps_} polish steps, "
        f"gap {est.optimality_gap_:.2g}): {fit:.1f} s ({fit - sk:.1f} s beyond the wrapped "
        f"fit); Hessian-vector products in leverage solves: {curv.n_products:,}"
    )
    warned = [str(w.message) for w in caught if issubclass(w.category, LeverageEstimateWarning)]
    log(f"LeverageEstimateWarning: {warned[0][:160] + '…' if warned else 'none'}")
    log(f"peak RSS after fit: {peak_gib():.2f} GiB")

    t = time.perf_counter()
    self_inf = est.self_influence(target="loss")
    log(f"all-row RIF self-influence: {time.perf_counter() - t:.1f} s (shape {self_inf.shape})")

    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(args.n, size=args.set_size, replace=False))
    t = time.perf_counter()
    refit = est.influence(rows, method="refit")
    log(f"exact refit without {args.set_size} rows: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    newton = est.influence(rows, method="newton")
    log(
        f"group Newton step of the same set: {time.perf_counter() - t:.1f} s; relative "
        f"difference from the refit {np.linalg.norm(newton.coef - refit.coef) / np.linalg.norm(refit.coef):.2g}"
    )
    t = time.perf_counter()
    rif = est.influence(rows, method="rif")
    log(
        f"RIF of the same set (exact leverages of its rows): {time.perf_counter() - t:.1f} s; "
        f"relative difference from the refit "
        f"{np.linalg.norm(rif.coef - refit.coef) / np.linalg.norm(refit.coef):.2g}"
    )

    sample = np.sort(rng.choice(args.n, size=args.sample, replace=False))
    t = time.perf_counter()
    exact = 1.0 - curv.exact_one_minus(sample)
    log(f"exact leverages of {args.sample} sampled rows: {time.perf_counter() - t:.1f} s")
    est_h = est.leverages_[sample]
    low, high = est.leverage_bounds_[sample].T
    rel = np.abs(est_h - exact) / np.maximum(exact, 1e-300)
    inside = np.mean((low <= exact) & (exact <= high))
    factor_err = np.abs((1 - exact) / (1 - est_h) - 1)
    log(
        f"leverage estimate vs exact on the sample: median relative error {np.median(rel):.3f}, "
        f"90th percentile {np.quantile(rel, 0.9):.3f}, max {rel.max():.3f}; exact value inside "
        f"the 95% interval for {inside:.0%} of rows; exact h from {exact.min():.3g} to "
        f"{exact.max():.3g}; rescale factor 1/(1−h) off by median {np.median(factor_err):.3g}, "
        f"max {factor_err.max():.3g}"
    )
    log(f"peak RSS: {peak_gib():.2f} GiB")
    Path(args.out).write_text(
        "# Matrix-free path (issue 24)\n\n`.venv/bin/python benchmarks/scale_iterative.py "
        + " ".join(sys.argv[1:])
        + f"` ({time.strftime('%Y-%m-%d %H:%M')}, 1 BLAS thread)\n\n"
        + "\n".join(f"* {line}" for line in lines)
        + "\n"
    )


if __name__ == "__main__":
    main()
