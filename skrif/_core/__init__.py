"""Floor 5: the fitted removal state and the vocabulary every feature speaks.

* :mod:`.problem` — an objective on fixed training data: value, gradients, the one
  Newton driver;
* :mod:`.fitting` — how close a wrapped fit is to its optimum (polishing
  tolerances, prefit checks);
* :mod:`.separation` — refusal of objectives without a finite optimum;
* :mod:`.influence` — IF / RIF / group Newton / refit parameter changes of a set;
* :mod:`.fitted` — :class:`~skrif._core.fitted.RemovalModel`, built once in ``fit``:
  the only interface the features use;
* :mod:`.methods` — the table of removal methods;
* :mod:`.targets` — what a user attributes (decision function, probabilities, loss);
* :mod:`.set_error` — how far an additive set answer is likely off.

May import: :mod:`skrif._removal`, :mod:`skrif._objectives`, :mod:`skrif._linalg`,
:mod:`skrif._utils`, :mod:`skrif.exceptions`.
"""
