"""Supported transformers -> their removal modules; refusals that name the way out."""

from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    RobustScaler,
    SplineTransformer,
    StandardScaler,
)

from .base import Unsupported
from .function import FunctionTransformerRemoval, MissingIndicatorRemoval
from .imputer import SimpleImputerRemoval
from .maxabs import MaxAbsScalerRemoval
from .minmax import MinMaxScalerRemoval
from .onehot import OneHotEncoderRemoval
from .polynomial import PolynomialFeaturesRemoval
from .robust import RobustScalerRemoval
from .spline import SplineTransformerRemoval
from .standard import StandardScalerRemoval

MODULES = {
    StandardScaler: StandardScalerRemoval,
    MinMaxScaler: MinMaxScalerRemoval,
    MaxAbsScaler: MaxAbsScalerRemoval,
    RobustScaler: RobustScalerRemoval,
    SimpleImputer: SimpleImputerRemoval,
    MissingIndicator: MissingIndicatorRemoval,
    OneHotEncoder: OneHotEncoderRemoval,
    PolynomialFeatures: PolynomialFeaturesRemoval,
    SplineTransformer: SplineTransformerRemoval,
    FunctionTransformer: FunctionTransformerRemoval,
}


def module_for(step, path):

    cls = MODULES.get(type(step))
    if cls is None:
        raise Unsupported(
            f"The pipeline step {path or type(step).__name__!r} ({type(step).__name__}) has "
            "fitted statistics skrif cannot move analytically when rows are removed."
        )
    check = getattr(cls, "check", None)
    if check is not None:
        check(step, path)
    return cls(step)
