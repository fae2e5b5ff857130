"""ConvNeXt rows: timm's ConvNeXt under PaddleClas's names; PaddleClas's parameter names map
onto timm's by ``_RENAMES`` (its registration order differs, hence ``paddle_reorder``)."""

from __future__ import annotations

from .entry import ModelEntry, timm_row
from .io.paddle_order import timm_order

__all__ = ["ROWS"]

_RENAMES = ((r"^head\.", "head.fc."), (r"^norm\.", "head.norm."), (r"^downsample_layers\.0\.", "stem."),
            (r"^downsample_layers\.(\d+)\.", r"stages.\1.downsample."),
            (r"^stages\.(\d+)\.(\d+)\.", r"stages.\1.blocks.\2."), (r"\.dwconv\.", ".conv_dw."),
            (r"\.pwconv1\.", ".mlp.fc1."), (r"\.pwconv2\.", ".mlp.fc2."))
_ROWS = (("tiny", "convnext_tiny", 224, 82.03), ("small", "convnext_small", 224, None),
         ("base_224", "convnext_base", 224, None), ("base_384", "convnext_base", 384, None),
         ("large_224", "convnext_large", 224, None), ("large_384", "convnext_large", 384, None))

ROWS: list[ModelEntry] = [
    timm_row(f"ConvNeXt_{name}", "ConvNeXt", timm_name, input_size=(3, size, size), top1=top1,
             paddle_reorder=timm_order(timm_name, _RENAMES))
    for name, timm_name, size, top1 in _ROWS]
