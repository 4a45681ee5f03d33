"""Synthetic data of the paper's problem shapes (planted logistic model, BENCHMARKS.md).

Dense: ``z ~ N(0, I_p)`` with coordinate k scaled by ``s_k ∝ k^(-1/2)`` (normalised so
``E‖x‖² = scale²``, coordinates shuffled); ``θ* ~ N(0, I)`` weighted by ``s_k``,
rescaled so ``std(x·θ*) = 6``; ``y ~ Bernoulli(σ(x·θ* + 0.3))``.
Sparse (text-like): Bernoulli(density) support, log-normal counts, tf-idf weighting and
unit row norms times ``scale``. Ridge targets are ``x·θ* + N(0, 1)``.

Everything is generated in place (no copy of ``X``) so the benchmark's peak-memory
figures are not inflated by the generator.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit


@dataclass(frozen=True)
class Shape:
    name: str
    n: int
    p: int
    lam: float  # L2 penalty on the *mean* loss: LogisticRegression(C=1/(lam n)), Ridge(alpha=lam n)
    density: float = 1.0  # < 1: sparse CSR
    repeats: int = 5  # timing repeats (fewer for the big shapes)
    big: bool = False

    @property
    def sparse(self):
        return self.density < 1.0


SHAPES = {
    s.name: s
    for s in [
        Shape("esc50", 1280, 512, 1e-5),
        Shape("dogfish", 1800, 2048, 2.2e-2),
        Shape("enron", 4137, 3294, 1e-3, repeats=3, big=True),
        Shape("enron-sparse", 4137, 3294, 1e-3, density=0.01, repeats=3),
        Shape("imdb", 40000, 512, 1e-5, repeats=3, big=True),
        Shape("wide-sparse", 5000, 100000, 1e-3, density=0.001, repeats=3, big=True),
    ]
}

#: statsmodels GLMInfluence comparisons (unpenalised logistic, p < n).
GLM_SHAPES = {
    s.name: s
    for s in [
        Shape("glm-2000x200", 2000, 200, 0.0),
        Shape("glm-20000x1000", 20000, 1000, 0.0, repeats=3, big=True),
    ]
}


def _dense(rng, n, p, s):
    X = rng.standard_normal((n, p))
    X *= s  # in place: no second n × p array
    return X


def make_data(shape, task="logistic", n_eval=100, seed=0, signal=6.0):
    """Return ``X, y, X_eval`` for a shape; ``task`` is "logistic" or "ridge"."""
    rng = np.random.default_rng(seed)
    n, p = shape.n, shape.p
    scale = 10.0
    if shape.sparse:
        X = _sparse_text(rng, n + n_eval, p, shape.density, scale)
        X_eval = X[n:]
        X = X[:n]
        theta = rng.standard_normal(p)
    else:
        s = np.arange(1, p + 1, dtype=float) ** -0.5
        s *= scale / np.sqrt(np.sum(s**2))
        s = rng.permutation(s)
        X = _dense(rng, n, p, s)
        X_eval = _dense(rng, n_eval, p, s)
        theta = rng.standard_normal(p) * s
    z = X @ theta
    factor = signal / max(np.std(z), 1e-12)
    z *= factor
    if task == "ridge":
        y = z + rng.standard_normal(n)
    else:
        y = (rng.random(n) < expit(z + 0.3)).astype(float)
    return X, y, X_eval


def _sparse_text(rng, n, p, density, scale):
    nnz_row = max(1, int(round(density * p)))
    # Zipf-like column popularity, Bernoulli-ish support (sampled with replacement, merged).
    pop = np.arange(1, p + 1, dtype=float) ** -0.7
    pop /= pop.sum()
    cols = rng.choice(p, size=n * nnz_row, p=rng.permutation(pop))
    rows = np.repeat(np.arange(n), nnz_row)
    vals = np.round(rng.lognormal(0.0, 1.0, size=n * nnz_row)) + 1.0
    X = sp.csr_matrix((vals, (rows, cols)), shape=(n, p))
    X.sum_duplicates()
    df = np.bincount(X.indices, minlength=p)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    X.data *= idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.diags(scale / np.maximum(norms, 1e-12)) @ X
    return X.tocsr()
