"""PaddleClas's GhostNet (``model_zoo/ghostnet.py``).

Ours because timm's ``ghostnet_*`` differs from it: PaddleClas's SE uses Linear layers reducing
to ``channels // 4`` and gates with ``clip(x, 0, 1)`` (timm: 1x1 convs, rounded widths, hard
sigmoid), and its post-pooling 1280 conv has a BN and no bias (timm: biased, no BN).

``ROWS``: GhostNet x0.5, x1.0, x1.3.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch
from timm.layers import make_divisible
from torch import nn

from .entry import ModelEntry, scale_tag
from .layers.mobile import ConvBNAct, MobileNetBase

__all__ = ["GhostNetPaddle", "ROWS"]

# kernel, expanded width, out width, SE, stride
_CONFIG = ((3, 16, 16, 0, 1), (3, 48, 24, 0, 2), (3, 72, 24, 0, 1), (5, 72, 40, 1, 2), (5, 120, 40, 1, 1),
           (3, 240, 80, 0, 2), (3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1),
           (3, 480, 112, 1, 1), (3, 672, 112, 1, 1), (5, 672, 160, 1, 2), (5, 960, 160, 0, 1),
           (5, 960, 160, 1, 1), (5, 960, 160, 0, 1), (5, 960, 160, 1, 1))


class LinearSE(nn.Module):
    """SE with Linear squeeze/excite layers and a ``clip(0, 1)`` gate (PaddleClas's GhostNet)."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.squeeze = nn.Linear(channels, channels // reduction)
        self.excitation = nn.Linear(channels // reduction, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.excitation(torch.relu(self.squeeze(x.mean((2, 3))))).clamp(0.0, 1.0)
        return x * gate[:, :, None, None]


class GhostModule(nn.Module):
    """A 1x1 conv to half the width, and a cheap depthwise conv making the other half."""

    def __init__(self, in_chs: int, out_chs: int, relu: bool = True):
        super().__init__()
        init_chs = math.ceil(out_chs / 2)
        act = "relu" if relu else None
        self.primary_conv = ConvBNAct(in_chs, init_chs, 1, act=act)
        self.cheap_operation = ConvBNAct(init_chs, init_chs, 3, groups=init_chs, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.primary_conv(x)
        return torch.cat([x, self.cheap_operation(x)], 1)


class GhostBottleneck(nn.Module):
    """Ghost → [stride-2 depthwise] → [SE] → ghost, plus an identity or dw+pw shortcut."""

    def __init__(self, in_chs: int, mid_chs: int, out_chs: int, kernel_size: int, stride: int, use_se: bool):
        super().__init__()
        self.ghost_module_1 = GhostModule(in_chs, mid_chs, relu=True)
        self.depthwise_conv = ConvBNAct(mid_chs, mid_chs, kernel_size, stride, groups=mid_chs, act=None) \
            if stride == 2 else nn.Identity()
        self.se_block = LinearSE(mid_chs) if use_se else nn.Identity()
        self.ghost_module_2 = GhostModule(mid_chs, out_chs, relu=False)
        if stride == 1 and in_chs == out_chs:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(ConvBNAct(in_chs, in_chs, kernel_size, stride, groups=in_chs, act=None),
                                          ConvBNAct(in_chs, out_chs, 1, act=None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ghost_module_2(self.se_block(self.depthwise_conv(self.ghost_module_1(x))))
        return y + self.shortcut(x)


class GhostNetPaddle(MobileNetBase):
    """GhostNet at width ``scale`` (widths rounded to multiples of 4, as PaddleClas does)."""

    def __init__(self, scale: float = 1.0, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2):
        super().__init__()
        in_chs = make_divisible(16 * scale, 4)
        self.stem = ConvBNAct(in_chans, in_chs, 3, 2, act="relu")
        self.feature_info = [dict(num_chs=in_chs, reduction=2, module="stem")]
        blocks, reduction = [], 2
        for i, (kernel, exp, out, use_se, stride) in enumerate(_CONFIG):
            out_chs = make_divisible(out * scale, 4)
            blocks.append(GhostBottleneck(in_chs, make_divisible(exp * scale, 4), out_chs, kernel, stride,
                                          bool(use_se)))
            in_chs, reduction = out_chs, reduction * stride
            if i + 1 == len(_CONFIG) or _CONFIG[i + 1][4] == 2:
                self.feature_info.append(dict(num_chs=out_chs, reduction=reduction, module=f"blocks.{i}"))
        self.blocks = nn.Sequential(*blocks)
        last_chs = make_divisible(_CONFIG[-1][1] * scale, 4)
        self.conv_last = ConvBNAct(in_chs, last_chs, 1, act="relu")
        self.init_head(last_chs, num_classes, head_chs=1280, act="relu", drop_rate=drop_rate, head_norm=True)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, ghost bottlenecks and the 1x1 conv before pooling."""
        return self.conv_last(self.blocks(self.stem(x)))


def ghostnet_paddle(scale: float, **kwargs: Any) -> GhostNetPaddle:
    """PaddleClas's ``GhostNet_x{scale}``."""
    return GhostNetPaddle(scale, **kwargs)


# PaddleClas's published ImageNet top-1 (%), Mobile_en.md
_TOP1 = {0.5: 66.8, 1.0: 74.0, 1.3: 75.7}

ROWS: list[ModelEntry] = [
    ModelEntry(f"GhostNet_x{scale_tag(scale)}", "GhostNet", partial(ghostnet_paddle, scale=scale), "ours",
               top1=top1, note="timm's GhostNet has conv SE with hard sigmoid and a biased, BN-free head conv")
    for scale, top1 in _TOP1.items()]
