"""RedNet as PaddleClas builds it: a ResNet whose 3x3 convs are involutions.

timm has no involution. PaddleClas subclasses Paddle's ResNet and adds its stem last, so its
``.pdparams`` list the stem after the classifier; the row's ``paddle_reorder``
(:func:`stem_first`) moves it first, where this module registers it.

``ROWS``: RedNet26/38/50/101/152.
"""

from __future__ import annotations

from functools import partial
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .entry import ModelEntry
from .layers.mobile import ConvBNAct
from .layers.plain_net import PlainNet

__all__ = ["Involution", "RedNet", "stem_first", "DEPTHS", "ROWS"]

DEPTHS = {26: (1, 2, 4, 1), 38: (2, 3, 5, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class Involution(nn.Module):
    """Involution: a ``kernel_size``² kernel per pixel and per group of 16 channels, generated
    from the (average-pooled, when strided) input by 1x1 conv-BN-ReLU (channels / 4) then a
    1x1 conv, and applied to the input's unfolded neighbourhoods."""

    def __init__(self, channels: int, kernel_size: int, stride: int, group_channels: int = 16,
                 reduction: int = 4):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.channels, self.group_channels = channels, group_channels
        self.groups = channels // group_channels
        self.conv1 = ConvBNAct(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2d(channels // reduction, kernel_size ** 2 * self.groups, 1)
        self.avgpool = nn.AvgPool2d(stride, stride) if stride > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.conv2(self.conv1(self.avgpool(x)))
        batch, _, height, width = weight.shape
        taps = self.kernel_size ** 2
        weight = weight.reshape(batch, self.groups, 1, taps, height, width)
        patches = F.unfold(x, self.kernel_size, padding=(self.kernel_size - 1) // 2, stride=self.stride)
        patches = patches.reshape(batch, self.groups, self.group_channels, taps, height, width)
        return (weight * patches).sum(3).reshape(batch, self.channels, height, width)


class InvolutionBottleneck(nn.Module):
    """Paddle's ResNet bottleneck (1x1, 3x3 → 7x7 involution carrying the stride, 1x1 x4) with a
    1x1-conv + BN projection shortcut when the shape changes."""

    expansion = 4

    def __init__(self, in_chs: int, planes: int, stride: int = 1):
        super().__init__()
        out_chs = planes * self.expansion
        self.conv1 = nn.Conv2d(in_chs, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = Involution(planes, 7, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_chs, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_chs)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or in_chs != out_chs:
            self.downsample = nn.Sequential(nn.Conv2d(in_chs, out_chs, 1, stride, bias=False),
                                            nn.BatchNorm2d(out_chs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class RedNet(PlainNet):
    """PaddleClas's RedNet: stem (3x3/2 conv, 3x3 involution + BN + ReLU, 3x3 conv), 3x3/2 max
    pool, four stages of involution bottlenecks, average pool, Linear.

    ``stages`` holds ``stem``, ``maxpool`` and ``layer1``..``layer4``; ``feature_info`` names
    the stem (stride 2) and the four layers (strides 4 to 32).

    Args:
        depth: 26, 38, 50, 101 or 152.
        num_classes: classifier width (0: none).
        in_chans: input channels.
    """

    def __init__(self, depth: int = 50, num_classes: int = 1000, in_chans: int = 3):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"RedNet depth {depth}: expected one of {sorted(DEPTHS)}")
        stem = nn.Sequential(ConvBNAct(in_chans, 32, 3, 2), Involution(32, 3, 1), nn.BatchNorm2d(32), nn.ReLU(),
                             ConvBNAct(32, 64, 3, 1))
        layers: OrderedDict[str, nn.Module] = OrderedDict(stem=stem, maxpool=nn.MaxPool2d(3, 2, 1))
        self.feature_info = [dict(num_chs=64, reduction=2, module="stages.stem")]
        chs = 64
        for i, num_blocks in enumerate(DEPTHS[depth]):
            planes, stride = 64 * 2 ** i, 1 if i == 0 else 2
            blocks = []
            for j in range(num_blocks):
                blocks.append(InvolutionBottleneck(chs, planes, stride if j == 0 else 1))
                chs = planes * InvolutionBottleneck.expansion
            layers[f"layer{i + 1}"] = nn.Sequential(*blocks)
            self.feature_info.append(dict(num_chs=chs, reduction=4 * 2 ** i, module=f"stages.layer{i + 1}"))
        self.stages = nn.Sequential(layers)
        self.num_features = chs
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.fc = self._make_classifier(num_classes)


def stem_first(keys: list[str]) -> list[str]:
    """PaddleClas's RedNet registers its ``stem`` after the classifier: move it first."""
    return [k for k in keys if k.startswith("stem.")] + [k for k in keys if not k.startswith("stem.")]


_TOP1 = {26: 75.95, 38: 77.47, 50: 78.33, 101: 78.94, 152: 79.17}

ROWS: list[ModelEntry] = [
    ModelEntry(f"RedNet{depth}", "RedNet", partial(RedNet, depth=depth), "ours", top1=top1, paddle_reorder=stem_first,
               note="timm has no involution; unfold-based 7x7 involutions as in PaddleClas, whose stem "
                    "is registered after the classifier (paddle_reorder)")
    for depth, top1 in _TOP1.items()]
