"""Regression diagnostics of :class:`~skrif.InfluenceEstimator`, over
:mod:`skrif._features.diagnostics`.
"""


from sklearn.utils.validation import check_is_fitted

from . import whole_pipeline


class DiagnosticsMixin:
    """The regression-diagnostics table."""

    # -- regression diagnostics ------------------------------------------------
    def diagnostics(self, *, columns=None):
        """Per-row regression diagnostics: R's ``influence.measures`` table and more.

        One row per training row (indexed like the training DataFrame): the
        leverage ``hat_diag``; residuals ``resid_response``, ``resid_pearson`` and
        ``resid_deviance``; standardized (``standard_resid``, Pearson;
        ``standard_resid_deviance``) and studentized (``student_resid``)
        residuals; Cook's distance ``cooks_d``; ``dffits_internal`` and ``dffits``;
        ``covratio``; ``dfb_<name>`` (DFBETAS) and ``dfbeta_<name>`` (DFBETA) per
        coefficient; and R's ``influence.measures`` flags ``inf_dfb_<name>``,
        ``inf_dffits``, ``inf_covratio``, ``inf_cooks_d``, ``inf_hat`` with their
        disjunction ``influential``. Names follow statsmodels' ``summary_frame()``;
        unpenalised ``LinearRegression`` (with weights), ``LogisticRegression``
        and ``PoissonRegressor`` reproduce R and statsmodels (the two differ for
        GLM DFBETA(S), see the "Regression diagnostics" guide). Penalised models
        use the generalization documented there: the one-step leave-one-out
        change of the penalised objective (RIF; exact for ridge), the penalised
        Hessian as Cook's metric and ``tr(hat)`` degrees of freedom.

        DFBETA follows R's sign, **with the row minus without it**: the opposite
        of skrif's convention in :meth:`influence`.

        Parameters
        ----------
        columns : list of str, default=None
            Coefficients to report DFBETA(S) for (feature names, or
            ``"intercept"``); ``None`` reports all, ``[]`` none. The flags'
            thresholds always use every coefficient.

        Returns
        -------
        table : pandas.DataFrame
            One row per training row. Models with several independent outputs
            (multi-target least squares, multiclass ``RidgeClassifier``) get one
            table per output side by side, under a column MultiIndex
            ``(output, column)``. Without pandas, a dict of column name (or
            ``(output, name)``) to array.

        Raises
        ------
        ValueError
            For unknown names in ``columns``, multinomial logistic regression
            (coupled outputs), or fewer fitted rows than degrees of freedom + 2.

        Notes
        -----
        Rows with leverage 1 get NaN (with a
        :class:`~skrif.exceptions.HighLeverageWarning`); rows with sample weight 0
        are not part of the fit and get NaN, as R drops them. Cost: O(n p̃²) for
        the parameter changes, O(n p̃) for the rest, in row blocks; never an
        n × n matrix.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(30, 2)); y = X @ [1.0, -1.0] + rng.normal(size=30)
        >>> y[7] += 8.0
        >>> table = InfluenceEstimator(LinearRegression()).fit(X, y).diagnostics()
        >>> int(table["cooks_d"].idxmax())
        7
        >>> list(table.columns[:3])
        ['dfb_x0', 'dfb_x1', 'dfb_intercept']
        """
        if whole_pipeline.routes(self, "diagnostics"):
            whole_pipeline.refuse("diagnostics")
        check_is_fitted(self)
        from .._features.diagnostics import diagnostics

        return diagnostics(self, columns)
