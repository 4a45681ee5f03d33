"""Displays of regression diagnostics: R's ``plot.lm`` panels 5 and 4.

:class:`ResidualsLeverageDisplay` plots standardized Pearson residuals against
leverage with contours of equal Cook's distance (R's ``plot(fit, which = 5)``);
:class:`CooksDistanceDisplay` plots Cook's distance by row (``which = 4``). Both label
the most influential rows (largest Cook's distance) with their index labels and
follow scikit-learn's Display convention (``from_estimator`` computes and plots,
``plot(ax=...)`` draws). matplotlib is imported only when plotting.
"""

import numpy as np

from .influence import _check_matplotlib


def _table(estimator, output):
    """``(diagnostics frame, n_params)`` of one output of a fitted estimator."""
    est = estimator[-1] if hasattr(estimator, "steps") else estimator
    if not hasattr(est, "diagnostics"):
        raise TypeError(
            "estimator must be a fitted InfluenceEstimator (or a Pipeline ending in "
            f"one); got {type(est).__name__}."
        )
    table = est.diagnostics(columns=[])
    if table.columns.nlevels > 1:
        outputs = list(table.columns.levels[0])
        if output is None:
            raise ValueError(
                f"This model has {len(outputs)} outputs {outputs[:10]}: pass output= to "
                "choose the one to plot."
            )
        if output not in outputs:
            raise ValueError(f"output must be one of {outputs[:10]}; got {output!r}.")
        table = table[output]
    elif output is not None:
        raise ValueError("output is only for models with several outputs.")
    return table, _effective_params(table)


def _effective_params(table):
    """R's ``p`` of the contours: ``tr(hat) = Σ h_i``, the effective degrees of freedom
    (the number of coefficients for unpenalised models)."""
    return float(np.nansum(table["hat_diag"].to_numpy()))


def _row_names(table, labels):
    """The annotation names: ``labels`` (one per training row) or the table's index."""
    if labels is None:
        return table.index.to_numpy()
    labels = np.asarray(labels, dtype=object)
    if labels.shape != (len(table),):
        raise ValueError(
            f"labels must hold one name per training row ({len(table)}); got shape "
            f"{labels.shape}."
        )
    return labels


def _top_rows(cooks_d, n_labels):
    n_labels = _check_n_labels(n_labels)
    values = np.where(np.isfinite(cooks_d), cooks_d, -np.inf)
    order = np.argsort(-values, kind="stable")
    order = order[np.isfinite(values[order])]
    return order[:n_labels]


def _check_n_labels(n_labels):
    if isinstance(n_labels, bool) or not isinstance(n_labels, (int, np.integer)) or n_labels < 0:
        raise ValueError(f"n_labels must be a non-negative integer; got {n_labels!r}.")
    return int(n_labels)


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


class ResidualsLeverageDisplay:
    """Standardized residuals against leverage with Cook's distance contours.

    R's ``plot.lm(which = 5)``: rows far right have high leverage, rows far from 0
    large residuals, and rows beyond the dashed contours a large Cook's distance
    ``D = r² h / (p (1 − h))``. The ``n_labels`` rows with the largest Cook's
    distance are labelled with their training-index labels.

    Parameters
    ----------
    leverage : ndarray of shape (n_samples,)
        ``hat_diag`` of :meth:`~skrif.InfluenceEstimator.diagnostics`.
    standard_resid : ndarray of shape (n_samples,)
        Standardized Pearson residuals.
    cooks_d : ndarray of shape (n_samples,)
        Cook's distances (choose the rows to label).
    labels : array-like of shape (n_samples,)
        Row labels.
    n_params : float
        ``p`` of the contours (the effective degrees of freedom for penalised models).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    scatter_ : matplotlib PathCollection
    contours_ : list of matplotlib Line2D
        Two curves (±) per Cook's level.
    labelled_ : list
        Labels of the annotated rows, most influential first.
    annotations_ : list of matplotlib Annotation

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skrif import InfluenceEstimator, ResidualsLeverageDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = X @ [1.0, 2.0] + rng.normal(size=40)
    >>> y[3] += 10
    >>> est = InfluenceEstimator(LinearRegression()).fit(X, y)
    >>> display = ResidualsLeverageDisplay.from_estimator(est)
    >>> display.labelled_[0]
    3
    """

    def __init__(self, *, leverage, standard_resid, cooks_d, labels, n_params):
        self.leverage = np.asarray(leverage, dtype=float)
        self.standard_resid = np.asarray(standard_resid, dtype=float)
        self.cooks_d = np.asarray(cooks_d, dtype=float)
        self.labels = np.asarray(labels, dtype=object)
        self.n_params = float(n_params)

    @classmethod
    def from_estimator(
        cls, estimator, *, output=None, ax=None, n_labels=3, cook_levels=(0.5, 1.0),
        scatter_kwargs=None, labels=None,
    ):
        """Compute the diagnostics of a fitted estimator and plot them.

        Parameters
        ----------
        estimator : InfluenceEstimator or Pipeline
            Fitted; a Pipeline must end in an InfluenceEstimator.
        output : label, default=None
            For models with several outputs, which one (a class or target index).
        ax : matplotlib Axes, default=None
        n_labels : int, default=3
            Rows to label (R's ``id.n``).
        cook_levels : sequence of float, default=(0.5, 1.0)
            Cook's distances drawn as contours.
        scatter_kwargs : dict, default=None
            Passed to ``Axes.scatter``.
        labels : array-like of shape (n_samples,), default=None
            Names of the training rows for the annotations (e.g. an id column);
            ``None``: the training index (``training_index_``, or positions).

        Returns
        -------
        display : ResidualsLeverageDisplay
        """
        table, n_params = _table(estimator, output)
        display = cls(
            leverage=table["hat_diag"].to_numpy(),
            standard_resid=table["standard_resid"].to_numpy(),
            cooks_d=table["cooks_d"].to_numpy(),
            labels=_row_names(table, labels),
            n_params=n_params,
        )
        return display.plot(
            ax=ax, n_labels=n_labels, cook_levels=cook_levels, scatter_kwargs=scatter_kwargs
        )

    def plot(self, ax=None, *, n_labels=3, cook_levels=(0.5, 1.0), scatter_kwargs=None):
        """Draw the panel.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            A new figure is created when ``None``.
        n_labels : int, default=3
            Rows with the largest Cook's distance to label.
        cook_levels : sequence of float, default=(0.5, 1.0)
            Cook's distances drawn as dashed contours ``r = ±√(D p (1 − h) / h)``.
        scatter_kwargs : dict, default=None
            Passed to ``Axes.scatter``.

        Returns
        -------
        display : ResidualsLeverageDisplay
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        top = _top_rows(self.cooks_d, n_labels)
        ax = _axes(ax)
        ok = np.isfinite(self.standard_resid) & np.isfinite(self.leverage)
        kwargs = {"s": 14, "facecolors": "none", "edgecolors": "k", **(scatter_kwargs or {})}
        self.scatter_ = ax.scatter(self.leverage[ok], self.standard_resid[ok], **kwargs)
        ax.axhline(0.0, color="grey", linestyle=":", linewidth=0.8)
        self.contours_ = []
        h_max = np.nanmax(self.leverage[ok]) if np.any(ok) else 1.0
        grid = np.linspace(max(h_max, 1e-3) / 100, min(1.05 * h_max, 0.999), 101)
        for level in cook_levels:
            radius = np.sqrt(level * self.n_params * (1 - grid) / grid)
            for sign in (1, -1):
                (line,) = ax.plot(grid, sign * radius, color="tab:red", linestyle="--",
                                  linewidth=0.8)
                self.contours_.append(line)
            ax.annotate(f"{level:g}", (grid[-1], radius[-1]), color="tab:red",
                        fontsize="small", ha="left", va="center")
        self.annotations_ = [
            ax.annotate(str(self.labels[i]), (self.leverage[i], self.standard_resid[i]),
                        textcoords="offset points", xytext=(4, 2), fontsize="small")
            for i in top
        ]
        self.labelled_ = [self.labels[i] for i in top]
        low, high = np.nanmin(self.standard_resid[ok]), np.nanmax(self.standard_resid[ok])
        pad = 0.1 * max(high - low, 1.0)
        ax.set_ylim(low - pad, high + pad)  # the contours must not squash the points
        ax.set_xlim(0.0, grid[-1] * 1.08)
        ax.set_xlabel("Leverage")
        ax.set_ylabel("Standardized Pearson residual")
        ax.set_title("Residuals vs Leverage (Cook's distance contours)")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class CooksDistanceDisplay:
    """Cook's distance of every training row, by position (R's ``plot.lm(which = 4)``).

    Parameters
    ----------
    cooks_d : ndarray of shape (n_samples,)
    labels : array-like of shape (n_samples,)
        Row labels used for the annotations.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : matplotlib LineCollection
        One vertical segment per row.
    labelled_ : list
        Labels of the annotated rows, most influential first.
    annotations_ : list of matplotlib Annotation

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skrif import CooksDistanceDisplay, InfluenceEstimator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = X @ [1.0, 2.0] + rng.normal(size=40)
    >>> y[3] += 10
    >>> est = InfluenceEstimator(LinearRegression()).fit(X, y)
    >>> CooksDistanceDisplay.from_estimator(est, n_labels=1).labelled_
    [3]
    """

    def __init__(self, *, cooks_d, labels):
        self.cooks_d = np.asarray(cooks_d, dtype=float)
        self.labels = np.asarray(labels, dtype=object)

    @classmethod
    def from_estimator(
        cls, estimator, *, output=None, ax=None, n_labels=3, vlines_kwargs=None, labels=None
    ):
        """Compute the diagnostics of a fitted estimator and plot Cook's distances.

        Parameters
        ----------
        estimator : InfluenceEstimator or Pipeline
            Fitted; a Pipeline must end in an InfluenceEstimator.
        output : label, default=None
            For models with several outputs, which one.
        ax : matplotlib Axes, default=None
        n_labels : int, default=3
            Rows to label (R's ``id.n``).
        vlines_kwargs : dict, default=None
            Passed to ``Axes.vlines``.
        labels : array-like of shape (n_samples,), default=None
            Names of the training rows for the annotations (e.g. an id column);
            ``None``: the training index (``training_index_``, or positions).

        Returns
        -------
        display : CooksDistanceDisplay
        """
        table, _ = _table(estimator, output)
        display = cls(cooks_d=table["cooks_d"].to_numpy(), labels=_row_names(table, labels))
        return display.plot(ax=ax, n_labels=n_labels, vlines_kwargs=vlines_kwargs)

    def plot(self, ax=None, *, n_labels=3, vlines_kwargs=None):
        """Draw one vertical line per row, its height the row's Cook's distance.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        n_labels : int, default=3
            Rows with the largest Cook's distance to label.
        vlines_kwargs : dict, default=None
            Passed to ``Axes.vlines``.

        Returns
        -------
        display : CooksDistanceDisplay
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        top = _top_rows(self.cooks_d, n_labels)
        ax = _axes(ax)
        position = np.arange(self.cooks_d.size)
        heights = np.where(np.isfinite(self.cooks_d), self.cooks_d, 0.0)
        kwargs = {"colors": "k", "linewidth": 1.0, **(vlines_kwargs or {})}
        self.lines_ = ax.vlines(position, 0.0, heights, **kwargs)
        self.annotations_ = [
            ax.annotate(str(self.labels[i]), (position[i], heights[i]),
                        textcoords="offset points", xytext=(0, 3), ha="center",
                        fontsize="small")
            for i in top
        ]
        self.labelled_ = [self.labels[i] for i in top]
        ax.set_ylim(0.0, 1.12 * max(float(np.max(heights, initial=0.0)), 1e-12))
        ax.set_xlabel("Training row (position)")
        ax.set_ylabel("Cook's distance")
        ax.set_title("Cook's distance")
        self.ax_, self.figure_ = ax, ax.figure
        return self
