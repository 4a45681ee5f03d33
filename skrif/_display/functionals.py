"""FunctionalInfluenceDisplay: the training rows that move a functional most.

A horizontal bar per row: its effect on the functional when removed alone
(:meth:`~skrif.InfluenceEstimator.functional_influence`), the rows whose removal
lowers it and those whose removal raises it, largest first. scikit-learn's Display
convention: the constructor stores the data, :meth:`plot` draws,
:meth:`from_estimator` computes and draws.
"""

import numpy as np

from .influence import _check_matplotlib


class FunctionalInfluenceDisplay:
    """Bar chart of the training rows with the largest effects on a functional.

    Parameters
    ----------
    effects : ndarray of shape (k,)
        The rows' single-row effects (value without the row minus value with it).
    labels : sequence of length k
        Their names (training-row labels, or group labels).
    name : str
        The functional's name.
    value : float, default=None
        The functional on the fitted model (shown in the title).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    bars_ : matplotlib BarContainer

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skrif import FunctionalInfluenceDisplay, InfluenceEstimator
    >>> from skrif.functionals import roc_auc
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 3)); y = (X[:, 0] + rng.normal(size=80) > 0).astype(int)
    >>> est = InfluenceEstimator(LogisticRegression(tol=1e-10)).fit(X[:60], y[:60])
    >>> display = FunctionalInfluenceDisplay.from_estimator(est, roc_auc(), X[60:], y[60:], k=6)
    >>> len(display.bars_)
    6
    """

    def __init__(self, *, effects, labels, name, value=None):
        self.effects = np.asarray(effects, dtype=float)
        self.labels = list(labels)
        self.name = name
        self.value = value

    def plot(self, ax=None, *, bar_kwargs=None):
        """Draw the bars (lowering effects blue, raising ones red), largest absolute effect on top.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if ``None``.
        bar_kwargs : dict, default=None
            Passed to ``ax.barh``.

        Returns
        -------
        self : FunctionalInfluenceDisplay
        """
        _check_matplotlib("FunctionalInfluenceDisplay.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.3 * len(self.effects) + 1.2))
        order = np.argsort(np.abs(self.effects))  # barh draws bottom-up
        colors = np.where(self.effects[order] < 0, "tab:blue", "tab:red")
        kwargs = {"color": colors, **(bar_kwargs or {})}
        positions = np.arange(order.size)
        self.bars_ = ax.barh(positions, self.effects[order], **kwargs)
        ax.set_yticks(positions, [str(self.labels[i]) for i in order])
        ax.axvline(0.0, color="0.3", lw=0.8)
        ax.set_xlabel(f"change of {self.name} when the row is removed")
        title = f"{self.name}" + (f" = {self.value:.4g}" if self.value is not None else "")
        ax.set_title(title + ": most influential training rows")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls, est, functional, X_ref, y_ref=None, *, k=15, method=None, groups=None, ax=None,
        bar_kwargs=None,
    ):
        """Compute the effects (:meth:`~skrif.InfluenceEstimator.functional_influence`)
        and draw the ``k`` largest in absolute value.

        Parameters
        ----------
        est : InfluenceEstimator
            Fitted.
        functional : Functional
        X_ref, y_ref
            The reference rows (and targets) of the functional.
        k : int, default=15
            Number of rows (or groups) shown.
        method, groups
            As in :meth:`~skrif.InfluenceEstimator.functional_influence`.
        ax, bar_kwargs
            As in :meth:`plot`.

        Returns
        -------
        display : FunctionalInfluenceDisplay
        """
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer; got {k!r}.")
        values = est.functional_influence(functional, X_ref, y_ref, method=method, groups=groups)
        if groups is not None:
            names = est._groups(groups).labels
        else:
            index = getattr(est, "training_index_", None)
            names = np.arange(values.size) if index is None else np.asarray(index)
        top = np.argsort(-np.nan_to_num(np.abs(values), nan=-1.0), kind="stable")[:k]
        ref = est._functional_reference(functional, X_ref, y_ref)
        return cls(
            effects=values[top], labels=list(names[top]), name=ref.functional.name,
            value=ref.value,
        ).plot(ax=ax, bar_kwargs=bar_kwargs)
