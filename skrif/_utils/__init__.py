"""Floor 1: small tools that know nothing of estimators or of the removal math.

Declarative parameter validation (:mod:`.params`), input predicates and checks
(:mod:`.checks`), group labels (:mod:`.groups`), labelled pandas output
(:mod:`.frames`) and recognising dask collections without importing dask
(:mod:`.dask`).

May import: :mod:`skrif.exceptions`, numpy, scipy, scikit-learn's utilities.
"""
