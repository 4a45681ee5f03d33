"""InfluenceDisplay: predicted versus actual removal effects (the paper's Figure 1).

Follows scikit-learn's Display convention (e.g.
:class:`sklearn.metrics.PredictionErrorDisplay`): the constructor stores the data,
:meth:`InfluenceDisplay.plot` draws it, and the class methods
:meth:`~InfluenceDisplay.from_estimator` and :meth:`~InfluenceDisplay.from_results`
compute-and-plot in one call. matplotlib is imported only when plotting (install the
``plot`` extra: ``pip install skrif[plot]``).
"""

import textwrap

import numpy as np

from .._removal.methods import PREDICTED_METHODS, TABLE
from .._removal.methods import label as method_label
from ..validation import summarize, validate_influence
from ..validation._common import _columns

#: Scatter style of each predicted method, from the method table.
_METHOD_STYLE = {m.name: dict(m.plot_style) for m in TABLE if m.predicted}
#: Point size per removal-set strategy (the ``strategy`` column, when present).
_STRATEGY_SIZE = {"random": 10, "feature": 20, "distance": 32, "top_score": 48}
_TARGET_TITLES = {
    "test_proba": "Σ P(true class), test subset",
    "test_prediction": "Σ prediction, test subset",
    "test_margin": "Σ decision toward true class, test subset",
    "test_loss": "Σ loss, test subset",
    "self_loss": "Σ loss, all training rows",
}


def _symlog_ticks(linthresh, low, high):
    """0 and signed powers of ten outside the linear zone, at most ~5 per side."""
    first = int(np.ceil(np.log10(linthresh)))  # the first decade outside the linear zone
    ticks = [0.0]
    for sign, edge in ((1.0, high), (-1.0, -low)):
        if edge <= 10.0**first:
            continue
        last = int(np.floor(np.log10(edge)))
        exponents = np.arange(first, last + 1)
        step = max(1, int(np.ceil(exponents.size / 5)))
        ticks += [sign * 10.0**k for k in exponents[::-1][::step]]
    return sorted(ticks)


def _check_matplotlib(caller):
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, an optional dependency of skrif. Install it "
            "with `pip install matplotlib` (or `pip install skrif[plot]`)."
        ) from exc


_REQUIRED_COLUMNS = ("target", "method", "predicted", "actual")


def _results_table(results):
    """Columns of a results table, or a clear error for anything else."""
    if not hasattr(results, "keys"):
        raise TypeError(
            "results must be the Bunch returned by skrif.validation.validate_influence, "
            "its 'results' table (a DataFrame) or a dict of columns; got "
            f"{type(results).__name__}."
        )
    columns = _columns(results)
    missing = [c for c in _REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(
            f"results lacks the column(s) {missing}: it needs {list(_REQUIRED_COLUMNS)} "
            "(see skrif.validation.RESULT_COLUMNS)."
        )
    return columns


class InfluenceDisplay:
    """Predicted versus actual effects of removing training rows, per method.

    One panel per target (test-subset probability or prediction, test-subset loss,
    training loss), one point per removal set and method, and the diagonal
    ``predicted = actual``: points below it in magnitude mean the method
    underestimates. Build it with :meth:`from_estimator` (runs
    :func:`skrif.validation.validate_influence`) or :meth:`from_results` (plots a
    table it returned).

    Parameters
    ----------
    results : dict of ndarray
        Tidy table with the columns ``target``, ``method``, ``predicted`` and
        ``actual`` (see :data:`skrif.validation.RESULT_COLUMNS`).
    summary : dict of ndarray, default=None
        :func:`skrif.validation.summarize` of ``results``; computed if ``None``.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        One axes per target.
    figure_ : matplotlib Figure
    scatters_ : dict
        ``{(target, method): PathCollection}``.
    lines_ : dict
        ``{target: Line2D}``, the diagonals.

    See Also
    --------
    skrif.validation.validate_influence : computes the table.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skrif import InfluenceDisplay
    >>> table = {"target": ["test_loss"] * 4, "method": ["if", "if", "rif", "rif"],
    ...          "predicted": [0.5, -1.0, 1.0, -2.1], "actual": [1.0, -2.0, 1.0, -2.0]}
    >>> display = InfluenceDisplay(results=table).plot()
    >>> display.ax_.shape
    (1,)
    """

    def __init__(self, *, results, summary=None):
        self.results = results
        self.summary = summary

    def plot(
        self, ax=None, *, methods=None, scatter_kwargs=None, line_kwargs=None, title=None,
        scale="symlog",
    ):
        """Draw predicted (y-axis) against actual (x-axis) effects.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            One axes per target, in the order targets appear in ``results``. If
            ``None``, a new figure with one row of panels is created.
        methods : sequence of str, default=None
            Methods to draw (default: every method in ``results``).
        scatter_kwargs : dict, default=None
            Passed to ``Axes.scatter`` (overriding the per-method colors/markers).
        line_kwargs : dict, default=None
            Passed to ``Axes.plot`` for the diagonal.
        title : str, default=None
            Added under each panel's title (e.g. the data and the model).
        scale : {"symlog", "linear"}, default="symlog"
            Axis scale. ``"symlog"`` (linear within the smallest tenth of the
            effects, logarithmic beyond) keeps the many small sets readable next
            to a few large ones.

        Returns
        -------
        display : InfluenceDisplay

        Notes
        -----
        IF is drawn as hollow circles on top of the other methods, so it stays
        visible where RIF agrees with it. With a ``strategy`` column, the point size
        tells the removal-set strategy (second legend).
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        if scale not in ("symlog", "linear"):
            raise ValueError(f"scale must be 'symlog' or 'linear'; got {scale!r}.")
        import matplotlib.pyplot as plt

        cols = _columns(self.results)
        missing = [c for c in ("target", "method", "predicted", "actual") if c not in cols]
        if missing:
            raise ValueError(f"results lacks the columns {missing}.")
        summary = _columns(
            self.summary if self.summary is not None else summarize(cols, as_frame=False)
        )
        targets = list(dict.fromkeys(cols["target"].tolist()))
        available = list(dict.fromkeys(cols["method"].tolist()))
        methods = available if methods is None else list(methods)
        unknown = [m for m in methods if m not in available]
        if unknown:
            raise ValueError(f"methods {unknown} are not in the results (they hold {available}).")
        if not targets:
            raise ValueError("results is empty: there is nothing to plot.")

        if ax is None:
            fig, ax = plt.subplots(
                1, len(targets), figsize=(4.2 * len(targets), 4.6), squeeze=False, layout="constrained"
            )
        axes = np.ravel(np.asarray(ax, dtype=object))
        if axes.size != len(targets):
            raise ValueError(
                f"ax must hold one axes per target ({len(targets)}: {targets}); got {axes.size}."
            )

        scatter_kwargs = dict(scatter_kwargs or {})
        line_kwargs = {"color": "black", "alpha": 0.7, "linestyle": "--", "linewidth": 1, **(line_kwargs or {})}
        self.scatters_, self.lines_ = {}, {}
        predicted = cols["predicted"].astype(float)
        actual = cols["actual"].astype(float)
        sizes = None
        if "strategy" in cols:
            strategy = cols["strategy"].astype(object)
            sizes = np.array([_STRATEGY_SIZE.get(s, 18) for s in strategy], dtype=float)
        for axis, target in zip(axes, targets):
            in_target = cols["target"] == target
            shown = in_target & np.isin(cols["method"], methods)
            finite = shown & np.isfinite(predicted) & np.isfinite(actual)
            values = np.concatenate([predicted[finite], actual[finite]])
            low, high = (values.min(), values.max()) if values.size else (0.0, 1.0)
            if scale == "symlog":
                magnitude = np.abs(values[values != 0])
                linthresh = float(np.quantile(magnitude, 0.1)) if magnitude.size else 1.0
                span = max(abs(low), abs(high), linthresh)
                # Pad by a constant factor in the log part, linearly inside linthresh.
                low = -span * 1.3 if low < -linthresh else low - 0.3 * linthresh
                high = span * 1.3 if high > linthresh else high + 0.3 * linthresh
            else:
                pad = 0.05 * (high - low or 1.0)
                low, high = low - pad, high + pad
            self.lines_[target] = axis.plot([low, high], [low, high], **line_kwargs)[0]
            for method in methods:  # IF stays on top through its zorder
                sel = finite & (cols["method"] == method)
                style = _METHOD_STYLE.get(method, {})
                label = method_label(method)
                row = (summary["method"] == method) & (summary["target"] == target)
                if np.any(row):
                    label += f" (slope {float(summary['slope'][row][0]):.2f})"
                kwargs = {
                    "s": sizes[sel] if sizes is not None else 18,
                    "alpha": 0.8,
                    **style,
                    "label": label,
                    **scatter_kwargs,
                }
                self.scatters_[(target, method)] = axis.scatter(actual[sel], predicted[sel], **kwargs)
            if scale == "symlog":
                from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

                ticks = _symlog_ticks(linthresh, low, high)
                # Plain "%g" labels: the default 10^k mathtext labels cost seconds to lay out.
                plain = FuncFormatter(lambda v, _: f"{v:g}")
                for which in ("x", "y"):
                    getattr(axis, f"set_{which}scale")("symlog", linthresh=linthresh)
                    one = getattr(axis, f"{which}axis")
                    one.set_major_locator(FixedLocator(ticks))
                    one.set_minor_locator(NullLocator())
                    one.set_major_formatter(plain)
            axis.set_xlim(low, high)
            axis.set_ylim(low, high)
            axis.set_aspect("equal", adjustable="box")
            panel_title = _TARGET_TITLES.get(target, target)
            if title is not None:
                panel_title += "\n" + "\n".join(textwrap.wrap(title, 44))
            axis.set(
                title=panel_title,
                xlabel="actual change (exact refit)",
                ylabel="predicted change",
            )
            legend = axis.legend(loc="upper left", fontsize="small")
            if sizes is not None:
                present = [s for s in _STRATEGY_SIZE if np.any(shown & (cols["strategy"] == s))]
                handles = [
                    axis.scatter([], [], s=_STRATEGY_SIZE[s], color="0.5", marker="o", label=s)
                    for s in present
                ]
                axis.add_artist(legend)
                axis.legend(handles=handles, loc="lower right", fontsize="x-small", title="set strategy",
                            title_fontsize="x-small")
        self.ax_ = axes
        self.figure_ = axes[0].figure
        return self

    @classmethod
    def from_results(cls, results, *, ax=None, methods=None, scatter_kwargs=None, line_kwargs=None):
        """Plot a table computed by :func:`skrif.validation.validate_influence`.

        Parameters
        ----------
        results : Bunch, DataFrame or dict of array-like
            The Bunch returned by ``validate_influence`` or its ``results`` table.
        ax : matplotlib Axes or array-like of Axes, default=None
            See :meth:`plot`.
        methods : sequence of str, default=None
            See :meth:`plot`.
        scatter_kwargs : dict, default=None
            See :meth:`plot`.
        line_kwargs : dict, default=None
            See :meth:`plot`.

        Returns
        -------
        display : InfluenceDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from skrif import InfluenceDisplay
        >>> table = {"target": ["self_loss"] * 2, "method": ["rif"] * 2,
        ...          "predicted": [1.0, 2.0], "actual": [1.1, 2.0]}
        >>> InfluenceDisplay.from_results(table).lines_["self_loss"].get_linestyle()
        '--'
        """
        _check_matplotlib(f"{cls.__name__}.from_results")
        summary = None
        if hasattr(results, "keys") and "results" in results and "summary" in results:
            summary = _columns(results["summary"])
            results = results["results"]
        display = cls(results=_results_table(results), summary=summary)
        return display.plot(ax=ax, methods=methods, scatter_kwargs=scatter_kwargs, line_kwargs=line_kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        methods=PREDICTED_METHODS,
        n_sets=40,
        n_jobs=None,
        random_state=None,
        ax=None,
        scatter_kwargs=None,
        line_kwargs=None,
        **validation_kwargs,
    ):
        """Run :func:`skrif.validation.validate_influence` and plot the result.

        Parameters
        ----------
        estimator : InfluenceEstimator
            Fitted.
        X : {array-like, sparse matrix} of shape (n_eval, n_features)
            Evaluation (test) rows.
        y : array-like of shape (n_eval,) or (n_eval, n_targets)
            Their targets.
        methods : sequence of {"if", "rif", "newton"}, default=("if", "rif", "newton")
            Predictions to check against exact refits.
        n_sets : int, default=40
            Number of removal sets.
        n_jobs : int, default=None
            Parallel jobs over sets (joblib).
        random_state : int, RandomState instance or None, default=None
            Makes the sets and the test subset reproducible.
        ax : matplotlib Axes or array-like of Axes, default=None
            See :meth:`plot`.
        scatter_kwargs : dict, default=None
            See :meth:`plot`.
        line_kwargs : dict, default=None
            See :meth:`plot`.
        **validation_kwargs
            Other arguments of :func:`~skrif.validation.validate_influence`
            (``strategies``, ``min_fraction``, ``max_fraction``, ``n_eval_rows``,
            ``progress``).

        Returns
        -------
        display : InfluenceDisplay
            Its ``results`` and ``summary`` hold the tables (dicts of NumPy columns).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from skrif import InfluenceDisplay, InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(120, 4)); y = X.sum(axis=1) + rng.normal(size=120)
        >>> est = InfluenceEstimator(Ridge()).fit(X[:100], y[:100])
        >>> display = InfluenceDisplay.from_estimator(est, X[100:], y[100:], n_sets=8,
        ...                                           random_state=0)
        >>> len(display.ax_)
        3
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        out = validate_influence(
            estimator,
            X,
            y,
            methods=methods,
            n_sets=n_sets,
            n_jobs=n_jobs,
            random_state=random_state,
            as_frame=False,
            **validation_kwargs,
        )
        display = cls(results=out["results"], summary=out["summary"])
        return display.plot(ax=ax, scatter_kwargs=scatter_kwargs, line_kwargs=line_kwargs)
