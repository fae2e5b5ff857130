"""PaddleClas's ResNeSt: its split-attention bottleneck as a block for timm's ``ResNet``.

timm's ``ResNestBottleneck`` differs from PaddleClas's in ways that change parameters and
maths, so the block is ours (stem, stages and head stay timm's):

* the attention's first 1x1 conv has no bias in PaddleClas (timm: bias);
* the ``avd`` 3x3 average pool does not count padding (timm: counts it);
* the shortcut's average pool is ``AvgPool2d(2, 2)`` with floor mode (timm: ceil mode).

``ROWS``: the ResNeSt rows (top-1: PaddleClas's docs/en/models/*).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import timm
import torch
from torch import nn

from .entry import ModelEntry

__all__ = ["PaddleSplitAttn", "PaddleResNeStBottleneck", "build_resnest", "ROWS"]


class PaddleSplitAttn(nn.Module):
    """PaddleClas's ``SplatConv``: a grouped 3x3 conv producing ``radix`` splits, and an
    attention over them (softmax across splits; sigmoid when ``radix == 1``)."""

    def __init__(self, channels: int, radix: int, groups: int, reduction: int = 4,
                 act_layer: type[nn.Module] = nn.ReLU, norm_layer: type[nn.Module] = nn.BatchNorm2d,
                 device=None, dtype=None):
        super().__init__()
        dd = dict(device=device, dtype=dtype)
        inter = int(max(channels * radix // reduction, 32))
        self.radix, self.groups = radix, groups
        self.conv = nn.Conv2d(channels, channels * radix, 3, 1, 1, groups=groups * radix, bias=False, **dd)
        self.bn0 = norm_layer(channels * radix, **dd)
        self.fc1 = nn.Conv2d(channels, inter, 1, groups=groups, bias=False, **dd)
        self.bn1 = norm_layer(inter, **dd)
        self.fc2 = nn.Conv2d(inter, channels * radix, 1, groups=groups, **dd)
        self.act = act_layer(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Split attention over the ``radix`` branches of the 3x3 conv."""
        x = self.act(self.bn0(self.conv(x)))
        batch, channels = x.shape[0], x.shape[1] // self.radix
        splits = x.reshape(batch, self.radix, channels, *x.shape[2:])
        gap = splits.sum(1).mean((2, 3), keepdim=True)
        attn = self.fc2(self.act(self.bn1(self.fc1(gap))))
        if self.radix == 1:
            return x * torch.sigmoid(attn)
        attn = attn.reshape(batch, self.groups, self.radix, -1).transpose(1, 2).softmax(dim=1)
        return (splits * attn.reshape(batch, self.radix, channels, 1, 1)).sum(1)


class PaddleResNeStBottleneck(nn.Module):
    """PaddleClas's ResNeSt bottleneck: 1x1 conv, split-attention 3x3, 1x1 conv; strided blocks
    downsample by a 3x3 average pool before (``avd_first``) or after the split attention."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 cardinality: int = 1, base_width: int = 64, radix: int = 2, avd: bool = True,
                 avd_first: bool = False, dilation: int = 1, act_layer: type[nn.Module] = nn.ReLU,
                 norm_layer: type[nn.Module] = nn.BatchNorm2d, drop_path: nn.Module | None = None,
                 device=None, dtype=None, **_: Any):
        super().__init__()
        if dilation != 1 or not avd:
            raise ValueError("ResNeSt (PaddleClas): needs avd=True and output_stride 32")
        dd = dict(device=device, dtype=dtype)
        width = int(planes * (base_width / 64.0)) * cardinality
        pool = nn.AvgPool2d(3, stride, 1, count_include_pad=False) if stride > 1 else nn.Identity()
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False, **dd)
        self.bn1 = norm_layer(width, **dd)
        self.avd_first = pool if avd_first else nn.Identity()
        self.conv2 = PaddleSplitAttn(width, radix, cardinality, act_layer=act_layer, norm_layer=norm_layer, **dd)
        self.avd_last = nn.Identity() if avd_first else pool
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False, **dd)
        self.bn3 = norm_layer(planes * self.expansion, **dd)
        self.act = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path if drop_path is not None else nn.Identity()

    def zero_init_last(self) -> None:
        """Zero the last BN's scale (timm's ``zero_init_last`` protocol)."""
        nn.init.zeros_(self.bn3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual split-attention bottleneck."""
        out = self.avd_first(self.act(self.bn1(self.conv1(x))))
        out = self.avd_last(self.conv2(out))
        out = self.drop_path(self.bn3(self.conv3(out)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.act(out + shortcut)


# PaddleClas name -> (timm model giving depth and stem, block arguments)
RESNEST = {
    "ResNeSt50_fast_1s1x64d": ("resnest50d", dict(radix=1, avd=True, avd_first=True)),
    "ResNeSt50": ("resnest50d", dict(radix=2, avd=True, avd_first=False)),
    "ResNeSt101": ("resnest101e", dict(radix=2, avd=True, avd_first=False)),
    "ResNeSt200": ("resnest200e", dict(radix=2, avd=True, avd_first=False)),
    "ResNeSt269": ("resnest269e", dict(radix=2, avd=True, avd_first=False)),
}


def build_resnest(name: str, **kwargs: Any) -> nn.Module:
    """PaddleClas's ResNeSt ``name`` (a key of ``RESNEST``) on timm's ResNet with our block.

    Example:
        >>> model = build_resnest("ResNeSt50", num_classes=10)
    """
    timm_name, block_args = RESNEST[name]
    model = timm.create_model(timm_name, pretrained=False, block=PaddleResNeStBottleneck,
                              cardinality=1, base_width=64, block_args=block_args, **kwargs)
    for module in model.modules():  # PaddleClas's shortcut pool: AvgPool2D(stride, stride), floor mode
        if isinstance(module, nn.Sequential) and len(module) == 3 and isinstance(module[0], nn.AvgPool2d):
            module[0] = nn.AvgPool2d(2, 2)
    return model


_TOP1 = {"ResNeSt50_fast_1s1x64d": 80.35, "ResNeSt50": 81.02}

ROWS: list[ModelEntry] = [
    ModelEntry(name, "ResNeSt", partial(build_resnest, name), f"timm:{timm_name}+ours(block)", top1=_TOP1.get(name),
               note="our PaddleResNeStBottleneck: timm's has a bias in the attention fc1, "
                    "counts padding in the avd pool and ceil-pools the shortcut")
    for name, (timm_name, _) in RESNEST.items()]
