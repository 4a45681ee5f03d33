"""RemovalCurveDisplay: the score without the top-ranked rows against random removals.

scikit-learn's Display convention: the constructor stores the data, :meth:`plot`
draws it, :meth:`~RemovalCurveDisplay.from_estimator` and
:meth:`~RemovalCurveDisplay.from_curve` compute-and-plot in one call. matplotlib is
imported only when plotting.
"""

import numpy as np

from ..validation import removal_curve
from .influence import _check_matplotlib

_SELECTION_TEXT = {
    "cross_fit": "cross-fitted: ranked on other folds, scored on held-out rows",
    "in_sample": "in-sample: ranked and scored on the same rows (optimistic)",
}


class RemovalCurveDisplay:
    """Change of the evaluation score when the top-ranked training rows are removed.

    One line for the ranked removals (with ± 2 standard errors), one for random
    removals of as many rows (mean ± one standard deviation over the draws), and
    zero, the model on all rows. Points above zero mean removing the rows helped.

    Parameters
    ----------
    curve : :class:`~skrif.validation.RemovalCurve`
        What :func:`skrif.validation.removal_curve` returned.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    line_ : matplotlib Line2D
        The ranked removals.
    random_line_ : matplotlib Line2D or None
        The random removals (``None`` without draws).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skrif import InfluenceEstimator, RemovalCurveDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(150, 3)); y = X @ [1.0, -1.0, 0.0] + rng.normal(size=150)
    >>> est = InfluenceEstimator(Ridge()).fit(X[:100], y[:100])
    >>> display = RemovalCurveDisplay.from_estimator(est, X[100:], y[100:], random_state=0)
    >>> display.ax_.get_xlabel()
    'training rows removed (%)'
    """

    def __init__(self, *, curve):
        self.curve = curve

    @classmethod
    def from_estimator(cls, est, X_eval, y_eval, *, ax=None, title=None, **kwargs):
        """Run :func:`skrif.validation.removal_curve` (``kwargs`` are its options) and plot."""
        _check_matplotlib("RemovalCurveDisplay")
        curve = removal_curve(est, X_eval, y_eval, **kwargs)
        return cls(curve=curve).plot(ax=ax, title=title)

    @classmethod
    def from_curve(cls, curve, *, ax=None, title=None):
        """Plot a :class:`~skrif.validation.RemovalCurve`."""
        return cls(curve=curve).plot(ax=ax, title=title)

    def plot(self, ax=None, *, title=None):
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            A new figure when ``None``.
        title : str, default=None
            Axes title (default: the ranking and the selection protocol).

        Returns
        -------
        display : RemovalCurveDisplay
        """
        _check_matplotlib("RemovalCurveDisplay")
        import matplotlib.pyplot as plt

        c = self.curve
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        x = 100 * np.asarray(c.fractions)
        ax.axhline(0.0, color="0.4", linewidth=1, linestyle=":", label="all rows")
        self.random_line_ = None
        if np.any(np.isfinite(c.score_random)):
            spread = np.nan_to_num(c.score_random_std)
            (self.random_line_,) = ax.plot(
                x, c.gain_random, marker="s", color="tab:gray", label="random rows (± 1 sd)"
            )
            ax.fill_between(x, c.gain_random - spread, c.gain_random + spread,
                            color="tab:gray", alpha=0.2, linewidth=0)
        (self.line_,) = ax.plot(x, c.gain, marker="o", color="tab:blue",
                                label=f"ranked by {c.by} (± 2 se)")
        band = 2 * np.nan_to_num(c.gain_se)
        ax.fill_between(x, c.gain - band, c.gain + band, color="tab:blue", alpha=0.2, linewidth=0)
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
        ax.set_xlabel("training rows removed (%)")
        ax.set_ylabel(f"change of {c.scoring} (higher is better)")
        ax.set_title(title if title is not None else _SELECTION_TEXT[c.selection], fontsize=10)
        ax.legend(fontsize=8)
        self.ax_, self.figure_ = ax, ax.figure
        return self
