"""Lasso leave-one-out: skrif's loo_predict vs randalo's ALO vs brute-force refits.

For a standardized Lasso on two real data sets (scikit-learn's diabetes, statsmodels'
fair), the leave-one-out mean squared error from

* brute force: scikit-learn's Lasso refitted without each row (tol=1e-12);
* skrif: ``InfluenceEstimator(Lasso).loo_predict()`` (RIF on the active set: exact for
  every row whose removal keeps the support; the others are flagged);
* randalo 0.1.0: ``RandALO.from_sklearn(...).evaluate_alo`` (exact ALO, float32 as
  randalo defaults) and ``evaluate`` (its randomized estimate, 100 matvecs).

randalo is a benchmark-only dependency (``pip install randalo cvxpy "torch-linops<0.2"``;
torch-linops 0.2 breaks it); it is not needed by skrif or its tests.

Run::

    PYTHONPATH=. python benchmarks/lasso_loo_randalo.py > benchmarks/results/lasso_loo_randalo.txt
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skrif import InfluenceEstimator


def _datasets():
    import statsmodels.api as sm

    Xd, yd = load_diabetes(return_X_y=True)
    fair = sm.datasets.fair.load_pandas().data
    Xf = fair.drop(columns="affairs").to_numpy(float)
    return {
        "diabetes (442 x 10), alpha=2": (StandardScaler().fit_transform(Xd), yd.astype(float), 2.0),
        "fair (6366 x 8), alpha=0.02": (StandardScaler().fit_transform(Xf), fair["affairs"].to_numpy(float), 0.02),
    }


def main():
    import torch
    from randalo import RandALO

    mse = lambda y, yh: torch.mean((y - yh) ** 2).item()  # noqa: E731
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (X, y, alpha) in _datasets().items():
            n = len(y)
            model = Lasso(alpha=alpha, tol=1e-12, max_iter=10**6)

            t = time.perf_counter()
            brute = np.empty(n)
            for i in range(n):
                keep = np.arange(n) != i
                brute[i] = Lasso(alpha=alpha, tol=1e-12, max_iter=10**6).fit(X[keep], y[keep]).predict(X[i : i + 1])[0]
            t_brute = time.perf_counter() - t
            risk = np.mean((y - brute) ** 2)

            t = time.perf_counter()
            est = InfluenceEstimator(model).fit(X, y)
            loo = est.loo_predict()
            t_skrif = time.perf_counter() - t
            flags = est._fitted_removal().changing_rows("rif")
            err = np.abs(loo - brute) / np.maximum(np.abs(brute - est.predict(X)), 1e-12)

            t = time.perf_counter()
            fitted = Lasso(alpha=alpha, tol=1e-12, max_iter=10**6).fit(X, y)
            ra = RandALO.from_sklearn(fitted, X, y)
            alo = ra.evaluate_alo(mse)
            t_alo = time.perf_counter() - t
            t = time.perf_counter()
            rand = ra.evaluate(mse)
            t_rand = time.perf_counter() - t

            support = int(np.sum(fitted.coef_ != 0))
            print(f"{name}: support {support}/{X.shape[1]}")
            print(f"  brute force   LOO MSE {risk:.6g}  ({t_brute:.2f} s, {n} refits)")
            for label, value, secs in (
                ("skrif RIF", np.mean((y - loo) ** 2), t_skrif),
                ("randalo ALO", alo, t_alo),
                ("randalo rand.", rand, t_rand),
            ):
                print(f"  {label:13s} LOO MSE {value:.6g}  relative error {abs(value - risk) / risk:.2e}  ({secs:.2f} s)")
            kept = ~flags
            print(f"  skrif per row: {flags.sum()} of {n} rows flagged (removal changes the support); "
                  f"max relative error of the LOO change {err[kept].max() if kept.any() else float('nan'):.1e} "
                  f"on the others, {err[flags].max() if flags.any() else float('nan'):.1e} on the flagged")


if __name__ == "__main__":
    main()
