"""Datasets: the bundled overparameterized default and a planted-logistic generator.

* :func:`load_breast_cancer_quadratic` — the real data ``skrif report`` runs on by
  default: scikit-learn's Wisconsin breast-cancer table (ships with scikit-learn, no
  download) mapped to all degree-2 monomials of its standardized features, so that
  there are more parameters (495 + intercept) than training rows (300 by default).
  That is the regime where classical influence functions underestimate the effect of
  removing data and rescaled influence functions do not.
* :func:`make_planted_logistic` — a seeded synthetic stand-in for the embedding
  datasets of the paper (power-law feature spectrum, a planted logistic model).
"""

import numbers

import numpy as np
from scipy.special import expit
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.utils import Bunch, check_random_state

__all__ = ["load_breast_cancer_quadratic", "make_planted_logistic", "default_model"]

#: Inverse penalty of the bundled default model: strong enough that the fit is
#: well determined (test accuracy ≈ 0.96), weak enough that leverages reach 0.8 and
#: IF visibly underestimates.
DEFAULT_C = 0.1


def default_model():
    """The logistic model ``skrif report`` attributes on the bundled data.

    Returns
    -------
    model : LogisticRegression
        ``LogisticRegression(C=0.1, solver="newton-cholesky", tol=1e-10,
        max_iter=1000)``: an L2 penalty of ``½‖w‖²`` against ``0.1 × Σ log-loss``,
        solved to machine precision (so skrif does not need to polish it).

    Examples
    --------
    >>> from skrif.datasets import default_model
    >>> default_model().C
    0.1
    """
    return LogisticRegression(C=DEFAULT_C, solver="newton-cholesky", tol=1e-10, max_iter=1000)


def _check_n_train(n_train, n_total):
    if (
        not isinstance(n_train, numbers.Integral)
        or isinstance(n_train, bool)
        or not 20 <= n_train <= n_total - 20
    ):
        raise ValueError(
            f"n_train must be an integer between 20 and {n_total - 20}; got {n_train!r}."
        )


def load_breast_cancer_quadratic(*, n_train=300, random_state=0):
    """Load the bundled overparameterized classification problem (no download).

    The 569 × 30 Wisconsin breast-cancer table from
    :func:`sklearn.datasets.load_breast_cancer` is split (stratified) into
    ``n_train`` training rows and the rest for testing, then mapped by a fixed
    feature map fitted **on the training rows only**:

    1. standardize each of the 30 features (``StandardScaler``);
    2. form all degree-1 and degree-2 monomials (``PolynomialFeatures(degree=2,
       include_bias=False)``: 30 + 30·31/2 = 495 features);
    3. standardize the 495 features again.

    With the default 300 training rows there are more parameters (496 with the
    intercept) than rows, the regime of the paper.

    Parameters
    ----------
    n_train : int, default=300
        Number of training rows (20 to 549).
    random_state : int, RandomState instance or None, default=0
        Seed of the train/test split.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` (n_train, 495), ``X_test`` (569 − n_train, 495), ``y_train``,
        ``y_test`` (0 = malignant, 1 = benign), ``feature_names`` (495 names such
        as ``"mean radius^2"`` or ``"mean radius worst area"``),
        ``target_names``, ``train_index`` / ``test_index`` (row numbers in the
        original table), ``raw_train`` (the training rows' 30 original
        measurements, a DataFrame when pandas is installed, else an array) and
        ``DESCR``.

    Examples
    --------
    >>> from skrif.datasets import load_breast_cancer_quadratic
    >>> data = load_breast_cancer_quadratic()
    >>> data.X_train.shape, data.X_test.shape
    ((300, 495), (269, 495))
    """
    raw = load_breast_cancer()
    n_total = raw.data.shape[0]
    _check_n_train(n_train, n_total)
    rows = np.arange(n_total)
    train_index, test_index = train_test_split(
        rows,
        train_size=n_train,
        stratify=raw.target,
        random_state=check_random_state(random_state),
    )
    first = StandardScaler().fit(raw.data[train_index])
    poly = PolynomialFeatures(degree=2, include_bias=False).fit(first.transform(raw.data[train_index]))
    names = poly.get_feature_names_out(raw.feature_names)

    def lift(A):
        return poly.transform(first.transform(A))

    second = StandardScaler().fit(lift(raw.data[train_index]))

    def feature_map(A):
        return second.transform(lift(A))

    raw_train = raw.data[train_index]
    try:
        import pandas as pd
    except ImportError:  # pandas is optional
        pass
    else:
        raw_train = pd.DataFrame(raw_train, columns=list(raw.feature_names))
    return Bunch(
        raw_train=raw_train,
        X_train=feature_map(raw.data[train_index]),
        X_test=feature_map(raw.data[test_index]),
        y_train=raw.target[train_index],
        y_test=raw.target[test_index],
        feature_names=np.asarray(names, dtype=object),
        target_names=raw.target_names,
        train_index=train_index,
        test_index=test_index,
        DESCR=(
            "Wisconsin breast cancer (scikit-learn's load_breast_cancer), "
            f"{n_train} training rows; features: standardized, all degree-2 "
            "monomials (495), standardized again (maps fitted on the training rows)."
        ),
    )


def make_planted_logistic(
    n_samples=300, n_features=400, *, scale=15.0, signal_std=6.0, offset=0.3, random_state=None
):
    """Generate a planted logistic-regression problem with an embedding-like spectrum.

    ``z ~ N(0, I_p)`` is scaled coordinate-wise by ``s_k ∝ k^(-1/2)`` normalised so
    that ``E‖x‖² = scale²`` and the coordinates are shuffled; a planted
    ``θ* ~ N(0, I)`` weighted by ``s_k`` is rescaled so that
    ``std(x·θ*) = signal_std``; labels are ``y ~ Bernoulli(σ(x·θ* + offset))``.
    With the defaults the Bayes accuracy is about 90%, and a lightly penalised
    logistic regression with ``n_features ≳ n_samples`` fits the training data
    almost perfectly — where the classical influence function underestimates.

    Parameters
    ----------
    n_samples : int, default=300
        Number of rows.
    n_features : int, default=400
        Number of columns (the planted model uses all of them).
    scale : float, default=15.0
        Root mean squared norm of the rows.
    signal_std : float, default=6.0
        Standard deviation of the planted logit ``x·θ*``.
    offset : float, default=0.3
        Planted intercept.
    random_state : int, RandomState instance or None, default=None
        Makes the data reproducible.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Labels in {0, 1}.

    Examples
    --------
    >>> from skrif.datasets import make_planted_logistic
    >>> X, y = make_planted_logistic(100, 50, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 50), [0, 1])
    """
    rng = check_random_state(random_state)
    k = np.arange(1, n_features + 1)
    s = k**-0.5
    s *= scale / np.sqrt(np.sum(s**2))
    s = s[rng.permutation(n_features)]
    X = rng.standard_normal((n_samples, n_features)) * s
    theta = rng.standard_normal(n_features) * s
    logit = X @ theta
    theta *= signal_std / max(np.std(logit), 1e-300)
    y = (rng.uniform(size=n_samples) < expit(X @ theta + offset)).astype(int)
    return X, y
