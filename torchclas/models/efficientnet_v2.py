"""EfficientNetV2 S/M/L/XL rows: timm's ``tf_efficientnetv2_*`` with PaddleClas's stride-2 padding.

timm's ``tf_efficientnetv2_*`` has PaddleClas's layers (BN eps 1e-3, TF "SAME" padding); PaddleClas
pads its stride-2 3x3 convs at the bottom/right only (:class:`BottomRightPadConv2d`), which equals
TF SAME on even sizes, and registers its (empty) block list before its stem (:func:`_stem_first`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import Conv2dSame
from torch import nn

from .entry import ModelEntry, timm_model

__all__ = ["BottomRightPadConv2d", "tf_efficientnetv2", "ROWS"]


class BottomRightPadConv2d(Conv2dSame):
    """PaddleClas's "SAME" stride-2 3x3 conv in EfficientNetV2: pad 2 and crop the first row and
    column, i.e. zero padding at the bottom/right only (TF SAME pads the top too at odd sizes)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (0, 2, 0, 2)), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def tf_efficientnetv2(timm_name: str, progressive_drop_rates: list[float] | None = None, **kwargs: Any) -> nn.Module:
    """timm's ``timm_name`` (a ``tf_efficientnetv2_*``: BN eps 1e-3, SAME padding) with
    PaddleClas's stride-2 padding.

    ``progressive_drop_rates``: the head dropout of each stage of progressive training
    (``Global.train_mode: progressive`` sets ``model.drop_rate`` from it), kept as the model's
    ``progressive_drop_rates`` attribute.
    """
    model = timm_model(timm_name, **kwargs)
    if progressive_drop_rates is not None:
        model.progressive_drop_rates = [float(r) for r in progressive_drop_rates]
    for module in model.modules():
        if isinstance(module, Conv2dSame):
            if module.stride != (2, 2) or module.kernel_size != (3, 3):
                raise RuntimeError(f"{timm_name}: unexpected SAME conv {module}")
            module.__class__ = BottomRightPadConv2d
    return model


def _stem_first(keys: list[str]) -> list[str]:
    """PaddleClas registers EfficientNetV2's (empty) block list before its stem."""
    return [k for k in keys if k.startswith("_stem.")] + [k for k in keys if not k.startswith("_stem.")]


_NOTE = "stride-2 convs pad bottom/right only (PaddleClas's crop), equal to TF SAME on even sizes"
# PaddleClas's head dropout per size; it publishes no top1 for M/L/XL
_DROP = {"S": 0.1, "M": 0.3, "L": 0.4, "XL": 0.4}
# S's dropout grows over the stages of progressive training: PaddleClas's np.linspace(0.1, 0.3, 4)
_PROGRESSIVE_DROP = {"S": [0.1 + 0.2 * i / 3 for i in range(4)]}

ROWS: list[ModelEntry] = [
    ModelEntry(f"EfficientNetV2_{tag}", "EfficientNetV2",
               partial(tf_efficientnetv2, f"tf_efficientnetv2_{tag.lower()}",
                       progressive_drop_rates=_PROGRESSIVE_DROP.get(tag)),
               f"timm:tf_efficientnetv2_{tag.lower()}+patch", kwargs=dict(drop_rate=drop, drop_path_rate=0.2),
               input_size=(3, 384, 384), paddle_reorder=_stem_first,
               note=_NOTE if tag == "S" else f"{_NOTE}; PaddleClas's backbone package exports only EfficientNetV2_S")
    for tag, drop in _DROP.items()]
