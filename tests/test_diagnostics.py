"""Regression diagnostics against statsmodels (live) and R's published formulas.

The R reference values are computed here from R's definitions in
``src/library/stats/R/lm.influence.R`` (``lm.influence``, ``influence.measures``,
``rstandard``, ``rstudent``, ``dffits``, ``dfbeta(s)``, ``covratio``,
``cooks.distance``), on a QR factorization of ``√W X`` and a fit by statsmodels —
nothing from skrif.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import f as f_dist
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
    RidgeClassifier,
)

from skrif import InfluenceEstimator
from skrif.exceptions import HighLeverageWarning

sm = pytest.importorskip("statsmodels.api")
from statsmodels.stats.outliers_influence import OLSInfluence  # noqa: E402

RTOL = 1e-8


def max_rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def with_const(X, intercept=True):
    """The model matrix as statsmodels sees it, named as skrif names coefficients."""
    names = [f"x{j}" for j in range(X.shape[1])]
    if intercept:
        X, names = np.column_stack([X, np.ones(len(X))]), names + ["intercept"]
    return pd.DataFrame(X, columns=names)


def data(n=60, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X @ np.linspace(1.0, -1.0, p) + rng.normal(size=n)
    y[5] += 6.0  # an outlier
    X[11] *= 4.0  # a high-leverage row
    return rng, X, y


# -- R's formulas, implemented independently -----------------------------------------
def r_influence_measures(Xc, y, mu, w, family):
    """R's influence(), influence.measures(), rstandard(), rstudent() for lm / glm.

    ``family`` is "lm", "binomial" or "poisson"; ``mu`` the fitted means; ``w`` prior
    weights; ``Xc`` the model matrix (with its constant column).
    """
    Xc, y, mu = (np.asarray(a, dtype=float) for a in (Xc, y, mu))
    if family == "lm":
        V, W = np.ones_like(mu), w
        dev_unit = (y - mu) ** 2
    elif family == "binomial":
        V = mu * (1 - mu)
        W = w * V
        dev_unit = -2 * (y * np.log(mu) + (1 - y) * np.log(1 - mu))
    else:
        V = mu
        W = w * mu
        with np.errstate(divide="ignore", invalid="ignore"):
            ylog = np.where(y > 0, y * np.log(y / mu), 0.0)
        dev_unit = 2 * (ylog - (y - mu))
    e = np.sign(y - mu) * np.sqrt(w * dev_unit)  # weighted.residuals = deviance residuals
    pear = np.sqrt(w) * (y - mu) / np.sqrt(V)
    Q, R = np.linalg.qr(np.sqrt(W)[:, None] * Xc)
    n, p = Xc.shape
    h = np.sum(Q**2, axis=1)
    sigma = np.sqrt((np.sum(e**2) - e**2 / (1 - h)) / (n - p - 1))  # lminfl
    invRQtt = np.linalg.solve(R, Q.T).T
    coef = invRQtt * (e / (1 - h))[:, None]  # lm.influence()$coefficients
    xxi = np.linalg.inv(R.T @ R)
    dfbetas = coef / np.outer(sigma, np.sqrt(np.diag(xxi)))
    dffits = e * np.sqrt(h) / (sigma * (1 - h))
    s = np.sqrt(np.sum(e**2) / (n - p))
    cov_r = (sigma / s) ** (2 * p) / (1 - h)
    if family == "lm":
        cooks = (e / (s * (1 - h))) ** 2 * h / p
        rstandard = e / (s * np.sqrt(1 - h))
        rstandard_pearson = rstandard
        rstudent = e / (sigma * np.sqrt(1 - h))
    else:
        disp = 1.0
        cooks = (pear / (1 - h)) ** 2 * h / (disp * p)
        rstandard = e / np.sqrt(disp * (1 - h))
        rstandard_pearson = pear / np.sqrt(disp * (1 - h))
        rstudent = np.sign(e) * np.sqrt(e**2 + h * pear**2 / (1 - h))
    k, m = p, int(np.sum(h > 0))
    is_inf = {
        "dfb": np.abs(dfbetas) > 1,
        "dffit": np.abs(dffits) > 3 * np.sqrt(k / (m - k)),
        "cov.r": np.abs(1 - cov_r) > 3 * k / (m - k),
        "cook.d": f_dist.cdf(cooks, k, m - k) > 0.5,
        "hat": h > 3 * k / m,
    }
    return {
        "hat": h, "coefficients": coef, "dfbetas": dfbetas, "dffit": dffits,
        "cov.r": cov_r, "cook.d": cooks, "rstandard": rstandard,
        "rstandard_pearson": rstandard_pearson, "rstudent": rstudent,
        "dev.res": e, "pear.res": pear, "is.inf": is_inf,
    }


def check_against_r(table, ref, names, glm):
    assert max_rel(table["hat_diag"], ref["hat"]) < RTOL
    assert max_rel(table["cooks_d"], ref["cook.d"]) < RTOL
    assert max_rel(table["student_resid"], ref["rstudent"]) < RTOL
    assert max_rel(table["dffits"], ref["dffit"]) < RTOL
    assert max_rel(table["covratio"], ref["cov.r"]) < RTOL
    assert max_rel(table["standard_resid"], ref["rstandard_pearson"]) < RTOL
    assert max_rel(table["standard_resid_deviance"], ref["rstandard"]) < RTOL
    assert max_rel(table["resid_deviance"], ref["dev.res"]) < RTOL
    assert max_rel(table["resid_pearson"], ref["pear.res"]) < RTOL
    dfbeta = table[[f"dfbeta_{c}" for c in names]].to_numpy()
    if glm:
        # Documented difference: R's dfbeta.glm uses the deviance residual where the
        # one-step change (statsmodels, skrif) uses the Pearson residual.
        dfbeta = dfbeta * (ref["dev.res"] / ref["pear.res"])[:, None]
    assert max_rel(dfbeta, ref["coefficients"]) < RTOL
    flags = {"dffit": "inf_dffits", "cov.r": "inf_covratio", "cook.d": "inf_cooks_d",
             "hat": "inf_hat"}
    for r_name, name in flags.items():
        np.testing.assert_array_equal(table[name].to_numpy(), ref["is.inf"][r_name])
    if not glm:
        dfb = table[[f"dfb_{c}" for c in names]].to_numpy()
        assert max_rel(dfb, ref["dfbetas"]) < RTOL
        inf_dfb = table[[f"inf_dfb_{c}" for c in names]].to_numpy()
        np.testing.assert_array_equal(inf_dfb, ref["is.inf"]["dfb"])
        expected_any = np.any(inf_dfb, axis=1) | np.any(
            [ref["is.inf"][r] for r in flags], axis=0
        )
        np.testing.assert_array_equal(table["influential"].to_numpy(), expected_any)
    # The flags are not vacuous on these data.
    assert table["influential"].any() and not table["influential"].all()


# -- least squares ---------------------------------------------------------------
@pytest.mark.parametrize("intercept", [True, False])
def test_ols_matches_statsmodels_and_r(intercept):
    _, X, y = data()
    est = InfluenceEstimator(LinearRegression(fit_intercept=intercept)).fit(X, y)
    table = est.diagnostics()
    Xc = with_const(X, intercept)
    res = sm.OLS(y, Xc).fit()
    infl = OLSInfluence(res)
    frame = infl.summary_frame()
    assert list(frame.columns) == list(table.columns[: len(frame.columns)])
    for column in frame.columns:
        assert max_rel(table[column], frame[column]) < RTOL, column
    assert max_rel(table["covratio"], infl.cov_ratio) < RTOL
    names = [f"x{j}" for j in range(3)] + (["intercept"] if intercept else [])
    assert max_rel(table[[f"dfbeta_{c}" for c in names]], infl.dfbeta) < RTOL
    ref = r_influence_measures(Xc, y, res.fittedvalues, np.ones(len(y)), "lm")
    check_against_r(table, ref, names, glm=False)


def test_weighted_least_squares_matches_r_and_statsmodels():
    rng, X, y = data()
    w = rng.uniform(0.3, 3.0, size=len(y))
    table = InfluenceEstimator(LinearRegression()).fit(X, y, sample_weight=w).diagnostics()
    Xc = with_const(X)
    # R's lm(weights=w) is OLS on √w-scaled rows (statsmodels' OLSInfluence applied
    # to a WLS result ignores the weights in its hat matrix, so use the scaled OLS).
    root = np.sqrt(w)
    res = sm.OLS(root * y, Xc.mul(root, axis=0)).fit()
    frame = OLSInfluence(res).summary_frame()
    for column in frame.columns:
        assert max_rel(table[column], frame[column]) < RTOL, column
    fitted = Xc.to_numpy() @ sm.WLS(y, Xc, weights=w).fit().params.to_numpy()
    ref = r_influence_measures(Xc, y, fitted, w, "lm")
    check_against_r(table, ref, ["x0", "x1", "x2", "intercept"], glm=False)


# -- GLMs ------------------------------------------------------------------------
def _glm_case(kind):
    rng, X, _ = data()
    if kind == "binomial":
        y = (X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=len(X)) > 0).astype(float)
        model = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12)
        family = sm.families.Binomial()
    else:
        y = rng.poisson(np.exp(0.3 + 0.4 * X[:, 0])).astype(float)
        model = PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12)
        family = sm.families.Poisson()
    return X, y, model, family


@pytest.mark.parametrize("kind", ["binomial", "poisson"])
def test_glm_matches_statsmodels_and_r(kind):
    X, y, model, family = _glm_case(kind)
    table = InfluenceEstimator(model).fit(X, y).diagnostics()
    Xc = with_const(X)
    res = sm.GLM(y, Xc, family=family).fit(tol=1e-14)
    frame = res.get_influence().summary_frame()
    for column in frame.columns:
        assert max_rel(table[column], frame[column]) < RTOL, column
    assert max_rel(table["resid_response"], res.resid_response) < RTOL
    ref = r_influence_measures(Xc, y, res.mu, np.ones(len(y)), kind)
    check_against_r(table, ref, ["x0", "x1", "x2", "intercept"], glm=True)


# -- penalised models --------------------------------------------------------------
def test_ridge_dfbeta_and_cooks_are_exact_leave_one_out():
    rng, X, y = data(n=40)
    alpha = 3.0
    est = InfluenceEstimator(Ridge(alpha=alpha)).fit(X, y)
    table = est.diagnostics()
    full = Ridge(alpha=alpha, solver="cholesky").fit(X, y)
    theta = np.append(full.coef_, full.intercept_)
    Xc = with_const(X)
    P = np.diag([1.0, 1.0, 1.0, 0.0])
    G = Xc.T @ Xc + alpha * P
    hat = np.einsum("ij,ji->i", Xc, np.linalg.solve(G, Xc.T))
    p_eff = hat.sum()
    phi = np.sum((y - full.predict(X)) ** 2) / (len(y) - p_eff)
    dfbeta = np.empty((len(y), 4))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        loo = Ridge(alpha=alpha, solver="cholesky").fit(X[keep], y[keep])
        dfbeta[i] = theta - np.append(loo.coef_, loo.intercept_)
    names = ["x0", "x1", "x2", "intercept"]
    assert max_rel(table[[f"dfbeta_{c}" for c in names]], dfbeta) < 1e-8
    cooks = np.einsum("ij,jk,ik->i", dfbeta, G, dfbeta) / (p_eff * phi)
    assert max_rel(table["cooks_d"], cooks) < 1e-8
    assert max_rel(table["hat_diag"], hat) < 1e-10


@pytest.mark.parametrize(
    "penalised, unpenalised, y_kind",
    [
        (Ridge(alpha=1e-9), LinearRegression(), "real"),
        (LogisticRegression(C=1e9, solver="newton-cholesky", tol=1e-12),
         LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12), "binary"),
        (PoissonRegressor(alpha=1e-11, solver="newton-cholesky", tol=1e-12),
         PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12), "count"),
    ],
)
def test_penalised_definition_reduces_to_r_as_penalty_vanishes(penalised, unpenalised, y_kind):
    rng, X, y = data()
    if y_kind == "binary":
        y = (X[:, 0] + rng.normal(size=len(y)) > 0).astype(int)
    elif y_kind == "count":
        y = rng.poisson(np.exp(0.2 * X[:, 0]))
    small = InfluenceEstimator(penalised).fit(X, y).diagnostics()
    exact = InfluenceEstimator(unpenalised).fit(X, y).diagnostics()
    numeric = [c for c in exact.columns if exact[c].dtype != bool]
    for column in numeric:
        np.testing.assert_allclose(small[column], exact[column], rtol=1e-5, atol=1e-9,
                                   err_msg=column)
    # ... and a real penalty changes them (the check above is not vacuous).
    strong = InfluenceEstimator(penalised.set_params(
        **({"alpha": 10.0} if "alpha" in penalised.get_params() else {"C": 0.05})
    )).fit(X, y).diagnostics()
    assert max_rel(strong["cooks_d"], exact["cooks_d"]) > 1e-2
    assert strong["hat_diag"].sum() < exact["hat_diag"].sum() - 0.05


def test_penalised_poisson_dfbeta_is_the_one_step_change_of_the_penalised_objective():
    rng, X, _ = data(n=50)
    y = rng.poisson(np.exp(0.3 * X[:, 0]))
    est = InfluenceEstimator(PoissonRegressor(alpha=0.5, solver="newton-cholesky", tol=1e-12))
    est = est.fit(X, y)
    table = est.diagnostics()
    rif = np.stack([
        np.append(c.coef, c.intercept)
        for c in (est.influence([i], method="rif") for i in range(len(y)))
    ])
    names = ["x0", "x1", "x2", "intercept"]
    np.testing.assert_allclose(table[[f"dfbeta_{c}" for c in names]], -rif, rtol=1e-10)
    # The one-step change is close to exact refits of the penalised model.
    refit = np.stack([
        np.append(c.coef, c.intercept)
        for c in (est.influence([i], method="refit") for i in range(len(y)))
    ])
    assert np.median(np.abs(-rif - (-refit)) / np.abs(refit)) < 0.05


# -- shapes, labels, bad input, edges ----------------------------------------------------
def test_labels_and_columns():
    rng, X, y = data(n=30)
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=[f"r{i}" for i in range(30)])
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(frame, y)
    table = est.diagnostics(columns=["b", "intercept"])
    assert list(table.index) == list(frame.index)
    assert [c for c in table.columns if c.startswith("dfb_")] == ["dfb_b", "dfb_intercept"]
    full = est.diagnostics()
    np.testing.assert_array_equal(table["dfb_b"], full["dfb_b"])
    # Flags use every coefficient whichever are shown.
    np.testing.assert_array_equal(table["inf_hat"], full["inf_hat"])
    assert not any(c.startswith("dfb") for c in est.diagnostics(columns=[]).columns)
    with pytest.raises(ValueError, match=r"unknown coefficients \['zz'\]"):
        est.diagnostics(columns=["a", "zz"])
    with pytest.raises(ValueError, match="list of coefficient names"):
        est.diagnostics(columns="a")
    with pytest.raises(ValueError, match="more than once"):
        est.diagnostics(columns=["a", "a"])


def test_multi_output_gives_one_table_per_output():
    rng, X, y = data(n=40)
    Y = np.column_stack([y, X[:, 1] + rng.normal(size=40)])
    table = InfluenceEstimator(Ridge(alpha=2.0)).fit(X, Y).diagnostics()
    assert table.columns.nlevels == 2 and list(table.columns.levels[0]) == [0, 1]
    for k in range(2):
        single = InfluenceEstimator(Ridge(alpha=2.0)).fit(X, Y[:, k]).diagnostics()
        for column in ("cooks_d", "student_resid", "dfb_x1", "covratio"):
            np.testing.assert_allclose(table[k][column], single[column], rtol=1e-10)


def test_ridge_classifier_multiclass_tables_by_class():
    rng, X, _ = data(n=45)
    y = np.repeat(["a", "b", "c"], 15)
    table = InfluenceEstimator(RidgeClassifier(alpha=1.0)).fit(X, y).diagnostics()
    assert list(table.columns.levels[0]) == ["a", "b", "c"]
    assert np.all(np.isfinite(table["b"]["cooks_d"]))


def test_multinomial_is_refused():
    rng, X, _ = data(n=45)
    y = np.repeat([0, 1, 2], 15)
    est = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-10)).fit(X, y)
    with pytest.raises(ValueError, match="multinomial"):
        est.diagnostics()


def test_leverage_one_rows_are_nan_with_one_warning():
    rng, X, y = data(n=30)
    X = np.column_stack([X, np.zeros(30)])
    X[4, 3] = 1.0  # a column only row 4 has: h_4 = 1
    with pytest.warns(HighLeverageWarning):
        est = InfluenceEstimator(LinearRegression()).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = est.diagnostics()
    leverage = [w for w in caught if issubclass(w.category, HighLeverageWarning)]
    assert len(leverage) == 1 and "[4]" in str(leverage[0].message)
    assert len(caught) == 1
    assert table.loc[4, "hat_diag"] == pytest.approx(1.0)
    for column in ("cooks_d", "student_resid", "dffits", "covratio", "dfb_x0"):
        assert np.isnan(table.loc[4, column])
        assert np.all(np.isfinite(table[column].drop(index=4)))
    assert not table.loc[4, "inf_cooks_d"]


def test_zero_weight_rows_are_not_part_of_the_fit():
    rng, X, y = data()
    w = np.ones(len(y))
    w[[3, 8]] = 0.0
    table = InfluenceEstimator(LinearRegression()).fit(X, y, sample_weight=w).diagnostics()
    keep = w > 0
    dropped = InfluenceEstimator(LinearRegression()).fit(X[keep], y[keep]).diagnostics()
    assert table.loc[[3, 8], "cooks_d"].isna().all()
    np.testing.assert_allclose(table["student_resid"][keep], dropped["student_resid"],
                               rtol=1e-10)
    np.testing.assert_allclose(table["dfb_x0"][keep], dropped["dfb_x0"], rtol=1e-9)


def test_too_few_rows_is_refused():
    X = np.arange(6.0).reshape(3, 2) ** [1, 2]
    est = InfluenceEstimator(Ridge(alpha=1e-3)).fit(X, [1.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="degrees of freedom"):
        est.diagnostics()


def test_sparse_input_and_other_models_give_the_dense_table():
    import scipy.sparse as sparse
    from sklearn.linear_model import GammaRegressor, SGDRegressor

    rng, X, y = data(n=40)
    X[np.abs(X) < 0.5] = 0.0
    dense = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y).diagnostics()
    sparse_table = InfluenceEstimator(Ridge(alpha=1.0)).fit(sparse.csr_matrix(X), y).diagnostics()
    pd.testing.assert_frame_equal(dense, sparse_table, rtol=1e-9)
    # Mean-form models (penalty shares): DFBETA is minus the exact one-row Newton step.
    yg = np.exp(0.2 * X[:, 0]) * rng.gamma(5.0, 0.2, size=40)
    for model in (GammaRegressor(alpha=0.1, solver="newton-cholesky", tol=1e-12),
                  SGDRegressor(alpha=0.01, max_iter=5, tol=None, random_state=0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SGD's OptimalityWarning (polished)
            est = InfluenceEstimator(model).fit(X, yg)
        table = est.diagnostics()
        numeric = table.select_dtypes("number")
        assert np.all(np.isfinite(numeric.to_numpy()))
        rif = np.stack([np.append(c.coef, c.intercept)
                        for c in (est.influence([i]) for i in range(40))])
        np.testing.assert_allclose(
            table[["dfbeta_x0", "dfbeta_x1", "dfbeta_x2", "dfbeta_intercept"]], -rif,
            rtol=1e-9, atol=1e-14,
        )
