"""Conformal prediction intervals and sets from one fit: jackknife+, CV+, LAC/APS sets.

The jackknife+ (Barber, Candès, Ramdas & Tibshirani 2021) needs, for every training
row ``i``, the model fitted without row ``i``: its prediction at ``x_i`` (the
leave-one-out residual ``R_i = |y_i − μ̂_{−i}(x_i)|``) and at every test row. The
interval is

    [ q̂⁻_α{ μ̂_{−i}(x) − R_i },  q̂⁺_α{ μ̂_{−i}(x) + R_i } ],

with ``q̂⁺_α`` the ``⌈(1 − α)(n + 1)⌉``-th smallest of the ``n`` values and ``q̂⁻_α``
the ``⌈(1 − α)(n + 1)⌉``-th largest (equivalently the ``⌊α(n + 1)⌋``-th smallest).
MAPIE refits the estimator ``n`` times for these models; skrif has them from the one
fit: the linear predictor of row ``x`` without row ``i`` is ``z(x) + δz_i(x)`` with
``δz`` the (n × n_test) matrix of
:meth:`~skrif.InfluenceEstimator.influence_scores` on the decision function — exact
for least squares (``Ridge``, ``LinearRegression``: the rescaled influence function is
the exact leave-one-out change), one exact Newton step on each leave-one-out
objective (RIF) for GLMs and logistic regression, whose intervals and sets are
therefore approximate. CV+ removes whole folds exactly: with the group Newton step
(:meth:`~skrif.InfluenceEstimator.influence` with ``method="newton"``, a Woodbury
update) for least squares, by K warm-started refits (``method="refit"``) otherwise,
where one Newton step for a tenth of the rows is off by up to a few percent of the
interval width at extreme test rows.

Classification sets are MAPIE's (``CrossConformalClassifier(cv=LeaveOneOut())``).
LAC follows Romano, Sesia & Candès (2020), the jackknife+ analogue for classes
(MAPIE's ``agg_scores="crossval"``): label ``y`` is in the set of ``x`` when fewer
than ``⌈(1 − α)(n + 1)⌉`` training rows ``i`` have a score
``s_i = 1 − p̂_{−i}(y_i | x_i)`` strictly below (by more than 1e-12, so that rounding
does not decide ties) ``1 − p̂_{−i}(y | x)``. APS is MAPIE's default rule
(``agg_scores="mean"``, ``include_last_label=True``, :func:`aps_scores`,
:func:`aps_sets`): randomized training scores, their ``⌈(1 − α)(n + 1)⌉``-th
smallest as the threshold, the average of the leave-one-out models' probabilities
at ``x``. (MAPIE's ``"crossval"`` APS compares randomized training scores with
non-randomized test scores and covered 0.25 on 3-class data: not a rule to copy.)

Everything is computed over blocks of test rows so that temporary memory stays
O(n · block) (a block holds at most 2²¹ floats per (n × block) array), never
n × n_test.
"""

import math
import numbers
from fractions import Fraction

import numpy as np
from sklearn.model_selection import KFold
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import validate_data

from . import attribution as _attribution
from .groups import own_group_values

INTERVAL_METHODS = ("jackknife", "jackknife+", "jackknife-minmax", "cv+")
SET_METHODS = ("lac", "aps")

# A score counts as below a test score only by more than this: APS scores tie at
# exactly 1 (the least likely label) up to rounding, and rounding must not decide.
TIE_TOL = 1e-12
# Floats of one (n × block [× classes]) temporary array: 16 MB.
_BLOCK_FLOATS = 1 << 21


# -- validation -------------------------------------------------------------------------
def conformal_rank(alpha, n):
    """``k = ⌈(1 − α)(n + 1)⌉``, computed exactly for the float ``alpha``.

    Exact rational arithmetic: ``(1 − 0.1) · 100`` is 90.00000000000001 in floating
    point, which would push the order statistic one place up for no reason.
    """
    return math.ceil((1 - Fraction(alpha)) * (n + 1))


def check_enough_rows(alpha, n):
    """The conformal quantile exists only when ``⌈(1 − α)(n + 1)⌉ ≤ n``, i.e. with
    ``n ≥ (1 − α)/α = 1/α − 1`` rows; below that the interval is infinite."""
    a = Fraction(alpha)
    need = math.ceil((1 - a) / a)
    if n < need:
        raise ValueError(
            f"alpha={alpha:g} needs at least {need} training rows (1/alpha - 1); the "
            f"model was fitted on {n}: with fewer rows than about 1/alpha the "
            "conformal quantile of level 1 - alpha does not exist (the interval or set "
            "would be unbounded). Use a larger alpha or more training rows."
        )


def _validate_X(est, X):
    """Validate ``X`` as the estimator does (feature count and names)."""
    return validate_data(est, X, reset=False, accept_sparse="csr", dtype=np.float64)


def _blocks(m, per_row):
    """Slices of test rows whose (per_row × block) temporaries hold ≤ _BLOCK_FLOATS."""
    size = max(1, _BLOCK_FLOATS // max(per_row, 1))
    for start in range(0, m, size):
        yield np.arange(start, min(start + size, m))


# -- regression: jackknife, jackknife+, jackknife-minmax, CV+ ------------------------
def _inverse_link(rm, Z):
    """The mean at linear predictors ``Z`` (the family's inverse link)."""
    return rm.objective.link.inverse(Z)


def _folds(cv, X, y, n):
    """Test folds of ``cv`` (an int ≥ 2 or a scikit-learn splitter); must partition rows."""
    if cv is None:
        cv = 5
    if isinstance(cv, numbers.Integral) and not isinstance(cv, (bool, np.bool_)):
        if cv < 2:
            raise ValueError(
                f"method='cv+' needs at least 2 folds; got cv={cv}. "
                "(cv=n is the jackknife+: use method='jackknife+'.)"
            )
        if cv > n:
            raise ValueError(f"cv={cv} folds is more than the {n} training rows.")
        cv = KFold(n_splits=int(cv))
    folds = [np.asarray(test, dtype=int) for _, test in cv.split(X, y)]
    if len(folds) < 2:
        raise ValueError(f"method='cv+' needs at least 2 folds; the splitter gave {len(folds)}.")
    seen = np.concatenate(folds)
    if seen.size != n or not np.array_equal(np.sort(seen), np.arange(n)):
        raise ValueError(
            "cv must split the training rows into disjoint test folds that cover every "
            "row once (KFold, GroupKFold, LeaveOneOut, ...); shuffle-split style "
            "splitters are not partitions."
        )
    return folds


def _fold_changes(rm, folds, method):
    """Δθ of each fold (K, q, p̃): ``method="newton"`` (one group Newton step,
    Woodbury) or ``"refit"`` (Newton to convergence)."""
    return np.stack([rm.parameter_change(np.sort(fold), method) for fold in folds])


def _fold_shift(rm, deltas, X):
    """``δz_k(x)`` for every fold ``k`` (rows of ``deltas``) and row ``x`` of ``X``:
    shape (K, m), through the family's design of those rows."""
    return rm.design.for_rows(X).matvec(deltas.T).T


def _take_rows(rm, table, codes):
    """Row ``i`` of ``table[codes[i]]``: each training row's entry of its fold."""
    return table[codes]


def predict_interval(est, X, alpha, method, cv):
    """Conformal prediction intervals; see :meth:`InfluenceEstimator.predict_interval`.

    The per-training-row quantities (leave-one-out or out-of-fold residuals, the
    models without each row or fold at the test rows) are what the removal model
    gives row by row (lazy on Dask); the order statistics over the training rows
    come from :meth:`~skrif._core.fitted.RemovalModel.kth_smallest` (exact, also
    on Dask).
    """
    alpha = float(alpha)  # validated by the estimator's declared constraints
    if cv is not None and method != "cv+":
        raise ValueError(f"cv is used only by method='cv+'; got cv={cv!r} with method={method!r}.")
    rm = est._fitted_removal()
    if rm.n_outputs != 1:
        raise ValueError(
            "predict_interval supports single-target regressors; this model has "
            f"{rm.n_outputs} targets: wrap one InfluenceEstimator per target."
        )
    Xv = _validate_X(est, X)
    n, m = rm.n_samples, Xv.shape[0]
    check_enough_rows(alpha, n)
    k = conformal_rank(alpha, n)
    y = rm.Y[:, 0]
    z = rm.linear_predictor_of(Xv)[:, 0]

    if method == "cv+":
        # Splitters read the number of rows from X (the training X in memory).
        X_split = np.empty((n, 0)) if rm.distributed else rm.design.X
        folds = _folds(cv, X_split, np.asarray(y), n)
        # Exact leave-fold-out models: the group Newton step for least squares,
        # K warm-started refits otherwise (one Newton step is visibly off for a fold).
        deltas = _fold_changes(rm, folds, "newton" if rm.objective.quadratic else "refit")
        fold_of = np.empty(n, dtype=np.intp)
        for f, rows in enumerate(folds):
            fold_of[rows] = f
        predictions = rm.rowwise(own_group_values, deltas, est._target("predict"), None,
                                 per_row=(fold_of,))
        residuals = np.abs(y - predictions[:, 0])
    else:
        loo = est.loo_predict(target="predict")
        residuals = np.abs(y - loo)
    residuals = rm.retained(residuals)  # read once per block of test rows
    if np.any(np.isnan(residuals)):
        raise ValueError(
            "Some leave-one-out predictions are undefined (training rows with leverage 1, "
            "see HighLeverageWarning), so the conformal scores are not defined: add a "
            "penalty (e.g. Ridge) or remove the duplicated-direction rows."
        )

    out = np.empty((m, 2))
    if method == "jackknife":
        width = rm.kth_smallest(residuals[:, None], k)[0]
        mu = _inverse_link(rm, z)
        out[:, 0], out[:, 1] = mu - width, mu + width
        return out
    width = rm.kth_smallest(residuals[:, None], k)[0] if method == "jackknife-minmax" else None
    for block in _blocks(m, n):
        if method == "cv+":
            table = _fold_shift(rm, deltas[:, 0, :], Xv[block])  # (K, b): δz_f(x_j)
            shift = rm.rowwise(_take_rows, table, per_row=(fold_of,))  # (n, b)
        else:
            shift = est.influence_scores(_safe_indexing(X, block), target="decision_function")
        # μ̂_{−i}(x_j) as (n, b): order statistics over the training rows i.
        mu = _inverse_link(rm, shift + z[block])
        if method == "jackknife-minmax":
            out[block, 0] = np.min(mu, axis=0) - width
            out[block, 1] = np.max(mu, axis=0) + width
        else:
            res = residuals[:, None]
            out[block, 0] = rm.kth_smallest(mu - res, n - k + 1)  # the k-th largest
            out[block, 1] = rm.kth_smallest(mu + res, k)
    return out


# -- classification: LAC and APS sets (jackknife+) -----------------------------------
def class_scores(P, method):
    """LAC nonconformity of every label, ``1 − p_y``: shape of ``P`` (..., K)."""
    if method != "lac":  # pragma: no cover - APS has its own rule (aps_sets)
        raise ValueError(method)
    return 1.0 - P


#: MAPIE's rounding tolerance (``mapie._machine_precision.EPSILON``): cumulated
#: masses within it of the threshold count as reaching it, and labels within it of
#: the last included label's probability join the set.
APS_EPSILON = 1e-8


def aps_scores(P, labels, u):
    """MAPIE's randomized APS scores of the training rows: the probability mass of
    the labels ranked (by decreasing probability, ties in ``argsort`` order) up to
    and including the true one, minus ``u_i`` times its own probability.

    ``P`` (n, K) leave-one-out probabilities, ``labels`` (n,) true classes, ``u``
    (n,) uniform draws.
    """
    order = np.flip(np.argsort(P, axis=1), axis=1)
    cumulated = np.cumsum(np.take_along_axis(P, order, axis=1), axis=1)
    position = np.argmax(order == labels[:, None], axis=1)
    rows = np.arange(P.shape[0])
    return cumulated[rows, position] - u * P[rows, labels]


def aps_sets(P, threshold):
    """Sets of MAPIE's APS with ``include_last_label=True``: labels by decreasing
    probability up to the first whose cumulated mass reaches ``threshold`` (within
    :data:`APS_EPSILON`), plus every label as likely as that one. Never empty.
    ``P`` (m, K); returns bool (m, K).
    """
    order = np.flip(np.argsort(P, axis=1), axis=1)
    sorted_p = np.take_along_axis(P, order, axis=1)
    gap = np.cumsum(sorted_p, axis=1) - threshold
    # First position at or above the threshold (the smallest gap ≥ −ε; the masses
    # only grow along a row, so that is the first one).
    gap = np.where(gap >= -APS_EPSILON, gap, np.inf)
    last = np.argmin(gap, axis=1)
    p_last = sorted_p[np.arange(P.shape[0]), last]
    # A last label of probability 0 (exactly) stands for the smallest positive one,
    # so that impossible labels stay out (as MAPIE does).
    zero = p_last <= APS_EPSILON
    if np.any(zero):
        positive = np.where(P > APS_EPSILON, P, np.inf).min(axis=1)
        p_last = np.where(zero, positive, p_last)
    return P - p_last[:, None] >= -APS_EPSILON


def _true_classes(Y):
    if Y.shape[1] == 1:
        return (Y[:, 0] > 0).astype(int)
    return np.argmax(Y, axis=1)


def _label_scores(rm, loo):
    """LAC nonconformity of each training row's own label under its leave-one-out
    model, ``1 − p̂_{−i}(y_i | x_i)``."""
    labels = _true_classes(rm.Y)
    return np.take_along_axis(class_scores(loo, "lac"), labels[:, None], axis=1)[:, 0]


def _aps_label_scores(rm, loo, u):
    """MAPIE's randomized APS score of each training row (:func:`aps_scores`)."""
    return aps_scores(loo, _true_classes(rm.Y), u)


def _loo_probabilities(rm, X, z, target, proba, how):
    """``p̂_{−i}(· | x_j)`` per training row ``i`` and test row ``j``: (n, b, K)."""
    shift = _attribution.influence_scores(rm, X, None, target, how)  # (n, b, q)
    return proba.value(z[None, :, :] + shift)


def _below(rm, X, z, target, proba, how, scores):
    """Per training row ``i`` and test row ``j``, label ``y``: whether
    ``s_i < s(x_j, y; μ̂_{−i})`` (LAC, beyond :data:`TIE_TOL`), shape (n, b, K)."""
    T = class_scores(_loo_probabilities(rm, X, z, target, proba, how), "lac")
    return scores[:, None, None] < T - TIE_TOL


def predict_set(est, X, alpha, method, random_state=None):
    """Conformal prediction sets; see :meth:`InfluenceEstimator.predict_set`.

    The training rows' scores and their comparisons with the test scores (LAC) or
    leave-one-out probabilities (APS) are per-row (lazy on Dask); counts, means and
    the APS threshold are reductions over the rows.
    """
    from sklearn.utils import check_random_state

    alpha = float(alpha)
    rm = est._fitted_removal()
    Xv = _validate_X(est, X)
    n, m = rm.n_samples, Xv.shape[0]
    check_enough_rows(alpha, n)
    k = conformal_rank(alpha, n)
    loo = rm.retained(est.loo_predict(target="predict_proba"))  # p̂_{−i}(· | x_i), (n, K)
    if np.any(np.isnan(loo)):
        raise ValueError(
            "Some leave-one-out probabilities are undefined (training rows with "
            "leverage 1, see HighLeverageWarning), so the conformal scores are not "
            "defined: add a penalty (smaller C)."
        )
    if method == "aps":
        u = check_random_state(random_state).uniform(size=n)
        scores = rm.rowwise(_aps_label_scores, per_row=(loo, u))
        threshold = float(np.asarray(rm.kth_smallest(scores[:, None], k))[0])
    else:
        scores = rm.retained(rm.rowwise(_label_scores, per_row=(loo,)))
    n_classes = loo.shape[1]
    z = rm.linear_predictor_of(Xv)
    target = est._target("decision_function")
    proba = est._target("predict_proba")  # the family's probabilities of z
    how = est._additive_method(None, "predict_set")
    out = np.empty((m, n_classes), dtype=bool)
    for block in _blocks(m, n * n_classes):
        if method == "aps":
            P = rm.rowwise(_loo_probabilities, Xv[block], z[block], target, proba, how)
            out[block] = aps_sets(np.asarray(P.sum(axis=0)) / n, threshold)
        else:
            below = rm.rowwise(_below, Xv[block], z[block], target, proba, how,
                               per_row=(scores,))
            out[block] = np.asarray(np.count_nonzero(below, axis=0)) < k
    return out
