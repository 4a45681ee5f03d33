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
