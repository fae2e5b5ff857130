"""PaddleClas's ShuffleNetV2 (``model_zoo/shufflenet_v2.py``).

Ours because timm has no ShuffleNetV2, and torchvision's has neither timm's interface nor the
swish variant. Same layers as torchvision's; PaddleClas's width tables below (x0.25 and x0.33
are PaddleClas's own).

``ROWS``: ShuffleNetV2 x0.25 ... x2.0 and the swish variant.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn

from .entry import ModelEntry, scale_tag
from .layers.mobile import ConvBNAct, MobileNetBase, channel_shuffle

__all__ = ["ShuffleNetV2Paddle", "SHUFFLENET_WIDTHS", "ROWS"]

# stem, three stages, head conv
SHUFFLENET_WIDTHS = {
    0.25: (24, 24, 48, 96, 512), 0.33: (24, 32, 64, 128, 512), 0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 232, 464, 1024), 1.5: (24, 176, 352, 704, 1024), 2.0: (24, 244, 488, 976, 2048),
}
_REPEATS = (4, 8, 4)


class ShuffleBlock(nn.Module):
    """A stride-1 unit: half the channels pass through, half go pw → dw → pw; then shuffle."""

    def __init__(self, chs: int, act: str):
        super().__init__()
        half = chs // 2
        self.conv_pw = ConvBNAct(half, half, 1, act=act)
        self.conv_dw = ConvBNAct(half, half, 3, groups=half, act=None)
        self.conv_linear = ConvBNAct(half, half, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat([x1, self.conv_linear(self.conv_dw(self.conv_pw(x2)))], 1), 2)


class ShuffleDownBlock(nn.Module):
    """A stride-2 unit: two branches (dw → pw, and pw → dw → pw) concatenated; then shuffle."""

    def __init__(self, in_chs: int, out_chs: int, act: str):
        super().__init__()
        half = out_chs // 2
        self.conv_dw_1 = ConvBNAct(in_chs, in_chs, 3, 2, groups=in_chs, act=None)
        self.conv_linear_1 = ConvBNAct(in_chs, half, 1, act=act)
        self.conv_pw_2 = ConvBNAct(in_chs, half, 1, act=act)
        self.conv_dw_2 = ConvBNAct(half, half, 3, 2, groups=half, act=None)
        self.conv_linear_2 = ConvBNAct(half, half, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv_linear_1(self.conv_dw_1(x))
        x2 = self.conv_linear_2(self.conv_dw_2(self.conv_pw_2(x)))
        return channel_shuffle(torch.cat([x1, x2], 1), 2)


class ShuffleNetV2Paddle(MobileNetBase):
    """ShuffleNetV2 at PaddleClas width ``scale`` with activation ``act`` (``relu`` or ``swish``)."""

    def __init__(self, scale: float = 1.0, act: str = "relu", num_classes: int = 1000, in_chans: int = 3,
                 drop_rate: float = 0.0):
        super().__init__()
        if scale not in SHUFFLENET_WIDTHS:
            raise ValueError(f"ShuffleNetV2 scale must be one of {sorted(SHUFFLENET_WIDTHS)}, got {scale}")
        widths = SHUFFLENET_WIDTHS[scale]
        self.stem = ConvBNAct(in_chans, widths[0], 3, 2, act=act)
        self.max_pool = nn.MaxPool2d(3, 2, 1)
        self.feature_info = [dict(num_chs=widths[0], reduction=2, module="stem")]
        stages = []
        for i, repeats in enumerate(_REPEATS):
            stages.append(nn.Sequential(ShuffleDownBlock(widths[i], widths[i + 1], act),
                                        *[ShuffleBlock(widths[i + 1], act) for _ in range(repeats - 1)]))
            self.feature_info.append(dict(num_chs=widths[i + 1], reduction=2 ** (i + 3), module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.conv_last = ConvBNAct(widths[3], widths[4], 1, act=act)
        self.init_head(widths[4], num_classes, drop_rate=drop_rate)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, max-pool, three shuffle stages and the 1x1 conv before pooling."""
        return self.conv_last(self.stages(self.max_pool(self.stem(x))))


def shufflenet_v2_paddle(scale: float, act: str = "relu", **kwargs: Any) -> ShuffleNetV2Paddle:
    """PaddleClas's ``ShuffleNetV2_x{scale}`` (``ShuffleNetV2_swish``: scale 1.0, ``act="swish"``)."""
    return ShuffleNetV2Paddle(scale, act, **kwargs)


# PaddleClas's published ImageNet top-1 (%), Mobile_en.md
_TOP1 = {0.25: 49.9, 0.33: 53.7, 0.5: 60.3, 1.0: 68.8, 1.5: 71.6, 2.0: 73.2}

ROWS: list[ModelEntry] = [
    ModelEntry(f"ShuffleNetV2_x{scale_tag(scale)}", "ShuffleNetV2", partial(shufflenet_v2_paddle, scale=scale),
               "ours", top1=top1, note="timm has no ShuffleNetV2; PaddleClas's width tables")
    for scale, top1 in _TOP1.items()] + [
    ModelEntry("ShuffleNetV2_swish", "ShuffleNetV2", partial(shufflenet_v2_paddle, scale=1.0, act="swish"), "ours",
               top1=70.0, note="ShuffleNetV2_x1_0 with swish activations")]
