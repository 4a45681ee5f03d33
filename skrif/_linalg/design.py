"""The design operators (``X̃ = [X, 1]``, centred ``X − 1sᵀ``), re-exported from their modules."""

from .._centered import CenteredDesign
from .._design import AugmentedDesign

__all__ = ["AugmentedDesign", "CenteredDesign"]
