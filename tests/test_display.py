"""InfluenceDisplay (matplotlib, Agg backend)."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402

from skrif import InfluenceDisplay, InfluenceEstimator  # noqa: E402
from skrif.validation import validate_influence  # noqa: E402

TABLE = {
    "set_id": [0, 0, 1, 1, 0, 0, 1, 1, 2, 2],
    "target": ["test_loss"] * 4 + ["self_loss"] * 6,
    "method": ["if", "rif"] * 5,
    "predicted": [0.5, 1.0, -1.0, -2.1, 0.2, 0.4, 0.3, 0.6, np.nan, 1.0],
    "actual": [1.0, 1.0, -2.0, -2.0, 0.4, 0.4, 0.6, 0.6, 1.0, 1.0],
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_from_results_draws_one_panel_per_target_with_diagonal():
    display = InfluenceDisplay.from_results(TABLE)
    assert display.ax_.shape == (2,)
    assert [ax.get_title() for ax in display.ax_] == [
        "Σ loss, test subset",
        "Σ loss, all training rows",
    ]
    assert set(display.scatters_) == {(t, m) for t in ("test_loss", "self_loss") for m in ("if", "rif")}
    for target, line in display.lines_.items():
        x, y = line.get_data()
        assert np.allclose(x, y) and x[0] < x[1]
    # points are (actual, predicted) of the table's rows; NaN rows are skipped
    offsets = display.scatters_[("test_loss", "if")].get_offsets()
    assert np.allclose(offsets, [[1.0, 0.5], [-2.0, -1.0]])
    assert len(display.scatters_[("self_loss", "if")].get_offsets()) == 2
    assert display.ax_[0].get_xlabel() == "actual change (exact refit)"
    assert display.figure_ is display.ax_[0].figure


def test_legend_reports_slopes():
    display = InfluenceDisplay.from_results(TABLE)
    labels = [t.get_text() for t in display.ax_[0].get_legend().get_texts()]
    # IF on test_loss: Σpa/Σa² = (0.5 + 2) / (1 + 4) = 0.5
    assert labels == ["IF (slope 0.50)", "RIF (slope 1.04)"]


def test_plot_on_given_axes_and_method_subset():
    fig, axes = plt.subplots(1, 2)
    display = InfluenceDisplay(results=TABLE).plot(ax=axes, methods=["rif"])
    assert display.ax_[0] is axes[0] and display.figure_ is fig
    assert set(display.scatters_) == {("test_loss", "rif"), ("self_loss", "rif")}
    with pytest.raises(ValueError, match="one axes per target"):
        InfluenceDisplay(results=TABLE).plot(ax=axes[0])
    with pytest.raises(ValueError, match="not in the results"):
        InfluenceDisplay(results=TABLE).plot(methods=["newton"])
    with pytest.raises(ValueError, match="lacks the columns"):
        InfluenceDisplay(results={"method": ["if"]}).plot()


def test_from_estimator_and_from_validation_bunch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(140, 5))
    y = X.sum(axis=1) + rng.normal(size=140)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X[:100], y[:100])
    display = InfluenceDisplay.from_estimator(est, X[100:], y[100:], n_sets=8, random_state=0)
    assert display.ax_.shape == (3,)
    assert display.ax_[0].get_title() == "Σ prediction, test subset"
    assert len(display.results["predicted"]) == 8 * 3 * 3
    out = validate_influence(est, X[100:], y[100:], n_sets=8, random_state=0)
    again = InfluenceDisplay.from_results(out)  # the Bunch (DataFrames) works too
    assert np.allclose(
        again.scatters_[("test_loss", "newton")].get_offsets(),
        display.scatters_[("test_loss", "newton")].get_offsets(),
    )


def test_clear_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="requires matplotlib.*pip install matplotlib"):
        InfluenceDisplay(results=TABLE).plot()


def _run_example(name, monkeypatch, capsys):
    import runpy
    from pathlib import Path

    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    script = Path(__file__).resolve().parents[1] / "examples" / name
    runpy.run_path(str(script), run_name="__main__")
    return capsys.readouterr().out


@pytest.mark.slow
def test_example_predicted_vs_actual(monkeypatch, capsys):
    """examples/plot_predicted_vs_actual.py: the paper's Figure 1 on the bundled data."""
    out = _run_example("plot_predicted_vs_actual.py", monkeypatch, capsys)
    slope = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0] in ("if", "rif", "newton"):
            slope[(parts[0], parts[1])] = float(parts[2])
    assert len(slope) == 9
    for target in ("test_proba", "test_loss", "self_loss"):
        assert slope[("if", target)] < 0.75
        assert 0.9 <= slope[("rif", target)] <= 1.1


@pytest.mark.slow
def test_example_sample_size_and_penalty(monkeypatch, capsys):
    """examples/plot_sample_size_and_penalty.py: IF's error shrinks with n and penalty."""
    out = _run_example("plot_sample_size_and_penalty.py", monkeypatch, capsys)
    rows = {}
    for line in out.splitlines():
        if line.startswith(("n =", "lambda =")):
            name, numbers = line[:18].strip(), [float(v) for v in line[18:].split()]
            rows[name] = dict(zip(("h", "if", "rif", "newton"), numbers))
    assert len(rows) == 10
    assert rows["n = 640"]["if"] < 0.5 * rows["n = 40"]["if"]
    assert rows["lambda = 1"]["if"] < 0.5 * rows["lambda = 0.0001"]["if"]
    for row in rows.values():
        assert row["rif"] < row["if"] and row["rif"] < 0.1
