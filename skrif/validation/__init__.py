"""Check the approximations on your own model: predicted versus actual removal effects.

This module runs the experiment of Rubinstein & Hopkins (NeurIPS 2025, Figure 1) on a
fitted :class:`~skrif.InfluenceEstimator`: build many removal sets with different
strategies and sizes, predict the effect of removing each set with the classical
influence function (IF), the rescaled influence function (RIF) and a group Newton
step (NS), and compare with the exact effect, obtained by refitting without the set.

* :func:`removal_sets` — the removal-set strategies;
* :func:`select_eval_rows` — the test subset (half highest-loss rows, half random);
* :func:`validate_influence` — the whole experiment, returning a tidy table;
* :func:`summarize` — per method and target: slope through the origin, Pearson and
  Spearman correlations, median relative error;
* :func:`removal_curve` — does removing the top-ranked training rows help on
  evaluation rows they were not chosen on (cross-fitted), against random removals.

Modules: :mod:`.sets` (removal sets), :mod:`.experiment` (the experiment),
:mod:`.summary` (summaries), :mod:`.removal_curve` (removal curves), with the fitted-state adapter in :mod:`._state` and
shared checks in :mod:`._common`. Floor 10: may import :mod:`skrif._estimator`
(for the type check), :mod:`skrif._dask` (lazily) and everything below.

Sign convention everywhere: **value without the rows minus value with them**.

Tables are pandas DataFrames when pandas is installed (``as_frame="auto"``, the
default) and plain ``dict`` s of equal-length NumPy columns otherwise (or with
``as_frame=False``): pandas is an optional dependency of skrif (it is in the
``test`` and ``report`` extras), NumPy columns are enough to plot or to build any
other frame type.
"""

from ._common import MAX_N_SETS as MAX_N_SETS  # the limit on n_sets, read by callers
from ._common import MAX_SET_ROWS as MAX_SET_ROWS
from ._common import RESULT_COLUMNS, STRATEGIES, SUMMARY_COLUMNS, VALIDATION_TARGETS
from .experiment import validate_influence
from .removal_curve import (
    CURVE_COLUMNS,
    FRACTIONS,
    RANKINGS,
    RemovalCurve,
    removal_curve,
)
from .sets import (
    GROUP_STRATEGIES,
    group_removal_sets,
    removal_sets,
    select_eval_rows,
    total_loss_scores,
)
from .summary import interaction_calibration, summarize

__all__ = [
    "STRATEGIES",
    "VALIDATION_TARGETS",
    "GROUP_STRATEGIES",
    "RESULT_COLUMNS",
    "SUMMARY_COLUMNS",
    "removal_sets",
    "select_eval_rows",
    "total_loss_scores",
    "validate_influence",
    "summarize",
    "group_removal_sets",
    "interaction_calibration",
    "removal_curve",
    "RemovalCurve",
    "CURVE_COLUMNS",
    "FRACTIONS",
    "RANKINGS",
]
