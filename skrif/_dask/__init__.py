"""skrif on Dask: the same removal algebra on row-chunked data.

Imported only when an :class:`~skrif.InfluenceEstimator` meets a dask array
(:mod:`skrif._estimator.dask_routing`); ``import skrif`` never imports dask. See the user guide
page "Scaling out with Dask".

What lives here, and what it may import:

* :mod:`._blocks` — the NumPy kernels run on one row block (no dask import): the
  pass of the Newton solver (loss, gradient, Gram), and wrappers that bind the
  in-memory Hessian kinds and :class:`~skrif._core.fitted.RemovalModel` to a block;
* :mod:`._engine` — :class:`DaskDesign` (blocks, reductions, gathers) and the
  objective evaluated for skrif's one Newton solver (:func:`skrif._core.newton.newton`);
* :mod:`._removal` — :class:`DaskRemovalModel`, the ``RemovalModel`` protocol
  on Dask (per-row methods lazy, set methods on gathered rows — or, for large sets,
  the kept rows' Hessian from one pass — refits distributed);
* :mod:`._selection` — exact top-k and order statistics over rows;
* :mod:`._fit` — input checks and the distributed fit;
* :mod:`._estimator` — lazy predictions and effects on dask evaluation rows.

The interfaces it builds on (documented where they live): the Hessian kinds'
``from_gram`` / ``on_rows`` / ``sum_over_rows`` (:mod:`skrif._removal`), the
``RemovalModel`` protocol (:mod:`skrif._core.fitted`; :class:`DaskRemovalModel`
implements every member), the Newton solver (:mod:`skrif._core.problem`), the
polishing rule (:mod:`skrif._core.fitting`), and what a family declares for Dask
(``Objective.dask_estimators``, ``set_fitted_attributes``).

May import every floor below it (:mod:`skrif._features` and down); never
:mod:`skrif._estimator`.
"""

from ._estimator import (
    decision_function,
    lazy_effect,
    predict,
    predict_log_proba,
    predict_proba,
)
from ._fit import check_dask_X, fit

__all__ = [
    "check_dask_X",
    "decision_function",
    "fit",
    "lazy_effect",
    "predict",
    "predict_log_proba",
    "predict_proba",
]
