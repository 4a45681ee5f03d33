"""Floor 7: what users ask of a fitted model, each feature one module.

Attribution (:mod:`.attribution`), removal of whole groups (:mod:`.groups`),
auditing and leave-one-out (:mod:`.audit`), the AMIP robustness audit
(:mod:`.amip`, :mod:`.robust_se`), regression diagnostics (:mod:`.diagnostics`),
conformal prediction (:mod:`.conformal`) and the top-k result object
(:mod:`.influential`). Each reads the fitted state through
:class:`~skrif._core.fitted.RemovalModel` (or its Dask twin), never the estimator's
private members.

May import: :mod:`skrif._preprocess`, :mod:`skrif._core` and everything below
them (none needs the pipeline path today: it reaches features through the
estimator).
"""
