"""Floor 2: linear algebra that knows nothing of models.

* :mod:`.design` — the augmented design ``X̃ = [X, 1]`` as an operator (never
  copied, never densified);
* :mod:`.centered` — the design after eliminating the intercept, ``X − 1x̄ᵀ``;
* :mod:`.factor` — the symmetric (semi-)definite factorization with its one
  fallback, and scale-invariant rank decisions;
* :mod:`.woodbury` — the leave-T-out capacitance solve with its one
  positive-definiteness check.

May import: :mod:`skrif._utils`, :mod:`skrif.exceptions`, numpy and scipy.
"""
