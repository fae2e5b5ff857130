"""Structural re-parameterisation: fold train-time branches into single convs for inference.

Blocks that train with several branches (RepVGG, MobileOne, ACNet's :class:`~.layers.acnet.ACBlock`,
PP-LCNetV2, ...) follow timm's convention: ``reparameterize()`` (or ``switch_to_deploy()``)
folds a block in place, and ``fuse()`` returns the module that replaces it. The folded model
computes what the branched one computes in eval mode (BN uses its running statistics), with
one conv where there were several.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["reparameterize_model", "fold_conv_bn", "folds_itself"]

_IN_PLACE_METHODS = ("reparameterize", "switch_to_deploy")


def _has_method(module: nn.Module, name: str) -> bool:
    # A method of the class, not an attribute: a submodule that happens to be called ``fuse``
    # must not be mistaken for the fold hook.
    return callable(getattr(type(module), name, None))


def folds_itself(module: nn.Module) -> bool:
    """Whether ``module`` has a fold hook (``fuse``, ``reparameterize`` or ``switch_to_deploy``)."""
    return any(_has_method(module, name) for name in ("fuse", *_IN_PLACE_METHODS))


@torch.no_grad()
def reparameterize_model(model: nn.Module) -> nn.Module:
    """Fold every train-time branch of ``model`` in place and return it.

    Walks the children top-down like ``timm.utils.reparameterize_model``: a child with
    ``fuse()`` is replaced by its result, one with ``reparameterize()`` or ``switch_to_deploy()``
    folds itself. A model's own ``reparameterize()`` may call this function: the root's
    in-place hooks are not called (only a root ``fuse()`` is, whose result is returned).
    Folding is idempotent and leaves models without branches unchanged.

    Example:
        >>> model = create_model("RepVGG_A0").eval()  # doctest: +SKIP
        >>> model = reparameterize_model(model)  # doctest: +SKIP
    """
    _fold_children(model)
    if not _has_method(model, "fuse"):
        return model
    return model.fuse().train(model.training)


def _fold_children(parent: nn.Module) -> None:
    for name, child in list(parent.named_children()):
        if _has_method(child, "fuse"):
            mode = child.training
            child = child.fuse()
            setattr(parent, name, child)
            child.train(mode)
        else:
            hook = next((h for h in _IN_PLACE_METHODS if _has_method(child, h)), None)
            if hook is not None:
                getattr(child, hook)()
                child.train(child.training)  # modules the fold created start in training mode
        _fold_children(child)


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of the conv equal to ``bn(conv(x))`` with BN's running statistics.

    Raises:
        ValueError: ``bn`` keeps no running statistics (it normalises by the batch even in eval).
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f"cannot fold {bn}: it tracks no running statistics")
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    shift = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
    return conv.weight * scale.reshape(-1, 1, 1, 1), shift + (bias - bn.running_mean) * scale

