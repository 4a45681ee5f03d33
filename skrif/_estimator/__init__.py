"""Floor 9: :class:`~skrif.InfluenceEstimator`, the scikit-learn meta-estimator.

scikit-learn plumbing (clone, fit, validation, delegation, routing, tags) plus thin
public methods that delegate to :mod:`skrif._features`; routing of dask input to
:mod:`skrif._dask` (:mod:`.dask_routing`); :func:`~skrif.transform_through` for
pipelines (:mod:`.pipeline`).

May import: :mod:`skrif._dask` (lazily), :mod:`skrif._features` and everything below.
"""

from .estimator import InfluenceEstimator

__all__ = ["InfluenceEstimator"]
