"""Check the approximations on your own model: predicted versus actual removal effects.

This module runs the experiment of Rubinstein & Hopkins (NeurIPS 2025, Figure 1) on a
fitted :class:`~skrif.InfluenceEstimator`: build many removal sets with different
strategies and sizes, predict the effect of removing each set with the classical
influence function (IF), the rescaled influence function (RIF) and a group Newton
step (NS), and compare with the exact effect, obtained by refitting without the set.

* :func:`removal_sets` — the removal-set strategies;
* :func:`select_eval_rows` — the test subset (half highest-loss rows, half random);
* :func:`validate_influence` — the whole experiment, returning a tidy table;
* :func:`summarize` — per method and target: slope through the origin, Pearson and
  Spearman correlations, median relative error.

Sign convention everywhere: **value without the rows minus value with them**.

Tables are pandas DataFrames when pandas is installed (``as_frame="auto"``, the
default) and plain ``dict`` s of equal-length NumPy columns otherwise (or with
``as_frame=False``): pandas is an optional dependency of skrif (it is in the
``test`` and ``report`` extras), NumPy columns are enough to plot or to build any
other frame type.
"""

import sys
import time
import warnings
from numbers import Real

import numpy as np
import scipy.sparse as sp
from scipy import stats
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._linalg.design import AugmentedDesign
from .._core.influence import check_removed_rows
from .._core.methods import ADDITIVE_METHODS, PREDICTED_METHODS
from .._utils.params import Integer, check_params, validate_arguments
from ..exceptions import NotConvergedWarning

from .._utils.checks import is_integer
from .._utils.dask import fitted_on_dask, is_dask
from .._utils.frames import align_to_training_rows, training_index_of
from .._features.groups import training_groups
from .._core.set_error import SET_INTERACTION_THRESHOLD, relative_gap, second_newton_step

__all__ = [
    "STRATEGIES",
    "VALIDATION_TARGETS",
    "removal_sets",
    "select_eval_rows",
    "total_loss_scores",
    "validate_influence",
    "summarize",
    "group_removal_sets",
    "interaction_calibration",
]

#: Removal-set strategies, see :func:`removal_sets`.
STRATEGIES = ("random", "feature", "distance", "top_score")
#: Targets of :func:`validate_influence`. The first is ``"test_proba"`` for
#: classifiers with ``predict_proba``, ``"test_margin"`` for other classifiers and
#: ``"test_prediction"`` for regressors.
VALIDATION_TARGETS = ("test_proba", "test_loss", "self_loss")

#: Columns of the tidy table returned by :func:`validate_influence`.
RESULT_COLUMNS = (
    "set_id",
    "strategy",
    "size",
    "fraction",
    "target",
    "method",
    "predicted",
    "actual",
    "relative_error",
    "error_estimate",
)
#: Columns of the table returned by :func:`summarize`.
SUMMARY_COLUMNS = (
    "method",
    "target",
    "n_sets",
    "slope",
    "pearson",
    "spearman",
    "median_relative_error",
)


#: Most removal sets :func:`removal_sets` and :func:`validate_influence` build: each
#: set costs an exact refit, so more is never a validation run that finishes.
MAX_N_SETS = 100_000
#: Most row indices all sets may hold together (8 bytes each: 800 MB).
MAX_SET_ROWS = 10**8


def check_influence_estimator(est, caller):
    """Raise a clear ``TypeError`` unless ``est`` is an InfluenceEstimator, and
    ``NotFittedError`` unless it is fitted (a plain scikit-learn model has none
    of the fitted removal state these functions read)."""
    from sklearn.utils.validation import check_is_fitted

    from .._estimator.estimator import InfluenceEstimator

    if not isinstance(est, InfluenceEstimator):
        hint = ""
        if hasattr(est, "steps"):
            hint = (
                " For a Pipeline ending in one, pass pipeline[-1] and data transformed "
                "with skrif.transform_through(pipeline, X)."
            )
        elif hasattr(est, "fit"):
            hint = (
                f" Wrap the model first: InfluenceEstimator({type(est).__name__}(...))"
                ".fit(X, y)."
            )
        # InvalidParameterError is both a TypeError and a ValueError, like the
        # errors of scikit-learn's own parameter validation.
        from sklearn.utils._param_validation import InvalidParameterError

        raise InvalidParameterError(
            f"{caller} needs a fitted skrif.InfluenceEstimator; got "
            f"{type(est).__name__}.{hint}"
        )
    check_is_fitted(est)


def _check_int(value, name, low, high=None):
    if (
        not is_integer(value)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bound}; got {value!r}.")
    return int(value)


def _check_total_rows(n_samples, n_sets, n_strategies, min_fraction, max_fraction):
    """Refuse sets that would hold more than ``MAX_SET_ROWS`` row indices in total
    (computed from their sizes before any set is drawn: O(n_sets))."""
    counts = np.full(n_strategies, n_sets // n_strategies)
    counts[: n_sets % n_strategies] += 1
    total = sum(
        int(_sizes(n_samples, c, min_fraction, max_fraction).sum()) for c in counts if c
    )
    if total > MAX_SET_ROWS:
        raise ValueError(
            f"These {n_sets} removal sets would hold {total} row indices in total "
            f"(more than {MAX_SET_ROWS:.0e}, i.e. 800 MB), and each costs an exact refit: "
            "use fewer sets or a smaller max_fraction."
        )



# -- parameter constraints (scikit-learn's declarative vocabulary) ----------------
_FLAG = [StrOptions({"auto"}), "boolean"]
_FRACTION = [Interval(Real, 0, 1, closed="neither")]
_CONSTRAINTS = {
    # Checked by _removal_state, with hints for pipelines and plain models.
    "est": "no_validation",
    "n_sets": [Integer(1, None, closed="left")],
    "n_rows": [Integer(1, None, closed="left")],
    "min_fraction": _FRACTION,
    "max_fraction": _FRACTION,
    "progress": _FLAG,
    "as_frame": _FLAG,
    "random_state": ["random_state"],
    "n_jobs": [Integer(None, None, closed="neither"), None],
}
_MESSAGES = {
    "est": "a fitted skrif.InfluenceEstimator (wrap the model: InfluenceEstimator(model).fit(X, y))",
    "n_sets": "an integer >= 1",
    "n_rows": "an integer >= 1",
    "min_fraction": "a number in (0, 1)",
    "max_fraction": "a number in (0, 1)",
    "progress": "'auto', True or False",
    "as_frame": "'auto', True or False",
}


def _validated(func):
    return validate_arguments(_CONSTRAINTS, _MESSAGES)(func)


# -- small helpers -------------------------------------------------------------
def _check_fractions(min_fraction, max_fraction):
    if min_fraction > max_fraction:
        raise ValueError(
            f"min_fraction ({min_fraction}) must not exceed max_fraction ({max_fraction})."
        )


def _check_strategies(strategies):
    if isinstance(strategies, str):
        strategies = (strategies,)
    strategies = tuple(strategies)
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or not strategies:
        raise ValueError(f"strategies must be a non-empty subset of {STRATEGIES}; got {strategies!r}.")
    return strategies


def _check_methods(methods):
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(dict.fromkeys(methods))
    bad = [m for m in methods if m not in PREDICTED_METHODS]
    if bad or not methods:
        raise ValueError(
            f"methods must be a non-empty subset of {PREDICTED_METHODS} (the exact "
            f"refit is always computed as the actual value); got {methods!r}."
        )
    return methods


def _want_frame(as_frame):
    check_params(_CONSTRAINTS, {"as_frame": as_frame}, messages=_MESSAGES)
    if as_frame is False:
        return False
    try:
        import pandas  # noqa: F401
    except ImportError:
        if as_frame is True:
            raise ImportError(
                "as_frame=True needs pandas; install it (pip install pandas) or use "
                "as_frame=False for a dict of NumPy columns."
            ) from None
        return False
    return True


def _to_table(columns, as_frame):
    if as_frame:
        import pandas as pd

        return pd.DataFrame(columns)
    return columns


def _columns(table):
    """Return a dict of NumPy columns from a DataFrame or a dict of columns."""
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        return {c: table[c].to_numpy() for c in table.columns}
    return {c: np.asarray(v) for c, v in dict(table).items()}


def _sizes(n_samples, n_sets, min_fraction, max_fraction):
    """``n_sets`` set sizes log-spaced from ``min_fraction·n`` to ``max_fraction·n`` (≥ 1)."""
    low = max(1.0, min_fraction * n_samples)
    high = max(low, max_fraction * n_samples)
    sizes = np.rint(np.geomspace(low, high, n_sets)).astype(int)
    return np.clip(sizes, 1, n_samples - 1)


def _in_memory(data):
    """A dask collection computed (small evaluation data, per-row vectors); else as is."""
    return data.compute() if is_dask(data) else data


def _feature_column(X, j):
    if is_dask(X):
        return np.asarray(X[:, j].compute(), dtype=float)
    col = X[:, [j]]
    col = col.toarray() if sp.issparse(col) else np.asarray(col)
    return col.ravel().astype(float)


def _varying_features(X):
    """Indices of the non-constant columns (``max != min`` exactly)."""
    if is_dask(X):
        # One pass over the blocks; max − min as np.ptp.
        import dask

        high, low = dask.compute(X.max(axis=0), X.min(axis=0))
        return np.flatnonzero(np.asarray(high) - np.asarray(low) > 0)
    if sp.issparse(X):
        # max != min exactly: E[x²] − E[x]² rounds to > 0 for constant columns.
        Xc = X.tocsc()
        spread = Xc.max(axis=0).toarray() - Xc.min(axis=0).toarray()
        return np.flatnonzero(spread.ravel() > 0)
    return np.flatnonzero(np.ptp(X, axis=0) > 0)


def _distance_block(Xb, a):
    """``‖x_i‖² − 2 x_i·a + ‖a‖²`` for the rows of a dense block (no row differences)."""
    return np.einsum("ij,ij->i", Xb, Xb) - 2.0 * (Xb @ a) + a @ a


def _squared_distances(X, anchor):
    """``‖x_i − x_anchor‖²`` for every row, without forming differences of rows.

    A dask ``X`` is read blockwise (one pass) and the ``n`` distances come back to
    the client, as in memory.
    """
    if is_dask(X):
        a = np.asarray(X[anchor].compute(), dtype=float)
        dist = np.asarray(
            X.map_blocks(_distance_block, a=a, drop_axis=1, dtype=float).compute(), dtype=float
        )
    elif sp.issparse(X):
        sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        a = X[[anchor]].toarray().ravel()
        dist = sq - 2.0 * np.asarray(X @ a).ravel() + a @ a
    else:
        X = np.asarray(X, dtype=float)
        dist = _distance_block(X, X[anchor])
    dist[anchor] = -np.inf  # the anchor itself first, free of rounding
    return dist


def _smallest(key, k, rng):
    """Indices of the ``k`` smallest keys; ties broken at random."""
    order = np.lexsort((rng.permutation(key.shape[0]), key))
    return np.sort(order[:k])


# -- public functions --------------------------------------------------------------
@_validated
def removal_sets(
    X,
    *,
    n_sets=40,
    strategies=STRATEGIES,
    scores=None,
    min_fraction=0.001,
    max_fraction=0.05,
    random_state=None,
):
    """Build removal sets of training rows with the strategies of the paper.

    The ``n_sets`` sets are spread as evenly as possible over the strategies; within
    a strategy their sizes ``k`` are log-spaced from ``min_fraction · n`` to
    ``max_fraction · n`` (at least one row).

    * ``"random"``: ``k`` rows drawn uniformly without replacement.
    * ``"feature"``: a feature drawn at random (among non-constant ones); the ``k``
      rows with its largest values (ties broken at random).
    * ``"distance"``: an anchor row drawn at random; the ``k`` rows nearest to it
      in Euclidean distance (the anchor included).
    * ``"top_score"``: the ``2k`` rows with the highest ``scores`` (the true top
      ``2k``, by a full sort), then a random half of them. Sets alternate between
      the highest and the lowest scores (``-scores``), so both tails are checked.
      (The paper's published code selected these rows with a misused
      ``argpartition``; its sets were mostly not top-scoring rows.)

    Parameters
    ----------
    X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
        Training data (the rows the sets index). A row-chunked
        ``dask.array.Array`` is read blockwise, never gathered: one pass for the
        columns' ranges, then one pass per ``"feature"`` or ``"distance"`` set;
        the ``n`` values that rank its rows (a column, the distances) come to
        the client, so the client holds O(n) floats, as in memory.
    n_sets : int, default=40
        Total number of sets, at least one per strategy and at most
        ``MAX_N_SETS`` (100 000); all sets together may hold at most
        ``MAX_SET_ROWS`` (10⁸) row indices.
    strategies : sequence of str, default=STRATEGIES
        Subset of ``("random", "feature", "distance", "top_score")``.
    scores : array-like of shape (n_samples,), default=None
        Per-row scores ranking the rows for ``"top_score"`` (e.g. each row's
        additive influence on the test loss); required by that strategy. A
        pandas Series is aligned to the rows of ``X`` by its index (``X`` a
        DataFrame) and must be indexed ``0..n-1`` otherwise; a dask array is
        computed.
    min_fraction, max_fraction : float, default=0.001, 0.05
        Smallest and largest set size as a fraction of ``n_samples``.
    random_state : int, RandomState instance or None, default=None
        Makes the sets reproducible.

    Returns
    -------
    sets : list of (str, ndarray of int)
        ``(strategy, sorted row indices)`` for each set. The sets are distinct: a
        draw that repeats an earlier set is redrawn (up to 20 times) and otherwise
        left out, so on small data there can be fewer than ``n_sets`` sets.

    Examples
    --------
    >>> import numpy as np
    >>> from skrif.validation import removal_sets
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> sets = removal_sets(X, n_sets=6, strategies=("random", "feature"), random_state=0)
    >>> [(s, len(rows)) for s, rows in sets]
    [('random', 1), ('random', 3), ('random', 10), ('feature', 1), ('feature', 3), ('feature', 10)]
    """
    training_index = training_index_of(X)
    if is_dask(X):
        from .._dask._estimator import check_dask_X

        X = check_dask_X(X)  # whole rows per block, known chunk sizes, float
    elif not sp.issparse(X):
        X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D; got shape {X.shape}.")
    n_samples = X.shape[0]
    strategies = _check_strategies(strategies)
    n_sets = _check_int(n_sets, "n_sets", len(strategies), MAX_N_SETS)
    _check_fractions(min_fraction, max_fraction)
    if n_samples < 4:
        raise ValueError(f"Removal sets need at least 4 training rows; got {n_samples}.")
    _check_total_rows(n_samples, n_sets, len(strategies), min_fraction, max_fraction)
    if "top_score" in strategies:
        if scores is None:
            raise ValueError("The 'top_score' strategy needs per-row scores; pass scores=.")
        # A Series is keyed by row label: align it to X's rows, never by position.
        scores = align_to_training_rows(_in_memory(scores), training_index, n_samples, "scores")
        scores = np.asarray(scores, dtype=float)
        if scores.shape != (n_samples,):
            raise ValueError(f"scores must have shape ({n_samples},); got {scores.shape}.")
        if not np.all(np.isfinite(scores)):
            raise ValueError("scores contains NaN or infinity.")
    rng = check_random_state(random_state)
    per_strategy = np.full(len(strategies), n_sets // len(strategies))
    per_strategy[: n_sets % len(strategies)] += 1
    varying = None
    sets = []
    seen = set()

    def draw(strategy, i, k):
        nonlocal varying
        if strategy == "random":
            return np.sort(rng.choice(n_samples, size=k, replace=False))
        if strategy == "feature":
            if varying is None:
                varying = _varying_features(X)
                if varying.size == 0:
                    raise ValueError("Every feature is constant: 'feature' sets are undefined.")
            j = rng.choice(varying)
            return _smallest(-_feature_column(X, j), k, rng)
        if strategy == "distance":
            anchor = rng.randint(n_samples)
            return _smallest(_squared_distances(X, anchor), k, rng)
        signed = scores if i % 2 == 0 else -scores
        pool = _smallest(-signed, min(2 * k, n_samples), rng)
        return np.sort(rng.choice(pool, size=k, replace=False))

    for strategy, count in zip(strategies, per_strategy):
        for i, k in enumerate(_sizes(n_samples, count, min_fraction, max_fraction)):
            # Sets are distinct: a duplicate (likely on small data, where many sets
            # are single rows) would weight the statistics twice. Redraw a few times,
            # then leave it out, so there are never more sets than distinct candidates.
            for _ in range(_DISTINCT_TRIES):
                rows = draw(strategy, i, k).astype(np.intp)
                key = rows.tobytes()
                if key not in seen:
                    seen.add(key)
                    sets.append((strategy, rows))
                    break
    return sets


#: Draws per removal set before a set that keeps repeating earlier ones is left out.
_DISTINCT_TRIES = 20


class _InMemoryRemovals:
    """What validation reads of an in-memory fit: its :class:`~skrif._core.fitted.RemovalModel`.

    The functions of this module read a fitted estimator only through this
    adapter, so that the same code validates an estimator fitted on Dask
    (``skrif._dask._validation.DaskRemovals`` has the same attributes and
    methods, answered by distributed passes and refits).

    Attributes
    ----------
    n_samples, n_params, n_outputs : int
    theta : ndarray of shape (n_outputs, n_params)
        θ̂ (intercept last).
    fit_intercept : bool
    objective : Objective
    X : {ndarray, sparse matrix}
        The training rows (for :func:`removal_sets`).
    distributed : bool
        ``False``: the work runs in this process.
    """

    distributed = False

    def __init__(self, est, rm):
        self.est, self.rm = est, rm
        self.n_samples, self.n_params, self.n_outputs = rm.n_samples, rm.n_params, rm.n_outputs
        self.theta, self.objective = rm.theta, rm.objective
        self.fit_intercept = rm.design.fit_intercept
        self.X = rm.design.X
        self._second_step, self._Z_train = None, None

    def target(self, name):
        return self.est._target(name)

    def validate_eval(self, X, y, target):
        return self.est._validate_eval(X, y, target)

    def total_loss_scores(self, X, Y, target, method):
        from .._features import attribution as _attribution

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _attribution.additive_scores(self.rm, X, Y, target, method)

    def parameter_change(self, idx, method):
        return self.rm.parameter_change(idx, method)

    def second_step(self, idx, delta):
        if self._second_step is None:
            rm = self.rm
            self._second_step = second_newton_step(rm.problem, rm.theta, rm.curvature)
        return self._second_step(idx, delta)

    def train_loss_changes(self, loss, deltas):
        """Change of the total (unweighted) training ``loss`` at ``θ̂ + Δ`` for each
        ``Δ`` of ``deltas``: ``Σ_i [ℓ_i(θ̂ + Δ) − ℓ_i(θ̂)]``, differenced row by row
        (a difference of two totals would lose the digits the totals share)."""
        design = self.rm.design
        if self._Z_train is None:
            Z = design.matvec(self.theta.T)
            self._Z_train = Z, loss.value(Z, self.rm.problem.Y)
        Z, base = self._Z_train
        Y = self.rm.problem.Y
        return [float(np.sum(loss.value(Z + design.matvec(d.T), Y) - base)) for d in deltas]


def _removals(est, caller="skrif.validation"):
    """The removal state of a fitted InfluenceEstimator (checked), in memory or on Dask."""
    check_influence_estimator(est, caller)
    if fitted_on_dask(est):
        from .._dask import validation_state

        return validation_state(est)
    rm = est._fitted_removal()
    # Refits below turn errors into NaN rows: a changed X must raise here instead.
    rm.check_data()
    return _InMemoryRemovals(est, rm)


@_validated
def select_eval_rows(est, X, y, *, n_rows=100, random_state=None):
    """Choose the test subset: half the highest-loss rows, half random other rows.

    Parameters
    ----------
    est : InfluenceEstimator
        Fitted (in memory or on Dask).
    X : {array-like, sparse matrix, dask array} of shape (n_eval, n_features)
        Evaluation (test) rows; a dask array is computed.
    y : array-like of shape (n_eval,) or (n_eval, n_targets)
        Their targets (the loss ranks the rows).
    n_rows : int, default=100
        Size of the subset (all rows if there are fewer).
    random_state : int, RandomState instance or None, default=None
        Makes the random half reproducible.

    Returns
    -------
    rows : ndarray of int
        Sorted indices into ``X``: the ``⌈n_rows/2⌉`` rows with the largest loss of
        the fitted model and ``⌊n_rows/2⌋`` rows drawn at random from the rest.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skrif import InfluenceEstimator
    >>> from skrif.validation import select_eval_rows
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3)); y = X.sum(axis=1) + rng.normal(size=60)
    >>> est = InfluenceEstimator(Ridge()).fit(X, y)
    >>> select_eval_rows(est, X, y, n_rows=10, random_state=0).shape
    (10,)
    """
    state = _removals(est, "select_eval_rows")
    loss = state.target("loss")
    X, Y = state.validate_eval(_in_memory(X), _in_memory(y), loss)
    n_rows = int(n_rows)
    m = X.shape[0]
    if n_rows >= m:
        return np.arange(m)
    rng = check_random_state(random_state)
    Z = AugmentedDesign(X, state.fit_intercept).matvec(state.theta.T)
    loss = loss.value(Z, Y)[:, 0]
    n_top = (n_rows + 1) // 2
    top = np.argsort(-loss, kind="stable")[:n_top]
    rest = np.setdiff1d(np.arange(m), top)
    extra = rng.choice(rest, size=n_rows - n_top, replace=False)
    return np.sort(np.concatenate([top, extra]))


@_validated
def total_loss_scores(est, X, y, *, method=None):
    """Additive effect of removing each training row alone on the total loss over ``X``.

    ``scores[i]`` is the linearized change of ``Σ_j ℓ(y_j, z_j)`` when training row
    ``i`` alone is removed (value without the row minus value with it), equal to
    ``est.influence_scores(X, y, target="loss", method=method).sum(axis=1)`` but
    computed with a single solve, without the (n_train, n_eval) matrix.

    Parameters
    ----------
    est : InfluenceEstimator
        Fitted (in memory or on Dask).
    X : {array-like, sparse matrix, dask array} of shape (n_eval, n_features)
        Evaluation rows whose losses are summed; a dask array is computed.
    y : array-like of shape (n_eval,) or (n_eval, n_targets)
        Their targets.
    method : {"if", "rif"}, default=None
        ``None`` follows ``est.rescaled``.

    Returns
    -------
    scores : ndarray of shape (n_train,)
        NaN for rows whose rescaled influence is undefined (leverage 1). For an
        estimator fitted on Dask, a lazy dask array chunked like the training
        ``X`` (one pass over it when computed).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skrif import InfluenceEstimator
    >>> from skrif.validation import total_loss_scores
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3)); y = X.sum(axis=1) + rng.normal(size=40)
    >>> est = InfluenceEstimator(Ridge()).fit(X[:30], y[:30])
    >>> scores = total_loss_scores(est, X[30:], y[30:])
    >>> full = est.influence_scores(X[30:], y[30:], target="loss").sum(axis=1)
    >>> bool(np.allclose(scores, full))
    True
    """
    state = _removals(est, "total_loss_scores")
    target = state.target("loss")
    method = est._additive_method(method, "total_loss_scores")
    X, Y = state.validate_eval(_in_memory(X), _in_memory(y), target)
    return state.total_loss_scores(X, Y, target, method)


class _TargetEvaluator:
    """Values of the three validation targets at θ̂ + Δ, minus their values at θ̂.

    The first target depends on the model: ``"test_proba"`` (probability of the true
    class) for classifiers with ``predict_proba``, ``"test_margin"`` (decision
    function toward the true class) for those without (``RidgeClassifier``), and
    ``"test_prediction"`` (the prediction, e.g. ``exp(z)`` for log-link GLMs) for
    regressors. The test targets are computed here on the (small, in-memory) test
    subset; the training loss by the removal state (``state.train_losses``: one
    pass over the training rows for all the changes of a set).
    """

    def __init__(self, state, est, X_eval, y_eval, Y_eval):
        self.state = state
        self.theta = state.theta
        self.design_eval = AugmentedDesign(X_eval, state.fit_intercept)
        self.Y_eval = Y_eval
        self.loss = state.target("loss")
        self.kind = "test_prediction"
        if state.objective.is_classifier:
            self.true_class = np.searchsorted(est.classes_, np.asarray(y_eval).ravel())
            try:
                self.prediction = state.target("predict_proba")
                self.kind = "test_proba"
            except ValueError:  # no predict_proba: use the decision function
                self.prediction = state.target("decision_function")
                self.kind = "test_margin"
        else:
            self.prediction = state.target("predict")
        self.names = (self.kind, "test_loss", "self_loss")
        self.Z_eval = self.design_eval.matvec(self.theta.T)
        self.base = self._test_values(self.Z_eval)

    def _first(self, Z_eval):
        values = np.asarray(self.prediction.value(Z_eval), dtype=float)
        rows = np.arange(values.shape[0])
        if self.kind == "test_proba" or (self.kind == "test_margin" and values.shape[1] > 1):
            return values[rows, self.true_class]
        if self.kind == "test_margin":  # one decision value: positive toward classes_[1]
            return values[:, 0] * (2.0 * self.true_class - 1.0)
        return values

    def _test_values(self, Z_eval):
        """Per-row values of the two test targets (differenced row by row below)."""
        return {self.kind: self._first(Z_eval), "test_loss": self.loss.value(Z_eval, self.Y_eval)}

    def effects(self, deltas):
        """Changes of the three targets at ``θ̂ + Δ`` for each ``Δ`` (q, p̃) of the dict
        ``deltas``; NaN for a non-finite ``Δ``. Returns a dict of the same keys.

        Each change is a sum of per-row differences, ``Σ_j [F_j(θ̂ + Δ) − F_j(θ̂)]``:
        a difference of two totals would lose the digits they share (the training
        loss over all rows is much larger than its change).
        """
        finite = [key for key, delta in deltas.items() if np.all(np.isfinite(delta))]
        train = self.state.train_loss_changes(self.loss, [deltas[k] for k in finite])
        train = dict(zip(finite, train))
        out = {}
        for key, delta in deltas.items():
            if key not in train:
                out[key] = dict.fromkeys(self.names, np.nan)
                continue
            values = self._test_values(self.Z_eval + self.design_eval.matvec(delta.T))
            out[key] = {t: float(np.sum(values[t] - self.base[t])) for t in values}
            out[key]["self_loss"] = train[key]
        return out


#: Strategies available when the removal units are whole groups.
GROUP_STRATEGIES = ("random", "top_score")


def group_removal_sets(groups, *, n_sets=40, strategies=GROUP_STRATEGIES, scores=None,
                       min_fraction=0.001, max_fraction=0.05, random_state=None):
    """Removal sets made of whole groups (see :func:`removal_sets`).

    Sizes are numbers of *groups*, log-spaced from ``min_fraction`` to
    ``max_fraction`` of the groups (at least one). ``"random"`` draws groups
    uniformly; ``"top_score"`` ranks groups by the sum of their rows' ``scores``
    (the true top ``2k`` groups, then a random half; alternating tails).

    Parameters
    ----------
    groups : skrif._utils.groups.Groups
        Validated group labels of the training rows.

    Returns
    -------
    sets : list of (str, ndarray of int)
        ``(strategy, sorted row indices)``: the rows of the chosen groups.
    """
    bad = [s for s in strategies if s not in GROUP_STRATEGIES]
    if bad:
        raise ValueError(
            f"With groups, strategies must be a subset of {GROUP_STRATEGIES}; got {bad}."
        )
    strategies = _check_strategies(strategies)
    n_sets = _check_int(n_sets, "n_sets", len(strategies))
    _check_fractions(min_fraction, max_fraction)
    G = groups.n_groups
    if G < 2:
        raise ValueError(f"Group removal sets need at least 2 groups; got {G}.")
    group_scores = None
    if "top_score" in strategies:
        if scores is None:
            raise ValueError("The 'top_score' strategy needs per-row scores; pass scores=.")
        group_scores = np.bincount(groups.codes, weights=np.asarray(scores, float), minlength=G)
    rng = check_random_state(random_state)
    per_strategy = np.full(len(strategies), n_sets // len(strategies))
    per_strategy[: n_sets % len(strategies)] += 1
    sets = []
    for strategy, count in zip(strategies, per_strategy):
        sizes = np.minimum(_sizes(G, count, min_fraction, max_fraction), G - 1)
        for i, k in enumerate(sizes):
            if strategy == "random":
                chosen = rng.choice(G, size=k, replace=False)
            else:
                signed = group_scores if i % 2 == 0 else -group_scores
                pool = _smallest(-signed, min(2 * k, G), rng)
                chosen = rng.choice(pool, size=k, replace=False)
            rows = np.sort(np.concatenate([groups.members[g] for g in chosen]))
            sets.append((strategy, rows.astype(np.intp)))
    return sets


def _one_set(state, evaluator, rows, methods):
    """Predicted (each method) and actual effects of removing ``rows``, with timings
    (of the parameter changes; the targets of all of them are evaluated together)."""
    deltas, timings = {}, {}
    idx = check_removed_rows(rows, state.n_samples)
    nan = np.full(state.theta.shape, np.nan)
    # The group Newton step is the reference of the additive methods' error
    # estimate (skrif._core.set_error), so it is computed even when not checked.
    extra = () if "newton" in methods else ("newton",)
    for method in (*methods, *extra, "refit"):
        start = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                delta = state.parameter_change(idx, method)
            if method == "refit" and any(issubclass(w.category, NotConvergedWarning) for w in caught):
                # An unconverged refit is no ground truth: leave the set out (NaN)
                # rather than score the predictions against a wrong "actual".
                delta = nan
        except (ValueError, np.linalg.LinAlgError):
            # e.g. the set holds every row of a class, or pins a parameter direction.
            delta = nan
        deltas[method] = delta
        timings[method] = time.perf_counter() - start
        if method == "newton":
            deltas["reference"] = _reference_delta(state, idx, delta)
    return evaluator.effects(deltas), timings


def _reference_delta(state, idx, newton):
    """The additive methods' error reference: NS plus one more Newton step where
    available (:func:`skrif._core.set_error.second_newton_step`)."""
    if not np.all(np.isfinite(newton)):
        return newton
    try:
        return newton + state.second_step(idx, newton)
    except (ValueError, np.linalg.LinAlgError):
        return newton


#: Below this many flops per Hessian factorization (``min(n, p̃)² max(n, p̃)``), the
#: refit loop runs BLAS single-threaded: threads cannot speed up such small
#: factorizations, and on a busy machine their spinning made the loop 10-60× slower
#: in our measurements (2 cores shared by several processes).
SMALL_PROBLEM_FLOPS = 2e9


def blas_limits(est):
    """Context manager: single-threaded BLAS for small problems, no change otherwise."""
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    state = _removals(est, "blas_limits")
    if state.distributed:  # the work runs on the cluster's workers
        return nullcontext()
    n, p = state.n_samples, state.n_params
    if min(n, p) ** 2 * max(n, p) * state.n_outputs < SMALL_PROBLEM_FLOPS:
        return threadpool_limits(limits=1, user_api="blas")
    return nullcontext()


class _Progress:
    """tqdm when installed, else a one-line counter; silent unless stderr is a TTY."""

    def __init__(self, total, enabled, desc):
        self.total, self.count, self.desc = total, 0, desc
        stream = sys.stderr
        if enabled == "auto":
            enabled = hasattr(stream, "isatty") and stream.isatty()
        self.active = bool(enabled)
        self.bar = None
        if self.active:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc=desc, file=stream, leave=False)

    def update(self):
        self.count += 1
        if not self.active:
            return
        if self.bar is not None:
            self.bar.update(1)
        else:
            sys.stderr.write(f"\r{self.desc}: {self.count}/{self.total}")
            sys.stderr.flush()

    def close(self):
        if not self.active:
            return
        if self.bar is not None:
            self.bar.close()
        else:
            sys.stderr.write("\r" + " " * (len(self.desc) + 24) + "\r")
            sys.stderr.flush()


@_validated
def validate_influence(
    est,
    X,
    y,
    *,
    methods=PREDICTED_METHODS,
    n_sets=40,
    strategies=STRATEGIES,
    min_fraction=0.001,
    max_fraction=0.05,
    n_eval_rows=100,
    n_jobs=None,
    progress="auto",
    as_frame="auto",
    random_state=None,
    groups=None,
):
    """Compare predicted removal effects with exact refits on your own model.

    For each removal set ``T`` (see :func:`removal_sets`) and each method, the
    parameter change ``Δ`` is predicted (``est.influence(T, method=...)``) and three
    targets are evaluated **at the predicted parameters** ``θ̂ + Δ``; the actual
    change comes from an exact refit without ``T`` (``method="refit"``):

    * ``"test_proba"``: total predicted probability of the true class over the test
      subset (:func:`select_eval_rows`: half highest-loss rows, half random). For
      regressors it is ``"test_prediction"``, the total prediction (``exp(z)`` for
      log-link GLMs; summed over targets for multi-target models); for classifiers
      without ``predict_proba`` (``RidgeClassifier``) ``"test_margin"``, the total
      decision function toward the true class.
    * ``"test_loss"``: total loss over the test subset (the model family's own
      pointwise loss: log-loss, squared error; unscaled, unweighted).
    * ``"self_loss"``: total training loss over **all** training rows, including
      the removed ones (same loss).

    Each change is *value without the rows minus value with them*.

    Parameters
    ----------
    est : InfluenceEstimator
        Fitted, in memory or on Dask (a row-chunked ``dask.array.Array``; see
        "On Dask" below).
    X : {array-like, sparse matrix, dask array} of shape (n_eval, n_features)
        Evaluation (test) data. Dask collections are computed (the test set is
        small).
    y : array-like or dask array of shape (n_eval,) or (n_eval, n_targets)
        Evaluation targets.
    methods : sequence of {"if", "rif", "newton"}, default=("if", "rif", "newton")
        Predictions to check (``"newton"`` is the group Newton step, NS).
    n_sets : int, default=40
        Number of removal sets, spread over ``strategies``; at most
        ``MAX_N_SETS`` (100 000), checked before any work (see
        :func:`removal_sets`).
    strategies : sequence of str, default=STRATEGIES
        See :func:`removal_sets`. ``"top_score"`` ranks training rows by their
        additive effect (``est.influence_scores`` with ``target="loss"``, the
        estimator's default method) on the total test-subset loss.
    min_fraction, max_fraction : float, default=0.001, 0.05
        Set sizes, as fractions of the number of training rows (0.1% to 5%).
    n_eval_rows : int, default=100
        Size of the test subset.
    n_jobs : int, default=None
        Parallel jobs over sets (joblib; ``None`` means 1, ``-1`` all cores).
        Must be ``None`` or 1 for an estimator fitted on Dask (its refits run
        on the cluster).
    progress : bool or "auto", default="auto"
        Progress bar over the sets (tqdm if installed, else a counter) on stderr;
        ``"auto"`` shows it only when stderr is a terminal.
    as_frame : bool or "auto", default="auto"
        Return pandas DataFrames (``"auto"``: when pandas is installed) or dicts
        of NumPy columns.
    random_state : int, RandomState instance or None, default=None
        Makes the sets and the test subset reproducible.
    groups : array-like of shape (n_samples,), default=None
        Group labels of the training rows: every removal set is then made of
        whole groups (:func:`group_removal_sets`; strategies ``"random"`` and
        ``"top_score"``, sizes as fractions of the number of groups). A dask
        array is computed (one label per training row on the client).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``results``: the tidy table, one row per set × target × method, columns
        ``RESULT_COLUMNS`` (``set_id, strategy, size, fraction, target, method,
        predicted, actual, relative_error``; ``relative_error`` is
        ``|predicted − actual| / |actual|``, NaN when the actual change is 0;
        ``error_estimate`` is the additive methods' estimate of that error,
        ``|predicted − ref| / |ref|`` with ref the group Newton step, followed by a
        second Newton step for rank-one Hessians (see
        :class:`~skrif._core.set_error.SetErrorEstimate`), NaN for ``"newton"``). Sets
        whose refit or prediction is undefined (e.g. the set holds every row of a
        class), or whose exact refit does not converge, get NaN.
        ``summary``: :func:`summarize` of ``results``.
        ``sets``: list of ``(strategy, rows)``. ``eval_rows``: the test subset
        (indices into ``X``). ``timings``: seconds per method summed over sets
        (``"refit"`` is the ground truth; the time to compute each parameter
        change, the targets of all changes of a set being evaluated together). ``targets``, ``methods``.

    Notes
    -----
    Each change is a sum of per-row differences ``Σ_j [F_j(θ̂ + Δ) − F_j(θ̂)]``,
    not a difference of totals (which would lose the digits the training loss
    shares with its change).

    Cost per set of ``k`` rows: IF/RIF one solve; NS O(k p̃² + k³) (primal) or
    O(k n² + k³) (dual); refit a few Hessian factorizations; plus one product with
    the training data per method for the self-loss. The refits dominate; run them in
    parallel with ``n_jobs`` (joblib worker processes; joblib limits each one's BLAS
    threads). For small problems (``min(n, p̃)² max(n, p̃) < 2e9``) the sequential
    loop runs BLAS single-threaded (threadpoolctl), which is faster there.

    **On Dask.** For an estimator fitted on a dask array the same experiment runs
    with distributed refits and gives the in-memory table on the same data (same
    sets and test subset for the same ``random_state``; predicted and actual
    changes equal to about 1e-11 relative): the sets are drawn as in memory (:func:`removal_sets` reads
    ``X`` blockwise; ``"top_score"`` uses the lazy :func:`total_loss_scores`), the
    predicted changes come from the Dask path's ``influence`` (the ``k`` removed
    rows gathered once per set), the actual ones from the distributed Newton
    refit warm-started at θ̂ (stopped at a relative step of 1e-11, as in memory),
    the reference of the error estimate from one more gradient pass, and the
    training loss of all changes of a set from one pass. Per set: about eight
    passes over ``X`` (five of them for the refit); the client holds O(n) floats
    while drawing a set (as in memory) and O(p̃²) otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skrif import InfluenceEstimator
    >>> from skrif.validation import validate_influence
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = X @ np.ones(5) + rng.normal(size=200)
    >>> est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X[:150], y[:150])
    >>> out = validate_influence(est, X[150:], y[150:], n_sets=8, random_state=0,
    ...                          as_frame=False)
    >>> sorted(set(out["results"]["target"].tolist()))
    ['self_loss', 'test_loss', 'test_prediction']
    >>> newton = out["summary"]["method"] == "newton"  # exact for least squares
    >>> bool(np.all(out["summary"]["median_relative_error"][newton] < 1e-8))
    True
    """
    from joblib import Parallel, delayed

    state = _removals(est, "validate_influence")
    methods = _check_methods(methods)
    strategies = _check_strategies(strategies)
    # Before selecting rows and scoring: a huge n_sets must fail at once.
    _check_int(n_sets, "n_sets", len(strategies), MAX_N_SETS)
    _check_fractions(min_fraction, max_fraction)
    _check_total_rows(
        state.n_samples, n_sets, len(strategies), min_fraction, max_fraction
    )
    if state.distributed and n_jobs not in (None, 1):
        raise ValueError(
            f"n_jobs={n_jobs!r}: for an estimator fitted on Dask the refits already run "
            "on the cluster, one set after another; use n_jobs=None (or 1)."
        )
    frame = _want_frame(as_frame)
    rng = check_random_state(random_state)
    # The test set is small: dask test data are computed once, here.
    X, y = _in_memory(X), _in_memory(y)
    X_given = X
    X, _ = state.validate_eval(X, y, state.target("loss"))
    y = np.asarray(y)
    # The public helpers get the caller's X (a DataFrame stays one), so that an
    # estimator fitted on a DataFrame does not warn about missing feature names.
    eval_rows = select_eval_rows(est, X_given, y, n_rows=n_eval_rows, random_state=rng)
    X_eval, y_eval = X[eval_rows], y[eval_rows]
    X_eval_given = X_given.iloc[eval_rows] if hasattr(X_given, "iloc") else X_eval
    Y_eval = state.objective.encode_targets(y_eval, est.estimator_)
    scores = None
    if "top_score" in strategies:
        scores = np.asarray(_in_memory(total_loss_scores(est, X_eval_given, y_eval)), dtype=float)
        scores = np.nan_to_num(scores, nan=0.0)
    draw = dict(n_sets=n_sets, strategies=strategies, scores=scores,
                min_fraction=min_fraction, max_fraction=max_fraction, random_state=rng)
    if groups is None:
        sets = removal_sets(state.X, **draw)
    else:
        sets = group_removal_sets(training_groups(_in_memory(groups), state.n_samples), **draw)
    evaluator = _TargetEvaluator(state, est, X_eval, y_eval, Y_eval)
    targets = evaluator.names

    progress_bar = _Progress(len(sets), progress, "refits")
    outputs = []
    try:
        if n_jobs in (None, 1):
            with blas_limits(est):
                for _, rows in sets:
                    outputs.append(_one_set(state, evaluator, rows, methods))
                    progress_bar.update()
        else:
            jobs = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_one_set)(state, evaluator, rows, methods) for _, rows in sets
            )
            for output in jobs:
                outputs.append(output)
                progress_bar.update()
    finally:
        progress_bar.close()

    columns = {c: [] for c in RESULT_COLUMNS}
    timings = dict.fromkeys((*methods, "newton", "refit"), 0.0)
    n_train = state.n_samples
    for set_id, ((strategy, rows), (effects, times)) in enumerate(zip(sets, outputs)):
        for method, seconds in times.items():
            timings[method] += seconds
        for name in targets:
            actual = effects["refit"][name]
            reference = effects["reference"][name]
            for method in methods:
                predicted = effects[method][name]
                columns["error_estimate"].append(
                    relative_gap(predicted, reference)
                    if method in ADDITIVE_METHODS and len(rows) > 1
                    else (0.0 if method in ADDITIVE_METHODS else np.nan)
                )
                columns["set_id"].append(set_id)
                columns["strategy"].append(strategy)
                columns["size"].append(len(rows))
                columns["fraction"].append(len(rows) / n_train)
                columns["target"].append(name)
                columns["method"].append(method)
                columns["predicted"].append(predicted)
                columns["actual"].append(actual)
                columns["relative_error"].append(
                    abs(predicted - actual) / abs(actual) if actual != 0 else np.nan
                )
    dtypes = {"set_id": np.intp, "size": np.intp, "strategy": object, "target": object, "method": object}
    columns = {c: np.asarray(v, dtype=dtypes.get(c, float)) for c, v in columns.items()}
    return Bunch(
        results=_to_table(columns, frame),
        summary=summarize(columns, as_frame=frame),
        sets=sets,
        eval_rows=eval_rows,
        timings=timings,
        targets=targets,
        methods=methods,
    )


def _slope_through_origin(predicted, actual):
    denom = np.sum(actual * actual)
    return float(np.sum(predicted * actual) / denom) if denom > 0 else np.nan


def _correlation(fn, a, b):
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(fn(a, b)[0])


@_validated
def summarize(results, *, as_frame="auto"):
    """Per method and target: how well predicted changes match actual ones.

    Parameters
    ----------
    results : DataFrame or dict of array-like
        A table with at least the columns ``method``, ``target``, ``predicted`` and
        ``actual`` (e.g. ``validate_influence(...)["results"]``). Rows with a
        non-finite predicted or actual value are ignored.
    as_frame : bool or "auto", default="auto"
        DataFrame (when pandas is installed) or dict of NumPy columns.

    Returns
    -------
    summary : DataFrame or dict
        One row per (method, target) in order of appearance, columns
        ``SUMMARY_COLUMNS``:

        * ``n_sets``: rows used;
        * ``slope``: least-squares slope of predicted on actual through the origin,
          ``Σ pred·act / Σ act²`` (1 is unbiased; below 1 the method underestimates);
        * ``pearson``, ``spearman``: correlations of predicted and actual;
        * ``median_relative_error``: median of ``|pred − act| / |act|`` over rows
          with ``act ≠ 0``.

    Examples
    --------
    >>> from skrif.validation import summarize
    >>> table = {"method": ["if"] * 3, "target": ["t"] * 3,
    ...          "predicted": [1.0, 2.0, 4.0], "actual": [2.0, 4.0, 8.0]}
    >>> s = summarize(table, as_frame=False)
    >>> float(s["slope"][0]), round(float(s["pearson"][0]), 12), float(s["median_relative_error"][0])
    (0.5, 1.0, 0.5)
    """
    frame = _want_frame(as_frame)
    cols = _columns(results)
    missing = [c for c in ("method", "target", "predicted", "actual") if c not in cols]
    if missing:
        raise ValueError(f"results lacks the columns {missing}.")
    method = cols["method"].astype(object)
    target = cols["target"].astype(object)
    predicted = cols["predicted"].astype(float)
    actual = cols["actual"].astype(float)
    out = {c: [] for c in SUMMARY_COLUMNS}
    keys = list(dict.fromkeys(zip(method.tolist(), target.tolist())))
    for m, t in keys:
        sel = (method == m) & (target == t) & np.isfinite(predicted) & np.isfinite(actual)
        p, a = predicted[sel], actual[sel]
        nonzero = a != 0
        rel = np.abs(p[nonzero] - a[nonzero]) / np.abs(a[nonzero])
        out["method"].append(m)
        out["target"].append(t)
        out["n_sets"].append(int(sel.sum()))
        out["slope"].append(_slope_through_origin(p, a))
        out["pearson"].append(_correlation(stats.pearsonr, p, a))
        out["spearman"].append(_correlation(stats.spearmanr, p, a))
        out["median_relative_error"].append(float(np.median(rel)) if rel.size else np.nan)
    dtypes = {"method": object, "target": object, "n_sets": np.intp}
    out = {c: np.asarray(v, dtype=dtypes.get(c, float)) for c, v in out.items()}
    return _to_table(out, frame)


def interaction_calibration(results, *, threshold=SET_INTERACTION_THRESHOLD,
                            high=0.3, low=0.05):
    """How well the additive methods' error estimate tracks their actual error.

    Parameters
    ----------
    results : DataFrame or dict of arrays
        The ``results`` table of :func:`validate_influence`.
    threshold : float, default=SET_INTERACTION_THRESHOLD
        Estimate above which skrif warns (:class:`~skrif.exceptions.SetInteractionWarning`).
    high, low : float, default=0.3, 0.05
        Actual relative errors counted as large (should be warned) and small
        (should not).

    Returns
    -------
    calibration : dict
        Per additive method (``"if"``, ``"rif"``): ``spearman`` (rank correlation
        of estimate and actual error over sets of two or more rows), ``hit_rate``
        (fraction of sets with actual error above ``high`` that would warn),
        ``false_alarm_rate`` (fraction of sets with actual error below ``low`` that
        would warn), ``n_sets``, ``n_high``, ``n_low``.
    """
    cols = _columns(results)
    out = {}
    for method in ADDITIVE_METHODS:
        keep = (
            (np.asarray(cols["method"]) == method)
            & (np.asarray(cols["size"]) > 1)
            & np.isfinite(np.asarray(cols["relative_error"], dtype=float))
        )
        if not np.any(keep):
            continue
        err = np.asarray(cols["relative_error"], dtype=float)[keep]
        estimate = np.asarray(cols["error_estimate"], dtype=float)[keep]
        warned = ~(estimate <= threshold)
        big, small = err > high, err < low
        out[method] = {
            "spearman": _correlation(stats.spearmanr, estimate, err),
            "hit_rate": float(np.mean(warned[big])) if big.any() else np.nan,
            "false_alarm_rate": float(np.mean(warned[small])) if small.any() else np.nan,
            "n_sets": int(keep.sum()),
            "n_high": int(big.sum()),
            "n_low": int(small.sum()),
        }
    return out
