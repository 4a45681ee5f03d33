"""Dask quickstart: fit, attribute and refit a logistic model on a row-chunked dask array.

A LocalCluster with two workers; 200,000 × 50 rows generated blockwise from seeds
(never in the client's memory). The distributed fit is compared with scikit-learn's
in-memory fit on the same data, then the most self-influential rows are removed by
an exact distributed refit.
"""

import numpy as np
import dask.array as da
from distributed import Client, LocalCluster
from sklearn.linear_model import LogisticRegression

from skrif import InfluenceEstimator


def main(n=200_000, p=50):
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster):
        X = da.random.default_rng(0).standard_normal((n, p), chunks=(20_000, p))
        w = np.linspace(-1, 1, p)
        noise = da.random.default_rng(1).logistic(size=n, chunks=20_000)
        y = ((X @ w + noise) > 0).astype(int)

        est = InfluenceEstimator(LogisticRegression(C=1.0)).fit(X, y)
        sk = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12).fit(X.compute(), y.compute())
        gap = np.abs(est.estimator_.coef_ - sk.coef_).max() / np.abs(sk.coef_).max()
        print(f"distributed Newton: {est.estimator_.n_iter_[0]} steps; max relative "
              f"difference to scikit-learn's fit: {gap:.1e}")

        lev = est.leverages_                      # lazy, chunked like X
        loss_change = est.self_influence()        # lazy
        print(f"max leverage {float(lev.max().compute()):.2e}")
        rows = np.sort(np.asarray(da.argtopk(loss_change, 20).compute()))
        rif = est.influence(rows, method="rif")
        refit = est.influence(rows, method="refit")
        err = np.abs(rif.coef - refit.coef).max() / np.abs(refit.coef).max()
        print(f"removing the 20 most self-influential rows: RIF vs exact refit, "
              f"max relative error {err:.1e}")
        proba = est.predict_proba(X)              # lazy dask array
        print("predict_proba:", type(proba).__name__, proba.chunks[0][:3], "...")


if __name__ == "__main__":
    main()
