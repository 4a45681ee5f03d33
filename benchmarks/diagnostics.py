"""Regression diagnostics: skrif vs statsmodels, speed and agreement in one run.

Run (the committed figures)::

    .venv/bin/python benchmarks/diagnostics.py --threads 2
    .venv/bin/python benchmarks/diagnostics.py --gam

Default part: unpenalised logistic regression on the planted problem of
BENCHMARKS.md (``glm-20000x1000``: 20,000 rows, 1,000 features, ``_data.make_data``),
``skrif.InfluenceEstimator(...).diagnostics()`` against statsmodels'
``GLM(...).fit().get_influence().summary_frame()`` on statsmodels' own converged
fit (IRLS to a parameter tolerance of 1e-10). Both fits are excluded from the timings. skrif's table has
more columns (it also holds DFBETA, R's DFFITS/COVRATIO/studentized residuals and
the flags); the agreement is measured on the columns both have.

``--gam``: statsmodels' one penalised path, ``GLMGam(...).get_influence().d_params``,
against exact leave-one-out refits of the same GLMGam (statsmodels itself, fixed
basis), and skrif's penalised DFBETA of the *same* fit written as a
``PoissonRegressor`` on whitened spline features (the reparametrization is checked:
both fits agree to the printed relative difference) against exact scikit-learn
refits. The two models' leave-one-out objectives differ in one respect: GLMGam keeps
the whole penalty, scikit-learn's mean-form objective drops the row's share of it;
each method is measured against refits of its own model.
"""

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import GLM_SHAPES, make_data  # noqa: E402


def rel(a, b):
    """Max over entries of |a − b| / max(|b|, 1e-12 · max|b|) (a floor for zeros)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    floor = 1e-12 * np.max(np.abs(b))
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


def speed(threads):
    import statsmodels.api as sm
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from skrif import InfluenceEstimator

    shape = GLM_SHAPES["glm-20000x1000"]
    X, y, _ = make_data(shape, "logistic", signal=3.0)
    with threadpool_limits(limits=threads):
        model = LogisticRegression(penalty=None, solver="newton-cholesky", tol=1e-12, max_iter=200)
        t = time.perf_counter()
        est = InfluenceEstimator(model).fit(X, y)
        skrif_fit = time.perf_counter() - t
        t = time.perf_counter()
        table = est.diagnostics()
        skrif_time = time.perf_counter() - t
        print(f"skrif diagnostics(): {skrif_time:.2f} s", flush=True)
        floor_time = solve_floor(est)
        inverse_time = inverse_floor(est)

        Xc = np.column_stack([X, np.ones(X.shape[0])])
        # statsmodels' own IRLS, to a tight parameter tolerance (its deviance
        # criterion at 1e-12 never triggers at this size), started at the optimum
        # so that the untimed fit takes minutes, not an hour, on a shared machine.
        start = np.append(est.estimator_.coef_.ravel(), est.estimator_.intercept_)
        t = time.perf_counter()
        glm = sm.GLM(y, Xc, family=sm.families.Binomial()).fit(
            start_params=start, tol=1e-10, tol_criterion="params", maxiter=100
        )
        sm_fit = time.perf_counter() - t
        print(f"statsmodels fit: {sm_fit:.1f} s, {glm.fit_history['iteration']} iterations",
              flush=True)
        t = time.perf_counter()
        frame = glm.get_influence().summary_frame()
        sm_time = time.perf_counter() - t

    p = X.shape[1]
    mine = table[[f"dfb_x{j}" for j in range(p)] + ["dfb_intercept"]].to_numpy()
    theirs = frame.iloc[:, : p + 1].to_numpy()
    print(f"problem {shape.name}: n={shape.n}, p={p} (+ intercept), threads={threads}")
    print(f"fits (excluded): statsmodels IRLS {sm_fit:.1f} s, skrif (sklearn newton-cholesky "
          f"+ factorization) {skrif_fit:.1f} s")
    print(f"statsmodels get_influence().summary_frame(): {sm_time:.2f} s "
          f"({frame.shape[1]} columns)")
    print(f"skrif diagnostics():                        {skrif_time:.2f} s "
          f"({table.shape[1]} columns)")
    print(f"ratio statsmodels / skrif: {sm_time / skrif_time:.1f}x")
    print(f"floor (two triangular solves with every row + writing two n x p~ tables, "
          f"no other work): {floor_time:.2f} s; skrif / floor {skrif_time / floor_time:.2f}, "
          f"statsmodels / floor {sm_time / floor_time:.1f}x")
    best = min(floor_time, inverse_time)
    print(f"floor with the explicit inverse (potri + one GEMM with every row + the two "
          f"tables): {inverse_time:.2f} s; best floor {best:.2f} s: skrif / best floor "
          f"{skrif_time / best:.2f}, statsmodels / best floor {sm_time / best:.1f}x")
    print("max relative difference (skrif vs statsmodels):")
    print(f"  dfb_* (all {p + 1} coefficients): {rel(mine, theirs):.2e} entrywise, "
          f"{np.max(np.abs(mine - theirs).max(axis=0) / np.abs(theirs).max(axis=0)):.2e} "
          "relative to each column's largest value")
    for column in ("cooks_d", "standard_resid", "hat_diag", "dffits_internal"):
        print(f"  {column}: {rel(table[column], frame[column]):.2e}")


def solve_floor(est, block=3143):
    """Seconds for the least work a full DFBETA table needs without an explicit
    inverse: ``L⁻ᵀ L⁻¹ x̃_iᵀ`` for every row by BLAS trsm on the fit's own Cholesky
    factor (blocks of ``block`` rows, as skrif), written into two fresh n × p̃ tables
    (DFBETA and DFBETAS)."""
    from scipy.linalg import blas

    H = est._fitted_removal().curvature
    L, design = H._spd.chol, H._block
    n, p = design.n_samples, L.shape[0]
    t = time.perf_counter()
    dfbeta, dfbetas = np.empty((n, p)), np.empty((n, p))
    for start in range(0, n, block):
        sl = slice(start, min(start + block, n))
        W = blas.dtrsm(1.0, L, design.rows(sl).T, lower=1, overwrite_b=1)
        V = blas.dtrsm(1.0, L, W, lower=1, trans_a=1, overwrite_b=1)
        np.negative(V.T, out=dfbeta[sl])
        np.multiply(dfbeta[sl], 0.5, out=dfbetas[sl])
    return time.perf_counter() - t


def inverse_floor(est, block=3143):
    """Seconds for the same table by the explicit inverse: ``S⁻¹`` from the fit's
    Cholesky factor (LAPACK potri, 2p̃³/3) and one GEMM ``x̃_i S⁻¹`` per block of rows
    (the same flops as the two triangular solves, at GEMM speed), into two fresh
    tables."""
    from scipy.linalg import lapack

    H = est._fitted_removal().curvature
    L, design = H._spd.chol, H._block
    n, p = design.n_samples, L.shape[0]
    t = time.perf_counter()
    inv, _ = lapack.dpotri(L, lower=1)
    inv = np.tril(inv) + np.tril(inv, -1).T
    dfbeta, dfbetas = np.empty((n, p)), np.empty((n, p))
    for start in range(0, n, block):
        sl = slice(start, min(start + block, n))
        np.matmul(design.rows(sl), inv, out=dfbeta[sl])
        np.negative(dfbeta[sl], out=dfbeta[sl])
        np.multiply(dfbeta[sl], 0.5, out=dfbetas[sl])
    return time.perf_counter() - t


def gam(n=300, df=12, alpha=2.0, seed=0):
    """GLMGam d_params vs exact refits; skrif's penalised DFBETA of the same model."""
    import statsmodels.api as sm
    from sklearn.linear_model import PoissonRegressor
    from statsmodels.gam.api import BSplines, GLMGam

    from skrif import InfluenceEstimator

    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1, size=n))
    y = rng.poisson(np.exp(1.0 + np.sin(2 * np.pi * x)))
    smoother = BSplines(x[:, None], df=[df], degree=[3])
    const = np.ones((n, 1))
    model = GLMGam(y, exog=const, smoother=smoother, alpha=alpha, family=sm.families.Poisson())
    res = model.fit(tol=1e-13, maxiter=1000)
    d_params = res.get_influence().d_params  # with minus without (one step)

    def refit(keep):
        sub = copy.copy(smoother)
        sub.basis = smoother.basis[keep]  # the same basis functions (knots from all rows)
        m = GLMGam(y[keep], exog=const[keep], smoother=sub, alpha=alpha,
                   family=sm.families.Poisson())
        return m.fit(tol=1e-13, maxiter=1000, start_params=res.params).params

    exact = np.stack([res.params - refit(np.arange(n) != i) for i in range(n)])

    # The same penalised objective in skrif's form. statsmodels maximises
    # llf(θ) − θᵀ(αS)θ (pen_weight = n times penal.func = α θᵀSθ / n; its PIRLS
    # solves the matching normal equations), i.e. −llf + ½ θᵀ(2αS)θ; with
    # 2αS = U diag(λ) Uᵀ on the spline block,
    # features B U_+ diag(1/√(αλ)) carry the penalty ½‖w‖², and PoissonRegressor's
    # mean-form α_sk ‖w‖²/2 with α_sk = 1/n gives Σ ℓ_i + ½‖w‖² in sum form.
    # Unpenalised directions of S get a negligible penalty (features scaled by 1e5).
    S = 2.0 * res.model.penal.penalty_matrix(alpha=model.alpha)[1:, 1:]
    lam, U = np.linalg.eigh(S)
    scale = np.where(lam > 1e-10 * lam.max(), 1.0 / np.sqrt(np.maximum(lam, 1e-300)), 1e5)
    T = U * scale  # θ_spline = T w
    F = smoother.basis @ T
    est = InfluenceEstimator(PoissonRegressor(alpha=1.0 / n, solver="newton-cholesky",
                                              tol=1e-12, max_iter=1000)).fit(F, y)
    w = est.estimator_.coef_
    theta_skrif = np.concatenate([[est.estimator_.intercept_], T @ w])
    fit_gap = np.max(np.abs(theta_skrif - res.params)) / np.max(np.abs(res.params))
    table = est.diagnostics()
    dfbeta_w = table[[f"dfbeta_x{j}" for j in range(F.shape[1])]].to_numpy()
    dfbeta = np.column_stack([table["dfbeta_intercept"].to_numpy(), dfbeta_w @ T.T])

    # Ground truth for skrif's model: scikit-learn refits without row i. Its
    # mean-form objective loses the row's share of the penalty with the row (skrif's
    # definition of that model's leave-one-out); GLMGam keeps the whole penalty.
    def sk_refit(keep):
        m = PoissonRegressor(alpha=1.0 / n, solver="newton-cholesky", tol=1e-14,
                             max_iter=1000).fit(F[keep], y[keep])
        return np.concatenate([[m.intercept_], T @ m.coef_])

    exact_skrif = np.stack([theta_skrif - sk_refit(np.arange(n) != i) for i in range(n)])

    def errors(approx, truth):
        return np.linalg.norm(approx - truth, axis=1) / np.linalg.norm(truth, axis=1)

    e_sm, e_skrif = errors(d_params, exact), errors(dfbeta, exact_skrif)
    print(f"GLMGam Poisson, n={n}, cubic B-splines df={df}, alpha={alpha}")
    print(f"the same fit in skrif (PoissonRegressor on whitened splines): max relative "
          f"difference of the coefficients {fit_gap:.1e}")
    print("per-row relative error ‖approx − exact‖ / ‖exact‖ of the leave-one-out change "
          f"of all {len(res.params)} coefficients, against exact refits of each model:")
    for name, e in (("statsmodels GLMGam d_params", e_sm), ("skrif diagnostics dfbeta", e_skrif)):
        print(f"  {name:28s} median {np.median(e):.3g}, 90% {np.quantile(e, 0.9):.3g}, "
              f"max {np.max(e):.3g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (threadpoolctl)")
    parser.add_argument("--gam", action="store_true", help="the GLMGam comparison instead")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.gam:
        gam()
    else:
        speed(args.threads)


if __name__ == "__main__":
    main()
