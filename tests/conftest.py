"""Shared test helpers: independent ground truth (exact scikit-learn refits)."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge


def theta(est):
    """``(coef, intercept)`` of a fitted sklearn linear model as one flat vector."""
    coef = np.ravel(est.coef_)
    if not getattr(est, "fit_intercept", True):
        return coef.copy()
    return np.concatenate([coef, np.ravel(est.intercept_)])


def change_vector(change, fit_intercept=True):
    """Flatten a :class:`skrif.ParameterChange` like :func:`theta`."""
    coef = np.ravel(change.coef)
    if not fit_intercept:
        return coef
    return np.concatenate([coef, np.ravel(change.intercept)])


def exact_refit(estimator, X, y, sample_weight, keep):
    """Refit a fresh, tightly converged copy of ``estimator`` on the rows ``keep``.

    Ridge uses the direct Cholesky solver, LinearRegression least squares and
    LogisticRegression newton-cholesky at tol=1e-14: all converge to machine
    precision, so they are ground truth independent of skrif's solver.
    """
    params = estimator.get_params()
    if isinstance(estimator, Ridge):
        model = Ridge(**{**params, "solver": "cholesky"})
    elif isinstance(estimator, LogisticRegression):
        model = LogisticRegression(
            **{**params, "solver": "newton-cholesky", "tol": 1e-14, "max_iter": 1000}
        )
    elif isinstance(estimator, LinearRegression):
        model = LinearRegression(**params)
    else:  # pragma: no cover
        raise TypeError(type(estimator))
    sw = None if sample_weight is None else sample_weight[keep]
    return model.fit(X[keep], y[keep], sample_weight=sw)


def keep_mask(n, removed):
    mask = np.ones(n, dtype=bool)
    mask[np.asarray(removed, dtype=int)] = False
    return mask


def planted_logistic(n, p, *, scale=10.0, offset=0.3, seed=0):
    """The planted-logistic generator of the benchmark protocol (BENCHMARKS.md)."""
    rng = np.random.default_rng(seed)
    s = np.arange(1, p + 1) ** -0.5
    s *= scale / np.sqrt(np.sum(s**2))
    X = rng.normal(size=(n, p)) * s
    X = X[:, rng.permutation(p)]
    theta_star = rng.normal(size=p) * s[: p]
    z = X @ theta_star
    theta_star *= 6.0 / np.std(z)
    prob = 1.0 / (1.0 + np.exp(-(X @ theta_star + offset)))
    y = (rng.uniform(size=n) < prob).astype(int)
    return X, y


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def make_removal_case(family, *, n, p, fit_intercept=True, weighted=False, sparse=False,
                      alpha=None, seed=0):
    """The shared data generator of the removal contract tests: ``(estimator, X, y, w)``.

    ``family`` is one of "ridge", "logistic", "multinomial", "poisson", "sgd";
    X is standard normal / √p (sparse: ~40% density CSR with the same scale), the
    targets are drawn from the family's model, weights are uniform in [0.5, 2]
    (``None`` unless ``weighted``). ``alpha`` overrides the default penalty.
    """
    import scipy.sparse as sp
    from sklearn.linear_model import PoissonRegressor, SGDRegressor

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) / np.sqrt(p)
    if sparse:
        X[rng.uniform(size=X.shape) > 0.4] = 0.0
        X[np.arange(n), rng.integers(0, p, size=n)] = 1.0  # no empty row
    beta = rng.standard_normal(p)
    z = X @ beta + 0.3
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    if family == "ridge":
        est = Ridge(alpha=1.0 if alpha is None else alpha, fit_intercept=fit_intercept)
        y = z + 0.3 * rng.standard_normal(n)
    elif family == "logistic":
        C = 1.0 if alpha is None else 1.0 / alpha
        est = LogisticRegression(C=C, tol=1e-12, max_iter=10000, fit_intercept=fit_intercept)
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * z))).astype(int)
        y[:2] = [0, 1]
    elif family == "multinomial":
        C = 1.0 if alpha is None else 1.0 / alpha
        est = LogisticRegression(C=C, tol=1e-12, max_iter=10000, fit_intercept=fit_intercept)
        logits = 2 * X @ rng.standard_normal((p, 3)) + rng.gumbel(size=(n, 3))
        y = np.argmax(logits, axis=1)
        y[:3] = [0, 1, 2]
    elif family == "poisson":
        est = PoissonRegressor(alpha=0.1 if alpha is None else alpha, tol=1e-6,
                               max_iter=10000, fit_intercept=fit_intercept)
        y = rng.poisson(np.exp(0.5 * z)).astype(float)
    elif family == "sgd":
        est = SGDRegressor(alpha=0.1 if alpha is None else alpha, fit_intercept=fit_intercept,
                           random_state=0, max_iter=50, tol=None)
        y = z + 0.3 * rng.standard_normal(n)
    else:  # pragma: no cover
        raise ValueError(family)
    if sparse:
        X = sp.csr_matrix(X)
    return est, X, y, w


@pytest.fixture
def removal_case():
    """The shared removal-case generator (:func:`make_removal_case`)."""
    return make_removal_case


def scaled_multinomial_case(scale=1e7, n_removed=5):
    """Unpenalised 3-class logistic data with column 1 multiplied by ``scale``
    (issue 17 A for the multinomial kind): ``(Xs, y, model, truth)``, ``truth`` the
    coefficient change of removing the first ``n_removed`` rows, from tight
    scikit-learn fits on the *unscaled* data (well conditioned), mapped to the
    scaled coordinates."""
    from sklearn.datasets import make_classification

    X, y = make_classification(300, 4, n_informative=3, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, class_sep=0.5, random_state=0)
    Xs = X.copy()
    Xs[:, 1] *= scale
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    tight = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    full = tight.fit(X, y).coef_.copy()
    truth = tight.fit(X[n_removed:], y[n_removed:]).coef_ - full
    truth[:, 1] /= scale
    return Xs, y, model, truth


# -- every public method of InfluenceEstimator, answered or refused cleanly -------
#: scikit-learn's own plumbing, not skrif's answers.
SKLEARN_PLUMBING = {
    "get_params", "set_params", "get_metadata_routing", "set_fit_request", "set_score_request",
}


def public_method_calls(est, X, y, X_test, y_test):
    """One call (a zero-argument function) per public method of the fitted ``est``.

    Checks that the calls cover every public method available for its model
    (``available_if`` hides some), so that a new method cannot be added without a
    recipe here. Targets follow the model: ``predict_proba`` where the classifier
    has it, the decision function for other classifiers, ``predict`` for regressors.
    """
    from skrif.functionals import log_loss, mean_loss, roc_auc

    classifier = hasattr(est, "classes_") and hasattr(est.estimator_, "classes_")
    proba = classifier and hasattr(est, "predict_proba")
    target = "predict_proba" if proba else "decision_function" if classifier else "predict"
    ranking = roc_auc() if classifier else mean_loss()
    loss = log_loss() if proba else mean_loss()
    calls = {
        "fit": lambda: est.fit(X, y),
        "influence": lambda: est.influence([1, 2]),
        "removal_effect": lambda: est.removal_effect([1, 2], X_test, y_test, target="loss"),
        "influence_scores": lambda: est.influence_scores(X_test, target=target),
        "self_influence": lambda: est.self_influence(),
        "most_influential": lambda: est.most_influential(X_test, y_test, k=3),
        "loo_predict": lambda: est.loo_predict(target=target),
        "loo_score": lambda: est.loo_score(),
        "cv_predict": lambda: est.cv_predict(cv=4, target=target),
        "removal_to_flip": lambda: est.removal_to_flip(X_test[:1]),
        "functional_influence": lambda: est.functional_influence(ranking, X_test, y_test),
        "functional_effect": lambda: est.functional_effect([1, 2], loss, X_test, y_test),
        "amip_summary": lambda: est.amip_summary(coef=0),
        "diagnostics": lambda: est.diagnostics(),
        "predict": lambda: est.predict(X_test),
        "score": lambda: est.score(X_test, y_test),
        "label_issues": lambda: est.label_issues(),
        "predict_proba": lambda: est.predict_proba(X_test),
        "predict_log_proba": lambda: est.predict_log_proba(X_test),
        "decision_function": lambda: est.decision_function(X_test),
        "predict_set": lambda: est.predict_set(X_test, alpha=0.2),
        "predict_interval": lambda: est.predict_interval(X_test, alpha=0.2),
    }
    public = {
        name for name in dir(type(est))
        if not name.startswith("_") and callable(getattr(type(est), name, None))
    } - SKLEARN_PLUMBING
    assert public <= set(calls), f"public methods without a recipe: {public - set(calls)}"
    return {name: call for name, call in calls.items() if hasattr(est, name)}


def answers_or_refusals(calls):
    """Run every call; return ``{name: message}`` of the clean refusals
    (``ValueError`` / ``NotImplementedError``). Any other exception fails the test."""
    refused = {}
    for name, call in calls.items():
        try:
            out = call()
        except (ValueError, NotImplementedError) as error:
            refused[name] = str(error)
            continue
        assert out is not None, name
    return refused
