"""PaddleClas's ESNet (Enhanced ShuffleNet, ``legendary_models/esnet.py``): ours, timm has none.

ShuffleNetV2-like units with hard-swish, SE and a depthwise+pointwise fusion after the
stride-2 concat; the head conv after pooling has no bias and feeds the classifier through a
0.2 ``downscale_in_infer`` dropout (the row's ``paddle_dropout``).

``ROWS``: ESNet x0.25 ... x1.0.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from timm.layers import make_divisible
from torch import nn

from .entry import ModelEntry, scale_tag
from .layers.mobile import ConvBNAct, MobileNetBase, SEModule, channel_shuffle

__all__ = ["ESNetPaddle", "ROWS"]

_REPEATS = (3, 7, 3)


class ESBlock(nn.Module):
    """Stride 1: half the channels pass; the other half go pw → dw, concat, SE, pw; shuffle."""

    def __init__(self, chs: int):
        super().__init__()
        half = chs // 2
        self.pw_1_1 = ConvBNAct(half, half, 1, act="hard_swish")
        self.dw_1 = ConvBNAct(half, half, 3, groups=half, act=None)
        self.se = SEModule(chs)
        self.pw_1_2 = ConvBNAct(chs, half, 1, act="hard_swish")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        x2 = self.pw_1_1(x2)
        x3 = self.pw_1_2(self.se(torch.cat([x2, self.dw_1(x2)], 1)))
        return channel_shuffle(torch.cat([x1, x3], 1), 2)


class ESDownBlock(nn.Module):
    """Stride 2: branches dw → pw and pw → dw → SE → pw, concat, then dw → pw."""

    def __init__(self, in_chs: int, out_chs: int):
        super().__init__()
        half = out_chs // 2
        self.dw_1 = ConvBNAct(in_chs, in_chs, 3, 2, groups=in_chs, act=None)
        self.pw_1 = ConvBNAct(in_chs, half, 1, act="hard_swish")
        self.pw_2_1 = ConvBNAct(in_chs, half, 1, act="hard_swish")
        self.dw_2 = ConvBNAct(half, half, 3, 2, groups=half, act=None)
        self.se = SEModule(half)
        self.pw_2_2 = ConvBNAct(half, half, 1, act="hard_swish")
        self.concat_dw = ConvBNAct(out_chs, out_chs, 3, groups=out_chs, act="hard_swish")
        self.concat_pw = ConvBNAct(out_chs, out_chs, 1, act="hard_swish")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.pw_1(self.dw_1(x))
        x2 = self.pw_2_2(self.se(self.dw_2(self.pw_2_1(x))))
        return self.concat_pw(self.concat_dw(torch.cat([x1, x2], 1)))


class ESNetPaddle(MobileNetBase):
    """ESNet at width ``scale`` (0.25 ... 1.0)."""

    def __init__(self, scale: float = 1.0, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2):
        super().__init__()
        widths = (24, make_divisible(116 * scale), make_divisible(232 * scale), make_divisible(464 * scale))
        self.stem = ConvBNAct(in_chans, widths[0], 3, 2, act="hard_swish")
        self.max_pool = nn.MaxPool2d(3, 2, 1)
        self.feature_info = [dict(num_chs=widths[0], reduction=2, module="stem")]
        stages = []
        for i, repeats in enumerate(_REPEATS):
            stages.append(nn.Sequential(ESDownBlock(widths[i], widths[i + 1]),
                                        *[ESBlock(widths[i + 1]) for _ in range(repeats - 1)]))
            self.feature_info.append(dict(num_chs=widths[i + 1], reduction=2 ** (i + 3), module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.conv_last = ConvBNAct(widths[3], 1024, 1, act="hard_swish")
        self.init_head(1024, num_classes, head_chs=1280, act="hard_swish", drop_rate=drop_rate)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, max-pool, three ES stages and the 1x1 conv before pooling."""
        return self.conv_last(self.stages(self.max_pool(self.stem(x))))


def esnet_paddle(scale: float, **kwargs: Any) -> ESNetPaddle:
    """PaddleClas's ``ESNet_x{scale}``."""
    return ESNetPaddle(scale, **kwargs)


# PaddleClas's published ImageNet top-1 (%), ESNet_en.md
_TOP1 = {0.25: 62.48, 0.5: 68.82, 0.75: 72.24, 1.0: 73.92}

ROWS: list[ModelEntry] = [
    ModelEntry(f"ESNet_x{scale_tag(scale)}", "ESNet", partial(esnet_paddle, scale=scale), "ours", top1=top1,
               paddle_dropout=0.2, note="timm has no ESNet")
    for scale, top1 in _TOP1.items()]
