"""Floor 0 of skrif: linear algebra that knows nothing of models.

* :mod:`.design` — the augmented design ``X̃ = [X, 1]`` and its centred form as
  operators (never copied, never densified);
* :mod:`.factor` — the symmetric (semi-)definite factorization with its one
  fallback, and scale-invariant rank decisions;
* :mod:`.woodbury` — the leave-T-out capacitance solve with its one
  positive-definiteness check.
"""
