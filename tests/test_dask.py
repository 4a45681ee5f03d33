"""skrif on Dask: a real distributed LocalCluster, compared with in-memory skrif and sklearn.

Ground truth: tightly converged scikit-learn fits and refits (newton-cholesky at
tol=1e-15, Ridge's Cholesky solver) and the in-memory skrif path on the same data.
Every test here runs on the cluster started by the ``client`` fixture (no mocks).
"""

import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.linear_model import (  # noqa: E402
    GammaRegressor,
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
    Ridge,
)
from sklearn.utils.validation import check_is_fitted  # noqa: E402

from skrif import InfluenceEstimator  # noqa: E402
from skrif.exceptions import (  # noqa: E402
    OptimalityWarning,
    SingularHessianWarning,  # noqa: E402
    UnsupportedModelError,
    VerificationWarning,
)

from .conftest import change_vector, exact_refit, scaled_multinomial_case, theta  # noqa: E402

# Any warning in these tests fails them: the Dask path must not print stray
# warnings (distributed's port and large-graph warnings included).
pytestmark = pytest.mark.filterwarnings("error")

N, P = 2000, 20
CHUNKS = (300, P)


def tight(model):
    """A copy of ``model`` converged to machine precision (ground truth)."""
    if isinstance(model, (LogisticRegression, PoissonRegressor)):
        return type(model)(**{**model.get_params(), "solver": "newton-cholesky", "tol": 1e-15, "max_iter": 1000})
    return clone(model)


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def flat(change):
    return np.concatenate([np.ravel(change.coef), np.ravel(change.intercept)])


def _data():
    rng = np.random.default_rng(0)
    # Column means far from 0: the engine must centre (as the in-memory curvatures).
    X = rng.normal(size=(N, P)) + 5.0
    w = rng.normal(size=P) / 3
    z = (X - 5.0) @ w
    return rng, X, z


def _case(name):
    rng, X, z = _data()
    if name == "binary":
        return LogisticRegression(C=0.5), X, (rng.random(N) < 1 / (1 + np.exp(-z))).astype(int)
    if name == "multinomial":
        return LogisticRegression(C=0.5), X, np.digitize(z + rng.normal(size=N), [-0.5, 0.5])
    if name == "ridge":
        return Ridge(alpha=3.0), X, np.column_stack([z + rng.normal(size=N), 2 - z])
    if name == "ols":
        return LinearRegression(), X, z + rng.normal(size=N)
    return PoissonRegressor(alpha=0.01), X, rng.poisson(np.exp(z / 2))


_CACHE = {}


@pytest.fixture(params=["binary", "multinomial", "ridge", "ols", "poisson"])
def fitted(request, client):
    """(name, in-memory skrif, Dask skrif, X, y) for one model family (cached)."""
    name = request.param
    if name not in _CACHE:
        model, X, y = _case(name)
        model = tight(model)
        mem = InfluenceEstimator(model).fit(X, y)
        dsk = InfluenceEstimator(model).fit(da.from_array(X, chunks=CHUNKS), y)
        _CACHE[name] = (name, mem, dsk, X, y)
    return _CACHE[name]


def test_import_skrif_does_not_import_dask():
    code = "import sys, skrif; print('dask' in sys.modules or 'distributed' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fit_equals_tight_sklearn_fit(fitted):
    name, mem, dsk, X, y = fitted
    model, _, _ = _case(name)
    sk = tight(model).fit(X, y)
    assert type(dsk.estimator_) is type(sk)
    assert rel(dsk.estimator_.coef_, sk.coef_) <= 1e-8
    assert rel(dsk.estimator_.intercept_, sk.intercept_) <= 1e-8
    assert np.shape(dsk.estimator_.coef_) == np.shape(sk.coef_)
    assert np.shape(dsk.estimator_.intercept_) == np.shape(sk.intercept_)
    assert dsk.estimator_.n_features_in_ == P
    if hasattr(sk, "classes_"):
        np.testing.assert_array_equal(dsk.classes_, sk.classes_)
    if isinstance(sk, LogisticRegression):
        assert dsk.estimator_.n_iter_.shape == (1,) and dsk.estimator_.n_iter_[0] > 0
    # The fitted clone predicts like scikit-learn's fit.
    np.testing.assert_allclose(dsk.estimator_.predict(X), sk.predict(X), rtol=1e-8, atol=1e-10)


def test_lazy_attribution_equals_in_memory(fitted):
    name, mem, dsk, X, y = fitted
    lazy = {
        "leverages": (dsk.leverages_, mem.leverages_),
        "self_influence": (dsk.self_influence(), mem.self_influence()),
        "self_influence_if": (dsk.self_influence(method="if", target="decision_function"),
                              mem.self_influence(method="if", target="decision_function")),
        "loo_predict": (dsk.loo_predict(), mem.loo_predict()),
        "scores": (dsk.influence_scores(X[:6], y[:6], target="loss"),
                   mem.influence_scores(X[:6], y[:6], target="loss")),
    }
    for what, (lazy_value, expected) in lazy.items():
        assert isinstance(lazy_value, da.Array), what
        assert lazy_value.chunks[0] == da.from_array(X, chunks=CHUNKS).chunks[0], what
        assert rel(lazy_value.compute(), expected) <= 1e-10, (what, rel(lazy_value.compute(), expected))


@pytest.mark.parametrize("method", ["if", "rif", "newton"])
def test_influence_of_sets_equals_in_memory(fitted, method):
    name, mem, dsk, X, y = fitted
    idx = [0, 17, 299, 300, 1999]  # across block boundaries
    a, b = dsk.influence(idx, method=method), mem.influence(idx, method=method)
    assert np.shape(a.coef) == np.shape(b.coef)
    assert rel(flat(a), flat(b)) <= 1e-10
    effect = dsk.removal_effect(idx, X[:5], method=method)
    assert rel(effect, mem.removal_effect(idx, X[:5], method=method)) <= 1e-10


def test_refit_equals_sklearn_refit(fitted):
    name, mem, dsk, X, y = fitted
    model, _, _ = _case(name)
    idx = np.array([3, 50, 700, 1999])
    keep = np.setdiff1d(np.arange(N), idx)
    truth = tight(model).fit(X[keep], y[keep])
    base = tight(model).fit(X, y)
    expected = np.concatenate([np.ravel(truth.coef_ - base.coef_), np.ravel(truth.intercept_ - base.intercept_)])
    change = dsk.influence(idx, method="refit")
    scale = np.max(np.abs(np.concatenate([np.ravel(base.coef_), np.ravel(base.intercept_)])))
    assert np.max(np.abs(flat(change) - expected)) <= 1e-10 * scale
    assert rel(flat(change), expected) <= 1e-8


def test_most_influential_is_the_in_memory_top_k(fitted):
    name, mem, dsk, X, y = fitted
    rows = dsk.most_influential(X[:40], y[:40], k=12)
    np.testing.assert_array_equal(rows, mem.most_influential(X[:40], y[:40], k=12))
    if name == "binary":
        rows, predicted, actual = dsk.most_influential(X[:40], y[:40], k=5, verify=True)
        _, p_mem, a_mem = mem.most_influential(X[:40], y[:40], k=5, verify=True)
        assert abs(predicted - p_mem) <= 1e-10 * abs(p_mem)
        assert abs(actual - a_mem) <= 1e-8 * abs(a_mem)


def test_predictions_on_dask_input_are_lazy(client):
    _, mem, dsk, X, y = _fitted_binary(client)
    Xd = da.from_array(X, chunks=CHUNKS)
    for est in (mem, dsk):  # fitted in memory or on Dask: dask in, dask out
        proba = est.predict_proba(Xd)
        labels = est.predict(Xd)
        assert isinstance(proba, da.Array) and isinstance(labels, da.Array)
        assert proba.chunks == (Xd.chunks[0], (2,))
        np.testing.assert_allclose(proba.compute(), mem.predict_proba(X), rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(labels.compute(), mem.predict(X))
        assert isinstance(est.decision_function(Xd), da.Array)
    effect = dsk.removal_effect([4, 5], Xd, y, target="loss", method="rif")
    assert isinstance(effect, da.Array)
    assert rel(effect.compute(), mem.removal_effect([4, 5], X, y, target="loss", method="rif")) <= 1e-10
    assert abs(dsk.loo_score() - mem.loo_score()) == 0.0


def _fitted_binary(client):
    if "binary" not in _CACHE:
        model, X, y = _case("binary")
        model = tight(model)
        _CACHE["binary"] = ("binary", InfluenceEstimator(model).fit(X, y),
                            InfluenceEstimator(model).fit(da.from_array(X, chunks=CHUNKS), y), X, y)
    return _CACHE["binary"]


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y, w: (da.from_array(X, chunks=(2000, P)), y, w),  # one block
        lambda X, y, w: (da.from_array(X, chunks=(777, 7)), da.from_array(y, chunks=500), w),  # columns, y chunks
        lambda X, y, w: (da.from_array(X, chunks=(123, P)), da.from_array(y, chunks=123), da.from_array(w, chunks=1000)),
    ],
    ids=["single-block", "column-chunks-and-misaligned-y", "small-blocks-dask-weights"],
)
def test_any_chunking_gives_the_in_memory_result(client, make):
    model, X, y = _case("binary")
    model = tight(model)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=N)
    mem = InfluenceEstimator(model).fit(X, y, sample_weight=w)
    Xd, yd, wd = make(X, y, w)
    dsk = InfluenceEstimator(model).fit(Xd, yd, sample_weight=wd)
    assert rel(dsk.estimator_.coef_, mem.estimator_.coef_) <= 1e-10
    assert rel(dsk.leverages_.compute(), mem.leverages_) <= 1e-10
    assert rel(dsk.self_influence().compute(), mem.self_influence()) <= 1e-10
    assert rel(flat(dsk.influence([5, 6, 1500])), flat(mem.influence([5, 6, 1500]))) <= 1e-10


def test_frozen_model_is_polished_not_modified(client):
    model, X, y = _case("binary")
    rough = LogisticRegression(C=0.5, tol=1e-2).fit(X, y)  # lbfgs, stopped early
    coef = rough.coef_.copy()
    with pytest.warns(OptimalityWarning):
        mem = InfluenceEstimator(FrozenEstimator(rough)).fit(X, y)
    with pytest.warns(OptimalityWarning):
        dsk = InfluenceEstimator(FrozenEstimator(rough)).fit(da.from_array(X, chunks=CHUNKS), y)
    np.testing.assert_array_equal(rough.coef_, coef)
    np.testing.assert_array_equal(dsk.estimator_.estimator.coef_, coef)
    assert dsk.n_polish_steps_ > 0
    assert abs(dsk.optimality_gap_ - mem.optimality_gap_) <= 1e-8 * mem.optimality_gap_
    assert rel(dsk.leverages_.compute(), mem.leverages_) <= 1e-10
    assert rel(flat(dsk.influence([1, 2])), flat(mem.influence([1, 2]))) <= 1e-10


# -- validation (predicted vs actual changes) with distributed refits ---------------------

_VALIDATION = {}
N_TRAIN = 240


def _validation_case(client, name):
    """(in-memory skrif, Dask skrif, X_test, y_test, X_train, y_train, model): small data
    (3 row blocks; column means far from 0), so that a validation run stays quick."""
    if name not in _VALIDATION:
        rng = np.random.default_rng(7)
        X = rng.normal(size=(300, 5)) + 5.0
        z = (X - 5.0) @ np.array([0.8, -0.5, 0.3, 0.0, 0.6])
        if name == "ridge":
            model, y = Ridge(alpha=3.0), z + rng.normal(size=300)
        elif name == "binary":
            model, y = LogisticRegression(C=0.5), (rng.random(300) < 1 / (1 + np.exp(-z))).astype(int)
        elif name == "multinomial":
            model, y = LogisticRegression(C=0.5), np.digitize(z + rng.normal(size=300), [-0.5, 0.5])
        else:
            model, y = PoissonRegressor(alpha=0.01), rng.poisson(np.exp(z / 2))
        model = tight(model)
        Xtr, ytr = X[:N_TRAIN], y[:N_TRAIN]
        mem = InfluenceEstimator(model).fit(Xtr, ytr)
        dsk = InfluenceEstimator(model).fit(da.from_array(Xtr, chunks=(100, 5)), ytr)
        _VALIDATION[name] = (mem, dsk, X[N_TRAIN:], y[N_TRAIN:], Xtr, ytr, model)
    return _VALIDATION[name]


def _same_validation(a, b):
    """The Dask validation ``b`` equals the in-memory one ``a``: same sets and test
    subset, same table; returns the largest relative differences measured."""
    assert [s for s, _ in a["sets"]] == [s for s, _ in b["sets"]]
    for (_, rows_a), (_, rows_b) in zip(a["sets"], b["sets"]):
        np.testing.assert_array_equal(rows_a, rows_b)
    np.testing.assert_array_equal(a["eval_rows"], b["eval_rows"])
    assert a["targets"] == b["targets"] and a["methods"] == b["methods"]
    ra, rb = a["results"], b["results"]
    for col in ("set_id", "strategy", "size", "target", "method"):
        np.testing.assert_array_equal(ra[col], rb[col])
    worst = {}
    for col in ("predicted", "actual", "error_estimate"):
        x, y = ra[col], rb[col]
        np.testing.assert_array_equal(np.isfinite(x), np.isfinite(y))
        ok = np.isfinite(x) & (x != 0)
        np.testing.assert_array_equal(x[~ok & np.isfinite(x)], y[~ok & np.isfinite(y)])
        worst[col] = float(np.max(np.abs(x[ok] - y[ok]) / np.abs(x[ok]))) if ok.any() else 0.0
    # Predictions and exact refits: the in-memory values to 1e-10. The error estimate
    # |pred − ref| / |ref| divides the reference's rounding (a gradient summed over
    # the rows, ~1e-13 absolute) by the gap, hence the looser bound.
    assert worst["predicted"] <= 1e-10 and worst["actual"] <= 1e-10, worst
    assert worst["error_estimate"] <= 1e-9, worst
    return worst


@pytest.mark.parametrize("name", ["ridge", "binary", "multinomial", "poisson"])
def test_validate_influence_equals_in_memory(client, name):
    from skrif.validation import STRATEGIES, validate_influence

    mem, dsk, Xte, yte, Xtr, ytr, model = _validation_case(client, name)
    kw = dict(n_sets=4, strategies=STRATEGIES, n_eval_rows=10, max_fraction=0.1,
              random_state=0, as_frame=False)
    a = validate_influence(mem, Xte, yte, **kw)
    b = validate_influence(dsk, Xte, yte, **kw)
    assert len(b["sets"]) == 4 and {s for s, _ in b["sets"]} == set(STRATEGIES)
    _same_validation(a, b)
    # Ground truth independent of skrif: the "actual" column is the exact refit, so
    # the first target's change equals a tight scikit-learn refit's.
    ev = b["eval_rows"]
    Xe, ye = Xte[ev], yte[ev]

    def first_target(fitted):
        if name == "ridge" or name == "poisson":
            return fitted.predict(Xe).sum()
        proba = fitted.predict_proba(Xe)
        return proba[np.arange(len(ye)), np.searchsorted(fitted.classes_, ye)].sum()

    base = first_target(tight(model).fit(Xtr, ytr))
    res = b["results"]
    for set_id, (_, rows) in enumerate(b["sets"]):
        keep = np.setdiff1d(np.arange(N_TRAIN), rows)
        expected = first_target(tight(model).fit(Xtr[keep], ytr[keep])) - base
        sel = (res["set_id"] == set_id) & (res["target"] == b["targets"][0]) & (res["method"] == "rif")
        assert abs(res["actual"][sel][0] - expected) <= 1e-8 * abs(expected) + 1e-12, (set_id, expected)


def test_validate_influence_on_dask_with_groups_and_dask_test_data(client):
    from skrif.validation import total_loss_scores, validate_influence

    mem, dsk, Xte, yte, Xtr, ytr, _ = _validation_case(client, "binary")
    groups = np.arange(N_TRAIN) // 8  # 30 groups of 8 rows
    kw = dict(n_sets=2, groups=groups, strategies=("random", "top_score"), n_eval_rows=10,
              max_fraction=0.1, random_state=1, as_frame=False)
    a = validate_influence(mem, Xte, yte, **kw)
    b = validate_influence(dsk, da.from_array(Xte, chunks=20), da.from_array(yte, chunks=20),
                           **{**kw, "groups": da.from_array(groups, chunks=100)})
    assert all(len(rows) % 8 == 0 for _, rows in b["sets"])
    _same_validation(a, b)
    # total_loss_scores stays lazy on Dask (chunked like X) and equals in memory.
    scores = total_loss_scores(dsk, Xte, yte)
    assert isinstance(scores, da.Array) and scores.chunks == ((100, 100, 40),)
    assert rel(scores.compute(), total_loss_scores(mem, Xte, yte)) <= 1e-10


def test_removal_sets_and_eval_rows_on_dask_equal_in_memory(client):
    from skrif.validation import STRATEGIES, removal_sets, select_eval_rows

    mem, dsk, Xte, yte, Xtr, ytr, _ = _validation_case(client, "ridge")
    scores = np.random.default_rng(3).normal(size=N_TRAIN)
    kw = dict(n_sets=8, strategies=STRATEGIES, max_fraction=0.1, random_state=5)
    expected = removal_sets(Xtr, scores=scores, **kw)
    got = removal_sets(da.from_array(Xtr, chunks=(70, 2)), scores=da.from_array(scores, chunks=70), **kw)
    assert [s for s, _ in got] == [s for s, _ in expected]
    for (_, rows_got), (_, rows_expected) in zip(got, expected):
        np.testing.assert_array_equal(rows_got, rows_expected)
    np.testing.assert_array_equal(
        select_eval_rows(dsk, da.from_array(Xte, chunks=25), yte, n_rows=12, random_state=0),
        select_eval_rows(mem, Xte, yte, n_rows=12, random_state=0),
    )


def test_validation_on_dask_bad_input(client):
    from skrif.validation import removal_sets, select_eval_rows, validate_influence

    mem, dsk, Xte, yte, Xtr, ytr, _ = _validation_case(client, "ridge")
    with pytest.raises(ValueError, match="n_jobs=2: for an estimator fitted on Dask .*use n_jobs=None"):
        validate_influence(dsk, Xte, yte, n_sets=4, n_jobs=2)
    with pytest.raises(ValueError, match="X and y have different numbers of rows"):
        validate_influence(dsk, Xte, yte[1:], n_sets=4)
    with pytest.raises(ValueError, match="expecting 5 features"):
        select_eval_rows(dsk, Xte[:, :3], yte)
    with pytest.raises(ValueError, match=r"y must have shape \(n_samples,\)"):
        select_eval_rows(dsk, Xte, np.column_stack([yte, yte]))
    Xd = da.from_array(Xtr, chunks=(100, 5))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        removal_sets(Xd[da.from_array(Xtr[:, 0] > 5.0, chunks=100)], strategies=("random",), n_sets=2)
    with pytest.raises(ValueError, match="'top_score' strategy needs per-row scores"):
        removal_sets(Xd, strategies=("top_score",), n_sets=2)


# -- bad input ------------------------------------------------------------------------


def test_unknown_chunk_sizes_raise(client):
    model, X, y = _case("binary")
    Xd = da.from_array(X, chunks=CHUNKS)
    masked = Xd[da.from_array(X[:, 0] > 4.0, chunks=300)]  # NaN row chunks
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        InfluenceEstimator(model).fit(masked, y[X[:, 0] > 4.0])


def test_mismatched_rows_raise(client):
    model, X, y = _case("binary")
    with pytest.raises(ValueError, match="different numbers of rows"):
        InfluenceEstimator(model).fit(da.from_array(X, chunks=CHUNKS), y[:-1])


def test_unsupported_estimator_on_dask(client):
    _, X, z = _data()
    with pytest.raises(UnsupportedModelError, match="supports .*LogisticRegression.*PoissonRegressor"):
        InfluenceEstimator(GammaRegressor()).fit(da.from_array(X, chunks=CHUNKS), np.exp(z / 3))


def test_nan_raises_in_dense_and_sparse_blocks(client):
    import scipy.sparse as sp

    model, X, y = _case("binary")
    Xn = X.copy()
    Xn[1234, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        InfluenceEstimator(model).fit(da.from_array(Xn, chunks=CHUNKS), y)
    Xs = da.from_array(sp.csr_matrix(Xn), chunks=CHUNKS, asarray=False, inline_array=True)
    with pytest.raises(ValueError, match="NaN or infinity"):
        InfluenceEstimator(model).fit(Xs, y)


# -- scipy.sparse blocks --------------------------------------------------------------

NS, PS, SPARSE_CHUNKS = 900, 30, (150, 30)


def _sparse_case(name):
    """Sparse rows (exponential values, so column means far from 0: the centring
    is exercised) and a planted target; in-memory CSR ``X``."""
    import scipy.sparse as sp

    rng = np.random.default_rng(7)
    X = sp.random(NS, PS, density=0.1, format="csr", random_state=3,
                  data_rvs=lambda k: rng.exponential(size=k))
    z = X @ (rng.normal(size=PS) / 2) - 0.5
    if name == "binary":
        return LogisticRegression(C=0.5), X, (rng.random(NS) < 1 / (1 + np.exp(-z))).astype(int)
    if name == "multinomial":
        return LogisticRegression(C=0.5), X, np.digitize(z + rng.normal(size=NS), [-0.5, 0.5])
    return PoissonRegressor(alpha=0.01), X, rng.poisson(np.exp(z / 2))


def _sparse_dask(X):
    # inline_array: the CSR matrix travels inside each block's task (no getter task).
    return da.from_array(X, chunks=SPARSE_CHUNKS, asarray=False, inline_array=True)


@pytest.mark.parametrize("name", ["binary", "multinomial", "poisson"])
def test_sparse_blocks_equal_in_memory_sparse(client, name):
    import scipy.sparse as sp

    model, X, y = _sparse_case(name)
    model = tight(model)
    mem = InfluenceEstimator(model).fit(X, y)
    Xd = _sparse_dask(X)
    assert sp.issparse(Xd._meta)
    dsk = InfluenceEstimator(model).fit(Xd, y)
    # The fit: scikit-learn's tight fit on the CSR matrix (independent ground truth).
    sk = tight(model).fit(X, y)
    assert rel(theta(dsk.estimator_), theta(sk)) <= 1e-8
    assert rel(theta(dsk.estimator_), theta(mem.estimator_)) <= 1e-10
    for what, lazy, expected in [
        ("leverages", dsk.leverages_, mem.leverages_),
        ("self_influence", dsk.self_influence(), mem.self_influence()),
        ("scores", dsk.influence_scores(X[:4], y[:4], target="loss"),
         mem.influence_scores(X[:4], y[:4], target="loss")),
    ]:
        assert isinstance(lazy, da.Array), what
        assert rel(lazy.compute(), expected) <= 1e-10, (what, rel(lazy.compute(), expected))
    idx = [0, 149, 150, 151, 899]  # across block boundaries
    for method in ("rif", "newton"):
        assert rel(flat(dsk.influence(idx, method=method)),
                   flat(mem.influence(idx, method=method))) <= 1e-10
    np.testing.assert_array_equal(dsk.most_influential(X[:20], y[:20], k=6),
                                  mem.most_influential(X[:20], y[:20], k=6))
    if name == "multinomial":
        return
    # The exact refit against scikit-learn's tight refit without the rows.
    keep = np.setdiff1d(np.arange(NS), idx)
    truth = tight(model).fit(X[keep], y[keep])
    change = dsk.influence(idx, method="refit")
    assert rel(flat(change), theta(truth) - theta(sk)) <= 1e-7
    assert rel(flat(change), flat(mem.influence(idx, method="refit"))) <= 1e-8


def test_sparse_blocks_are_never_densified(client, monkeypatch):
    import scipy.sparse as sp

    model, X, y = _sparse_case("binary")
    Xd = _sparse_dask(X)
    calls = []

    def refuse(self, *args, **kwargs):
        # A few rows may be densified (a set's gathered rows, the probe rows that
        # check the explicit inverse against solves); a block (150 rows) or X never.
        calls.append(self.shape)
        if self.shape[0] > 64:
            raise AssertionError(f"a sparse {self.shape} matrix was densified")
        return original[type(self)](self, *args, **kwargs)

    original = {}
    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix):
        original[cls] = cls.toarray
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    dsk = InfluenceEstimator(model).fit(Xd, y)
    dsk.leverages_.compute()
    dsk.self_influence().compute()
    dsk.influence_scores(X[:3], y[:3]).compute()
    dsk.influence([1, 400, 800], method="rif")
    dsk.influence([1, 400, 800], method="refit")
    with warnings.catch_warnings():
        # The verification may report that the rows interact: not what is tested here.
        warnings.simplefilter("ignore", VerificationWarning)
        dsk.most_influential(X[:10], y[:10], k=3, verify=True)
    assert all(shape[0] <= 64 for shape in calls)
    monkeypatch.undo()
    mem = InfluenceEstimator(model).fit(X, y)
    assert rel(dsk.leverages_.compute(), mem.leverages_) <= 1e-10


def test_reweighting_and_audits_on_dask(client):
    # Once refused on Dask (fraction != 1 for IF/RIF/NS, removal_to_flip): now the
    # in-memory answers; the reweighted refit matches scikit-learn's weighted refit.
    _, mem, dsk, X, y = _fitted_binary(client)
    for method in ("rif", "newton"):
        assert rel(flat(dsk.influence([1, 9, 300], method=method, fraction=0.5)),
                   flat(mem.influence([1, 9, 300], method=method, fraction=0.5))) <= 1e-10
    got = flat(dsk.influence([1, 2], method="refit", fraction=0.5))
    assert rel(got, flat(mem.influence([1, 2], method="refit", fraction=0.5))) <= 1e-8
    model, _, _ = _case("binary")
    w = np.ones(N)
    w[[1, 2]] = 0.5
    truth = theta(tight(model).fit(X, y, sample_weight=w)) - theta(tight(model).fit(X, y))
    np.testing.assert_allclose(got, truth, rtol=1e-7, atol=1e-10)
    # The chosen rows' exact refit moves the decision 14% more than predicted: both
    # paths say so.
    with pytest.warns(VerificationWarning):
        flip = dsk.removal_to_flip(X[:1])
    with pytest.warns(VerificationWarning):
        expected = mem.removal_to_flip(X[:1])
    np.testing.assert_array_equal(flip.rows, expected.rows)
    assert flip.flipped == expected.flipped
    assert flip.actual_change == pytest.approx(expected.actual_change, rel=1e-8)


_CALLS = {"n": 0, "after": None}
_CALLS_LOCK = threading.Lock()


def _dies(block):
    """A block function that fails once the fit is under way (a lost worker/cluster).

    Counts calls in this process (the test cluster runs its workers as threads).
    """
    with _CALLS_LOCK:
        _CALLS["n"] += 1
        if _CALLS["after"] is not None and _CALLS["n"] > _CALLS["after"]:
            raise RuntimeError("worker lost")
    return block


def test_failure_mid_fit_surfaces_and_leaves_no_fitted_model(client):
    model, X, y = _case("binary")
    est = InfluenceEstimator(tight(model)).fit(da.from_array(X, chunks=CHUNKS), y)
    check_is_fitted(est)
    # 7 blocks per pass: the validation pass and two Newton passes succeed, then it fails.
    _CALLS.update(n=0, after=21)
    dying = da.from_array(X, chunks=CHUNKS).map_blocks(_dies, dtype=float)
    try:
        with pytest.raises(RuntimeError, match="worker lost"):
            est.fit(dying, y)
    finally:
        _CALLS["after"] = None
    assert _CALLS["n"] > 21  # it failed during the Newton passes, not before
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert not hasattr(est, "leverages_")
    with pytest.raises(NotFittedError):
        est.influence([0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_multinomial_column_scale_is_not_singularity(client):
    # Issue 17 A for the Dask multinomial factor (null-space branch): unpenalised,
    # a ×1e7 column; truth is scikit-learn on the unscaled data, mapped back.
    import warnings

    Xs, y, model, truth = scaled_multinomial_case()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingularHessianWarning)
        dsk = InfluenceEstimator(model).fit(da.from_array(Xs, chunks=(100, 4)), y)
        assert dsk.hessian_rank_ == 10
        got = dsk.influence(np.arange(5), method="refit").coef
    np.testing.assert_allclose(got, truth, rtol=1e-6, atol=1e-9 * np.abs(truth).max())


@pytest.mark.parametrize("model", [LinearRegression(), LogisticRegression(C=np.inf)])
def test_refit_of_an_unidentified_model_is_refused(client, model):
    # Issue 17 C on Dask: column 2 is nonzero only in rows 0-5, without a penalty;
    # removing them leaves its coefficient undetermined.
    from skrif.exceptions import NotPositiveDefiniteError

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    X[6:, 2] = 0.0
    z = X @ [1.0, -1.0, 0.5]
    if isinstance(model, LinearRegression):
        y = z + rng.normal(size=80)
    else:  # mixed labels where column 2 lives: no separation, a finite optimum
        y = (z + rng.logistic(size=80) > 0).astype(int)
        y[:6] = [0, 1, 0, 1, 1, 0]
    dsk = InfluenceEstimator(model).fit(da.from_array(X, chunks=(20, 3)), y)
    with pytest.raises(NotPositiveDefiniteError, match="not identified"):
        dsk.influence(np.arange(6), method="refit")
    # A removal that keeps the model identified is refitted: scikit-learn's truth.
    keep = np.arange(80) != 0
    full = theta(exact_refit(model, X, y, None, np.ones(80, dtype=bool)))
    truth = theta(exact_refit(model, X, y, None, keep)) - full
    got = change_vector(dsk.influence([0], method="refit"), True)
    np.testing.assert_allclose(got, truth, rtol=1e-7, atol=1e-9 * np.abs(truth).max())


def test_column_scale_is_not_singularity(client):
    # Issue 17 A on Dask: a ×1e7 column beside unit-scale ones, penalised, is well
    # determined; the rank decision must be the in-memory one (scale-invariant).
    import warnings

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    X[:, 0] *= 1e7
    y = X @ [1e-7, 2.0, -1.0] + rng.normal(size=400)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dsk = InfluenceEstimator(Ridge(alpha=1.0)).fit(da.from_array(X, chunks=(100, 3)), y)
    assert not any(issubclass(w.category, SingularHessianWarning) for w in caught)
    keep = np.arange(400) != 3
    sw = np.where(keep, 1.0, 0.0)
    # Ground truth: the closed-form ridge solution with and without row 3 (centred).
    def ridge(weights):
        xm = weights @ X / weights.sum(); ym = weights @ y / weights.sum()
        Xc, yc = (X - xm) * np.sqrt(weights)[:, None], (y - ym) * np.sqrt(weights)
        return np.linalg.solve(Xc.T @ Xc + np.eye(3), Xc.T @ yc)
    truth = ridge(sw) - ridge(np.ones(400))
    got = np.ravel(dsk.influence([3], method="newton").coef)
    np.testing.assert_allclose(got, truth, rtol=1e-6, atol=1e-12 * np.abs(truth).max())


def _exact_one_minus(X, i):
    """``1 − h_i`` of least squares with an intercept, in exact rational arithmetic."""
    from fractions import Fraction

    rows = [[Fraction(float(v)) for v in x] + [Fraction(1)] for x in X]
    p = len(rows[0])
    A = [[sum(r[a] * r[b] for r in rows) for b in range(p)] for a in range(p)]
    b = list(rows[i])
    for col in range(p):  # Gaussian elimination (A is symmetric positive definite)
        for row in range(col + 1, p):
            f = A[row][col] / A[col][col]
            A[row] = [A[row][k] - f * A[col][k] for k in range(p)]
            b[row] -= f * b[col]
    v = [Fraction(0)] * p
    for row in reversed(range(p)):
        v[row] = (b[row] - sum(A[row][k] * v[k] for k in range(row + 1, p))) / A[row][row]
    return float(1 - sum(rows[i][k] * v[k] for k in range(p)))


def test_leverage_near_one_is_refined_on_dask(client):
    # A row with 1 − h ≈ 1e-9: the cheap form 1 − x̃ᵀH⁻¹x̃ keeps ~7 digits; the
    # cancellation-free form (sums over every block) keeps them all, as in memory.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 2))
    X[7, 0] = 2e5
    y = X @ [1.0, -0.5] + rng.normal(size=40)
    truth = _exact_one_minus(X, 7)
    assert 1e-10 < truth < 1e-8
    dsk = InfluenceEstimator(LinearRegression()).fit(da.from_array(X, chunks=(10, 2)), y)
    mem = InfluenceEstimator(LinearRegression()).fit(X, y)
    got = 1.0 - dsk.leverages_.compute()[7]
    assert abs(dsk._removal.one_minus_leverage[7].compute() - truth) <= 1e-10 * truth
    assert abs(1.0 - mem.leverages_[7] - got) <= 1e-6 * truth  # leverages_ is 1 − (1 − h)
    # The exact leave-one-out change of least squares (RIF) against scikit-learn.
    keep = np.arange(40) != 7
    refit = LinearRegression().fit(X[keep], y[keep])
    full = LinearRegression().fit(X, y)
    expected = np.append(refit.coef_ - full.coef_, refit.intercept_ - full.intercept_)
    np.testing.assert_allclose(flat(dsk.influence([7], method="rif")), expected, rtol=1e-6)


def test_singular_glm_hessian_is_served_on_dask_as_in_memory(client):
    # Once refused on Dask only (NotPositiveDefiniteError at fit): collinear columns
    # without a penalty give a singular Poisson Hessian, served in both paths by its
    # pseudo-inverse with a SingularHessianWarning. The optimum is a line of θ; the
    # predictions and the minimum-norm changes are unique, and agree.
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    X[:, 2] = X[:, 0] - 0.5 * X[:, 1]
    y = rng.poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1]))
    model = PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12, max_iter=500)
    with pytest.warns(SingularHessianWarning):
        dsk = InfluenceEstimator(model).fit(da.from_array(X, chunks=(40, 3)), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's own solver warnings on this fit
        mem = InfluenceEstimator(model).fit(X, y)
    assert dsk.hessian_rank_ == mem.hessian_rank_ == 3
    np.testing.assert_allclose(dsk.predict(X), mem.predict(X), rtol=1e-9)
    for method in ("rif", "newton"):
        a, b = dsk.influence([4, 50], method=method), mem.influence([4, 50], method=method)
        assert rel(flat(a), flat(b)) <= 1e-8


def test_large_sets_take_the_kept_rows_hessian_on_dask(client):
    # Folds and large groups are answered with the kept rows' Hessian from one pass
    # (no k × k system, no gathered rows), as in memory: exact for least squares
    # (ground truth: scikit-learn's refits), and refused alike when the rows left do
    # not determine a parameter (a column nonzero only in the removed rows).
    from sklearn.model_selection import KFold, cross_val_predict

    from skrif.exceptions import NotPositiveDefiniteError

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    X[:, 2] = np.r_[rng.normal(size=100), np.zeros(200)]
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=300)
    Xd = da.from_array(X, chunks=(70, 3))
    dsk = InfluenceEstimator(Ridge(alpha=1.0)).fit(Xd, y)
    truth = cross_val_predict(Ridge(alpha=1.0, solver="cholesky"), X, y, cv=KFold(3))
    np.testing.assert_allclose(np.asarray(dsk.cv_predict(cv=3)), truth, rtol=1e-10)
    rows = np.arange(100)
    for model in (LinearRegression(), Ridge(alpha=1.0)):
        mem = InfluenceEstimator(model).fit(X, y)
        dsk = InfluenceEstimator(model).fit(Xd, y)
        if isinstance(model, Ridge):
            assert rel(flat(dsk.influence(rows, method="newton")),
                       flat(mem.influence(rows, method="newton"))) <= 1e-10
            continue
        for est in (mem, dsk):
            with pytest.raises(NotPositiveDefiniteError, match="do not determine every parameter"):
                est.influence(rows, method="newton")


def test_zero_row_chunks_in_row_reductions(client):
    # A 0-row chunk in the reductions over rows (order statistics of the conformal
    # intervals, top-k, the blockwise Newton passes of the kept rows' Hessian): the
    # in-memory answers.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = X @ [1.0, 2.0, 3.0] + rng.normal(size=300)
    chunks = (100, 0, 200)
    dsk = InfluenceEstimator(Ridge()).fit(
        da.from_array(X, chunks=(chunks, (3,))), da.from_array(y, chunks=(chunks,))
    )
    mem = InfluenceEstimator(Ridge()).fit(X, y)
    for method in ("jackknife+", "cv+", "jackknife-minmax"):
        assert rel(dsk.predict_interval(X[:5], method=method),
                   mem.predict_interval(X[:5], method=method)) <= 1e-10
    assert rel(np.asarray(dsk.cv_predict()), mem.cv_predict()) <= 1e-10
    np.testing.assert_array_equal(dsk.most_influential(X[:3], y[:3], k=3).rows,
                                  mem.most_influential(X[:3], y[:3], k=3).rows)


def test_distributed_newton_reuses_the_factor_near_the_optimum(client, monkeypatch):
    # Near the optimum Newton contracts quadratically: the passes there skip the
    # Gram (O(n p̃) instead of O(n p̃²)) and solve with the last factor; the result
    # is still the optimum (equal to scikit-learn's tight fit).
    from skrif._dask import _engine

    calls = {True: 0, False: 0}
    original = _engine.DaskDesign.newton_pass

    def counted(self, theta, gram, *args, **kwargs):
        calls[bool(gram)] += 1
        return original(self, theta, gram, *args, **kwargs)

    monkeypatch.setattr(_engine.DaskDesign, "newton_pass", counted)
    model, X, y = _case("binary")
    est = InfluenceEstimator(model).fit(da.from_array(X, chunks=CHUNKS), y)
    reference = tight(model).fit(X, y)
    assert calls[False] >= 1, calls
    assert rel(est.estimator_.coef_, reference.coef_) <= 1e-9
