"""Label issues of :class:`~skrif.InfluenceEstimator`'s training rows, over
:mod:`skrif._features.label_issues`: out-of-sample probabilities from this one fit,
then confident learning."""

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from .._features import audit as _audit
from .._features import label_issues as _label_issues
from .._utils.params import Integer, check_params

_CONSTRAINTS = {
    "score": [StrOptions(set(_label_issues.SCORES))],
    "min_examples_per_class": [Integer(0, None, closed="left")],
}
_MESSAGES = {
    "score": f"one of {_label_issues.SCORES}",
    "min_examples_per_class": "an integer >= 0",
}


class LabelIssuesMixin:
    """Which training labels are probably wrong."""

    def label_issues(
        self, *, score="self_confidence", cv=None, groups=None, method=None,
        min_examples_per_class=1,
    ):
        """Training rows whose label is probably wrong, from this one fit.

        Each row's label is judged by the class probabilities of a model that did
        not see the row — its leave-one-out probabilities (the default), or those
        of the model without the row's group or fold — computed from this fit
        without refitting. Low probability of the given label gives a low
        ``score``; rows are flagged by confident learning exactly as cleanlab's
        ``find_label_issues`` flags them by default (``filter_by=
        "prune_by_noise_rate"``: per-class thresholds, the estimated joint of given
        and true labels says how many rows of each pair to flag).

        This is the tool for wrong labels. :meth:`self_influence` is not: it ranks
        how much a row pulls the model toward itself, which leverage dominates, so
        correctly labelled unusual rows rank first there.

        Parameters
        ----------
        score : {"self_confidence", "normalized_margin", \
                "confidence_weighted_entropy"}, default="self_confidence"
            Label-quality score (cleanlab's ``get_label_quality_scores`` methods;
            ``self_confidence`` is the out-of-sample probability of the given label).
        cv : int or cross-validation splitter, default=None
            ``None``: leave-one-out (or leave-one-group-out with ``groups``)
            probabilities. Otherwise K-fold probabilities from the same fit, as
            :meth:`cv_predict` computes them (one group Newton step per fold).
        groups : array-like of shape (n_samples,), default=None
            Group labels of the training rows: probabilities of the model without
            the row's whole group (``cv=None``), or passed to the splitter.
        method : str, default=None
            How the model without the row (group, fold) is computed. Leave-one-out:
            ``"rif"`` or ``"if"`` (``None`` follows ``rescaled``); groups and folds:
            ``"newton"`` (``None``), ``"refit"``, ``"rif"`` or ``"if"``.
        min_examples_per_class : int, default=1
            Never flag rows of a class with at most this many rows, and keep at
            least this many per class (cleanlab's parameter of the same name).

        Returns
        -------
        result : :class:`~skrif._features.label_issues.LabelIssues`
            ``score``, ``is_issue``, ``ranked`` (flagged positions, most likely
            wrong first), ``given_label``, ``suggested_label`` (most probable class
            out of sample), ``probabilities``; pandas objects indexed like the
            training DataFrame when fitted on one. ``result.to_frame()`` is a table.

        Raises
        ------
        ValueError
            For a regressor, or a classifier without ``predict_proba``
            (``RidgeClassifier``).

        Notes
        -----
        Leave-one-out probabilities cost what :meth:`loo_predict` costs (O(n) after
        the factorization for binary logistic regression, O(n p̃²) for multinomial
        models); the flags add O(n K + n log n). Measured on six real tables with
        planted noise (guide page "Which method answers which question"), the
        leave-one-out flags match or beat cleanlab's with 5-fold refits.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn.preprocessing import scale
        >>> from skrif import InfluenceEstimator
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> X = scale(X)
        >>> rng = np.random.default_rng(0)
        >>> flipped = rng.choice(len(y), size=30, replace=False)
        >>> y_noisy = y.copy(); y_noisy[flipped] = 1 - y[flipped]
        >>> est = InfluenceEstimator(
        ...     LogisticRegression(solver="newton-cholesky", tol=1e-10)).fit(X, y_noisy)
        >>> issues = est.label_issues()
        >>> issues.n_issues, int(np.isin(issues.ranked, flipped).sum())  # 26 planted
        (31, 26)
        >>> int(np.isin(issues.ranked[:10], flipped).sum())  # the top 10 all are
        10
        """
        check_is_fitted(self)
        check_params(
            _CONSTRAINTS, {"score": score, "min_examples_per_class": min_examples_per_class},
            messages=_MESSAGES,
        )
        inner = self.estimator_
        if not is_classifier(inner):
            raise ValueError(
                f"label_issues needs a classifier; the wrapped {type(inner).__name__} is a "
                "regressor (for rows a regressor fits badly, see self_influence or "
                "diagnostics()['student_resid'])."
            )
        if not hasattr(inner, "predict_proba"):
            raise ValueError(
                f"label_issues needs class probabilities; {type(inner).__name__} has no "
                "predict_proba. Use LogisticRegression or SGDClassifier(loss='log_loss')."
            )
        if cv is None and groups is None:
            source_method = self._additive_method(method, "label_issues")
            P = self.loo_predict(target="predict_proba", method=source_method)
            source = f"leave-one-out ({source_method})"
        elif cv is None:
            P = self.loo_predict(target="predict_proba", method=method, groups=groups)
            source = f"leave-one-group-out ({method or 'newton'})"
        else:
            how = "newton" if method is None else method
            P = self.cv_predict(cv=cv, groups=groups, target="predict_proba", method=how)
            source = f"cross-validation folds ({how})"
        rm = self._fitted_removal()
        codes = _audit.true_classes(rm.problem.Y)
        P = np.asarray(P, dtype=float).reshape(len(codes), -1)
        return _label_issues.label_issues(
            codes, P, np.asarray(self.classes_), score=score,
            min_examples_per_class=int(min_examples_per_class), source=source,
            index=getattr(self, "training_index_", None),
        )
