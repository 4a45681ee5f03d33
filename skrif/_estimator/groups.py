"""Groups as removal units (``groups=`` of the attribution methods) and
:meth:`~skrif.InfluenceEstimator.cv_predict`, over :mod:`skrif._features.groups`.
"""


import numpy as np
from sklearn.utils._param_validation import HasMethods, StrOptions

from .._core.set_error import warn_unverified
from .._features import attribution as _attribution
from .._features import audit as _audit
from .._features.groups import (
    fold_splits,
    group_changes,
    group_method,
    group_scores,
    own_rows_change,
)
from .._features.influential import InfluentialRows
from .._removal.methods import METHODS
from .._utils.checks import check_bool
from .._utils.params import Integer, validate_arguments
from . import whole_pipeline


class GroupsMixin:
    """Whole groups of training rows as removal units, and cross-validated predictions."""

    # -- groups as removal units ----------------------------------------------
    def _group_changes(self, groups, method):
        """``(changes (G, q, p̃), Groups)`` of removing each group on its own."""
        rm = self._fitted_removal()
        groups = self._groups(groups)
        method = group_method(method, groups)

        def change(rows, how):
            return rm.parameter_change(rows, how)

        return group_changes(change, groups, method, stacklevel=3), groups

    def _most_influential_groups(self, X, y, target, k, direction, method, output, verify, groups):
        """:meth:`most_influential` with whole groups as the units."""
        rm = self._fitted_removal()
        direction = _attribution.check_direction(direction)
        output = _attribution.check_output(target, output)
        X, Y = self._validate_eval(X, y, target)
        changes, groups = self._group_changes(groups, method)
        k = _attribution.check_k(k, groups.n_groups)
        design = rm.design.for_rows(X)
        scores = group_scores(changes, design, rm.theta, target, Y)[:, :, output].sum(axis=1)
        best = _attribution.top_k(scores, k, direction)
        rows = groups.rows(np.sort(best))
        actual = None
        if check_bool(verify, "verify"):
            actual = float(np.sum(
                _attribution.removal_effect(rm, rows, X, Y, target, "refit")[:, output]
            ))
        result = InfluentialRows(rows, float(np.sum(scores[best])), actual)
        result.groups = groups.labels[best]
        if actual is not None:
            warn_unverified(result.predicted, actual, f"the {k} most influential groups",
                            stacklevel=4)
        return result

    def _group_self_influence(self, groups, target, method, linearized):
        changes, groups = self._group_changes(groups, method)
        rm = self._fitted_removal()
        Z = rm.linear_predictor()
        dZ = own_rows_change(changes, rm.design, rm.theta, groups)
        Y = rm.problem.Y if target.needs_y else None
        # Groups whose removal is undefined carry NaN changes (already warned about).
        with np.errstate(invalid="ignore"):
            if check_bool(linearized, "linearized"):
                per_row = np.einsum("mq,mrq->mr", dZ, target.derivative(Z, Y))
            else:
                per_row = target.value(Z + dZ, Y) - target.value(Z, Y)
        totals = np.zeros((groups.n_groups, per_row.shape[1]))
        np.add.at(totals, groups.codes, per_row)
        return target.finalize(totals)

    def _group_loo_predict(self, groups, target, method):
        changes, groups = self._group_changes(groups, method)
        rm = self._fitted_removal()
        Z = rm.linear_predictor()
        dZ = own_rows_change(changes, rm.design, rm.theta, groups)
        Y = rm.problem.Y if target.needs_y else None
        with np.errstate(invalid="ignore"):  # NaN for undefined groups (warned)
            return target.finalize(target.value(Z + dZ, Y))

    @validate_arguments(
        {
            "cv": [Integer(None, None, closed="neither"), HasMethods(["split", "get_n_splits"])],
            "method": [StrOptions(set(METHODS))],
        },
        {"cv": "an int (number of folds) or a scikit-learn splitter", "method": f"one of {METHODS}"},
    )
    def cv_predict(self, *, cv=5, groups=None, target="decision_function", method="newton"):
        """Out-of-fold predictions of every training row from this one fit.

        ``out[i]`` is the target of training row ``i`` evaluated with the model
        fitted without the fold that holds row ``i`` — what
        :func:`sklearn.model_selection.cross_val_predict` computes with one refit
        per fold, here from one group step per fold (exact for ``Ridge`` and
        ``LinearRegression``; one Newton step from the full fit otherwise).

        Parameters
        ----------
        cv : int or cross-validation splitter, default=5
            Number of folds (``GroupKFold`` when ``groups`` are given, else
            ``KFold`` without shuffling), or a scikit-learn splitter whose test
            folds partition the training rows (``KFold``, ``GroupKFold``,
            ``StratifiedKFold``, ``LeaveOneGroupOut``, ...).
        groups : array-like of shape (n_samples,), default=None
            Group labels passed to the splitter.
        target : {"decision_function", "predict_proba", "predict", "loss"}, \
                default="decision_function"
            See :meth:`removal_effect`; evaluated on the training rows.
        method : {"newton", "refit", "rif", "if"}, default="newton"
            How each fold's removal is computed: ``"newton"`` the group Newton step,
            ``"refit"`` an exact refit per fold, ``"rif"``/``"if"`` additive.

        Returns
        -------
        predictions : ndarray of shape (n_samples,) or (n_samples, n_outputs)

        Notes
        -----
        For folds of sizes ``k_f``: Σ_f O(k_f p̃² + k_f³) for ``"newton"`` in the
        primal form (O(k_f n² + k_f³) in the dual form), plus O(nnz(X) q).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import Ridge
        >>> from sklearn.model_selection import GroupKFold, cross_val_predict
        >>> from skrif import InfluenceEstimator
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(60, 3)); y = X @ [1.0, 2.0, 0.0] + rng.normal(size=60)
        >>> groups = np.repeat(np.arange(12), 5)
        >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
        >>> fast = est.cv_predict(cv=GroupKFold(4), groups=groups, target="predict")
        >>> slow = cross_val_predict(Ridge(alpha=1.0), X, y, cv=GroupKFold(4), groups=groups)
        >>> bool(np.allclose(fast, slow))
        True
        """
        if whole_pipeline.routes(self, "cv_predict"):
            return whole_pipeline.cv_predict(self, cv=cv, groups=groups, target=target, method=method)
        target = self._target(target)
        rm = self._fitted_removal()
        problem = rm.problem
        labels = problem.Y
        if problem.objective.is_classifier:
            labels = self.classes_[_audit.true_classes(problem.Y)]
        if groups is not None:
            groups = self._groups(groups).codes
        splits = fold_splits(cv, problem.design.X, labels, groups)
        Z = rm.linear_predictor()
        dZ = np.empty_like(Z)
        for _, test in splits:
            delta = rm.parameter_change(np.sort(test), method)
            dZ[test] = problem.design.rows_matvec(test, delta.T)
        Y = problem.Y if target.needs_y else None
        return target.finalize(target.value(Z + dZ, Y))
