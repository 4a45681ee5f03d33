"""Every public method of InfluenceEstimator and every public function of
skrif.validation, on an estimator fitted in memory and on Dask.

Each answer on Dask either equals the in-memory answer (every number to 1e-10
relative, the same type — a lazy dask array where the in-memory answer is a NumPy
array with one entry per training row) or is refused with a ``NotImplementedError``
naming the method. ``TABLE`` lists one row per public name; a public name without
a row fails :func:`test_table_lists_every_public_name`. ``DASK_REFUSED`` is the
docs' table of refusals (docs/guide/dask.rst).

The in-memory answers are checked against independent ground truth in the other
test files; here the requirement is the equality of the two paths.
"""

import dataclasses
import inspect
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")

from sklearn.linear_model import (  # noqa: E402
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
)

import skrif.validation as validation  # noqa: E402
from skrif import InfluenceEstimator  # noqa: E402
from skrif._features.groups import training_groups  # noqa: E402
from skrif.functionals import mean_loss  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")

N, P, CHUNK = 150, 3, 50
RTOL = 1e-10
#: Ratios of differences (the set error estimate ``|additive − reference| /
#: |reference|``, validation's ``|predicted − actual| / |actual|``) divide
#: differences of nearly equal numbers, so rounding at 1e-13 of their inputs moves
#: them by more than 1e-10 of their scale: compared at 1e-8 of it.
DERIVED = {"relative_gap": 1e-8, "relative_error": 1e-8, "error_estimate": 1e-8}
#: Wall-clock timings are not answers.
SKIPPED = {"timings"}


def _data(name):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, P)) + 4.0  # column means far from 0
    z = (X - 4.0) @ np.array([0.9, -0.6, 0.3])
    tight = {"solver": "newton-cholesky", "tol": 1e-14, "max_iter": 500}
    if name == "binary":
        return LogisticRegression(C=0.5, **tight), X, (rng.random(N) < 1 / (1 + np.exp(-z))).astype(int)
    if name == "multinomial":
        return LogisticRegression(C=0.5, **tight), X, np.digitize(z + rng.normal(size=N), [-0.5, 0.5])
    if name == "ols":
        return LinearRegression(), X, z + rng.normal(size=N)
    return PoissonRegressor(alpha=0.01, **tight), X, rng.poisson(np.exp(z / 2))


_FITS = {}


@pytest.fixture
def fits(client):
    """(in memory, on Dask, X, y) per family (cached for the module)."""
    if not _FITS:
        for name in ("binary", "multinomial", "ols", "poisson"):
            model, X, y = _data(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mem = InfluenceEstimator(model).fit(X, y)
                dsk = InfluenceEstimator(model).fit(da.from_array(X, chunks=(CHUNK, P)), y)
            _FITS[name] = (mem, dsk, X, y)
    return _FITS


GROUPS = np.arange(N) // 30  # 5 groups of 30 rows


def _validation_results(est, X, y):
    return validation.validate_influence(
        est, X[:20], y[:20], n_sets=4, n_eval_rows=10, random_state=0, as_frame=False
    )


#: (public name, family, call, expected on Dask): "equal" or "refused". A family of
#: None calls a function that takes no estimator (the same inputs, dask or not).
TABLE = [
    ("amip_summary", "binary", lambda e, X, y: e.amip_summary(coef=1), "equal"),
    ("amip_summary", "ols", lambda e, X, y: e.amip_summary(coef=0), "refused"),
    ("cv_predict", "multinomial", lambda e, X, y: e.cv_predict(cv=3, target="predict_proba"), "equal"),
    ("cv_predict", "poisson", lambda e, X, y: e.cv_predict(cv=3, method="refit"), "equal"),
    ("decision_function", "multinomial", lambda e, X, y: e.decision_function(X[:5]), "equal"),
    ("diagnostics", "ols", lambda e, X, y: e.diagnostics(), "equal"),
    ("diagnostics", "poisson", lambda e, X, y: e.diagnostics(columns=["x0"]), "equal"),
    ("fit", "binary", lambda e, X, y: e.estimator_.coef_, "equal"),
    ("functional_influence", "binary", lambda e, X, y: e.functional_influence(mean_loss(), X[:20], y[:20]), "refused"),
    ("functional_effect", "binary", lambda e, X, y: e.functional_effect([1, 2], mean_loss(), X[:20], y[:20]), "refused"),
    ("label_issues", "binary", lambda e, X, y: e.label_issues(), "equal"),
    ("label_issues", "multinomial", lambda e, X, y: e.label_issues(cv=3), "equal"),
    ("get_metadata_routing", "binary", lambda e, X, y: str(e.get_metadata_routing()), "equal"),
    ("get_params", "binary", lambda e, X, y: str(e.get_params()), "equal"),
    ("influence", "binary", lambda e, X, y: e.influence([1, 60, 149], method="auto"), "equal"),
    ("influence", "multinomial", lambda e, X, y: e.influence([2, 3], method="rif", fraction=0.5), "equal"),
    ("influence", "poisson", lambda e, X, y: e.influence([0], groups=GROUPS, method="newton"), "equal"),
    ("influence", "ols", lambda e, X, y: e.influence([5, 70], method="refit"), "equal"),
    ("influence_scores", "multinomial", lambda e, X, y: e.influence_scores(X[:4], y[:4], target="loss"), "equal"),
    ("influence_scores", "poisson", lambda e, X, y: e.influence_scores(X[:4], groups=GROUPS), "equal"),
    ("loo_predict", "poisson", lambda e, X, y: e.loo_predict(target="predict"), "equal"),
    ("loo_predict", "binary", lambda e, X, y: e.loo_predict(groups=GROUPS), "equal"),
    ("loo_score", "multinomial", lambda e, X, y: e.loo_score(), "equal"),
    ("loo_score", "ols", lambda e, X, y: e.loo_score(), "equal"),
    ("most_influential", "binary", lambda e, X, y: e.most_influential(X[:9], y[:9], k=4, verify=True), "equal"),
    ("most_influential", "ols", lambda e, X, y: e.most_influential(X[:9], y[:9], k=2, groups=GROUPS), "equal"),
    ("predict", "poisson", lambda e, X, y: e.predict(X[:5]), "equal"),
    ("predict_interval", "ols", lambda e, X, y: e.predict_interval(X[:6]), "equal"),
    ("predict_interval", "poisson", lambda e, X, y: e.predict_interval(X[:6], method="cv+", cv=3), "equal"),
    ("predict_log_proba", "binary", lambda e, X, y: e.predict_log_proba(X[:5]), "equal"),
    ("predict_proba", "multinomial", lambda e, X, y: e.predict_proba(X[:5]), "equal"),
    ("predict_set", "multinomial", lambda e, X, y: e.predict_set(X[:6], method="aps", random_state=0), "equal"),
    ("removal_effect", "poisson", lambda e, X, y: e.removal_effect([4, 77], X[:5], target="predict", method="newton"), "equal"),
    ("removal_effect", "multinomial", lambda e, X, y: e.removal_effect([3], X[:5], y[:5], target="loss", linearized=True), "equal"),
    ("removal_to_flip", "binary", lambda e, X, y: e.removal_to_flip(X[:1]), "equal"),
    ("removal_to_flip", "ols", lambda e, X, y: e.removal_to_flip(coef=1, conclusion="significance"), "refused"),
    ("score", "binary", lambda e, X, y: e.score(X, y), "equal"),
    ("self_influence", "multinomial", lambda e, X, y: e.self_influence(method="if"), "equal"),
    ("self_influence", "ols", lambda e, X, y: e.self_influence(groups=GROUPS), "equal"),
    ("set_fit_request", "binary", lambda e, X, y: str(e.set_fit_request), "equal"),
    ("set_params", "binary", lambda e, X, y: e.set_params(rescaled=True).rescaled, "equal"),
    ("set_score_request", "binary", lambda e, X, y: str(e.set_score_request), "equal"),
    ("classes_", "multinomial", lambda e, X, y: e.classes_, "equal"),
    # skrif.validation
    ("validate_influence", "multinomial", lambda e, X, y: _validation_results(e, X, y), "equal"),
    ("validate_influence", "ols", lambda e, X, y: _validation_results(e, X, y), "equal"),
    ("validate_influence", "binary", lambda e, X, y: validation.validate_influence(
        e, X[:20], y[:20], n_sets=4, functional=mean_loss(), as_frame=False), "refused"),
    ("select_eval_rows", "poisson", lambda e, X, y: validation.select_eval_rows(e, X[:30], y[:30], n_rows=8, random_state=1), "equal"),
    ("total_loss_scores", "binary", lambda e, X, y: validation.total_loss_scores(e, X[:10], y[:10]), "equal"),
    ("summarize", "ols", lambda e, X, y: validation.summarize(_validation_results(e, X, y)["results"], as_frame=False), "equal"),
    ("interaction_calibration", "ols", lambda e, X, y: validation.interaction_calibration(_validation_results(e, X, y)["results"]), "equal"),
    ("removal_curve", "ols", lambda e, X, y: validation.removal_curve(e, X[:30], y[:30], fractions=(0.1,), cv=3, n_random=1, random_state=0), "refused"),
    ("removal_sets", None, lambda X: validation.removal_sets(X, n_sets=6, scores=np.arange(N, dtype=float), random_state=2), "equal"),
    ("group_removal_sets", None, lambda X: validation.group_removal_sets(
        training_groups(X[:, 0] > 0 if isinstance(X, np.ndarray) else X[:, 0].compute() > 0, N),
        n_sets=4, strategies=("random",), random_state=2), "equal"),
]

#: The refusals on Dask (the docs' table lists them).
DASK_REFUSED = {
    ("amip_summary", "ols"): "standard errors",
    ("removal_to_flip", "ols"): "standard errors",
    ("functional_influence", "binary"): "not available for an estimator fitted on Dask",
    ("functional_effect", "binary"): "not available for an estimator fitted on Dask",
    ("removal_curve", "ols"): "runs in memory",
    ("validate_influence", "binary"): "functional=.*fit it on in-memory data",
}


def _public_names():
    methods = {n for n, _ in inspect.getmembers(InfluenceEstimator) if not n.startswith("_")}
    functions = {
        n for n, f in vars(validation).items()
        if not n.startswith("_") and callable(f) and n[0].islower()
    }
    return methods | (functions & set(validation.__all__))


def test_table_lists_every_public_name():
    assert {row[0] for row in TABLE} == _public_names()
    assert {(m, f) for m, f, _, out in TABLE if out == "refused"} == set(DASK_REFUSED)


def _lazy_ok(a, b):
    """``b`` (Dask) has the type of ``a`` (memory), or is its lazy counterpart."""
    if isinstance(b, da.Array):
        return isinstance(a, np.ndarray)
    return type(a) is type(b)


def assert_same(a, b, where="answer", rtol=RTOL):
    """Every number of ``b`` within ``rtol`` of ``a`` (relative to the largest
    magnitude of that array), same structure and types."""
    assert _lazy_ok(a, b), (where, type(a), type(b))
    if isinstance(b, da.Array):
        b = b.compute()
    if dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            assert_same(getattr(a, field.name), getattr(b, field.name), f"{where}.{field.name}",
                        DERIVED.get(field.name, rtol))
        return
    if hasattr(a, "to_numpy") and hasattr(a, "columns"):  # a DataFrame
        assert list(a.columns) == list(b.columns), where
        assert list(a.index) == list(b.index), where
        for col in a.columns:
            assert_same(a[col].to_numpy(), b[col].to_numpy(), f"{where}[{col!r}]",
                        DERIVED.get(col, rtol))
        return
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            if key not in SKIPPED:
                assert_same(a[key], b[key], f"{where}[{key!r}]", DERIVED.get(key, rtol))
        return
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]", rtol)
        return
    if isinstance(a, (np.ndarray, float, np.floating)) and np.asarray(a).dtype.kind == "f":
        x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        assert x.shape == y.shape, (where, x.shape, y.shape)
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y), err_msg=where)
        ok = np.isfinite(x)
        np.testing.assert_array_equal(x[~ok], y[~ok], err_msg=where)
        scale = np.max(np.abs(x[ok]), initial=0.0)
        assert np.max(np.abs(x[ok] - y[ok]), initial=0.0) <= rtol * scale, where
        return
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
        return
    if hasattr(a, "results") and hasattr(a, "table"):  # AMIPSummary
        assert_same(dict(a.results), dict(b.results), f"{where}.results")
        return
    assert a == b, (where, a, b)


@pytest.mark.parametrize("row", TABLE, ids=[f"{r[0]}-{r[1]}" for r in TABLE])
def test_method_on_dask_equals_in_memory_or_is_refused(fits, row):
    name, family, call, expected = row
    if family is None:  # no estimator: the same inputs as NumPy and as dask arrays
        X = np.random.default_rng(0).normal(size=(N, P))
        assert_same(call(X), call(da.from_array(X, chunks=(CHUNK, P))), name)
        return
    mem, dsk, X, y = fits[family]
    expected_memory = call(mem, X, y)
    if expected == "refused":
        with pytest.raises(NotImplementedError, match=DASK_REFUSED[(name, family)]) as info:
            call(dsk, X, y)
        assert name in str(info.value)
        return
    assert_same(expected_memory, call(dsk, X, y), name)


#: Recipes of tests/conftest.public_method_calls refused on Dask (family-independent).
RECIPES_REFUSED_ON_DASK = {"functional_influence", "functional_effect"}


@pytest.mark.parametrize("family", ["binary", "poisson"])
def test_shared_recipes_on_dask(fits, family):
    # The house's one recipe per public method (a new method adds one there) on both
    # fits: the same answer, the same refusal, or NotImplementedError on Dask only.
    from .conftest import public_method_calls

    mem, dsk, X, y = fits[family]
    Xt, yt = X[:10], y[:10]
    mem_calls = public_method_calls(mem, X, y, Xt, yt)
    dsk_calls = public_method_calls(dsk, da.from_array(X, chunks=(CHUNK, P)), y, Xt, yt)
    assert set(mem_calls) == set(dsk_calls)
    for name in sorted(set(mem_calls) - {"fit"}):  # fit: TABLE (refits are slow)
        outcome = []
        for call in (mem_calls[name], dsk_calls[name]):
            try:
                outcome.append(call())
            except (ValueError, NotImplementedError) as error:
                outcome.append(error)
        a, b = outcome
        if isinstance(a, Exception):
            assert type(b) is type(a) and str(b) == str(a), (name, a, b)
        elif isinstance(b, NotImplementedError):
            assert name in RECIPES_REFUSED_ON_DASK and name in str(b), (name, b)
        else:
            assert_same(a, b, name)
