"""Groups as removal units (``groups=`` of the attribution methods) and
:meth:`~skrif.InfluenceEstimator.cv_predict`, over :mod:`skrif._features.groups`.
"""



import numpy as np
from sklearn.utils._param_validation import HasMethods, StrOptions

from .._core.group_step import group_method_by_cost
from .._core.set_error import verification_gap, warn_unverified
from .._features import attribution as _attribution
from .._features import audit as _audit
from .._features.groups import (
    describe_methods,
    fold_splits,
    group_changes,
    group_method,
    group_scores,
    own_group_values,
)
from .._features.influential import InfluentialRows
from .._removal.methods import METHODS
from .._utils.checks import check_bool
from .._utils.params import Integer, validate_arguments
from .._utils.progress import Progress
from .._utils.warn import warn
from ..exceptions import SetInteractionWarning, UndefinedRemovalWarning
from . import whole_pipeline


class GroupsMixin:
    """Whole groups of training rows as removal units, and cross-validated predictions."""

    # -- groups as removal units ----------------------------------------------
    def _group_changes(self, groups, method, log=None):
        """``(changes (G, q, p̃), Groups)`` of removing each group on its own."""
        rm = self._fitted_removal()
        groups = self._groups(groups)
        method = group_method(method, groups)
        changes, used = group_changes(rm, groups, method)
        if log is not None:
            log.line(f"{groups.n_groups} groups: {describe_methods(used)}")
        return changes, groups

    def _most_influential_groups(self, X, y, target, k, direction, method, output, verify, groups):
        """:meth:`most_influential` with whole groups as the units.

        Groups are ranked by their own effect (each group's change evaluated at
        ``θ̂ + Δ_g``, not linearized); ``predicted`` is the sum over the chosen
        groups. Their joint removal is then answered as one set (the group step,
        or a refit where that is as cheap): it warns
        (:class:`~skrif.exceptions.SetInteractionWarning`) when the sum is more
        than 10% off or of the other sign, and a joint removal that leaves no
        model (e.g. a single class) makes ``predicted`` NaN, with an
        :class:`~skrif.exceptions.UndefinedRemovalWarning`.
        """
        rm = self._fitted_removal()
        direction = _attribution.check_direction(direction)
        output = _attribution.check_output(target, output)
        X, Y = self._validate_eval(X, y, target)
        changes, groups = self._group_changes(groups, method)
        k = _attribution.check_k(k, groups.n_groups)
        design = rm.design.for_rows(X)
        with np.errstate(invalid="ignore"):  # NaN for undefined groups (warned)
            scores = group_scores(changes, design, rm.theta, target, Y, linearized=False)
        scores = np.nan_to_num(scores[:, :, output].sum(axis=1), nan=0.0)
        best = _attribution.top_k(scores, k, direction)
        rows = groups.rows(np.sort(best))
        predicted = float(np.sum(scores[best]))
        labels = groups.labels[best]

        def summed(how):
            return float(np.sum(
                _attribution.removal_effect(rm, rows, X, Y, target, how)[:, output]
            ))

        try:
            joint = summed(group_method_by_cost(rm, rows.size)) if k > 1 else predicted
        except (ValueError, np.linalg.LinAlgError):
            warn(
                f"Removing groups {labels.tolist()[:10]} together leaves a model that "
                "cannot be fitted (e.g. no row of some class, or a parameter no "
                "remaining row determines): their joint effect is undefined (NaN).",
                UndefinedRemovalWarning,
            )
            joint, predicted = None, np.nan
        if joint is not None and verification_gap(predicted, joint)[1]:
            warn(
                f"The summed single-group effects of groups {labels.tolist()[:10]} "
                f"({predicted:.4g}) differ from their joint removal ({joint:.4g}): the "
                "groups interact. Use verify=True, or removal_effect on their rows "
                "with method='newton' or 'refit'.",
                SetInteractionWarning,
            )
        actual = None
        if check_bool(verify, "verify") and np.isfinite(predicted):
            actual = summed("refit")
            warn_unverified(predicted, actual, f"the {k} most influential groups")
        result = InfluentialRows(rows, predicted, actual)
        result.groups = labels
        return result

    def _group_self_influence(self, groups, target, method, linearized):
        changes, groups = self._group_changes(groups, method)
        rm = self._fitted_removal()
        # Groups whose removal is undefined carry NaN changes (already warned about).
        per_row = rm.rowwise(
            own_group_values, changes, target, check_bool(linearized, "linearized"),
            per_row=(groups.codes,),
        )
        return target.finalize(rm.group_sums(per_row, groups.codes, groups.n_groups)), groups

    def _group_loo_predict(self, groups, target, method, log=None):
        changes, groups = self._group_changes(groups, method, log)
        rm = self._fitted_removal()
        values = rm.rowwise(own_group_values, changes, target, None, per_row=(groups.codes,))
        return target.finalize(values)

    @validate_arguments(
        {
            "cv": [Integer(None, None, closed="neither"), HasMethods(["split", "get_n_splits"])],
            "method": [StrOptions({"auto", *METHODS})],
            "verbose": [Integer(0, None, closed="left"), "boolean"],
        },
        {
            "cv": "an int (number of folds) or a scikit-learn splitter",
            "method": f"one of {('auto', *METHODS)}",
            "verbose": "an integer >= 0",
        },
    )
    def cv_predict(
        self, *, cv=5, groups=None, target="predict", method="auto", as_frame=False, verbose=0
    ):
        """Out-of-fold predictions of every training row from this one fit.

        ``out[i]`` is the target of training row ``i`` evaluated with the model
        fitted without the fold that holds row ``i`` — what
        :func:`sklearn.model_selection.cross_val_predict` computes with one refit
        per fold. Least squares (``Ridge``, ``LinearRegression``) answers every
        fold exactly from this fit (the group Newton step, by the cheaper of its
        two algebras); other models refit a fold exactly where that costs at most
        a few group steps (few large folds), and take the group step otherwise.

        Parameters
        ----------
        cv : int or cross-validation splitter, default=5
            Number of folds (``GroupKFold`` when ``groups`` are given, else
            ``KFold`` without shuffling), or a scikit-learn splitter whose test
            folds partition the training rows (``KFold``, ``GroupKFold``,
            ``StratifiedKFold``, ``LeaveOneGroupOut``, ...).
        groups : array-like of shape (n_samples,), default=None
            Group labels passed to the splitter (a pandas Series is aligned to the
            training rows by its index).
        target : {"predict", "decision_function", "predict_proba", "loss"}, \
                default="predict"
            ``"predict"`` is what ``cross_val_predict`` returns by default: class
            labels for classifiers, predictions for regressors. Other targets as
            in :meth:`removal_effect`, evaluated on the training rows.
        method : {"auto", "newton", "refit", "rif", "if"}, default="auto"
            How each fold's removal is computed: ``"auto"`` by cost (see above and
            :func:`skrif._core.group_step.group_method_by_cost`), ``"newton"`` the
            group Newton step, ``"refit"`` an exact refit per fold,
            ``"rif"``/``"if"`` additive.
        as_frame : bool, default=False
            Return a pandas Series (DataFrame for several outputs) indexed like
            the training rows; ``attrs["methods"]`` says how the folds were
            answered.
        verbose : int, default=0
            ``>= 1`` prints how the folds are answered and one line per fold.

        Returns
        -------
        predictions : ndarray of shape (n_samples,) or (n_samples, n_outputs)

        Notes
        -----
        Per fold of ``k`` rows: the group step by Woodbury (O(k p̃² + k³) primal,
        O(k n² + k³) dual) or with the kept rows' Hessian (O(n p̃² + p̃³), no k × k
        matrix), whichever is cheaper; or a refit (a few factorizations). Plus
        O(nnz(X) q).

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
            return whole_pipeline.cv_predict(
                self, cv=cv, groups=groups, target=target, method=method, as_frame=as_frame,
                verbose=verbose,
            )
        t, labels_out = self._row_target(target)
        log = Progress(verbose, "cv_predict")
        as_frame = check_bool(as_frame, "as_frame")
        rm = self._fitted_removal()
        Y = np.asarray(rm.Y)  # the splitter's y (n labels; gathered on Dask)
        labels = self.classes_[_audit.true_classes(Y)] if rm.objective.is_classifier else Y
        if groups is not None:
            groups = self._groups(groups).codes
        # Splitters read the number of rows from X (the training X in memory).
        X_split = np.empty((rm.n_samples, 0)) if rm.distributed else rm.design.X
        splits = fold_splits(cv, X_split, labels, groups)
        rm.prefetch([test for _, test in splits], method)
        fold_of = np.empty(rm.n_samples, dtype=np.intp)
        deltas = np.empty((len(splits),) + rm.theta.shape)
        used = {}
        for f, (_, test) in enumerate(splits):
            how = group_method_by_cost(rm, len(test)) if method == "auto" else method
            used[how] = used.get(how, 0) + 1
            fold_of[test] = f
            deltas[f] = rm.parameter_change(np.sort(test), how)
            log.line(f"fold {f + 1}/{len(splits)} ({len(test)} rows): {how}", level=2)
        log.line(f"{len(splits)} folds: {describe_methods(used)}")
        out = t.finalize(rm.rowwise(own_group_values, deltas, t, None, per_row=(fold_of,)))
        if labels_out:
            out = self._class_labels(out)
        return self._rows_output(out, target, as_frame, attrs={"methods": used})
