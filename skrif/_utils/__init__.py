"""Floor 1: small tools that know nothing of estimators or of the removal math.

Declarative parameter validation (:mod:`.params`), input predicates and checks
(:mod:`.checks`), group labels (:mod:`.groups`), labelled pandas output
(:mod:`.frames`), recognising dask collections without importing dask
(:mod:`.dask`) and warnings attributed to the user's line (:mod:`.warn`).

May import: :mod:`skrif.exceptions`, numpy, scipy, scikit-learn's utilities.
"""
