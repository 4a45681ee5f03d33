"""Removal sets of the paper's strategies (random, clustered by a feature, by distance,
top-scoring), removal sets of whole groups, and the evaluation subset.
"""


import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .._utils.dask import is_dask
from .._utils.frames import align_to_training_rows, training_index_of
from ._common import (
    MAX_N_SETS,
    STRATEGIES,
    _check_fractions,
    _check_int,
    _check_strategies,
    _check_total_rows,
    _in_memory,
    _sizes,
    _validated,
)
from ._state import _removals


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
    Z = state.design_of(X).matvec(state.theta.T)
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
    raw = _in_memory(X)
    X, Y = state.validate_eval(raw, _in_memory(y), target)
    if hasattr(state, "pipeline"):  # whole-pipeline answers need the raw rows too
        return state.total_loss_scores(X, Y, target, method, raw=raw)
    return state.total_loss_scores(X, Y, target, method)


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
