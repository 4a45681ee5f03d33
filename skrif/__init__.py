"""skrif: which training rows drive your linear model, and what it would be without them.

Rescaled influence functions (Rubinstein & Hopkins, NeurIPS 2025) for scikit-learn
linear models, with classical influence functions, group Newton steps and exact
refits for comparison.
"""

from ._estimator import InfluenceEstimator
from ._influence import ParameterChange

__version__ = "0.1.0"

__all__ = ["InfluenceEstimator", "ParameterChange", "__version__"]
