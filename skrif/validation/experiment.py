"""The experiment: predicted (IF, RIF, NS) versus actual (refit) effects of many
removal sets, as one tidy table.
"""

import sys
import time
import warnings

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._core.influence import check_removed_rows
from .._core.set_error import (
    relative_gap,
)
from .._features.groups import training_groups
from .._removal.methods import ADDITIVE_METHODS, PREDICTED_METHODS
from .._utils.progress import Progress
from ..exceptions import NotConvergedWarning
from ._common import (
    MAX_N_SETS,
    RESULT_COLUMNS,
    STRATEGIES,
    _check_fractions,
    _check_int,
    _check_methods,
    _check_strategies,
    _check_total_rows,
    _in_memory,
    _to_table,
    _validated,
    _want_frame,
)
from ._jobs import plan_jobs
from ._state import _removals, _TargetEvaluator, finite
from .sets import (
    GROUP_STRATEGIES,
    group_removal_sets,
    removal_sets,
    select_eval_rows,
    total_loss_scores,
)
from .summary import summarize


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


def _log_set(log, done, total, strategy, rows, output):
    if log:
        log.line(
            f"set {done}/{total} ({strategy}, {len(rows)} rows): exact refit "
            f"{output[1].get('refit', 0.0):.2f} s"
        )


def _reference_delta(state, idx, newton):
    """The additive methods' error reference: NS plus one more Newton step where
    available (:func:`skrif._core.set_error.second_newton_step`)."""
    if not finite(newton):
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
    strategies=None,
    min_fraction=0.001,
    max_fraction=0.05,
    n_eval_rows=100,
    n_jobs=None,
    progress="auto",
    as_frame="auto",
    random_state=None,
    groups=None,
    verbose=0,
    functional=None,
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
    strategies : sequence of str, default=None
        See :func:`removal_sets`; ``None`` means all of ``STRATEGIES``, or of
        ``GROUP_STRATEGIES`` with ``groups``. ``"top_score"`` ranks training rows by their
        additive effect (``est.influence_scores`` with ``target="loss"``, the
        estimator's default method) on the total test-subset loss.
    min_fraction, max_fraction : float, default=0.001, 0.05
        Set sizes, as fractions of the number of training rows (0.1% to 5%).
    n_eval_rows : int, default=100
        Size of the test subset.
    n_jobs : int, default=None
        Parallel jobs over sets (joblib; ``None`` means 1, ``-1`` all cores),
        capped at the CPUs available. Worker processes are used only where they
        pay: one refit is timed, and when all the refits would take less than
        starting the workers they run in this process instead (``jobs`` in the
        result says which). Must be ``None`` or 1 for an estimator fitted on Dask
        (its refits run on the cluster).
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
    verbose : int, default=0
        ``>= 1`` prints one line per removal set (its strategy, size and the time
        of its refit) to stderr, whether or not stderr is a terminal.

    functional : Functional, default=None
        Also check a functional of the model's outputs (:mod:`skrif.functionals`)
        on **all** the rows of ``X`` (with ``y``): a fourth target named after it,
        evaluated at the predicted parameters ``θ̂ + Δ`` of each method and at the
        exact refit.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``results``: the tidy table, one row per set × target × method, columns
        ``RESULT_COLUMNS`` (``set_id, strategy, size, fraction, target, method,
        predicted, actual, relative_error``; ``relative_error`` is
        ``|predicted − actual| / |actual|``, NaN when the actual change is 0;
        ``error_estimate`` is each method's estimate of that error on the target,
        ``|predicted − ref| / |ref|`` with ref the group Newton step followed by one
        more Newton step (see :class:`~skrif._core.set_error.SetErrorEstimate`); for
        ``"newton"`` the relative size of that second step (0 for least squares)). Sets
        whose refit or prediction is undefined (e.g. the set holds every row of a
        class), or whose exact refit does not converge, get NaN.
        ``summary``: :func:`summarize` of ``results``.
        ``sets``: list of ``(strategy, rows)``. ``eval_rows``: the test subset
        (indices into ``X``). ``timings``: seconds per method summed over sets
        (``"refit"`` is the ground truth; the time to compute each parameter
        change, the targets of all changes of a set being evaluated together). ``targets``, ``methods``.
        ``jobs``: sentences saying how ``n_jobs`` was honoured (empty for one process).

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
    log = Progress(verbose, "validate_influence")
    if strategies is None:
        strategies = STRATEGIES if groups is None else GROUP_STRATEGIES
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
    if hasattr(X_given, "iloc"):
        X_eval_given = X_given.iloc[eval_rows]
    elif hasattr(X_given, "shape"):
        X_eval_given = X_given[eval_rows]
    else:
        X_eval_given = X_eval
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
        groups = training_groups(
            _in_memory(groups), state.n_samples, getattr(est, "training_index_", None)
        )
        sets = group_removal_sets(groups, **draw)
    reference = None
    make_evaluator = getattr(state, "evaluator", None)
    if functional is not None:
        if state.distributed:
            raise NotImplementedError(
                "validate_influence(functional=...) is not available for an estimator "
                "fitted on Dask: fit it on in-memory data (e.g. on X.compute()), or "
                "validate the parameter, prediction or loss targets on Dask."
            )
        if make_evaluator is not None:
            raise NotImplementedError(
                "validate_influence(functional=...) is not available for "
                "InfluenceEstimator(pipeline, preprocessing='refit'); use "
                "preprocessing='fixed' (the final model with the preprocessing held fixed)."
            )
        # The functional is bound to all the rows of X (e.g. its groups), not the subset.
        reference = est._functional_reference(functional, X_given, y)
    if make_evaluator is not None:  # whole-pipeline answers: raw rows too
        evaluator = make_evaluator(est, X_eval, y_eval, Y_eval, X_eval_given)
    else:
        evaluator = _TargetEvaluator(state, est, X_eval, y_eval, Y_eval, reference)
    targets = evaluator.names

    progress_bar = _Progress(len(sets), progress, "refits")
    outputs = []
    try:
        jobs_notes = []
        if n_jobs not in (None, 1) and not state.distributed:
            # Worker processes only where they pay (one refit is timed, the plan stated).
            n_jobs, jobs_notes = plan_jobs(n_jobs, est, len(sets))
        if n_jobs in (None, 1):
            with blas_limits(est):
                for strategy, rows in sets:
                    outputs.append(_one_set(state, evaluator, rows, methods))
                    progress_bar.update()
                    _log_set(log, len(outputs), len(sets), strategy, rows, outputs[-1])
        else:
            jobs = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_one_set)(state, evaluator, rows, methods) for _, rows in sets
            )
            for output in jobs:
                outputs.append(output)
                progress_bar.update()
                strategy, rows = sets[len(outputs) - 1]
                _log_set(log, len(outputs), len(sets), strategy, rows, output)
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
                    if (method in ADDITIVE_METHODS or method == "newton") and len(rows) > 1
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
        jobs=jobs_notes,
    )
