"""PeleeNet as PaddleClas builds it: a stem block and two-way dense layers.

timm has no PeleeNet. Layers are registered in PaddleClas's order (``stemblock``, then per
stage ``denseblock``, ``transition`` and its pool; then the classifier).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .entry import ModelEntry
from .layers.mobile import ConvBNAct
from .layers.plain_net import PlainNet

__all__ = ["PeleeNet", "TwoWayDenseLayer", "StemBlock", "ROWS"]


class StemBlock(nn.Module):
    """3x3/2 conv, then concat(2x2 max pool, 1x1 → 3x3/2 conv) and a 1x1 conv: stride 4."""

    def __init__(self, in_chs: int, out_chs: int):
        super().__init__()
        self.stem1 = ConvBNAct(in_chs, out_chs, 3, 2)
        self.stem2a = ConvBNAct(out_chs, out_chs // 2, 1)
        self.stem2b = ConvBNAct(out_chs // 2, out_chs, 3, 2)
        self.stem3 = ConvBNAct(2 * out_chs, out_chs, 1)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem1(x)
        return self.stem3(torch.cat([self.pool(x), self.stem2b(self.stem2a(x))], 1))


class TwoWayDenseLayer(nn.Module):
    """Appends ``growth_rate`` channels to its input: half from 1x1 → 3x3, half from 1x1 → 3x3 → 3x3.

    The bottleneck is ``growth_rate / 2 * bottleneck_width`` rounded down to a multiple of 4,
    capped (PaddleClas's rule) at ``in_chs / 8`` rounded down times 4 when above ``in_chs / 2``.
    """

    def __init__(self, in_chs: int, growth_rate: int, bottleneck_width: int):
        super().__init__()
        branch_chs = growth_rate // 2
        inter_chs = int(branch_chs * bottleneck_width / 4) * 4
        if inter_chs > in_chs / 2:
            inter_chs = int(in_chs / 8) * 4
        self.branch1a = ConvBNAct(in_chs, inter_chs, 1)
        self.branch1b = ConvBNAct(inter_chs, branch_chs, 3)
        self.branch2a = ConvBNAct(in_chs, inter_chs, 1)
        self.branch2b = ConvBNAct(inter_chs, branch_chs, 3)
        self.branch2c = ConvBNAct(branch_chs, branch_chs, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch1 = self.branch1b(self.branch1a(x))
        branch2 = self.branch2c(self.branch2b(self.branch2a(x)))
        return torch.cat([x, branch1, branch2], 1)


class PeleeNet(PlainNet):
    """PaddleClas's PeleeNet: stem block, four dense stages each ending in a 1x1 transition
    conv (then a 2x2 average pool, except the last), global average pool, dropout, Linear.

    ``stages`` holds PaddleClas's ``features`` (``stemblock``, ``denseblock1``,
    ``transition1``, ``transition1_pool``, ...); ``feature_info`` names the four transitions.

    Args:
        num_classes: classifier width (0: none).
        in_chans: input channels.
        growth_rate: channels each dense layer adds.
        block_config: dense layers per stage.
        num_init_features: stem width.
        bottleneck_widths: bottleneck factor per stage.
        drop_rate: dropout before the classifier (PaddleClas's default 0.05).
    """

    def __init__(self, num_classes: int = 1000, in_chans: int = 3, growth_rate: int = 32,
                 block_config: tuple[int, ...] = (3, 4, 8, 6), num_init_features: int = 32,
                 bottleneck_widths: tuple[int, ...] = (1, 2, 4, 4), drop_rate: float = 0.05):
        super().__init__()
        features: OrderedDict[str, nn.Module] = OrderedDict(stemblock=StemBlock(in_chans, num_init_features))
        self.feature_info = []
        chs = num_init_features
        for i, (num_layers, width) in enumerate(zip(block_config, bottleneck_widths)):
            features[f"denseblock{i + 1}"] = nn.Sequential(OrderedDict(
                (f"denselayer{j + 1}", TwoWayDenseLayer(chs + j * growth_rate, growth_rate, width))
                for j in range(num_layers)))
            chs += num_layers * growth_rate
            features[f"transition{i + 1}"] = ConvBNAct(chs, chs, 1)
            self.feature_info.append(dict(num_chs=chs, reduction=4 * 2 ** i, module=f"stages.transition{i + 1}"))
            if i != len(block_config) - 1:
                features[f"transition{i + 1}_pool"] = nn.AvgPool2d(2, 2)
        self.stages = nn.Sequential(features)
        self.num_features = chs
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Dropout(drop_rate))
        self.fc = self._make_classifier(num_classes)


ROWS: list[ModelEntry] = [ModelEntry("PeleeNet", "PeleeNet", PeleeNet, "ours", top1=71.53,
                                     note="timm has no PeleeNet; PaddleClas's two-way dense layers, dropout 0.05 "
                                          "before the classifier")]
