"""Shared by the feature mixins of :class:`~skrif.InfluenceEstimator`: resolving the
removal method, the removed rows and the target, and validating evaluation rows."""


import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.utils._param_validation import StrOptions

from .._core.influence import check_removed_rows
from .._core.set_error import answer_set, removal_algebra
from .._core.targets import InverseTransformed, make_target
from .._features.groups import rows_of_labels, training_groups
from .._removal.methods import ADDITIVE_METHODS, METHODS, SPELLINGS, canonical
from .._utils.checks import (
    check_eval_targets,
)
from .._utils.frames import (
    _import_pandas,
    _training_index,
    as_frame,
    output_labels,
    removed_rows_from_pandas,
    row_labels,
)
from .._utils.params import check_params
from .._utils.warn import warn
from ..exceptions import (
    UndefinedRemovalWarning,
)


def _estimator_has(attr):
    """Check the fitted ``estimator_`` if present, else the unfitted ``estimator``."""

    def check(self):
        inner = self.estimator_ if hasattr(self, "estimator_") else self._get_estimator()
        getattr(inner, attr)
        return True

    return check


def _wraps_regressor(self):
    """``available_if`` check: the wrapped estimator is a regressor."""
    return is_regressor(self.estimator_ if hasattr(self, "estimator_") else self._get_estimator())


def _wraps_probabilistic_classifier(self):
    """``available_if`` check: the wrapped estimator is a classifier with predict_proba."""
    inner = self.estimator_ if hasattr(self, "estimator_") else self._get_estimator()
    return is_classifier(inner) and hasattr(inner, "predict_proba")


_METHOD_CONSTRAINT = {"method": [StrOptions(set(SPELLINGS)), None]}


class RemovalQueries:
    """What every feature mixin asks of the fitted estimator: the method, the removed rows,
    the target and validated evaluation rows."""

    # -- attribution ---------------------------------------------------------
    def _resolve_method(self, method, allow_auto=False):
        """The canonical method name (an alias such as ``"ns"`` is accepted);
        ``None`` follows ``rescaled``, validated here because it is read here.
        ``allow_auto`` admits ``"auto"`` (set queries: see :meth:`influence`)."""
        self._check_params()
        if allow_auto and method == "auto":
            return method
        allowed = (*METHODS, "auto") if allow_auto else METHODS
        check_params(
            _METHOD_CONSTRAINT, {"method": method}, messages={"method": f"one of {allowed} or None"}
        )
        if method is None:
            return "rif" if self.rescaled else "if"
        return canonical(method)

    def _groups(self, groups):
        """Validated :class:`~skrif._utils.groups.Groups` of the training rows (or None)."""
        if groups is None:
            return None
        return training_groups(
            groups, self._fitted_removal().n_samples, getattr(self, "training_index_", None)
        )

    def _set_rows(self, X_removed_idx, groups):
        """Removed rows: positions/mask, or the rows of the named groups."""
        if groups is None:
            return self._removed_rows(X_removed_idx)
        return rows_of_labels(self._groups(groups), X_removed_idx)

    def _answer_set(self, idx, method, fraction, measure=None, what="parameter change"):
        """Parameter change for a set, the method used and its error estimate."""
        rm = self._fitted_removal()

        def change(rows, how):
            if how == "refit" and self._reselects():
                return self._reselected_refit(rows, fraction)
            return rm.parameter_change(rows, how, fraction)

        return answer_set(
            removal_algebra(rm, fraction, change), idx, method, measure=measure, what=what,
        )

    def _reselects(self):
        """Whether exact refits reselect a CV model's hyperparameter."""
        from .wrapped import RESELECTABLE

        return self.hyperparameters == "reselect" and isinstance(self._attributed.holder, RESELECTABLE)

    def _reselected_refit(self, rows, fraction=1.0):
        """``Δθ`` (q, p̃) of refitting the CV estimator itself without ``rows`` (its
        selection included), then solving its objective at the value it selects to
        machine precision (Newton from θ̂)."""
        from .._core.problem import warn_not_converged
        from .._core.problems import make_problem
        from .._objectives import objective_class_for
        from .wrapped import reselected

        if fraction != 1.0:
            raise ValueError(
                "hyperparameters='reselect' refits the CV estimator without the rows; "
                "it has no meaning for a partial removal (fraction != 1)."
            )
        rm = self._fitted_removal()
        kept = np.setdiff1d(np.arange(rm.n_samples), rows)
        y, weights = self._fit_targets
        X = rm.design.X[kept]
        w = None if weights is None else weights[kept]
        att = reselected(self._attributed.holder, X, y[kept], w)
        objective = objective_class_for(att.twin)(att.twin)
        base = np.ones(kept.size) if w is None else w
        problem = make_problem(
            objective, X, objective.encode_targets(y[kept], att.twin),
            objective.effective_weights(y[kept], base, att.twin),
        )
        theta, n_iter, converged = problem.newton(rm.theta)
        if not converged:
            warn_not_converged(n_iter, "the exact refit at the reselected hyperparameter")
        return theta - rm.theta

    def _removed_rows(self, X_removed_idx):
        """Validated positions of removed rows; pandas inputs are aligned or refused.

        ``X_train.index[...]`` is the natural thing to pass with a DataFrame, but its
        labels are positions only for a default ``RangeIndex``, and a boolean Series
        is keyed by label, not position: either, applied by position, would
        silently remove other rows (see :func:`~skrif._utils.frames.removed_rows_from_pandas`).
        """
        n = self._removal.n_samples
        index = getattr(self, "training_index_", None)
        X_removed_idx = removed_rows_from_pandas(X_removed_idx, index, n)
        return check_removed_rows(X_removed_idx, n)

    # -- attribution: effects on targets -----------------------------------------
    def _target(self, target):
        """The :class:`~skrif._core.targets.Target` ``target`` for the fitted model."""
        rm = self._fitted_removal()
        n_model_outputs = rm.n_outputs
        if rm.objective.is_classifier:
            multi_output = n_model_outputs > 1
        else:
            multi_output = rm.objective.multi_output(self._attributed.holder)
        made = make_target(
            target,
            rm.objective,
            n_model_outputs,
            multi_output,
            probabilistic=hasattr(self.estimator_, "predict_proba"),
        )
        transformer = self._attributed.target_transformer
        if transformer is not None and made.name == "predict":
            # A TransformedTargetRegressor predicts g⁻¹ of its regressor's output.
            made = InverseTransformed(made, transformer.inverse_transform)
        return made

    def _additive_method(self, method, what):
        method = self._resolve_method(method)
        if method not in ADDITIVE_METHODS:
            raise ValueError(
                f"{what} is built from additive single-row effects, so method must be "
                f"one of {ADDITIVE_METHODS} or None; got {method!r}. Use "
                "removal_effect(..., method='newton' or 'refit') for a set of rows."
            )
        return method

    def _nan_undefined_removals(self, values):
        """NaN the rows of ``values`` (one per training row) whose removal alone is
        undefined (e.g. the only training row of a class), with a warning: their
        single-row effects are not numbers, as :meth:`influence` refuses them."""
        rows = self._removal.undefined_single_removals()
        if rows.size:
            values[rows] = np.nan
            warn(
                f"Removing training row(s) {rows[:10].tolist()} alone leaves a model "
                "that cannot be fitted (each is the only training row of its class): "
                "their single-row effects are undefined and reported as NaN.",
                UndefinedRemovalWarning,
            )
        return values

    # -- per-row outputs ---------------------------------------------------------
    def _row_target(self, target):
        """``(Target, labels)`` for a per-training-row output: ``"predict"`` on a
        classifier evaluates the decision function and reports the predicted class
        (``labels=True``), as ``cross_val_predict`` does."""
        rm = self._fitted_removal()
        if isinstance(target, str) and target == "predict" and rm.objective.is_classifier:
            return self._target("decision_function"), True
        return self._target(target), False

    def _class_labels(self, decision):
        """Predicted classes (``classes_``) from finalized decision values (n,) or
        (n, K); rows with undefined values (NaN, warned about) get NaN. Lazy
        per-row decisions (a Dask fit) give lazy labels, block by block."""
        classes = np.asarray(self.classes_)
        if self._fitted_removal().distributed:
            Z = decision.reshape(decision.shape[0], -1).rechunk({1: -1})
            return Z.map_blocks(_class_labels, classes, drop_axis=1, dtype=classes.dtype)
        return _class_labels(decision, classes)

    def _rows_output(self, values, target_name, as_frame_, *, X=None, index=None,
                     columns=None, attrs=None):
        """``values`` as returned: NumPy, or (``as_frame_``) pandas indexed by the
        training rows (or the rows of ``X``, or ``index``)."""
        if not as_frame_:
            return values
        pd = _import_pandas()
        if index is None:
            index = _training_index(self, pd) if X is None else row_labels(X, len(values))
        values = np.asarray(values)
        if columns is None and values.ndim == 2:
            columns = output_labels(self, target_name, values.shape[1])
        return as_frame(values, index, columns=columns, name=target_name, attrs=attrs)

    def _validate_eval(self, X, y, target):
        """Validate evaluation rows; encode ``y`` when the target needs it."""
        X = self._validate_X(X)
        rm = self._removal
        transformer = self._attributed.target_transformer
        if transformer is not None and y is not None and target.needs_y:
            # The regressor's loss is on the transformed target.
            from .wrapped import transformed_target

            y = transformed_target(transformer, y)
        Y = check_eval_targets(
            y, X.shape[0], target, rm.objective, self.estimator_, getattr(self, "classes_", None),
            rm.n_outputs,
        )
        return X, Y


def _class_labels(decision, classes):
    """``classes`` picked by decision values (n,) or (n, K); NaN rows get NaN."""
    Z = np.asarray(decision, dtype=float).reshape(len(decision), -1)
    bad = np.isnan(Z).any(axis=1)
    if Z.shape[1] == 1:
        codes = (Z[:, 0] > 0).astype(int)
    else:
        codes = np.argmax(np.nan_to_num(Z), axis=1)
    labels = classes[codes]
    if bad.any():
        labels = labels.astype(object)
        labels[bad] = np.nan
    return labels
