"""Regression tests for adversarial inputs (issue 17, items E-H, N-P, S).

Each test checks skrif against an independent ground truth (a scikit-learn refit
at tight tolerance, a closed form) or asserts the error/warning it must raise.
"""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from skrif import InfluenceEstimator

from .conftest import change_vector, exact_refit, keep_mask, theta

pd = pytest.importorskip("pandas")


# -- E: pandas inputs keyed by row label ------------------------------------------
@pytest.fixture
def shuffled_frame():
    rng = np.random.default_rng(0)
    n = 40
    X = rng.normal(size=(n, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=n)
    labels = rng.permutation(1000)[:n]  # integer labels, not positions
    X_df = pd.DataFrame(X, index=labels, columns=["a", "b", "c"])
    y_s = pd.Series(y, index=labels)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X_df, y_s)
    return X, y, X_df, est


def _refit_change(X, y, removed):
    full = Ridge(alpha=1.0, solver="cholesky").fit(X, y)
    keep = keep_mask(len(y), removed)
    return theta(exact_refit(Ridge(alpha=1.0), X, y, None, keep)) - theta(full)


def test_boolean_series_mask_is_aligned_by_label(shuffled_frame):
    X, y, X_df, est = shuffled_frame
    chosen = X_df.index[[3, 17, 25]]
    # The same mask, but with its index sorted (not in training order).
    mask = pd.Series(X_df.index.isin(chosen), index=X_df.index).sort_index()
    assert not mask.index.equals(X_df.index)
    change = est.influence(mask, method="newton")
    np.testing.assert_array_equal(change.removed, [3, 17, 25])
    np.testing.assert_allclose(
        change_vector(change), _refit_change(X, y, [3, 17, 25]), rtol=1e-8, atol=1e-12
    )
    effect = est.removal_effect(mask, X_df.iloc[:4], method="newton")
    expected = est.removal_effect([3, 17, 25], X_df.iloc[:4], method="newton")
    np.testing.assert_array_equal(effect, expected)


def test_series_of_labels_is_refused(shuffled_frame):
    _, _, X_df, est = shuffled_frame
    labels = X_df.index[[3, 17]].to_series()
    with pytest.raises(ValueError, match="pandas Series of .*row labels"):
        est.influence(labels)
    with pytest.raises(ValueError, match="pandas Series of .*row labels"):
        est.removal_effect(labels, X_df.iloc[:3])


def test_boolean_series_with_other_labels_is_refused(shuffled_frame):
    _, _, X_df, est = shuffled_frame
    n = len(X_df)
    with pytest.raises(ValueError, match="does not match the training rows"):
        est.influence(pd.Series(np.arange(n) < 2))  # RangeIndex, not the labels
    with pytest.raises(ValueError, match="missing values"):
        est.influence(pd.Series([True] + [None] * (n - 1), index=X_df.index, dtype="boolean"))


def test_series_mask_without_training_labels():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    y = X @ [1.0, 1.0] + rng.normal(size=30)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    mask = pd.Series(np.arange(30) < 3)
    np.testing.assert_array_equal(est.influence(mask).removed, [0, 1, 2])
    with pytest.raises(ValueError, match="had no row labels"):
        est.influence(mask.sort_values())
    # Labels of an array fit are positions: a Series of ints is fine.
    np.testing.assert_array_equal(est.influence(pd.Series([4, 7])).removed, [4, 7])


def test_label_training_rows_and_removal_sets_align_series(shuffled_frame):
    from skrif import label_training_rows
    from skrif.validation import removal_sets

    _, _, X_df, est = shuffled_frame
    values = pd.Series(np.arange(len(X_df), dtype=float), index=X_df.index)
    labelled = label_training_rows(est, values.sort_index())
    pd.testing.assert_series_equal(labelled, values)

    scores = values.to_numpy() ** 2  # top rows are the last positions
    sets_np = removal_sets(X_df, n_sets=2, strategies=("top_score",), scores=scores,
                           random_state=0)
    shuffled = pd.Series(scores, index=X_df.index).sort_index()
    sets_pd = removal_sets(X_df, n_sets=2, strategies=("top_score",), scores=shuffled,
                           random_state=0)
    for (_, a), (_, b) in zip(sets_np, sets_pd):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="had no row labels"):
        removal_sets(X_df.to_numpy(), n_sets=2, strategies=("top_score",), scores=shuffled)


# -- F: a class with a single training row ------------------------------------------
def _one_row_class_data(n_classes):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    if n_classes == 3:
        y[y == 1] = rng.integers(1, 3, size=np.sum(y == 1))
    lone = 11
    y[lone] = n_classes  # the only row of the last class
    return X, y, lone


@pytest.mark.parametrize("n_classes", [1, 3])  # binary (one lone positive), multinomial
def test_one_row_class_effects_are_nan_with_a_warning(n_classes):
    from sklearn.linear_model import LogisticRegression

    from skrif.exceptions import UndefinedRemovalWarning

    X, y, lone = _one_row_class_data(n_classes)
    if n_classes == 1:
        y = np.where(np.arange(60) == lone, 1, 0)
    model = LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000)
    est = InfluenceEstimator(model).fit(X, y)
    # Ground truth: the leave-one-out model has fewer classes, so it is undefined.
    assert len(np.unique(np.delete(y, lone))) == len(np.unique(y)) - 1
    with pytest.raises(ValueError, match="Removing these rows leaves"):
        est.influence([lone])
    for method in ("if", "rif"):
        with pytest.warns(UndefinedRemovalWarning, match=rf"row\(s\) \[{lone}\]"):
            si = est.self_influence(method=method)
        with pytest.warns(UndefinedRemovalWarning):
            loo = est.loo_predict(method=method)
        with pytest.warns(UndefinedRemovalWarning):
            scores = est.influence_scores(X[:5], method=method)
        for values in (si, loo, scores):
            assert np.all(np.isnan(values[lone]))
            assert np.all(np.isfinite(np.delete(values, lone, axis=0)))
    with pytest.warns(UndefinedRemovalWarning), pytest.raises(ValueError, match="only training row of a class"):
        est.loo_score()
    # Other rows keep their values: rif self-influence of row 0 is one exact Newton
    # step; compare with the exact refit loss change (close, not equal).
    keep = keep_mask(60, [0])
    refit = LogisticRegression(solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(X[keep], y[keep])
    z0 = est.decision_function(X[:1])
    z1 = refit.decision_function(X[:1])
    np.testing.assert_allclose(
        np.ravel(loo[0]), np.ravel(z1), rtol=0.05, atol=0.05 * np.max(np.abs(z1 - z0))
    )


# -- G: overflow is an error, never a silent NaN or zero ---------------------------
def _small_regression(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 3))
    return X, X @ [1.0, -1.0, 0.5] + rng.normal(size=30)


def test_overflowing_objective_is_refused_at_fit():
    from sklearn.linear_model import LinearRegression

    X, y = _small_regression()
    for model in (Ridge(alpha=1.0), LinearRegression()):
        with np.errstate(all="ignore"), pytest.raises(ValueError, match="objective value .*not finite"):
            InfluenceEstimator(model).fit(X, 1e200 * y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_overflowing_hessian_is_refused_at_fit():
    from sklearn.linear_model import LogisticRegression

    X, y = _small_regression()
    X[:, 0] *= 1e160  # x² overflows: the Hessian is inf
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="Hessian of the fitted"):
        InfluenceEstimator(LogisticRegression()).fit(X, (y > 0).astype(int))


def test_large_but_representable_scale_is_exact():
    # |y| ≈ 1e150 does not overflow: the answers must be right, not refused.
    X, y = _small_regression()
    y = 1e150 * y
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    truth = _refit_change(X, y, [1, 2])
    for method in ("newton", "refit"):
        np.testing.assert_allclose(
            change_vector(est.influence([1, 2], method=method)), truth, rtol=1e-8
        )


def test_refit_that_overflows_is_refused():
    X, y = _small_regression()
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, 1e150 * y)
    weights = np.full(30, 1e300)  # the objective's value overflows under these weights
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="exact refit .*not finite"):
        est._fitted_removal().refit(weights)


def test_finite_change_refuses_overflowed_changes_only():
    from skrif._utils.checks import finite_change

    full_nan = finite_change(lambda: np.full((1, 3), np.nan))  # leverage 1: documented
    assert np.all(np.isnan(full_nan()))
    for bad in ([[1.0, np.inf, 0.0]], [[1.0, np.nan, 0.0]]):
        with pytest.raises(ValueError, match="parameter change is not finite"):
            finite_change(lambda bad=bad: np.array(bad))()


# -- H: reweighting fractions are bounded to where the answers are accurate -------
def _exact_weighted_ridge(X, y, w, alpha):
    """(coef, intercept) of weighted ridge (intercept unpenalised) in exact rational
    arithmetic from the float inputs: ground truth free of any conditioning."""
    from fractions import Fraction

    n, p = X.shape
    m = p + 1
    rows = [[Fraction(float(v)) for v in X[i]] + [Fraction(1)] for i in range(n)]
    A = [[Fraction(0)] * m for _ in range(m)]
    b = [Fraction(0)] * m
    for i in range(n):
        wi, yi, r = Fraction(float(w[i])), Fraction(float(y[i])), rows[i]
        for j in range(m):
            b[j] += wi * r[j] * yi
            for k in range(m):
                A[j][k] += wi * r[j] * r[k]
    for j in range(p):
        A[j][j] += Fraction(alpha)
    for c in range(m):  # Gaussian elimination, exact
        piv = next(r for r in range(c, m) if A[r][c] != 0)
        A[c], A[piv], b[c], b[piv] = A[piv], A[c], b[piv], b[c]
        for r in range(c + 1, m):
            f = A[r][c] / A[c][c]
            A[r] = [a - f * ac for a, ac in zip(A[r], A[c])]
            b[r] -= f * b[c]
    x = [Fraction(0)] * m
    for c in reversed(range(m)):
        x[c] = (b[c] - sum(A[c][k] * x[k] for k in range(c + 1, m))) / A[c][c]
    return np.array([float(v) for v in x])


def test_fraction_lower_bound_is_accurate_and_beyond_is_refused():
    from skrif._core.influence import MIN_FRACTION

    X, y = _small_regression(1)
    n = len(y)
    est = InfluenceEstimator(Ridge(alpha=1.0)).fit(X, y)
    base = _exact_weighted_ridge(X, y, np.ones(n), 1)
    rows = [3, 7]
    w = np.ones(n)
    w[rows] = 1 - MIN_FRACTION
    truth = _exact_weighted_ridge(X, y, w, 1) - base
    for method, rtol in (("newton", 1e-9), ("refit", 1e-12)):
        change = change_vector(est.influence(rows, method=method, fraction=MIN_FRACTION))
        np.testing.assert_allclose(change, truth, rtol=rtol, atol=rtol * np.abs(truth).max())
    for fraction in (MIN_FRACTION * 1.01, -1e12, -1e15):
        for method in ("if", "newton", "refit"):
            with pytest.raises(ValueError, match=r"fraction must be >= -1e\+06"):
                est.influence(rows, method=method, fraction=fraction)
        with pytest.raises(ValueError, match=r"fraction must be >= -1e\+06"):
            est.removal_effect(rows, X[:2], fraction=fraction)


# -- N: clear errors for the wrong kind of object ----------------------------------
def test_validation_needs_an_influence_estimator():
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skrif.validation import select_eval_rows, total_loss_scores, validate_influence

    X, y = _small_regression()
    plain = Ridge().fit(X, y)
    with pytest.raises(TypeError, match=r"validate_influence needs a fitted skrif\.InfluenceEstimator; got Ridge\. Wrap"):
        validate_influence(plain, X, y, n_sets=4)
    with pytest.raises(TypeError, match="select_eval_rows needs a fitted"):
        select_eval_rows(plain, X, y)
    with pytest.raises(TypeError, match="total_loss_scores needs a fitted"):
        total_loss_scores(plain, X, y)
    pipe = make_pipeline(StandardScaler(), InfluenceEstimator(Ridge())).fit(X, y)
    with pytest.raises(TypeError, match=r"pass pipeline\[-1\]"):
        validate_influence(pipe, X, y, n_sets=4)
    with pytest.raises(NotFittedError):
        validate_influence(InfluenceEstimator(Ridge()), X, y, n_sets=4)


def test_display_from_results_refuses_non_tables():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from skrif import InfluenceDisplay

    with pytest.raises(TypeError, match="results must be the Bunch returned by .*got int"):
        InfluenceDisplay.from_results(42)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['actual'\]"):
        InfluenceDisplay.from_results({"target": ["x"], "method": ["if"], "predicted": [1.0]})


# -- O: class weights are validated with the setting named ------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0, "2"])
@pytest.mark.parametrize("model_name", ["logistic", "ridge_classifier"])
def test_bad_class_weight_entry_is_refused(bad, model_name):
    from sklearn.linear_model import LogisticRegression, RidgeClassifier

    X, y = _small_regression()
    y = (y > 0).astype(int)
    model_cls = LogisticRegression if model_name == "logistic" else RidgeClassifier
    with pytest.raises(ValueError, match=r"class_weight\[1\] must be a finite non-negative number"):
        InfluenceEstimator(model_cls(class_weight={1: bad})).fit(X, y)


def test_all_zero_class_weights_are_refused():
    from sklearn.linear_model import LogisticRegression

    X, y = _small_regression()
    y = (y > 0).astype(int)
    with pytest.raises(ValueError, match="gives every training row zero weight"):
        InfluenceEstimator(LogisticRegression(class_weight={0: 0.0, 1: 0.0})).fit(X, y)


def test_valid_class_weight_matches_refit():
    from sklearn.linear_model import LogisticRegression

    X, y = _small_regression()
    y = (y > 0).astype(int)
    params = dict(class_weight={1: 2.5, 0: 0.5}, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    est = InfluenceEstimator(LogisticRegression(**params)).fit(X, y)
    keep = keep_mask(len(y), [4, 9])
    full = LogisticRegression(**params).fit(X, y)
    refit = LogisticRegression(**params).fit(X[keep], y[keep])
    np.testing.assert_allclose(
        change_vector(est.influence([4, 9], method="refit")), theta(refit) - theta(full),
        rtol=1e-7, atol=1e-10,
    )


# -- P: n_sets is bounded, and checked before any work ------------------------------
def test_n_sets_upper_bound_fails_fast():
    import time

    from skrif.validation import MAX_N_SETS, removal_sets, validate_influence

    X, y = _small_regression()
    est = InfluenceEstimator(Ridge()).fit(X, y)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"n_sets must be an integer between 4 and {MAX_N_SETS}"):
        removal_sets(X, n_sets=10**9, strategies=("random", "feature", "distance", "top_score"),
                     scores=np.zeros(30))
    with pytest.raises(ValueError, match=f"n_sets must be an integer between 4 and {MAX_N_SETS}"):
        validate_influence(est, X, y, n_sets=10**9)
    assert time.perf_counter() - start < 2.0
    # MAX_N_SETS itself is accepted by the check (the sets are cheap to build here).
    # (on enough rows that 1000 random sets are all distinct: sets are never repeated)
    X_big = np.random.default_rng(0).normal(size=(20_000, 2))
    sets = removal_sets(X_big, n_sets=MAX_N_SETS // 100, strategies=("random",), random_state=0)
    assert len(sets) == 1000


def test_total_rows_over_sets_is_bounded():
    from skrif.validation import removal_sets

    X = np.arange(10_000.0)[:, None]
    with pytest.raises(ValueError, match="would hold .* row indices in total"):
        removal_sets(X, n_sets=100_000, strategies=("random",), max_fraction=0.99)


def test_cli_n_sets_upper_bound(tmp_path, capsys):
    from skrif.cli import MAX_SETS, main

    code = main(["report", "--n-sets", "1000000", "--out", str(tmp_path / "never")])
    assert code == 1
    assert f"more than the report draws ({MAX_SETS})" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


# -- S: influence_scores blocks over evaluation rows -------------------------------
def _sparse_regression(n, p, density, m, seed=0):
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=rng)
    y = X @ rng.normal(size=p) + rng.normal(size=n)
    X_eval = sp.random(m, p, density=density, format="csr", random_state=rng)
    return X, y, X_eval


def _tight_ridge():
    return Ridge(alpha=1.0, solver="cholesky")


def test_blocked_influence_scores_match_unblocked_and_refits(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    from skrif._features import attribution as _attribution

    n, p, m = 50, 400, 13  # p̃ > n: the dual factorization
    X, y, X_eval = _sparse_regression(n, p, 0.05, m)
    est = InfluenceEstimator(Ridge(alpha=1.0, tol=1e-12)).fit(X, y)
    y_eval = np.random.default_rng(5).normal(size=m)
    whole = est.influence_scores(X_eval)
    whole_loss = est.influence_scores(X_eval, y_eval, target="loss")
    clf = InfluenceEstimator(LogisticRegression(solver="newton-cholesky", tol=1e-12)).fit(
        X.toarray()[:, :5], (y > np.median(y)).astype(int)
    )
    whole_proba = clf.influence_scores(X_eval.toarray()[:, :5], target="predict_proba")

    monkeypatch.setattr(_attribution, "_SOLVE_FLOATS", 3 * (p + 1))  # 3 rows per solve
    np.testing.assert_allclose(est.influence_scores(X_eval), whole, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        est.influence_scores(X_eval, y_eval, target="loss"), whole_loss, rtol=1e-12, atol=1e-15
    )
    monkeypatch.setattr(_attribution, "_SOLVE_FLOATS", 2 * 6)  # p̃ = 6: 2 rows per solve
    np.testing.assert_allclose(
        clf.influence_scores(X_eval.toarray()[:, :5], target="predict_proba"), whole_proba,
        rtol=1e-12, atol=1e-15,
    )
    # Ground truth: for least squares the RIF score of the prediction is the exact
    # leave-one-out change.
    Xd, Xe = X.toarray(), X_eval.toarray()
    full = _tight_ridge().fit(Xd, y)
    for i in (0, 7, n - 1):
        keep = keep_mask(n, [i])
        truth = _tight_ridge().fit(Xd[keep], y[keep]).predict(Xe) - full.predict(Xe)
        np.testing.assert_allclose(whole[i], truth, rtol=1e-8, atol=1e-10 * np.abs(truth).max())


def test_influence_scores_memory_does_not_grow_with_evaluation_rows():
    import tracemalloc

    # 200 sparse evaluation rows of width 100 000: densified whole, the previous
    # implementation allocated ~5 arrays of p̃ × m floats (800 MB); blocked, a few
    # p̃ × 41 blocks (~35 MB each).
    n, p, m = 40, 100_000, 200
    X, y, X_eval = _sparse_regression(n, p, 1e-4, m, seed=2)
    est = InfluenceEstimator(Ridge(alpha=1.0, tol=1e-12)).fit(X, y)
    tracemalloc.start()
    try:
        scores = est.influence_scores(X_eval)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert scores.shape == (n, m)
    assert peak < 300 * 2**20, f"influence_scores peaked at {peak / 2**20:.0f} MB"


def test_fit_refuses_y_and_weights_in_another_row_order(shuffled_frame):
    X, y, X_df, _ = shuffled_frame
    y_s = pd.Series(y, index=X_df.index)
    with pytest.raises(ValueError, match="y holds the same row labels as X in a different order"):
        InfluenceEstimator(Ridge()).fit(X_df, y_s.sort_index())
    w = pd.Series(np.linspace(0.5, 2.0, len(y)), index=X_df.index)
    with pytest.raises(ValueError, match="sample_weight holds the same row labels"):
        InfluenceEstimator(Ridge()).fit(X_df, y_s, sample_weight=w.sort_index())
    # Aligned inputs, and positional ones with unrelated labels, are accepted.
    est = InfluenceEstimator(Ridge()).fit(X_df, y_s.loc[X_df.index], sample_weight=w)
    np.testing.assert_allclose(
        theta(est.estimator_), theta(Ridge(solver="cholesky").fit(X, y, sample_weight=w.to_numpy())),
        rtol=1e-8,
    )
    InfluenceEstimator(Ridge()).fit(X_df, y_s.reset_index(drop=True))
