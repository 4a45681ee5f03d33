"""Warnings name the user's line, whatever path inside skrif raised them.

The same warning (leverage one, a set's interaction, a refit that did not converge)
is reached from many public methods, through the Dask routing and whole pipelines;
each must be attributed to the caller's file and line, so that Python's
"once per location" filters act per call site of the user's code.
"""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skrif import InfluenceEstimator
from skrif.exceptions import HighLeverageWarning, SetInteractionWarning


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X = np.column_stack([X, np.eye(40)[0]])  # row 0 alone on the last column: h_0 = 1
    return X, X[:, 0] + rng.normal(size=40)


def _assert_here(caught, *categories):
    seen = {w.category for w in caught}
    for category in categories:
        assert category in seen, (category, seen)
    for w in caught:
        assert w.filename == __file__, (w.category.__name__, w.filename, w.lineno)


def _call(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return caught


@pytest.mark.parametrize("pipeline", [False, True])
def test_warnings_point_at_the_callers_line(pipeline):
    X, y = _data()
    model = make_pipeline(StandardScaler(), LinearRegression()) if pipeline else LinearRegression()
    caught = _call(lambda: InfluenceEstimator(model).fit(X, y))
    _assert_here(caught, HighLeverageWarning)
    est = InfluenceEstimator(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    _assert_here(_call(lambda: est.influence([0], method="rif")), HighLeverageWarning)
    _assert_here(_call(lambda: est.influence(list(range(1, 25)), method="rif")), SetInteractionWarning)


def test_dask_warnings_point_at_the_callers_line(client):
    da = pytest.importorskip("dask.array")
    X, y = _data()
    Xd = da.from_array(X, chunks=(20, X.shape[1]))
    caught = _call(lambda: InfluenceEstimator(LinearRegression()).fit(Xd, y))
    _assert_here(caught, HighLeverageWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = InfluenceEstimator(LinearRegression()).fit(Xd, y)
    _assert_here(_call(lambda: est.influence([0], method="rif")), HighLeverageWarning)
    _assert_here(_call(lambda: est.influence(list(range(1, 25)), method="rif")), SetInteractionWarning)
