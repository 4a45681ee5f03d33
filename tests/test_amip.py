"""Robustness audit beyond the sign: significance flips with statsmodels' standard
errors, group removal, the AMIP summary and the certificates.

Ground truth is statsmodels (``OLS/WLS/GLM(...).fit(cov_type=...)``) refitted on the
kept rows, exhaustive search over small problems, and exact refits.
"""

import itertools
import warnings

import numpy as np
import pytest
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
)

from skrif import InfluenceEstimator
from skrif._features.robust_se import CoefficientFit
from skrif._utils.groups import check_groups

sm = pytest.importorskip("statsmodels.api")


def ols():
    return LinearRegression()


def logit():
    return LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12)


def poisson():
    return PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12, max_iter=500)


def make_data(family, n, seed, coef=(0.35, 0.2, -0.1)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    eta = X @ np.asarray(coef)
    if family == "gaussian":
        y = eta + rng.normal(size=n) * (1.0 + 0.5 * np.abs(X[:, 1]))
    elif family == "binomial":
        y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(0.8 + 2.0 * eta)))).astype(int)
    else:
        y = rng.poisson(np.exp(0.3 + eta)).astype(float)
    return X, y


MODELS = {"gaussian": ols, "binomial": logit, "poisson": poisson}


def statsmodels_fit(family, X, y, cov_type, groups=None, weights=None, use_t=None):
    Xc = np.column_stack([X, np.ones(len(X))])  # skrif's intercept is the last parameter
    kw = {"cov_type": cov_type, "use_t": use_t}
    if cov_type == "cluster":
        kw["cov_kwds"] = {"groups": groups}
    with warnings.catch_warnings():
        # statsmodels notes that var_weights with robust covariances are "not fully
        # supported"; the formulas it uses are the documented sandwich ones.
        warnings.simplefilter("ignore")
        if family == "gaussian":
            if weights is None:
                return sm.OLS(y, Xc).fit(**kw)
            return sm.WLS(y, Xc, weights=weights).fit(**kw)
        fam = sm.families.Binomial() if family == "binomial" else sm.families.Poisson()
        return sm.GLM(y, Xc, family=fam, var_weights=weights).fit(tol=1e-14, maxiter=200, **kw)


def assert_matches_statsmodels(result, family, X, y, j, cov_type, groups=None, weights=None,
                               use_t=None, unit="rows"):
    keep = np.setdiff1d(np.arange(len(y)), result.rows)
    g = None if groups is None else np.asarray(groups)[keep]
    w = None if weights is None else weights[keep]
    ref = statsmodels_fit(family, X[keep], y[keep], cov_type, g, w, use_t)
    assert result.estimate == pytest.approx(ref.params[j], rel=1e-8, abs=1e-10)
    assert result.se == pytest.approx(ref.bse[j], rel=1e-8)
    assert result.p_value == pytest.approx(ref.pvalues[j], rel=1e-7, abs=1e-12)
    t = result.estimate / result.se
    assert t == pytest.approx(ref.tvalues[j], rel=1e-8)
    full = statsmodels_fit(family, X, y, cov_type, groups, weights, use_t)
    assert result.initial_se == pytest.approx(full.bse[j], rel=1e-8)
    assert result.initial_p_value == pytest.approx(full.pvalues[j], rel=1e-7, abs=1e-12)
    return ref, full


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"])
def test_significance_flip_verified_by_statsmodels(family, cov_type):
    n = 150 if family != "binomial" else 220
    X, y = make_data(family, n, seed=3)
    groups = np.arange(n) % 30
    est = InfluenceEstimator(MODELS[family]()).fit(X, y)
    kw = {"groups": groups} if cov_type == "cluster" else {}
    result = est.removal_to_flip(coef=0, conclusion="significance", cov_type=cov_type,
                                 max_fraction=0.3, **kw)
    assert result.flipped, result.message
    ref, full = assert_matches_statsmodels(result, family, X, y, 0, cov_type, groups)
    assert full.pvalues[0] < 0.05 <= ref.pvalues[0]
    assert result.conclusion == "significance" and result.cov_type == cov_type
    assert 0 < result.n_removed <= result.cap and result.fraction == result.n_removed / n


@pytest.mark.parametrize("family", ["gaussian", "poisson"])
@pytest.mark.parametrize("use_t", [True, False])
def test_opposite_significance_with_t_or_normal(family, use_t):
    n = 120
    X, y = make_data(family, n, seed=11, coef=(0.12, 0.2, -0.1))
    est = InfluenceEstimator(MODELS[family]()).fit(X, y)
    cov_type = "cluster"
    groups = np.arange(n) // 4
    result = est.removal_to_flip(coef=0, conclusion="opposite_significance", cov_type=cov_type,
                                 groups=groups, use_t=use_t, max_fraction=0.4)
    assert result.flipped, result.message
    ref, _ = assert_matches_statsmodels(result, family, X, y, 0, cov_type, groups, use_t=use_t)
    assert np.sign(ref.params[0]) != np.sign(result.initial) and ref.pvalues[0] < 0.05
    if use_t:  # statsmodels uses G - 1 degrees of freedom for clusters
        kept = np.setdiff1d(np.arange(n), result.rows)
        assert ref.df_resid_inference == len(np.unique(groups[kept])) - 1


def test_wls_sample_weights_match_statsmodels_wls():
    n = 140
    X, y = make_data("gaussian", n, seed=5, coef=(0.5, 0.2, -0.1))
    w = np.random.default_rng(0).uniform(0.3, 3.0, size=n)
    est = InfluenceEstimator(ols()).fit(X, y, sample_weight=w)
    for cov_type in ["nonrobust", "HC1", "HC3"]:
        result = est.removal_to_flip(coef=0, conclusion="significance", cov_type=cov_type,
                                     max_fraction=0.3)
        assert result.flipped
        assert_matches_statsmodels(result, "gaussian", X, y, 0, cov_type, weights=w)


def test_sign_default_keeps_historic_search_and_adds_inference():
    X, y = make_data("gaussian", 80, seed=2, coef=(0.1, 0.3, 0.0))
    est = InfluenceEstimator(ols()).fit(X, y)
    result = est.removal_to_flip(coef=0, cov_type="HC2")
    assert result.flipped and result.conclusion == "sign"
    ref, _ = assert_matches_statsmodels(result, "gaussian", X, y, 0, "HC2")
    assert np.sign(ref.params[0]) != np.sign(result.initial)
    assert result.cap == 8  # max_fraction=0.1 of 80 rows


def test_t_derivative_matches_finite_difference_of_refits():
    """dt/dε_k (one more solve per coefficient) against central differences of exact
    refits with row k's weight scaled, for every covariance."""
    from scipy.special import expit

    X, y = make_data("binomial", 90, seed=7)
    Xt = np.column_stack([X, np.ones(len(y))])
    s = np.ones(len(y))
    clusters = check_groups(np.arange(len(y)) % 9, len(y), removable=False)

    def fit(keep):
        theta = np.zeros(4)
        for _ in range(60):
            mu = expit(Xt @ theta)
            A = (Xt * (keep * mu * (1 - mu))[:, None]).T @ Xt
            step = np.linalg.solve(A, Xt.T @ (keep * (y - mu)))
            theta += step
            if np.linalg.norm(step) < 1e-15:
                break
        return theta

    keep = np.ones(len(y))
    theta = fit(keep)
    for cov_type in ["nonrobust", "HC0", "cluster"]:
        d = CoefficientFit(Xt, y, s, keep, theta, "binomial", cov_type, clusters).t_derivative(0)
        for k in [0, 13, 50]:
            h = 1e-5
            t = []
            for sign in (1, -1):
                kk = keep.copy()
                kk[k] += sign * h
                t.append(CoefficientFit(Xt, y, s, kk, fit(kk), "binomial", cov_type,
                                        clusters).inference(0)[2])
            assert d[k] == pytest.approx((t[0] - t[1]) / (2 * h), rel=1e-5, abs=1e-9)


# -- group removal ---------------------------------------------------------------


def test_group_removal_flips_and_matches_statsmodels_clusters():
    n = 160
    X, y = make_data("poisson", n, seed=9, coef=(0.15, 0.2, -0.1))
    labels = np.array([f"village{i % 32:02d}" for i in range(n)])
    est = InfluenceEstimator(poisson()).fit(X, y)
    result = est.removal_to_flip(coef=0, conclusion="significance", cov_type="cluster",
                                 groups=labels, unit="groups", max_fraction=0.5)
    assert result.flipped and result.unit == "groups"
    assert set(result.groups) == set(labels[result.rows])
    # Whole groups go: every row of every removed group is removed.
    assert np.isin(labels, result.groups).sum() == result.rows.size
    assert result.fraction == len(result.groups) / 32
    assert_matches_statsmodels(result, "poisson", X, y, 0, "cluster", labels)


def test_group_sign_flip_for_penalised_model_by_refit():
    rng = np.random.default_rng(4)
    n = 90
    X = rng.normal(size=(n, 2))
    y = X @ [0.05, 1.0] + rng.normal(size=n)
    groups = np.arange(n) % 15
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    result = est.removal_to_flip(coef=0, groups=groups, unit="groups", max_fraction=0.5)
    assert result.flipped and np.isnan(result.se) and result.cov_type is None
    keep = ~np.isin(groups, result.groups)
    refit = Ridge(alpha=1.0, solver="cholesky").fit(X[keep], y[keep])
    assert np.sign(refit.coef_[0]) != np.sign(est.estimator_.coef_[0])
    assert result.estimate == pytest.approx(refit.coef_[0], abs=1e-9)


def test_groups_mechanism():
    g = check_groups(np.array([3, 1, 3, 2, 1]), 5)
    assert g.labels.tolist() == [1, 2, 3] and g.codes.tolist() == [2, 0, 2, 1, 0]
    assert [m.tolist() for m in g.members] == [[1, 4], [3], [0, 2]]
    assert g.sizes.tolist() == [2, 1, 2] and g.rows([0, 1]).tolist() == [1, 3, 4]
    with pytest.raises(ValueError, match="expected length 5, got 4"):
        check_groups([1, 2, 3, 4], 5)
    with pytest.raises(ValueError, match="missing labels"):
        check_groups(np.array([1.0, np.nan, 2.0]), 3)
    with pytest.raises(ValueError, match="missing labels"):
        check_groups(["a", None, "b"], 3)
    with pytest.raises(ValueError, match="single group"):
        check_groups(["a", "a"], 2)
    with pytest.raises(ValueError, match="one-dimensional"):
        check_groups(np.zeros((3, 2)), 3)
    with pytest.raises(ValueError, match="sortable"):
        check_groups(np.array([1, "a", 2.5], dtype=object), 3)
    with pytest.raises(ValueError, match="Group 0 of groups holds every training row of class 0"):
        check_groups([0, 0, 1, 1], 4, classes=[0, 1, 1, 1])
    assert check_groups([0, 0, 1, 1], 4, classes=[0, 1, 0, 1]).n_groups == 2


# -- exhaustive search: is the greedy set minimal? ---------------------------------


def exhaustive_min(family, X, y, check, k_max):
    n = len(y)
    for k in range(1, k_max + 1):
        for S in itertools.combinations(range(n), k):
            keep = np.setdiff1d(np.arange(n), S)
            try:
                r = statsmodels_fit(family, X[keep], y[keep], "HC1")
            except Exception:  # noqa: BLE001 - a degenerate subset (e.g. singular)
                continue
            if check(r):
                return k
    return None


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_greedy_significance_set_vs_exhaustive_search(seed):
    """On n = 12 OLS problems the verified greedy set is never smaller than the exact
    optimum (it is a real flip) and the certificate, exact enumeration here, agrees
    with an independent exhaustive statsmodels search."""
    rng = np.random.default_rng(100 + seed)
    n = 12
    X = rng.normal(size=(n, 2))
    y = X @ [1.2, 0.3] + rng.normal(size=n)
    est = InfluenceEstimator(ols()).fit(X, y)
    assert statsmodels_fit("gaussian", X, y, "HC1").pvalues[0] < 0.05
    result = est.removal_to_flip(coef=0, conclusion="significance", cov_type="HC1",
                                 max_fraction=None, max_refits=60)
    assert result.flipped
    assert_matches_statsmodels(result, "gaussian", X, y, 0, "HC1")
    k_opt = exhaustive_min("gaussian", X, y, lambda r: r.pvalues[0] >= 0.05, result.n_removed)
    assert k_opt is not None and k_opt <= result.n_removed
    cert = result.certificate
    assert cert.method in ("enumeration", "trivial")
    assert cert.lower_bound == k_opt
    assert cert.minimal == (k_opt == result.n_removed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_woodbury_sign_bound_is_sound(seed):
    """The sign certificate never exceeds the true minimum (exhaustive search)."""
    rng = np.random.default_rng(200 + seed)
    n = 40
    X = rng.normal(size=(n, 2))
    y = X @ [0.25, 1.0] + rng.normal(size=n)
    est = InfluenceEstimator(ols()).fit(X, y)
    result = est.removal_to_flip(coef=0, max_fraction=None, max_refits=30)
    assert result.flipped
    cert = result.certificate
    assert cert.lower_bound is not None and cert.lower_bound <= result.n_removed
    Xc = np.column_stack([X, np.ones(n)])
    b0 = np.linalg.lstsq(Xc, y, rcond=None)[0][0]
    # No set below the bound flips: check every set of size < bound (few here).
    for k in range(1, min(cert.lower_bound, 3)):
        for S in itertools.combinations(range(n), k):
            keep = np.setdiff1d(np.arange(n), S)
            b = np.linalg.lstsq(Xc[keep], y[keep], rcond=None)[0][0]
            assert np.sign(b) == np.sign(b0)


# -- the AMIP summary --------------------------------------------------------------


def test_amip_summary_with_index_labels():
    pd = pytest.importorskip("pandas")
    X, y = make_data("gaussian", 120, seed=1, coef=(0.35, 0.0, -0.3))
    frame = pd.DataFrame(X, columns=["dose", "age", "income"],
                         index=[f"id{i}" for i in range(120)])
    est = InfluenceEstimator(ols()).fit(frame, y)
    summary = est.amip_summary(coef=["dose", "age"], cov_type="HC1")
    table = summary.to_frame()
    assert list(table["coef"]) == ["dose"] * 3 + ["age"] * 3
    assert list(table["conclusion"]) == ["sign", "significance", "both"] * 2
    sig = summary.results[("dose", "significance")]
    assert sig.flipped
    assert summary.labels[("dose", "significance")] == [f"id{i}" for i in sig.rows]
    keep = np.setdiff1d(np.arange(120), sig.rows)
    ref = statsmodels_fit("gaussian", X[keep], y[keep], "HC1")
    assert ref.pvalues[0] >= 0.05
    assert sig.p_value == pytest.approx(ref.pvalues[0], rel=1e-7)
    # "age" is not significant: no significance to lose, said so.
    full = statsmodels_fit("gaussian", X, y, "HC1")
    if full.pvalues[1] >= 0.05:
        assert summary.results[("age", "significance")] is None
        assert "not significant" in summary.reasons[("age", "significance")]
    assert "AMIP summary" in repr(summary)


def test_cap_reports_not_flipped():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = X @ [2.0, 0.0] + 0.3 * rng.normal(size=200)
    est = InfluenceEstimator(ols()).fit(X, y)
    result = est.removal_to_flip(coef=0, conclusion="significance", max_fraction=0.05)
    assert not result.flipped and result.cap == 10
    assert "not flipped within the cap of 10" in result.message
    keep = np.setdiff1d(np.arange(200), result.rows)
    assert result.rows.size <= 10
    assert result.p_value == pytest.approx(
        statsmodels_fit("gaussian", X[keep], y[keep], "nonrobust").pvalues[0], rel=1e-7,
        abs=1e-300,
    )


# -- bad input ---------------------------------------------------------------------


def test_bad_input_messages():
    pd = pytest.importorskip("pandas")
    X, y = make_data("gaussian", 60, seed=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = InfluenceEstimator(ols()).fit(frame, y)
    with pytest.raises(ValueError, match="'zz' is not a feature name; the features are"):
        est.removal_to_flip(coef="zz")
    for alpha in (0, 1, 1.5, -0.1, True):
        with pytest.raises(ValueError, match="alpha must be a number strictly between 0 and 1"):
            est.removal_to_flip(coef=0, conclusion="significance", alpha=alpha)
    with pytest.raises(ValueError, match="expected length 60, got 59"):
        est.removal_to_flip(coef=0, conclusion="significance", cov_type="cluster",
                            groups=np.arange(59) % 5)
    with pytest.raises(ValueError, match="needs cluster labels"):
        est.removal_to_flip(coef=0, conclusion="significance", cov_type="cluster")
    with pytest.raises(ValueError, match="cov_type must be one of"):
        est.removal_to_flip(coef=0, conclusion="significance", cov_type="HC4")
    with pytest.raises(ValueError, match="conclusion must be one of"):
        est.removal_to_flip(coef=0, conclusion="significant")
    with pytest.raises(ValueError, match="groups= is given but unused"):
        est.removal_to_flip(coef=0, groups=np.arange(60) % 3)
    with pytest.raises(ValueError, match="max_fraction must be a number"):
        est.removal_to_flip(coef=0, max_fraction=1.5)
    with pytest.raises(ValueError, match="apply to a coefficient"):
        est.removal_to_flip(frame.iloc[:1], conclusion="significance")
    # A conclusion already false at the full data is said so, not "flipped with 0 rows".
    yn = np.random.default_rng(1).normal(size=60)
    flat = InfluenceEstimator(ols()).fit(X, yn)
    p = statsmodels_fit("gaussian", X, yn, "nonrobust").pvalues[1]
    assert p >= 0.05
    with pytest.raises(ValueError, match=r"coef\[1\] is not significant at alpha=0.05 on "
                                         r"the full data \(p = "):
        flat.removal_to_flip(coef=1, conclusion="significance")
    # Penalised models: sign and prediction flips only, with the reason.
    ridge = InfluenceEstimator(Ridge()).fit(X, y)
    with pytest.raises(ValueError, match=r"penalised \(Ridge\).*Sign and prediction flips"):
        ridge.removal_to_flip(coef=0, conclusion="significance")
    with pytest.raises(ValueError, match="penalised"):
        ridge.removal_to_flip(coef=0, cov_type="HC1")
    lr = InfluenceEstimator(LogisticRegression(tol=1e-12, solver="newton-cholesky"))
    lr = lr.fit(X, (y > 0).astype(int))
    with pytest.raises(ValueError, match="C=np.inf"):
        lr.removal_to_flip(coef=0, conclusion="significance")


# -- edges -----------------------------------------------------------------------


def test_leverage_one_row_makes_hc3_undefined():
    rng = np.random.default_rng(0)
    n = 30
    X = np.column_stack([rng.normal(size=n), np.zeros(n)])
    X[4, 1] = 1.0  # a dummy set for one row only: its leverage is 1
    y = X[:, 0] + rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # HighLeverageWarning from fit, asserted elsewhere
        est = InfluenceEstimator(ols()).fit(X, y)
    with pytest.raises(ValueError, match="leverage 1: HC3 is undefined"):
        est.removal_to_flip(coef=0, conclusion="significance", cov_type="HC3")


def test_logistic_rare_class_removal_keeps_both_classes():
    """Few positives: sets that would remove a whole class cannot be refitted; the
    search sets them aside and every reported number is a statsmodels refit."""
    rng = np.random.default_rng(3)
    n = 120
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.4 * rng.normal(size=n) > 1.6).astype(int)
    assert 3 <= y.sum() <= 15
    est = InfluenceEstimator(logit()).fit(X, y)
    result = est.removal_to_flip(coef=0, conclusion="significance", max_fraction=0.2)
    keep = np.setdiff1d(np.arange(n), result.rows)
    assert 0 < y[keep].sum() < keep.size
    if result.flipped:
        assert_matches_statsmodels(result, "binomial", X, y, 0, "nonrobust")
    else:
        assert "not flipped" in result.message.lower()


def test_group_removal_of_one_hot_level():
    """Groups = the levels of a one-hot feature, the x-effect carried by level 1:
    removing level 1 or 2 leaves its column all zero (not identified), so those
    refits fail and the groups are set aside; the flip found instead is verified."""
    rng = np.random.default_rng(1)
    n = 120
    level = np.arange(n) % 6
    onehot = (level[:, None] == np.arange(1, 3)[None, :]).astype(float)  # levels 1, 2
    x = rng.normal(size=n)
    X = np.column_stack([x, onehot])
    y = 0.1 * x + 1.5 * x * (level == 1) + onehot @ [0.5, -0.5] + rng.normal(size=n)
    est = InfluenceEstimator(ols()).fit(X, y)
    result = est.removal_to_flip(coef=0, conclusion="significance", cov_type="HC1",
                                 groups=level, unit="groups", max_fraction=0.5)
    assert result.flipped
    assert 1 not in result.groups and 2 not in result.groups
    assert result.n_refits > len(result.groups)  # the failed refits were tried first
    assert_matches_statsmodels(result, "gaussian", X, y, 0, "HC1")


def test_significance_search_recovers_from_jumping_over_the_band():
    """Two far outliers make a negative slope significantly positive. The first
    predicted batch overshoots past the non-significant band (|t| < t*) into the
    opposite significance; the search must move back rather than stop or push on.
    The optimum (the 2 outliers, p = 0.117; no single row suffices) is checked with
    statsmodels."""
    rng = np.random.default_rng(1)
    n = 300
    x = rng.normal(size=n)
    y = -0.2 * x + rng.normal(size=n)
    x[:2], y[:2] = [25.0, 26.0], [60.0, 64.0]
    X = x[:, None]
    est = InfluenceEstimator(ols()).fit(X, y)
    result = est.removal_to_flip(coef=0, conclusion="significance")
    assert result.flipped and sorted(result.rows.tolist()) == [0, 1]
    assert_matches_statsmodels(result, "gaussian", X, y, 0, "nonrobust")
    Xc = np.column_stack([X, np.ones(n)])
    for i in range(n):  # no single row removes significance
        keep = np.arange(n) != i
        assert sm.OLS(y[keep], Xc[keep]).fit().pvalues[0] < 0.05


def test_amip_summary_penalised_model_has_sign_only():
    X, y = make_data("gaussian", 80, seed=4, coef=(0.1, 0.4, 0.0))
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    summary = est.amip_summary(coef=[0, 1], max_fraction=0.2)
    assert set(summary.results) == {("x0", "sign"), ("x1", "sign")}
    r = summary.results[("x0", "sign")]
    if r.flipped:
        keep = np.setdiff1d(np.arange(80), r.rows)
        refit = Ridge(alpha=1.0, solver="cholesky").fit(X[keep], y[keep])
        assert np.sign(refit.coef_[0]) != np.sign(est.estimator_.coef_[0])
        assert r.estimate == pytest.approx(refit.coef_[0], abs=1e-9)
    assert [row["conclusion"] for row in summary.table()] == ["sign", "sign"]


def test_prediction_flip_by_groups_verified_by_refit():
    rng = np.random.default_rng(0)
    n = 120
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    groups = np.arange(n) % 24
    model = LogisticRegression(solver="newton-cholesky", tol=1e-12)
    est = InfluenceEstimator(model).fit(X, y)
    x = np.array([[0.15, 0.0]])
    result = est.removal_to_flip(x, groups=groups, unit="groups", max_fraction=0.5)
    assert result.flipped and result.unit == "groups"
    keep = ~np.isin(groups, result.groups)
    refit = model.fit(X[keep], y[keep])
    assert refit.predict(x)[0] != est.predict(x)[0]
    assert result.estimate == pytest.approx(refit.decision_function(x)[0], abs=1e-7)
