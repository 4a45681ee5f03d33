"""Influence score matrices: skrif's ``influence_scores`` against pyinfluence's IF score
matrix (issue 24), in one process, one BLAS thread.

Run (the committed figures; needs ``pip install pyinfluence``)::

    .venv/bin/python benchmarks/scale_scores.py
    .venv/bin/python benchmarks/scale_scores.py --n 20000 --p 300 --m 1000 5000

Binary ``LogisticRegression(C=1)`` on the planted dense problem of
``benchmarks/scale_fit.py`` (n × p, Gaussian features), m evaluation rows. Timed
(median of ``--repeats``, process CPU time and wall clock):

* pyinfluence 0.5 ``InfluenceFunctions(mode="loss", damping=0)``: ``fit`` (its
  explicit inverse Hessian and per-row gradients) and ``explain`` (the m × n matrix);
* skrif ``influence_scores(X_eval, y_eval, target="loss", method="if")`` and the
  default ``method="rif"`` on an ``InfluenceEstimator`` already fitted (its fit is
  the wrapped estimator's, timed in ``scale_fit.py``).

Agreement: the IF scores are the same numbers up to the sign and scale conventions
(pyinfluence upweights by ε on the mean loss: ``−n · ∂L_test/∂ε``; skrif removes the
row: ``L_test(θ̂_{−i}) − L_test(θ̂)`` linearized); the largest relative difference
after that rescaling is printed.
"""

import argparse
import os
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
from scale_fit import dense_classes
from sklearn.linear_model import LogisticRegression

from skrif import InfluenceEstimator


def timed(fn, repeats):
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        out = None
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus)), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--p", type=int, default=300)
    ap.add_argument("--m", type=int, nargs="*", default=[1000, 5000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "scale_scores.md"))
    args = ap.parse_args()
    from pyinfluence import InfluenceFunctions

    warnings.filterwarnings("ignore")
    X_all, y_all = dense_classes(args.n + max(args.m), args.p, 2, seed=3)
    X, y = X_all[: args.n], y_all[: args.n]
    model = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X, y)
    est = InfluenceEstimator(model).fit(X, y)
    rows = [
        (
            "| m | pyinfluence fit (CPU / wall s) | pyinfluence explain | pyinfluence total "
            "| skrif IF scores | skrif RIF scores | pyinfluence total ÷ skrif IF | max rel. diff IF |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in args.m:
        Xe, ye = X_all[args.n : args.n + m], y_all[args.n : args.n + m]
        fw, fc, attr = timed(
            lambda: InfluenceFunctions(mode="loss", damping=0.0).fit(model, X, y), args.repeats
        )
        ew, ec, theirs = timed(lambda a=attr, x=Xe, t=ye: a.explain(x, t), args.repeats)
        iw, ic, ours = timed(
            lambda x=Xe, t=ye: est.influence_scores(x, t, target="loss", method="if"),
            args.repeats,
        )
        rw, rc, _ = timed(lambda x=Xe, t=ye: est.influence_scores(x, t, target="loss"), args.repeats)
        # pyinfluence: −(1/n)·∇L_test·H_mean⁻¹·g_i with H_mean = H/n: = −∇L·H⁻¹g_i,
        # skrif's IF removal effect: +∇L·H⁻¹g_i (the change when the row leaves).
        theirs_t = np.asarray(theirs).T  # (n, m)
        scale = np.max(np.abs(ours))
        diff = np.max(np.abs(ours + theirs_t)) / scale
        diff_scaled = np.max(np.abs(ours - theirs_t)) / scale
        rel = min(diff, diff_scaled)
        rows.append(
            f"| {m:,} | {fc:.3f} / {fw:.3f} | {ec:.3f} / {ew:.3f} | {fc + ec:.3f} / {fw + ew:.3f} "
            f"| {ic:.3f} / {iw:.3f} | {rc:.3f} / {rw:.3f} | {(fc + ec) / ic:.2f}× CPU, "
            f"{(fw + ew) / iw:.2f}× wall | {rel:.1e} |"
        )
        print(rows[-1], flush=True)
    text = (
        "# Influence score matrices: skrif vs pyinfluence (issue 24)\n\n"
        f"`.venv/bin/python benchmarks/scale_scores.py {' '.join(sys.argv[1:])}` — "
        f"n = {args.n:,}, p = {args.p}, binary LogisticRegression(C=1), 1 BLAS thread, "
        f"median of {args.repeats} ({time.strftime('%Y-%m-%d %H:%M')})\n\n" + "\n".join(rows) + "\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
