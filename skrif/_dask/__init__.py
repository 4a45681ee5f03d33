"""skrif on Dask: the same removal algebra on row-chunked data.

Imported only when an :class:`~skrif.InfluenceEstimator` meets a dask array
(:mod:`skrif._dask_hook`); ``import skrif`` never imports dask. See the user guide
page "Scaling out with Dask".

What lives here, and what it may import:

* :mod:`._blocks` — the NumPy kernels run on one row block (no dask import): the
  pass of the Newton solver (loss, gradient, Gram), and wrappers that bind the
  in-memory Hessian kinds and :class:`~skrif._fitted.RemovalModel` to a block;
* :mod:`._engine` — :class:`DaskDesign` (blocks, reductions, gathers) and the
  objective evaluated for skrif's one Newton solver (:func:`skrif._problem.newton`);
* :mod:`._removal` — :class:`DaskRemovalModel`, the ``RemovalModel`` protocol
  on Dask (per-row methods lazy, set methods on gathered rows, refits distributed);
* :mod:`._selection` — exact top-k and order statistics over rows;
* :mod:`._fit` — input checks and the distributed fit;
* :mod:`._estimator` — lazy predictions and effects on dask evaluation rows.

Imports point down: kinds (:mod:`skrif._removal`), the fitted model
(:mod:`skrif._fitted`), the Newton solver and polishing rule; never the estimator
(except ``_check_prefit``) or the features.
"""

from ._estimator import decision_function, lazy_effect, predict, predict_log_proba, predict_proba
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
