"""Issue 27 on Dask: set answers carry the same error estimate and warning as in
memory (finding B), and a 0-row chunk is accepted (finding S).

Ground truth: the in-memory path on the same data, and scikit-learn refits.
Runs on the default (threaded) scheduler: the numbers do not depend on where the
blocks are computed.
"""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from skrif import InfluenceEstimator
from skrif.exceptions import SetInteractionWarning

da = pytest.importorskip("dask.array")


def level_case():
    rng = np.random.default_rng(0)
    n = 300
    level = np.zeros(n)
    level[:12] = 1
    X = np.column_stack([rng.normal(size=(n, 2)), level])
    y = X @ [1.0, 2.0, 3.0] + rng.normal(size=n)
    return X, y


def test_dask_set_answers_carry_the_in_memory_estimate():
    # Finding B: a 92%-wrong additive set answer warned in memory and was silent
    # on Dask (no estimate at all).
    X, y = level_case()
    rows = np.arange(12)
    memory = InfluenceEstimator(Ridge()).fit(X, y)
    with pytest.warns(SetInteractionWarning):
        expected = memory.influence(rows).error_estimate
    est = InfluenceEstimator(Ridge()).fit(da.from_array(X, chunks=100), da.from_array(y, chunks=100))
    with pytest.warns(SetInteractionWarning):
        got = est.influence(rows)
    assert got.error_estimate is not None
    assert got.error_estimate.relative_gap == pytest.approx(expected.relative_gap, rel=1e-8)
    with pytest.warns(SetInteractionWarning):
        est.removal_effect(rows, X[:5])


@pytest.mark.parametrize("model", [Ridge(), LogisticRegression(C=1.0)])
def test_zero_row_chunks_are_accepted(model):
    # Finding S: an explicit 0-row chunk raised "cannot reshape array of size 0".
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = X @ [1.0, 2.0, 3.0] + rng.normal(size=300)
    if isinstance(model, LogisticRegression):
        y = (y > 0).astype(int)
    chunks = ((100, 0, 200),)
    Xd = da.from_array(X, chunks=(chunks[0], (3,)))
    yd = da.from_array(y, chunks=chunks)
    est = InfluenceEstimator(model).fit(Xd, yd)
    memory = InfluenceEstimator(model).fit(X, y)
    np.testing.assert_allclose(est.estimator_.coef_, memory.estimator_.coef_, rtol=1e-8)
    np.testing.assert_allclose(
        np.asarray(est.self_influence()), memory.self_influence(), rtol=1e-7, atol=1e-12
    )
