"""Issue 27: the robustness audit at any scale (I, K), its notes (L) and its
summary table (item 4).

Ground truth: the unscaled problem (t-statistics and p-values do not change when a
column of X or y is multiplied by a constant) and statsmodels.
"""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge

from skrif import InfluenceEstimator

pd = pytest.importorskip("pandas")


def significance_case():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = X @ [0.5, 0.0] + rng.normal(size=100)
    return X, y


@pytest.mark.parametrize(
    "x_scale, y_scale",
    [(1.0, 1e150), (1e150, 1.0), (1.0, 1e-150), (1e-150, 1.0)],
)
def test_significance_audit_does_not_depend_on_units(x_scale, y_scale):
    # Findings I, K: "not flipped" (6 rows flip it) at 1e150 / 1e-150 scales, or
    # scipy's "array must not contain infs or NaNs" / ZeroDivisionError.
    X, y = significance_case()
    ref = InfluenceEstimator(LinearRegression()).fit(X, y).removal_to_flip(
        coef=0, conclusion="significance", cov_type="HC3"
    )
    assert ref.flipped
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
        est = InfluenceEstimator(LinearRegression()).fit(X * x_scale, y * y_scale)
        got = est.removal_to_flip(coef=0, conclusion="significance", cov_type="HC3")
    assert got.flipped
    np.testing.assert_array_equal(np.sort(got.rows), np.sort(ref.rows))
    assert got.p_value == pytest.approx(ref.p_value, rel=1e-8)


def test_flip_resting_on_a_leverage_one_row_is_noted():
    # Finding L: removing 2 of the 3 rows of an indicator leaves the third alone
    # determining its coefficient (leverage 1); the flip was certified silently.
    rng = np.random.default_rng(0)
    n = 60
    X = np.column_stack([rng.normal(size=n), np.zeros(n)])
    X[:3, 1] = 1.0
    y = 0.3 * X[:, 0] + 2.5 * X[:, 1] + rng.normal(size=n)
    est = InfluenceEstimator(LinearRegression()).fit(X, y)
    result = est.removal_to_flip(coef=1, conclusion="significance")
    assert result.flipped and len(result.rows) == 2
    assert "leverage 1" in result.message
    assert "[1]" in result.message  # names the remaining row of the indicator


def test_amip_summary_frame_types_and_names():
    # Item 4: flipped held True/False/None (object dtype: df[df.flipped] raised),
    # n_removed was float, "both" was not the API's conclusion name.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["dose", "age"])
    y = 0.3 * X["dose"] + rng.normal(size=200)
    frame = InfluenceEstimator(LinearRegression()).fit(X, y).amip_summary(cov_type="HC1").to_frame()
    assert str(frame["flipped"].dtype) == "boolean"
    assert str(frame["n_removed"].dtype) == "Int64"
    assert set(frame["conclusion"]) == {"sign", "significance", "opposite_significance"}
    flipped = frame[frame["flipped"].fillna(False)]
    assert len(flipped) >= 1


def test_amip_summary_frame_notes_undefined_significance():
    # Item 4: sign flips on penalised models showed NaN SE/p with no note.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 2)), columns=["dose", "age"])
    y = 0.15 * X["dose"] + rng.normal(size=120)
    frame = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y).amip_summary().to_frame()
    undefined = frame["se"].isna()
    assert undefined.all()
    assert frame.loc[undefined, "note"].str.contains("standard error").all()
