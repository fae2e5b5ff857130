"""Losses under PaddleClas names, and the weighted sum PaddleClas configs describe.

``CELoss`` (label smoothing, class weights), ``MixCELoss`` (its old name for mixed targets),
``OHEMCELoss`` (hardest fraction of each batch), ``FocalLoss``, ``GoogLeNetLoss`` (GoogLeNet's
main and auxiliary heads); `build_loss` sums them with
their ``weight``.
"""

from .ce import CELoss, MixCELoss, OHEMCELoss
from .class_weights import class_weights_from_counts
from .combined import LOSSES, NOT_YET_IMPLEMENTED_LOSSES, CombinedLoss, build_loss
from .focal import FocalLoss
from .googlenet import GoogLeNetLoss

__all__ = ["CELoss", "MixCELoss", "OHEMCELoss", "FocalLoss", "GoogLeNetLoss", "LOSSES", "NOT_YET_IMPLEMENTED_LOSSES",
           "CombinedLoss", "build_loss", "class_weights_from_counts"]
