"""skrif benchmark suite: the paper's problem shapes, baselines and the arithmetic floor.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run.py                 # every shape, LogisticRegression and Ridge
    .venv/bin/python benchmarks/run.py --quick         # 1 repeat, small shapes only
    .venv/bin/python benchmarks/run.py --shapes dogfish glm-20000x1000

Each (shape, model) runs in its own subprocess (a timing process, then a memory
process) so peak RSS is per shape. Results go to ``benchmarks/results/RESULTS.md``
(Markdown tables of medians, spreads and ratios, plus the machine line) and
``benchmarks/results/results.json`` (raw timings). Times are never asserted anywhere;
compare ratios measured in the same run, the machine is shared and noisy.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _data import GLM_SHAPES, SHAPES  # noqa: E402

#: The paper's published implementation on this machine (BENCHMARKS.md), seconds.
PAPER_ALL_N_RIF = {"esc50": 0.27, "dogfish": 5.5, "enron": 23.0, "imdb": 2.4}
PAPER_FIT = {"esc50": 0.56, "dogfish": 0.44, "enron": 1.9, "imdb": 2.1}


def matmul_rate(size=2000, repeats=5):
    """Dense float64 matmul rate (GFLOP/s, median of ``repeats``)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.random((size, size)), rng.random((size, size))
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * size**3 / float(np.median(times)) / 1e9


def run_worker(args_list, timeout=3600):
    cmd = [sys.executable, str(HERE / "_worker.py"), *args_list]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-5:] if proc.stderr else ["failed"]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine_line(rates):
    import numpy as np
    import scipy
    import sklearn

    try:
        from threadpoolctl import threadpool_info

        blas_s = " + ".join(
            f"{b['internal_api']} {b['version']} ({b['architecture']}, {b['num_threads']} threads)"
            for b in threadpool_info()
            if b["user_api"] == "blas"
        )
    except Exception:  # pragma: no cover - informational
        blas_s = "unknown BLAS"
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ)
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, {blas_s}"
        f"{', ' + env if env else ''}; dense matmul {min(rates):.0f}–{max(rates):.0f} GFLOP/s "
        f"(2000² float64, measured at the start and end of this run)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 repeat, small shapes only")
    parser.add_argument("--shapes", nargs="*", help=f"subset of {list(SHAPES) + list(GLM_SHAPES)}")
    parser.add_argument("--models", nargs="*", default=["logistic", "ridge"])
    parser.add_argument("--repeats", type=int, help="override the per-shape repeat count")
    parser.add_argument("--out", default=str(HERE / "results"), help="output directory")
    parser.add_argument("--threads", type=int, help="BLAS threads in the workers (threadpoolctl; default: unchanged)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    args = parser.parse_args(argv)

    names = args.shapes or (
        ["esc50", "dogfish", "glm-2000x200"] if args.quick else list(SHAPES) + list(GLM_SHAPES)
    )
    unknown = [s for s in names if s not in SHAPES and s not in GLM_SHAPES]
    if unknown:
        parser.error(f"unknown shapes {unknown}; choose from {list(SHAPES) + list(GLM_SHAPES)}")

    rates = [matmul_rate()]
    print(f"dense matmul: {rates[0]:.1f} GFLOP/s", flush=True)
    results = []
    for name in names:
        shape = SHAPES.get(name) or GLM_SHAPES[name]
        repeats = 1 if args.quick else (args.repeats or shape.repeats)
        models = ["glm"] if name in GLM_SHAPES else args.models
        for model in models:
            t0 = time.perf_counter()
            print(f"[{name} / {model}] timing ({repeats} repeats) ...", flush=True)
            extra = [str(args.threads)] if args.threads else []
            res = run_worker(["time", name, model, str(repeats), *extra])
            if not args.no_memory and model != "glm" and "error" not in res:
                print(f"[{name} / {model}] memory ...", flush=True)
                res["memory"] = run_worker(["memory", name, model, "1", *extra])
            res.update(shape=name, model=model, repeats=repeats, wall=time.perf_counter() - t0)
            print(f"[{name} / {model}] done in {res['wall']:.0f} s"
                  + (f": ERROR {res['error']}" if "error" in res else ""), flush=True)
            results.append(res)
    rates.append(matmul_rate())

    from _report import write_report

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": machine_line(rates)
        + (f"; workers limited to {args.threads} BLAS thread(s) (threadpoolctl)" if args.threads else ""),
        "rates": rates,
        "command": "benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": args.quick,
    }
    suffix = "-quick" if args.quick else ""
    (out / f"results{suffix}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    md = write_report(meta, results, PAPER_ALL_N_RIF, PAPER_FIT)
    (out / f"RESULTS{suffix}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
