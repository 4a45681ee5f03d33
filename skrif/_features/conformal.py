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

Classification sets follow Romano, Sesia & Candès (2020), the jackknife+ analogue for
classes: label ``y`` is in the set of ``x`` when fewer than ``⌈(1 − α)(n + 1)⌉``
training rows ``i`` have a score ``s_i = s(x_i, y_i; μ̂_{−i})`` strictly below (by more than 1e-12, so that
rounding does not decide ties)
``s(x, y; μ̂_{−i})``, with LAC scores ``1 − p̂(y | x)`` or (non-randomized) APS scores,
the probability mass of the labels at least as likely as ``y``.

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


def _kth_smallest(V, k):
    """``k``-th smallest (1-based) along the last axis; O(n) per row (introselect)."""
    return np.partition(V, k - 1, axis=-1)[..., k - 1]


def _kth_largest(V, k):
    n = V.shape[-1]
    return np.partition(V, n - k, axis=-1)[..., n - k]


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


def _fold_changes(est, folds, method):
    """Δθ of each fold, (K, p̃) (single output): ``method="newton"`` (one group Newton
    step, Woodbury) or ``"refit"`` (Newton to convergence)."""
    rm = est._fitted_removal()
    return np.array([rm.parameter_change(fold, method)[0] for fold in folds])


def _fold_shift(rm, deltas, X):
    """``δz_k(x)`` for every fold ``k`` (rows of ``deltas``) and row ``x`` of ``X``:
    shape (K, m), through the family's design of those rows."""
    return rm.design.for_rows(X).matvec(deltas.T).T


def predict_interval(est, X, alpha, method, cv):
    """Conformal prediction intervals; see :meth:`InfluenceEstimator.predict_interval`."""
    alpha = float(alpha)  # validated by the estimator's declared constraints
    if cv is not None and method != "cv+":
        raise ValueError(f"cv is used only by method='cv+'; got cv={cv!r} with method={method!r}.")
    rm = est._fitted_removal()
    if rm.problem.Y.shape[1] != 1:
        raise ValueError(
            "predict_interval supports single-target regressors; this model has "
            f"{rm.problem.Y.shape[1]} targets: wrap one InfluenceEstimator per target."
        )
    Xv = _validate_X(est, X)
    n, m = rm.n_samples, Xv.shape[0]
    check_enough_rows(alpha, n)
    k = conformal_rank(alpha, n)
    y = rm.problem.Y[:, 0]
    z = rm.linear_predictor_of(Xv)[:, 0]

    if method == "cv+":
        folds = _folds(cv, rm.design.X, y, n)
        # Exact leave-fold-out models: the group Newton step for least squares,
        # K warm-started refits otherwise (one Newton step is visibly off for a fold).
        deltas = _fold_changes(est, folds, "newton" if rm.objective.quadratic else "refit")
        fold_of = np.empty(n, dtype=int)
        residuals = np.empty(n)
        z_train = rm.linear_predictor()[:, 0]
        for f, rows in enumerate(folds):
            fold_of[rows] = f
            shift = _fold_shift(rm, deltas[f:f + 1], rm.design.X[rows])[0]
            residuals[rows] = np.abs(y[rows] - _inverse_link(rm, z_train[rows] + shift))
    else:
        loo = est.loo_predict(target="predict")
        residuals = np.abs(y - loo)
    if np.any(np.isnan(residuals)):
        raise ValueError(
            "Some leave-one-out predictions are undefined (training rows with leverage 1, "
            "see HighLeverageWarning), so the conformal scores are not defined: add a "
            "penalty (e.g. Ridge) or remove the duplicated-direction rows."
        )

    out = np.empty((m, 2))
    if method == "jackknife":
        width = _kth_smallest(residuals, k)
        mu = _inverse_link(rm, z)
        out[:, 0], out[:, 1] = mu - width, mu + width
        return out
    width = _kth_smallest(residuals, k) if method == "jackknife-minmax" else None
    for block in _blocks(m, n):
        if method == "cv+":
            shift = _fold_shift(rm, deltas, Xv[block])[fold_of]  # (n, b)
        else:
            shift = est.influence_scores(_safe_indexing(X, block), target="decision_function")
        # μ̂_{−i}(x_j) as (b, n), C-contiguous: the selections run along rows.
        mu = _inverse_link(rm, np.add(shift.T, z[block, None], order="C"))
        if method == "jackknife-minmax":
            out[block, 0] = mu.min(axis=1) - width
            out[block, 1] = mu.max(axis=1) + width
        else:
            out[block, 0] = _kth_largest(mu - residuals, k)
            out[block, 1] = _kth_smallest(np.add(mu, residuals, out=mu), k)
    return out


# -- classification: LAC and APS sets (jackknife+) -----------------------------------
def class_scores(P, method):
    """Nonconformity of every label: shape of ``P`` (..., K).

    LAC: ``1 − p_y``. APS (non-randomized): ``Σ_c p_c 1[p_c > p_y] + p_y``, the mass
    of the labels more likely than ``y`` plus its own (ties count in ``y``'s favour).
    """
    if method == "lac":
        return 1.0 - P
    above = P[..., None, :] > P[..., :, None]  # [..., y, c]: p_c > p_y
    return np.einsum("...yc,...c->...y", above, P) + P


def _true_classes(Y):
    if Y.shape[1] == 1:
        return (Y[:, 0] > 0).astype(int)
    return np.argmax(Y, axis=1)


def predict_set(est, X, alpha, method):
    """Conformal prediction sets; see :meth:`InfluenceEstimator.predict_set`."""
    alpha = float(alpha)
    rm = est._fitted_removal()
    Xv = _validate_X(est, X)
    n, m = rm.n_samples, Xv.shape[0]
    check_enough_rows(alpha, n)
    k = conformal_rank(alpha, n)
    loo = est.loo_predict(target="predict_proba")  # p̂_{−i}(· | x_i), (n, K)
    if np.any(np.isnan(loo)):
        raise ValueError(
            "Some leave-one-out probabilities are undefined (training rows with "
            "leverage 1, see HighLeverageWarning), so the conformal scores are not "
            "defined: add a penalty (smaller C)."
        )
    labels = _true_classes(rm.problem.Y)
    scores = np.take_along_axis(class_scores(loo, method), labels[:, None], axis=1)[:, 0]
    n_classes = loo.shape[1]
    q = rm.theta.shape[0]
    z = rm.linear_predictor_of(Xv)
    proba = est._target("predict_proba")  # the family's probabilities of z
    out = np.empty((m, n_classes), dtype=bool)
    per_row = n * n_classes * (n_classes if method == "aps" else 1)
    for block in _blocks(m, per_row):
        shift = est.influence_scores(_safe_indexing(X, block), target="decision_function")
        Z = z[block][None, :, :] + shift.reshape(n, len(block), q)
        T = class_scores(proba.value(Z), method)  # s(x_j, y; μ̂_{−i}), (n, b, K)
        below = np.count_nonzero(scores[:, None, None] < T - TIE_TOL, axis=0)
        out[block] = below < k
    return out
