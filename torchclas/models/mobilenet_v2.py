"""PaddleClas's MobileNetV2 (``model_zoo/mobilenet_v2.py``).

Ours because timm's ``mobilenetv2_*`` cannot match it: PaddleClas truncates widths
(``int(c * scale)``, e.g. 6 or 18 channels) where timm rounds every width to a multiple of 8,
and its first block has a 1x1 expand conv at expansion 1 (timm's has none).

``ROWS``: MobileNetV2 x0.25 ... x2.0.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn

from .entry import ModelEntry, scale_tag
from .layers.mobile import ConvBNAct, MobileNetBase

__all__ = ["MobileNetV2Paddle", "InvertedResidual", "ROWS"]

# expansion, out width, repeats, stride of the first block
_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
           (6, 320, 1, 1))


class InvertedResidual(nn.Module):
    """1x1 expand → 3x3 depthwise → 1x1 linear (ReLU6), with a residual when asked."""

    def __init__(self, in_chs: int, out_chs: int, stride: int, expansion: int, residual: bool):
        super().__init__()
        mid = int(round(in_chs * expansion))
        self.residual = residual
        self.expand_conv = ConvBNAct(in_chs, mid, 1, act="relu6")
        self.bottleneck_conv = ConvBNAct(mid, mid, 3, stride, groups=mid, act="relu6")
        self.linear_conv = ConvBNAct(mid, out_chs, 1, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear_conv(self.bottleneck_conv(self.expand_conv(x)))
        return x + y if self.residual else y


class MobileNetV2Paddle(MobileNetBase):
    """MobileNetV2 at width ``scale``; PaddleClas adds a residual to every block but the first
    of a stage, and widens the 1280 head conv only above x1.0."""

    def __init__(self, scale: float = 1.0, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.0):
        super().__init__()
        in_chs = int(32 * scale)
        self.stem = ConvBNAct(in_chans, in_chs, 3, 2, act="relu6")
        self.feature_info = [dict(num_chs=in_chs, reduction=2, module="stem")]
        stages, reduction = [], 2
        for i, (expansion, width, repeats, stride) in enumerate(_STAGES):
            out_chs = int(width * scale)
            stages.append(nn.Sequential(*[
                InvertedResidual(in_chs if j == 0 else out_chs, out_chs, stride if j == 0 else 1, expansion,
                                 residual=j > 0) for j in range(repeats)]))
            in_chs, reduction = out_chs, reduction * stride
            if i + 1 == len(_STAGES) or _STAGES[i + 1][3] == 2:
                self.feature_info.append(dict(num_chs=out_chs, reduction=reduction, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.conv_last = ConvBNAct(in_chs, int(1280 * scale) if scale > 1.0 else 1280, 1, act="relu6")
        self.init_head(self.conv_last.bn.num_features, num_classes, drop_rate=drop_rate)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, inverted residual stages and the 1x1 conv before pooling."""
        return self.conv_last(self.stages(self.stem(x)))


def mobilenet_v2_paddle(scale: float, **kwargs: Any) -> MobileNetV2Paddle:
    """PaddleClas's ``MobileNetV2_x{scale}`` (``MobileNetV2`` at 1.0)."""
    return MobileNetV2Paddle(scale, **kwargs)


# PaddleClas's published ImageNet top-1 (%), Mobile_en.md
_TOP1 = {0.25: 53.2, 0.5: 65.0, 0.75: 69.8, 1.0: 72.2, 1.5: 74.1, 2.0: 75.2}

ROWS: list[ModelEntry] = [
    ModelEntry("MobileNetV2" if scale == 1.0 else f"MobileNetV2_x{scale_tag(scale)}", "MobileNetV2",
               partial(mobilenet_v2_paddle, scale=scale), "ours", top1=top1,
               note="timm rounds widths to multiples of 8 and drops the first block's expand conv")
    for scale, top1 in _TOP1.items()]
