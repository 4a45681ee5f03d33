"""
=====================================================
Data poisoning: IF underestimates, RIF does not
=====================================================

The paper's Figure 3 idea (Rubinstein & Hopkins, NeurIPS 2025): take a test row,
flip its label and add it to the training set of an overparameterized logistic
regression (more features than rows). How much does this single poisoned row move
the model's logit on itself? Equivalently: what is the effect of *removing* it
again?

For each of 20 test rows we compare, on the poisoned row's own logit,

* the classical influence function (IF),
* the rescaled influence function (RIF),
* the group Newton step (NS; for one row it coincides with RIF),

against the exact answer: the clean model, fitted without the poisoned row.
IF misses most of the effect because it ignores that the poisoned row has high
leverage (it is fitted almost perfectly in high dimension); RIF divides by
``1 − h_i`` and lands on the diagonal.

Data: the planted-logistic generator of the benchmark protocol (power-law feature
spectrum, ``std(x·θ*) = 6``), n = 200 training rows, p = 400 features, the paper's
DogFish penalty ``λ = 2.2e-2`` on the mean loss (``C = 1 / (λ n)``).
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from skrif import InfluenceEstimator


def planted_logistic(n, p, *, scale=10.0, offset=0.3, seed=0):
    rng = np.random.default_rng(seed)
    s = np.arange(1, p + 1) ** -0.5
    s *= scale / np.sqrt(np.sum(s**2))
    s = s[rng.permutation(p)]
    X = rng.normal(size=(n, p)) * s
    theta_star = rng.normal(size=p) * s
    theta_star *= 6.0 / np.sqrt(np.sum((s * theta_star) ** 2))
    y = (rng.uniform(size=n) < expit(X @ theta_star + offset)).astype(int)
    return X, y


n, p, n_poison = 200, 400, 20
X, y = planted_logistic(n + n_poison, p, seed=0)
X_train, y_train, X_test, y_test = X[:n], y[:n], X[n:], y[n:]
C = 1.0 / (2.2e-2 * (n + 1))


def make_model():
    return LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)


# The exact answer for every poisoned row: the clean model, fitted once.
clean = make_model().fit(X_train, y_train)

predicted = {"IF": [], "RIF": [], "NS": []}
actual, leverage = [], []
for j in range(n_poison):
    x_poison = X_test[j : j + 1]
    X_poisoned = np.vstack([X_train, x_poison])
    y_poisoned = np.append(y_train, 1 - y_test[j])  # the flipped label
    est = InfluenceEstimator(make_model()).fit(X_poisoned, y_poisoned)
    # Effect of removing the poisoned row (index n) on its own logit:
    # logit without it minus logit with it.
    for name, method in (("IF", "if"), ("RIF", "rif"), ("NS", "newton")):
        predicted[name].append(est.removal_effect([n], x_poison, method=method)[0])
    actual.append(clean.decision_function(x_poison)[0] - est.decision_function(x_poison)[0])
    leverage.append(est.leverages_[n])

actual = np.array(actual)
print(f"median leverage of the poisoned rows: {np.median(leverage):.2f}")
for name, values in predicted.items():
    values = np.array(values)
    rel = np.abs(values - actual) / np.abs(actual)
    slope = values @ actual / (actual @ actual)
    print(f"{name:>4}: slope vs refit {slope:.3f}, median relative error {np.median(rel):.3f}")

fig, ax = plt.subplots(figsize=(5, 5))
styles = {"IF": ("tab:red", "x"), "RIF": ("tab:blue", "o"), "NS": ("tab:green", "+")}
for name, values in predicted.items():
    color, marker = styles[name]
    ax.scatter(actual, values, label=name, color=color, marker=marker, alpha=0.8)
lim = np.array([min(actual.min(), 0), max(actual.max(), 0)]) * 1.1
ax.plot(lim, lim, color="black", linewidth=1, label="predicted = actual")
ax.set_xlabel("actual change of the poisoned row's logit (exact refit)")
ax.set_ylabel("predicted change")
ax.set_title(f"Removing one poisoned row (n={n}, p={p})")
ax.legend()
fig.tight_layout()
plt.show()
