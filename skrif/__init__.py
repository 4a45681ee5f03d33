"""skrif: which training rows drive your linear model, and what it would be without them.

Rescaled influence functions (Rubinstein & Hopkins, NeurIPS 2025) for scikit-learn
linear models, with classical influence functions, group Newton steps and exact
refits for comparison.
"""

from ._amip import AMIPSummary
from ._audit import FlipResult
from ._diagnostics_display import CooksDistanceDisplay, ResidualsLeverageDisplay
from ._display import InfluenceDisplay
from ._estimator import InfluenceEstimator
from ._influence import ParameterChange
from ._influential import InfluentialRows
from ._frames import label_training_rows
from ._pipeline import transform_through

__version__ = "0.1.0"

__all__ = [
    "AMIPSummary",
    "CooksDistanceDisplay",
    "FlipResult",
    "InfluenceDisplay",
    "InfluenceEstimator",
    "InfluentialRows",
    "ParameterChange",
    "ResidualsLeverageDisplay",
    "label_training_rows",
    "transform_through",
    "__version__",
]
