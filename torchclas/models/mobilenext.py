"""MobileNeXt (Zhou et al., 2020, "Rethinking Bottleneck Structure") as PaddleClas builds it:
``MobileNeXt_x0_35`` ... ``MobileNeXt_x1_4`` (timm and torchvision have no MobileNeXt).

The sandglass block is depthwise 3x3 → 1x1 reduce (linear) → 1x1 expand (ReLU6) → depthwise 3x3
(linear), with a residual between the wide ends. Layers are registered in PaddleClas's order
(``mobilenext.py``), so its weights convert by order.

``ROWS``: MobileNeXt x0.35 ... x1.4.
"""

from __future__ import annotations

from functools import partial
import math

import torch
from torch import nn

from .entry import ModelEntry, scale_tag
from .layers.mobile import MobileNetBase

__all__ = ["MobileNeXt", "SandglassBlock", "make_divisible", "ROWS"]

# reduction t, output width c, blocks n, stride s of the first block
STAGES = ((2, 96, 1, 2), (6, 144, 1, 1), (6, 192, 3, 2), (6, 288, 3, 2), (6, 384, 4, 1), (6, 576, 4, 2),
          (6, 960, 3, 1), (6, 1280, 1, 1))


def make_divisible(value: float, divisor: int) -> int:
    """Round to a multiple of ``divisor``, never more than 10% down (PaddleClas's ``_make_divisible``)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _conv_bn(in_chs: int, out_chs: int, kernel_size: int, stride: int = 1, relu6: bool = False) -> list[nn.Module]:
    groups = in_chs if kernel_size == 3 else 1  # every 3x3 conv of a block is depthwise
    layers = [nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out_chs)]
    return layers + [nn.ReLU6()] if relu6 else layers


class SandglassBlock(nn.Module):
    """PaddleClas's ``SGBlock``.

    Args:
        in_chs: input width.
        out_chs: output width.
        stride: 1 or 2 (on the last depthwise conv).
        reduction: the bottleneck is ``in_chs // reduction`` wide (at least ``out_chs / 6``,
            rounded to 16); 2 marks the first block (depthwise convs at both ends).
        keep_3x3: a stage of one stride-1 block keeps both depthwise convs and has no residual.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int, reduction: int, keep_3x3: bool = False):
        super().__init__()
        hidden = in_chs // reduction
        if hidden < out_chs / 6.0:
            hidden = make_divisible(math.ceil(out_chs / 6.0), 16)
        squeeze = _conv_bn(in_chs, hidden, 1) + _conv_bn(hidden, out_chs, 1, relu6=True)
        self.identity = False
        if reduction == 2:
            layers = _conv_bn(in_chs, in_chs, 3, relu6=True) + squeeze + _conv_bn(out_chs, out_chs, 3, stride)
        elif in_chs != out_chs and not keep_3x3:
            layers = squeeze + (_conv_bn(out_chs, out_chs, 3, stride) if stride == 2 else [])
        else:
            self.identity = not keep_3x3
            layers = _conv_bn(in_chs, in_chs, 3, relu6=True) + squeeze + _conv_bn(out_chs, out_chs, 3)
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out + x if self.identity else out


class MobileNeXt(MobileNetBase):
    """PaddleClas's MobileNeXt: a 3x3 stem, 18 sandglass blocks, pooling, dropout 0.2, Linear.

    Args:
        width: width multiplier (the last block stays 1280 wide below 1.0).
        num_classes: classifier width (0: none).
        in_chans: input channels.
        drop_rate: dropout before the classifier.
    """

    def __init__(self, width: float = 1.0, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2):
        super().__init__()
        divisor = 4 if width == 0.1 else 8
        chs = make_divisible(32 * width, divisor)
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_chans, chs, 3, 2, 1, bias=False), nn.BatchNorm2d(chs),
                                                 nn.ReLU6())]
        self.feature_info = [dict(num_chs=chs, reduction=2, module="features.0")]
        reduction = 2
        for i, (t, c, n, s) in enumerate(STAGES):
            out_chs = 1280 if c == 1280 and width < 1 else make_divisible(c * width, divisor)
            layers.append(SandglassBlock(chs, out_chs, s, t, keep_3x3=n == 1 and s == 1))
            layers += [SandglassBlock(out_chs, out_chs, 1, t) for _ in range(n - 1)]
            chs, reduction = out_chs, reduction * s
            if i == len(STAGES) - 1 or STAGES[i + 1][3] == 2:
                self.feature_info.append(dict(num_chs=chs, reduction=reduction, module=f"features.{len(layers) - 1}"))
        self.features = nn.Sequential(*layers)
        self.init_head(make_divisible(chs, 4), num_classes, drop_rate=drop_rate)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's feature map."""
        return self.features(x)


ROWS: list[ModelEntry] = [
    ModelEntry(f"MobileNeXt_x{scale_tag(width)}", "MobileNeXt", partial(MobileNeXt, width=width), "ours",
               note="timm has no MobileNeXt; PaddleClas's sandglass blocks (weights published for x1_0 only)")
    for width in (0.35, 0.5, 0.75, 1.0, 1.4)]
