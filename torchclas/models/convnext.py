"""ConvNeXt rows: timm's ConvNeXt under PaddleClas's names; PaddleClas's parameter names map
onto timm's by ``_RENAMES`` (its registration order differs, hence ``paddle_reorder``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import nn

from .entry import ModelEntry, timm_model
from .io.paddle_order import timm_order

__all__ = ["convnext", "ROWS"]


def convnext(timm_name: str, layer_scale_init_value: float = 1e-6, **kwargs: Any) -> nn.Module:
    """timm's ``timm_name`` with PaddleClas's ``layer_scale_init_value``: the start of each
    block's layer-scale ``gamma`` (timm's ``ls_init_value``); 0 or less builds blocks without
    one, as PaddleClas does.

    Example:
        >>> model = convnext("convnext_atto", layer_scale_init_value=0.5, num_classes=3)
        >>> model.stages[0].blocks[0].gamma.detach()[0].item()
        0.5
    """
    value = float(layer_scale_init_value)
    model = timm_model(timm_name, ls_init_value=value if value > 0 else 1.0, **kwargs)
    if value <= 0:  # timm.create_model drops a None ls_init_value, so remove the gammas here
        for stage in model.stages:
            for block in stage.blocks:
                block.gamma = None
    return model


_RENAMES = ((r"^head\.", "head.fc."), (r"^norm\.", "head.norm."), (r"^downsample_layers\.0\.", "stem."),
            (r"^downsample_layers\.(\d+)\.", r"stages.\1.downsample."),
            (r"^stages\.(\d+)\.(\d+)\.", r"stages.\1.blocks.\2."), (r"\.dwconv\.", ".conv_dw."),
            (r"\.pwconv1\.", ".mlp.fc1."), (r"\.pwconv2\.", ".mlp.fc2."))
_ROWS = (("tiny", "convnext_tiny", 224, 82.03), ("small", "convnext_small", 224, None),
         ("base_224", "convnext_base", 224, None), ("base_384", "convnext_base", 384, None),
         ("large_224", "convnext_large", 224, None), ("large_384", "convnext_large", 384, None))

ROWS: list[ModelEntry] = [
    ModelEntry(f"ConvNeXt_{name}", "ConvNeXt", partial(convnext, timm_name), f"timm:{timm_name}",
               input_size=(3, size, size), top1=top1, paddle_reorder=timm_order(timm_name, _RENAMES),
               note="layer_scale_init_value is timm's ls_init_value (<= 0: no layer scale)")
    for name, timm_name, size, top1 in _ROWS]
