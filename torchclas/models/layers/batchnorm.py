"""Setting BatchNorm's epsilon on a built timm model (Paddle's default is 1e-5, timm's often 1e-3)."""

from __future__ import annotations

from torch import nn

__all__ = ["set_bn_eps"]


def set_bn_eps(model: nn.Module, eps: float) -> nn.Module:
    """Set ``eps`` on every ``BatchNorm2d`` of ``model`` (in place) and return it.

    Example:
        >>> model = set_bn_eps(timm_model("inception_v3"), 1e-5)  # doctest: +SKIP
    """
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eps = eps
    return model
