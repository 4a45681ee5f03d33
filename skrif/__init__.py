"""skrif: which training rows drive your linear model, and what it would be without them.

Rescaled influence functions (Rubinstein & Hopkins, NeurIPS 2025) for scikit-learn
linear models, with classical influence functions, group Newton steps and exact
refits for comparison.
"""

from ._core.influence import ParameterChange
from ._display.diagnostics import CooksDistanceDisplay, ResidualsLeverageDisplay
from ._display.functionals import FunctionalInfluenceDisplay
from ._display.influence import InfluenceDisplay
from ._display.removal_curve import RemovalCurveDisplay
from ._estimator.estimator import InfluenceEstimator
from ._estimator.pipeline import transform_through
from ._features.amip import AMIPSummary
from ._features.audit import FlipResult
from ._features.influential import InfluentialRows
from ._features.label_issues import LabelIssues
from ._report.run import report
from ._utils.frames import label_training_rows

__version__ = "0.1.0"

__all__ = [
    "AMIPSummary",
    "CooksDistanceDisplay",
    "FlipResult",
    "FunctionalInfluenceDisplay",
    "InfluenceDisplay",
    "InfluenceEstimator",
    "InfluentialRows",
    "LabelIssues",
    "ParameterChange",
    "RemovalCurveDisplay",
    "ResidualsLeverageDisplay",
    "label_training_rows",
    "report",
    "transform_through",
    "__version__",
]
