"""ResidualsLeverageDisplay and CooksDistanceDisplay (matplotlib, Agg backend)."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.linear_model import LinearRegression, Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skrif import CooksDistanceDisplay, InfluenceEstimator, ResidualsLeverageDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def planted():
    """Rows 'o7' (outlier at average leverage) and 'l2' (leverage and outlier)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2))
    y = X @ [1.0, -2.0] + 0.5 * rng.normal(size=50)
    index = [f"r{i}" for i in range(50)]
    index[7], index[2] = "o7", "l2"
    X[2] = [6.0, 6.0]
    y[2] = 0.0
    y[7] += 5.0
    return pd.DataFrame(X, columns=["a", "b"], index=index), pd.Series(y, index=index)


def test_residuals_leverage_labels_the_largest_cooks_distances():
    X, y = planted()
    est = InfluenceEstimator(LinearRegression()).fit(X, y)
    fig, ax = plt.subplots()
    display = ResidualsLeverageDisplay.from_estimator(est, ax=ax, n_labels=2)
    assert display.ax_ is ax and display.figure_ is fig
    # Ground truth from statsmodels, not from skrif.
    sm = pytest.importorskip("statsmodels.api")
    infl = sm.OLS(y, sm.add_constant(X)).fit().get_influence()
    cooks = infl.cooks_distance[0]
    expected = list(X.index[np.argsort(-cooks)[:2]])
    assert display.labelled_ == expected and set(expected) == {"l2", "o7"}
    assert [a.get_text() for a in display.annotations_] == expected
    offsets = display.scatter_.get_offsets()
    np.testing.assert_allclose(offsets[:, 0], infl.hat_matrix_diag)
    np.testing.assert_allclose(offsets[:, 1], infl.resid_studentized_internal)
    assert len(display.contours_) == 4  # ±, at Cook's distance 0.5 and 1
    # Points on a contour have that Cook's distance: D = r² h / (p (1 − h)), p = 3.
    h, r = display.contours_[0].get_data()
    np.testing.assert_allclose(r**2 * h / (3 * (1 - h)), 0.5)
    fig.canvas.draw()


def test_cooks_distance_display_draws_every_row_and_labels():
    X, y = planted()
    scaler = StandardScaler().set_output(transform="pandas")
    pipe = make_pipeline(scaler, InfluenceEstimator(Ridge(alpha=1.0))).fit(X, y)
    display = CooksDistanceDisplay.from_estimator(pipe, n_labels=3)
    table = pipe[-1].diagnostics(columns=[])
    heights = [seg[1, 1] for seg in display.lines_.get_segments()]
    np.testing.assert_allclose(heights, table["cooks_d"])
    assert display.labelled_ == list(table["cooks_d"].nlargest(3).index)
    assert display.labelled_[0] == "l2"
    display.figure_.canvas.draw()


def test_multi_output_and_bad_input():
    X, y = planted()
    Y = np.column_stack([y, X["a"]])
    est = InfluenceEstimator(Ridge()).fit(X, Y)
    with pytest.raises(ValueError, match="pass output="):
        CooksDistanceDisplay.from_estimator(est)
    with pytest.raises(ValueError, match="output must be one of"):
        CooksDistanceDisplay.from_estimator(est, output=5)
    display = ResidualsLeverageDisplay.from_estimator(est, output=1, n_labels=0)
    assert display.labelled_ == []
    with pytest.raises(ValueError, match="n_labels must be a non-negative integer"):
        CooksDistanceDisplay.from_estimator(est, output=0, n_labels=-1)
    with pytest.raises(TypeError, match="InfluenceEstimator"):
        CooksDistanceDisplay.from_estimator(Ridge().fit(X, y))
