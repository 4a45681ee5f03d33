"""Removal curves: does dropping the top-ranked training rows help on rows it was
not chosen on?

:func:`removal_curve` ranks the training rows (by their effect on the evaluation
loss, their leave-one-out loss, their label-quality score, or any score), removes
the top fractions, refits exactly, and scores the refitted model on evaluation rows
— next to removing as many *random* rows (exact refits too).

Choosing rows by their effect on some evaluation rows and then scoring on those same
rows is selection bias: measured on six real tables, the in-sample gain was −1% to
−29% of the test loss while the same removals made the loss 1% to 17% worse on a
held-out half. So by default the selection is **cross-fitted**: the evaluation rows
are split into ``cv`` folds; for each fold, the training rows are ranked on the
other folds and the refit is scored on the held-out fold only; the held-out scores
are pooled. No reported gain is scored on a row it was selected on.

``by`` and ``scoring`` also take a :class:`~skrif.functionals.Functional` (a fairness
gap, a worst-group loss, ...: ranked by its per-row effect on the ranking rows, scored
on the held-out rows, each fold's group labels kept by ``Functional._subset``), and
callables, so any ranking or metric plugs in without changing the protocol:
``by(est, X_sel, y_sel) -> scores (n_train,)`` (largest removed first) and
``scoring(estimator, X, y) -> float`` (scikit-learn's scorer convention).
"""

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import check_scoring
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, StrOptions

from .._features import attribution as _attribution
from .._utils.dask import fitted_on_dask
from .._utils.params import Integer, validate_arguments
from ._common import check_influence_estimator

#: Default fractions of the training rows removed.
FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2)
#: Built-in rankings of :func:`removal_curve` (``by``).
RANKINGS = ("harmful", "self", "label_issues")
#: Selection protocols of :func:`removal_curve`.
SELECTIONS = ("cross_fit", "in_sample")
#: Columns of :meth:`RemovalCurve.to_frame`.
CURVE_COLUMNS = (
    "fraction",
    "n_removed",
    "score_all",
    "score_removed",
    "gain",
    "gain_se",
    "score_random",
    "score_random_std",
    "gain_random",
)
#: Largest fraction of the training rows a curve removes.
MAX_FRACTION = 0.5

_CONSTRAINTS = {
    "est": "no_validation",
    "X_eval": "no_validation",
    "y_eval": "no_validation",
    "fractions": "no_validation",  # checked below, with its own message
    "by": [StrOptions(set(RANKINGS)), "array-like", callable, HasMethods(["value", "_subset"])],
    "selection": [StrOptions(set(SELECTIONS))],
    "cv": [Integer(2, None, closed="left")],
    "n_random": [Integer(0, None, closed="left")],
    "scoring": [None, str, callable, HasMethods(["value", "_subset"])],
    "random_state": ["random_state"],
}
_MESSAGES = {
    "by": f"one of {RANKINGS}, an array of scores (one per training row), a "
    "skrif.functionals.Functional or a callable",
    "selection": f"one of {SELECTIONS}",
    "cv": "an integer >= 2",
    "n_random": "an integer >= 0",
    "scoring": "None, a scikit-learn scorer name, a callable scorer(estimator, X, y) or a "
    "skrif.functionals.Functional",
}


@dataclass(eq=False)
class RemovalCurve:
    """Outcome of :func:`removal_curve`: one point per removed fraction.

    Scores follow scikit-learn's convention, greater is better (the default
    ``"neg_mean_loss"`` is minus the model's mean per-row loss). ``gain`` is the
    score without the ranked rows minus the score with all rows; ``gain_random``
    the same for random rows.

    Attributes
    ----------
    fractions : ndarray of shape (n_points,)
    n_removed : ndarray of int, shape (n_points,)
        Training rows removed at each point (``round(fraction · n)``, at least 1).
    score_all : float
        Score of the model fitted on all training rows.
    score_removed : ndarray of shape (n_points,)
        Score after an exact refit without the top-ranked rows (cross-fitted:
        pooled over the held-out folds).
    gain_se : ndarray of shape (n_points,)
        Standard error of ``gain``: from the paired per-row differences of the
        held-out rows for the default loss, across folds for other scorers (NaN
        with one fold).
    score_random, score_random_std : ndarray of shape (n_points,)
        Mean and standard deviation, over ``n_random`` draws, of the score after
        removing as many random rows (NaN without draws).
    by, selection, scoring : str
        The ranking, the selection protocol and the score's name.
    folds : list of (ndarray, ndarray)
        Per fold, the evaluation rows the ranking saw and the rows scored; with
        ``selection="cross_fit"`` they are disjoint, with ``"in_sample"`` both are
        all rows (optimistic: selected and scored on the same rows).
    removed : list of list of ndarray
        ``removed[f][k]``: training rows removed at point ``k`` for fold ``f``.
    random_removed : list of list of ndarray
        ``random_removed[k][d]``: the rows of random draw ``d`` at point ``k``
        (shared by all folds).
    """

    fractions: np.ndarray
    n_removed: np.ndarray
    score_all: float
    score_removed: np.ndarray
    gain_se: np.ndarray
    score_random: np.ndarray
    score_random_std: np.ndarray
    by: str
    selection: str
    scoring: str
    folds: list
    removed: list
    random_removed: list

    @property
    def gain(self):
        """Score without the ranked rows minus the score with all rows."""
        return self.score_removed - self.score_all

    @property
    def gain_random(self):
        """Mean score without random rows minus the score with all rows."""
        return self.score_random - self.score_all

    def to_frame(self):
        """The curve as a DataFrame, one line per fraction (:data:`CURVE_COLUMNS`)."""
        import pandas as pd

        return pd.DataFrame({
            "fraction": self.fractions,
            "n_removed": self.n_removed,
            "score_all": self.score_all,
            "score_removed": self.score_removed,
            "gain": self.gain,
            "gain_se": self.gain_se,
            "score_random": self.score_random,
            "score_random_std": self.score_random_std,
            "gain_random": self.gain_random,
        })


# -- the pieces -------------------------------------------------------------------
def _check_fractions(fractions):
    values = np.asarray(fractions, dtype=float).ravel() if np.ndim(fractions) else None
    if (
        values is None or values.size == 0
        or not np.all(np.isfinite(values))
        or np.any(values <= 0) or np.any(values > MAX_FRACTION)
    ):
        raise ValueError(
            f"fractions must be a non-empty sequence of numbers in (0, {MAX_FRACTION}]; "
            f"got {fractions!r}."
        )
    return np.unique(values)


def _folds(selection, cv, m, y, classifier, rng):
    """``[(ranking rows, scoring rows), ...]`` of the evaluation rows."""
    everything = np.arange(m)
    if selection == "in_sample":
        return [(everything, everything)]
    if cv > m:
        raise ValueError(
            f"cv={cv} is more folds than the {m} evaluation rows; use cv <= {m}, or "
            "more evaluation rows."
        )
    seed = rng.randint(np.iinfo(np.int32).max)
    splitter = KFold(cv, shuffle=True, random_state=seed)
    if classifier:
        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= cv:  # stratify when every class can fill every fold
            splitter = StratifiedKFold(cv, shuffle=True, random_state=seed)
    return [(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros((m, 1)), y)]


def _order(scores):
    """Training rows by decreasing score; NaN last."""
    scores = np.asarray(scores, dtype=float)
    return np.argsort(np.where(np.isnan(scores), np.inf, -scores), kind="stable")


def _is_functional(value):
    return hasattr(value, "value") and hasattr(value, "_subset") and hasattr(value, "response_method")


def _ranker(by, est, rm, X, Y, y, X_eval):
    """``rank(rows) -> training rows, first removed first`` from evaluation ``rows``
    (``X``, ``Y``: the rows as the model sees them; ``X_eval``, ``y``: as given)."""
    n = rm.n_samples
    if _is_functional(by):
        if by.greater_is_better is None:
            raise ValueError(
                f"by={by.name!r} has no better direction (greater_is_better=None): "
                "rows cannot be ranked for removal by it."
            )
        sign = 1.0 if by.greater_is_better else -1.0
        method = est._additive_method(None, "removal_curve(by=functional)")

        def rank(rows):
            # Each row's effect on the functional of the ranking rows, at θ̂ + Δ_i:
            # the rows whose removal improves it most first.
            effects = est.functional_influence(
                by._subset(rows), _safe_indexing(X_eval, rows), y[rows], method=method
            )
            return _order(sign * np.asarray(effects, dtype=float))

        return rank
    if isinstance(by, str) and by == "harmful":
        loss = est._target("loss")
        method = est._additive_method(None, "removal_curve(by='harmful')")

        def rank(rows):
            # Change of the total loss over the ranking rows, at θ̂ + Δ_i: most
            # negative (removal lowers the loss most) first.
            effects = _attribution.total_effects(rm, X[rows], Y[rows], loss, method)
            return _order(-effects.sum(axis=1))

        return rank
    if isinstance(by, str):
        if by == "self":  # the row's own loss under the model fitted without it
            scores = np.asarray(est.loo_predict(target="loss"), dtype=float).reshape(n, -1).sum(axis=1)
        else:  # "label_issues": low label quality first
            scores = -np.asarray(est.label_issues().score, dtype=float)
        order = _order(scores)
        return lambda rows: order
    if callable(by):
        def rank(rows):
            scores = np.asarray(by(est, _safe_indexing(X_eval, rows), y[rows]), dtype=float)
            if scores.shape != (n,):
                raise ValueError(
                    f"by(est, X, y) must return one score per training row, shape ({n},); "
                    f"got shape {scores.shape}."
                )
            return _order(scores)

        return rank
    scores = np.asarray(by, dtype=float)
    if scores.shape != (n,) or not np.all(np.isfinite(scores)):
        raise ValueError(
            f"by as an array must hold one finite score per training row, shape ({n},); "
            f"got shape {scores.shape}."
        )
    order = _order(scores)
    return lambda rows: order


class _LossScore:
    """Minus the model's own mean per-row loss (scorer convention), with per-row values."""

    name = "neg_mean_loss"

    def __init__(self, est, X, Y):
        self.loss = est._target("loss")
        self.design, self.Y = est._fitted_removal().design.for_rows(X), Y

    def per_row(self, theta, rows):
        Z = self.design.rows_matvec(rows, theta.T)
        return -np.asarray(self.loss.value(Z, self.Y[rows])).reshape(len(rows), -1).sum(axis=1)


def _attributed_model(est):
    """A copy of the linear model whose parameters are attributed (inside a pipeline,
    a frozen or CV wrapper), and the evaluation targets on its scale."""
    import copy

    attributed = est._attributed
    transformer = attributed.target_transformer
    return copy.deepcopy(attributed.twin), transformer


class _EstimatorScore:
    """A scikit-learn scorer on a copy of the attributed model at other parameters
    (on the rows as that model sees them: through a pipeline's preprocessing, on a
    TransformedTargetRegressor's transformed scale)."""

    def __init__(self, est, rm, scoring, X, y):
        from .._estimator.wrapped import transformed_target

        model, transformer = _attributed_model(est)
        if transformer is not None:
            y = transformed_target(transformer, y)
        self.model, self.objective, self.X, self.y = model, rm.objective, X, y
        self.scorer = check_scoring(model, scoring=scoring)
        self.name = scoring if isinstance(scoring, str) else getattr(scoring, "__name__", "scoring")

    def per_row(self, theta, rows):
        return None

    def score(self, theta, rows):
        self.objective.set_theta(self.model, theta)
        return float(self.scorer(self.model, self.X[rows], self.y[rows]))


class _FunctionalScore(_EstimatorScore):
    """A :class:`~skrif.functionals.Functional` of the attributed model's outputs on
    the scored rows, signed so that greater is better."""

    def __init__(self, est, rm, functional, X, y, Y):
        if functional.greater_is_better is None:
            raise ValueError(
                f"scoring={functional.name!r} has no better direction "
                "(greater_is_better=None): a removal curve needs one."
            )
        super().__init__(est, rm, None, X, y)
        self.functional, self.name = functional, functional.name
        self.sign = 1.0 if functional.greater_is_better else -1.0
        self.loss = est._target("loss") if functional.response_method == "loss" else None
        self.design, self.Y = rm.design.for_rows(X), Y

    def score(self, theta, rows):
        if self.loss is not None:  # the family's own per-row loss
            Z = self.design.rows_matvec(rows, theta.T)
            out = np.asarray(self.loss.value(Z, self.Y[rows])).reshape(len(rows))
        else:
            self.objective.set_theta(self.model, theta)
            out = getattr(self.model, self.functional.response_method)(self.X[rows])
        return self.sign * self.functional._subset(rows).value(self.y[rows], out)


def _refitter(rm, sizes, fractions):
    cache = {}

    def refit(rows):
        rows = np.sort(rows)
        key = rows.tobytes()
        if key not in cache:
            try:
                cache[key] = rm.theta + rm.parameter_change(rows, "refit")
            except (ValueError, np.linalg.LinAlgError) as exc:
                k = int(np.flatnonzero(sizes == len(rows))[0])
                reason = (str(exc).strip().splitlines() or [""])[0]
                raise ValueError(
                    f"removal_curve: the model without {len(rows)} training rows (fraction "
                    f"{fractions[k]:g}) cannot be refitted: {reason} Use smaller fractions."
                ) from None
        return cache[key]

    return refit


# -- the curve --------------------------------------------------------------------
@validate_arguments(_CONSTRAINTS, _MESSAGES)
def removal_curve(
    est, X_eval, y_eval, *, fractions=FRACTIONS, by="harmful", selection="cross_fit", cv=5,
    n_random=5, scoring=None, random_state=None,
):
    """Score the model refitted without its top-ranked training rows, honestly.

    For each fraction, the top-ranked ``round(fraction · n)`` training rows are
    removed, the model is refitted exactly, and its score on evaluation rows is
    compared with the model on all rows and with removing as many random rows
    (``n_random`` draws, exact refits). With ``selection="cross_fit"`` (default)
    the evaluation rows are split into ``cv`` folds; rows are ranked on the other
    folds and the refit is scored on the held-out fold, so no gain is scored on
    the rows that chose the removal. ``selection="in_sample"`` ranks and scores
    on all evaluation rows: optimistic, for comparison only.

    Parameters
    ----------
    est : InfluenceEstimator
        Fitted (in memory). For a Pipeline ending in one, pass ``pipeline[-1]`` and
        data transformed with :func:`skrif.transform_through`.
    X_eval : {array-like, sparse matrix} of shape (n_eval, n_features)
        Evaluation rows (e.g. a validation split), never used to fit.
    y_eval : array-like of shape (n_eval,) or (n_eval, n_targets)
        Their targets.
    fractions : sequence of float, default=(0.01, 0.02, 0.05, 0.1, 0.2)
        Fractions of the training rows to remove, each in (0, 0.5].
    by : {"harmful", "self", "label_issues"}, array-like or callable, \
            default="harmful"
        The ranking. ``"harmful"``: each row's effect, alone, on the total loss of
        the ranking rows (evaluated at the row's predicted parameters, RIF or IF
        per ``est.rescaled``), most lowering first. ``"self"``: largest
        leave-one-out loss first (:meth:`~skrif.InfluenceEstimator.loo_predict`).
        ``"label_issues"``: lowest label-quality score first
        (:meth:`~skrif.InfluenceEstimator.label_issues`; classifiers). A
        :class:`~skrif.functionals.Functional` (with a ``greater_is_better``
        direction): the rows whose removal alone improves it most on the ranking
        rows first (:meth:`~skrif.InfluenceEstimator.functional_influence`). An
        array of shape (n_samples,): largest first. A callable ``by(est, X, y)``
        returning such an array from the ranking rows (as given).
    selection : {"cross_fit", "in_sample"}, default="cross_fit"
    cv : int, default=5
        Folds of the evaluation rows for ``"cross_fit"`` (stratified for
        classifiers when every class has ``cv`` rows), at most ``n_eval``.
    n_random : int, default=5
        Random removals per fraction (0: none).
    scoring : str or callable, default=None
        ``None``: minus the model's mean per-row loss (its own family's:
        log-loss, squared error, deviance), with a per-row paired standard error.
        Otherwise a scikit-learn scorer name (``"accuracy"``, ``"roc_auc"``, ...)
        or callable ``scorer(estimator, X, y)``, applied to a copy of the attributed
        model at the refitted parameters (on the rows as it sees them), or a
        :class:`~skrif.functionals.Functional` of the scored rows (signed so that
        greater is better); their standard error is across folds.
    random_state : int, RandomState instance or None, default=None
        Fold assignment and random removals.

    Returns
    -------
    curve : :class:`~skrif.validation.RemovalCurve`
        ``curve.to_frame()`` is the table; ``curve.folds`` records which rows
        ranked and which were scored.

    Raises
    ------
    ValueError
        Fractions outside (0, 0.5], ``cv`` larger than the evaluation rows, a
        removal that leaves a model that cannot be fitted (e.g. one class), or
        ``"label_issues"`` for a regressor.

    Notes
    -----
    Cost: one ranking per fold (``"harmful"``: O(n p̃ m) for ``m`` ranking rows;
    the others once) and exact refits — ``cv × len(fractions)`` for ``"harmful"``
    or a callable, ``len(fractions)`` for fixed rankings — plus
    ``n_random × len(fractions)`` random ones, each shared by all folds.

    Expect small fractions (1–5%) to help only when there is something to clean,
    and large ones to hurt. On data with nothing to clean the cross-fitted gain
    is not significant while the in-sample one is large; the choice of rows does
    carry a little information from the ranking rows into the model, a small
    genuine gain (measured in the guide's "Which method answers which question").

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skrif import InfluenceEstimator
    >>> from skrif.validation import removal_curve
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)); y = X @ [1.0, -1.0, 0.5, 0.0] + rng.normal(size=300)
    >>> y[:15] += 8.0  # corrupted training targets
    >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X[:200], y[:200])
    >>> curve = removal_curve(est, X[200:], y[200:], fractions=(0.05, 0.2), random_state=0)
    >>> curve.n_removed
    array([10, 40])
    >>> bool(curve.gain[0] > 2 * curve.gain_se[0])  # dropping 10 rows helps held-out rows
    True
    >>> all(len(np.intersect1d(ranked, scored)) == 0 for ranked, scored in curve.folds)
    True
    """
    check_influence_estimator(est, "removal_curve")
    if fitted_on_dask(est):
        raise NotImplementedError(
            "removal_curve runs in memory: fit the estimator on in-memory data (each "
            "point is an exact refit)."
        )
    if getattr(est, "_pipeline_removal", None) is not None:
        raise ValueError(
            "removal_curve refits the final model with the pipeline's preprocessing held "
            "fixed; this estimator removes rows from every step (preprocessing='refit'). "
            "Use InfluenceEstimator(pipeline, preprocessing='fixed')."
        )
    rm = est._fitted_removal()
    rm.check_data()
    fractions = _check_fractions(fractions)
    if isinstance(by, str) and by == "label_issues" and not rm.objective.is_classifier:
        raise ValueError("by='label_issues' needs a classifier; use 'self' or 'harmful'.")
    X, Y = est._validate_eval(X_eval, y_eval, est._target("loss"))
    y = np.asarray(y_eval)
    m, n = X.shape[0], rm.n_samples
    sizes = np.maximum(1, np.rint(fractions * n)).astype(int)
    rng = check_random_state(random_state)
    folds = _folds(selection, cv, m, y, rm.objective.is_classifier, rng)
    rank = _ranker(by, est, rm, X, Y, y, X_eval)
    if scoring is None:
        scorer = _LossScore(est, X, Y)
    elif _is_functional(scoring):
        scorer = _FunctionalScore(est, rm, scoring, X, y, Y)
    else:
        scorer = _EstimatorScore(est, rm, scoring, X, y)
    refit = _refitter(rm, sizes, fractions)
    random_removed = [[rng.choice(n, size=s, replace=False) for _ in range(n_random)] for s in sizes]

    per_row = scoring is None
    S, R, F = len(sizes), n_random, len(folds)
    if per_row:  # held-out per-row scores, pooled over folds
        base, removed_rows_score = np.empty(m), np.empty((S, m))
        random_score = np.empty((S, R, m))
    else:  # one score per fold
        base, removed_rows_score = np.empty(F), np.empty((S, F))
        random_score = np.empty((S, R, F))
    removed = []
    for f, (ranking_rows, scored) in enumerate(folds):
        order = rank(ranking_rows)
        removed.append([np.sort(order[:s]) for s in sizes])
        where = scored if per_row else f

        def evaluate(theta):
            return scorer.per_row(theta, scored) if per_row else scorer.score(theta, scored)

        base[where] = evaluate(rm.theta)
        for k in range(S):
            removed_rows_score[k, where] = evaluate(refit(removed[f][k]))
            for d in range(R):
                random_score[k, d, where] = evaluate(refit(random_removed[k][d]))

    if per_row:
        score_all = float(base.mean())
        score_removed = removed_rows_score.mean(axis=1)
        diff = removed_rows_score - base
        gain_se = diff.std(axis=1, ddof=1) / np.sqrt(m) if m > 1 else np.full(S, np.nan)
        random_means = random_score.mean(axis=2)  # (S, R)
    else:
        weights = np.array([len(scored) for _, scored in folds], dtype=float)
        weights /= weights.sum()
        score_all = float(base @ weights)
        score_removed = removed_rows_score @ weights
        diff = removed_rows_score - base
        gain_se = diff.std(axis=1, ddof=1) / np.sqrt(F) if F > 1 else np.full(S, np.nan)
        random_means = random_score @ weights  # (S, R)
    with np.errstate(invalid="ignore"):
        score_random = random_means.mean(axis=1) if R else np.full(S, np.nan)
        score_random_std = random_means.std(axis=1, ddof=1) if R > 1 else np.full(S, np.nan)
    return RemovalCurve(
        fractions=fractions, n_removed=sizes, score_all=score_all,
        score_removed=score_removed, gain_se=gain_se, score_random=score_random,
        score_random_std=score_random_std,
        by=by if isinstance(by, str) else (
            by.name if _is_functional(by) else "callable" if callable(by) else "array"
        ),
        selection=selection, scoring=scorer.name, folds=folds, removed=removed,
        random_removed=random_removed,
    )

