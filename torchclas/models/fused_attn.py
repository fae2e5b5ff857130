"""``Arch.use_fused_attn``: PaddleClas's switch between its fused attention kernel and the
explicit softmax(QK^T)V, mapped onto timm's per-module ``fused_attn`` flag (PyTorch's
``scaled_dot_product_attention``). Both paths compute the same function (to float rounding), so
the key changes speed and memory only; PaddleClas's default, and timm Swin's, is the explicit one.
"""

from __future__ import annotations

from torch import nn

__all__ = ["set_fused_attn"]


def set_fused_attn(model: nn.Module, enabled: bool) -> int:
    """Set ``fused_attn`` on every attention module of ``model`` that has the flag (timm's
    attention layers); return how many. ``enabled=True`` on a model without attention is an error
    (PaddleClas takes the key only where it has a fused kernel).

    Example:
        >>> import timm
        >>> set_fused_attn(timm.create_model("vit_tiny_patch16_224", depth=2), False)
        2
    """
    modules = [m for m in model.modules() if hasattr(m, "fused_attn")]
    if enabled and not modules:
        raise ValueError(f"use_fused_attn: {type(model).__name__} has no attention layer to fuse")
    for module in modules:
        module.fused_attn = bool(enabled)
    return len(modules)
