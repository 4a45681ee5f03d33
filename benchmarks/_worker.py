"""One benchmark process: ``_worker.py {time|memory} SHAPE MODEL REPEATS``.

Prints one JSON line with lists of timings (seconds) per stage ("time" mode) or
per-stage peak allocations and the process peak RSS ("memory" mode).
"""

import json
import resource
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402

import skrif._core.problem as _problem_mod  # noqa: E402
from _data import GLM_SHAPES, SHAPES, make_data  # noqa: E402
from skrif import InfluenceEstimator  # noqa: E402

warnings.filterwarnings("ignore")


def rss_now():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def rss_peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- instrumentation: wrapped-estimator fit time and factorization time inside skrif.fit
_LOG = {"inner_fit": 0.0, "factor": 0.0, "n_factor": 0}


def _instrument(cls):
    if getattr(cls.fit, "_skrif_bench", False):
        return
    orig = cls.fit

    def fit(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return orig(self, *args, **kwargs)
        finally:
            _LOG["inner_fit"] += time.perf_counter() - t

    fit._skrif_bench = True
    cls.fit = fit


_orig_factor = _problem_mod.factor_curvature


def _timed_factor(*args, **kwargs):
    t = time.perf_counter()
    try:
        return _orig_factor(*args, **kwargs)
    finally:
        _LOG["factor"] += time.perf_counter() - t
        _LOG["n_factor"] += 1


_problem_mod.factor_curvature = _timed_factor
_instrument(LogisticRegression)
_instrument(Ridge)


def estimators(shape, model):
    n = shape.n
    if model == "logistic":
        C = 1.0 / (shape.lam * n)
        default = LogisticRegression(C=C)
        # newton-cholesky forms a p × p Hessian: 80 GB at p = 100000.
        tight = None if shape.p > 20000 else LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=200)
    elif model == "ridge":
        alpha = shape.lam * n
        default = Ridge(alpha=alpha)
        tight = (
            Ridge(alpha=alpha, solver="sparse_cg", tol=1e-12, max_iter=100000)
            if shape.sparse
            else Ridge(alpha=alpha, solver="cholesky")
        )
    else:  # glm: unpenalised logistic
        default = LogisticRegression(penalty=None, max_iter=1000)
        tight = LogisticRegression(penalty=None, solver="newton-cholesky", tol=1e-12, max_iter=200)
    return default, tight


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


# -- skrif stages (the attribution helpers of issue 4 are used when present) -----------
def factor_leverages(est):
    """A fresh Hessian factorization at θ̂ and the leverages of every row."""
    prob, theta = est._removal.problem, est._removal.theta
    d1, d2 = prob.row_derivatives(theta)
    curv = prob.curvature(d2)
    curv.one_minus_leverage
    return curv


def self_influence(est):
    """Every row's RIF effect on its own loss (public API when present)."""
    if hasattr(est, "self_influence"):
        return est.self_influence()
    curv, d1 = est._removal.curvature, est._removal.d1
    one_minus = curv.one_minus_leverage
    q = (1.0 - one_minus) / np.maximum(curv.d, 1e-300)  # x̃ᵢᵀ H⁻¹ x̃ᵢ
    return q * d1[:, 0] ** 2 / one_minus


def all_n_rif(est):
    """Leverages of every row (fresh factorization) + RIF self-influence."""
    factor_leverages(est)
    return self_influence(est)


def influence_scores(est, X_eval):
    """(n_train, n_eval) RIF effects on the eval rows' outputs, blockwise."""
    if hasattr(est, "influence_scores"):
        return est.influence_scores(X_eval)
    prob, curv = est._removal.problem, est._removal.curvature
    E = X_eval.toarray() if sp.issparse(X_eval) else X_eval
    Et = np.vstack([E.T, np.ones((1, E.shape[0]))]) if prob.design.fit_intercept else E.T
    V = curv.solve(Et)  # H⁻¹ X̃_evalᵀ, (p̃, m)
    coef = est._removal.d1[:, 0] / curv.one_minus_leverage
    return prob.design.matvec(V) * coef[:, None]


def all_row_params(est):
    """Every row's one-step leave-one-out parameter change (n, p̃) — GLMInfluence.d_params."""
    prob, theta = est._removal.problem, est._removal.theta
    d1, d2 = prob.row_derivatives(theta)
    curv = prob.curvature(d2)
    coef = d1[:, 0] / curv.one_minus_leverage
    out = np.empty((prob.design.n_samples, prob.design.n_params))
    for sl, rows in prob.design.row_chunks():
        out[sl] = curv.solve(rows.T * coef[sl]).T
    return out


def floor_flops(n, p_tilde):
    """All-n leverages (+ O(n) self-influence), best dense form.

    Primal: Gram by a symmetric update (n p̃²) + Cholesky (p̃³/3) + triangular solves
    of X̃ᵀ (n p̃²). Dual: kernel by a symmetric update (n² p̃) + Cholesky (n³/3) +
    diagonal of the inverse via a triangular inverse (n³/3).
    """
    primal = 2 * n * p_tilde**2 + p_tilde**3 / 3
    dual = n**2 * p_tilde + 2 * n**3 / 3
    return min(primal, dual)


def time_mode(shape, model, repeats):
    X, y, X_eval = make_data(shape, "ridge" if model == "ridge" else "logistic", signal=3.0 if model == "glm" else 6.0)
    n = shape.n
    default, tight = estimators(shape, model)
    res = {"n": n, "p": shape.p, "nnz": int(X.nnz) if sp.issparse(X) else n * shape.p}
    res["X_bytes"] = int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) if sp.issparse(X) else X.nbytes

    if model == "glm":
        return glm_mode(shape, X, y, tight, repeats, res)

    # Warm-up on a few rows (imports, first-call costs), untimed.
    for est in (default, tight):
        if est is not None:
            clone(est).fit(X[:200], y[:200])
    res["est_default"], _ = timed(lambda: clone(default).fit(X, y), repeats)
    if tight is not None:
        res["est_tight"], _ = timed(lambda: clone(tight).fit(X, y), min(repeats, 3))

    def skrif_fit(inner):
        _LOG.update(inner_fit=0.0, factor=0.0, n_factor=0)
        t = time.perf_counter()
        est = InfluenceEstimator(inner).fit(X, y)
        total = time.perf_counter() - t
        return est, total, dict(_LOG)

    for label, inner in (("default", default), ("tight", tight)):
        if inner is None:
            continue
        totals, overheads, factors, nfac = [], [], [], []
        # The tight wrapped fits are slow on the big shapes: fewer repeats there.
        for _ in range(repeats if label == "default" or not shape.big else min(repeats, 2)):
            est, total, log = skrif_fit(inner)
            totals.append(total)
            overheads.append(total - log["inner_fit"])
            factors.append(log["factor"])
            nfac.append(log["n_factor"])
        res[f"skrif_fit_{label}_total"] = totals
        res[f"skrif_fit_{label}_overhead"] = overheads
        res[f"skrif_fit_{label}_factor"] = factors
        res[f"skrif_fit_{label}_n_factor"] = nfac[-1]
        res[f"skrif_fit_{label}_gap"] = float(est.optimality_gap_)
        res[f"skrif_fit_{label}_polish_steps"] = int(est.n_polish_steps_)
        if label == "default":
            est_default = est

    est = est_default
    res["form"] = type(est._removal.curvature).__name__
    res["p_tilde"] = est._removal.problem.design.n_params
    res["max_leverage"] = float(est.leverages_.max())
    res["rate"] = matmul_rate()
    res["factor_leverages"], _ = timed(lambda: factor_leverages(est), repeats)
    res["self_influence"], _ = timed(lambda: self_influence(est), repeats)
    res["all_n_rif"] = [a + b for a, b in zip(res["factor_leverages"], res["self_influence"])]
    res["influence_scores_100"], _ = timed(lambda: influence_scores(est, X_eval), repeats)
    rng = np.random.default_rng(1)
    idx = np.sort(rng.choice(n, size=max(1, n // 20), replace=False))
    res["newton_5pct"], _ = timed(lambda: est.influence(idx, method="newton"), repeats)
    res["refit_5pct"], _ = timed(lambda: est.influence(idx, method="refit"), max(1, min(repeats, 3)))
    res["floor_flops"] = floor_flops(n, res["p_tilde"])

    # Naive loop of exact refits with the wrapped estimator (tight where available):
    # a few rows timed, extrapolated to all n.
    naive = tight if tight is not None else default
    rows = rng.choice(n, size=2 if shape.big else 3, replace=False)
    per_row = []
    for i in rows:
        mask = np.ones(n, dtype=bool)
        mask[i] = False
        t = time.perf_counter()
        clone(naive).fit(X[mask], y[mask])
        per_row.append(time.perf_counter() - t)
    res["naive_loo_per_row"] = per_row
    res["naive_loo_estimator"] = "tight" if tight is not None else "default"
    return res


def glm_mode(shape, X, y, tight, repeats, res):
    import statsmodels.api as sm

    Xc = np.column_stack([X, np.ones(X.shape[0])])
    t = time.perf_counter()
    glm = sm.GLM(y, Xc, family=sm.families.Binomial()).fit()
    res["sm_fit"] = [time.perf_counter() - t]
    sm_times, dp = timed(lambda: glm.get_influence().d_params, repeats)
    res["sm_d_params"] = sm_times
    _LOG.update(inner_fit=0.0)
    t = time.perf_counter()
    est = InfluenceEstimator(tight).fit(X, y)
    res["skrif_fit_tight_overhead"] = [time.perf_counter() - t - _LOG["inner_fit"]]
    res["skrif_all_row_params"], mine = timed(lambda: all_row_params(est), repeats)
    # Sanity: statsmodels' d_params = params − params_{−i} (one step) = −(skrif's change).
    res["agreement_rel"] = float(np.linalg.norm(mine + dp) / np.linalg.norm(dp))
    res["skrif_all_n_rif"], _ = timed(lambda: all_n_rif(est), repeats)
    res["rate"] = matmul_rate()
    return res


def memory_mode(shape, model):
    """Peak memory per stage, as a user runs them.

    The wrapped estimator is fitted first (its own memory is scikit-learn's), then
    skrif attributes that fitted model (``FrozenEstimator``: skrif's own work only,
    polishing included) and runs each attribution stage once. ``skrif_peak`` is the
    highest memory allocated by skrif at any point (tracemalloc, started after the
    data and the wrapped fit exist), on top of ``X``.
    """
    from sklearn.frozen import FrozenEstimator

    base = rss_now()
    X, y, X_eval = make_data(shape, "ridge" if model == "ridge" else "logistic")
    X_bytes = int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) if sp.issparse(X) else X.nbytes
    after_data = rss_now()
    default, _ = estimators(shape, model)
    fitted = clone(default).fit(X, y)
    after_wrapped = rss_peak()
    holder = {}
    idx = np.arange(0, shape.n, 20)
    stages = {
        "skrif_fit": lambda: holder.setdefault("est", InfluenceEstimator(FrozenEstimator(fitted)).fit(X, y)),
        "self_influence": lambda: self_influence(holder["est"]),
        "influence_scores_100": lambda: influence_scores(holder["est"], X_eval),
        "newton_5pct": lambda: holder["est"].influence(idx, method="newton"),
        "refit_5pct": lambda: holder["est"].influence(idx, method="refit"),
    }
    out = {
        "base_rss": base,
        "after_data_rss": after_data,
        "wrapped_fit_peak_rss": after_wrapped,
        "X_bytes": X_bytes,
        "stage_peak_alloc": {},
        "stage_peak_abs": {},
    }
    tracemalloc.start()
    for name, fn in stages.items():
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        out["stage_peak_alloc"][name] = peak - before
        out["stage_peak_abs"][name] = peak
        del result
    tracemalloc.stop()
    out["skrif_peak"] = max(out["stage_peak_abs"].values())
    out["peak_rss"] = rss_peak()
    return out


def matmul_rate(size=2000, repeats=3):
    """Dense float64 matmul rate (GFLOP/s, best of ``repeats``) right now, in this process."""
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size)), rng.random((size, size))
    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * size**3 / min(times[1:]) / 1e9


def main():
    mode, name, model, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else None
    shape = SHAPES.get(name) or GLM_SHAPES[name]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        out = time_mode(shape, model, repeats) if mode == "time" else memory_mode(shape, model)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
