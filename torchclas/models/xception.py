"""PaddleClas's own Xception41/65/71 (``model_zoo/xception.py``), not the paper's nor timm's.

It differs from the aligned (DeepLab) Xception timm builds: each separable conv is a 1x1
conv + BN *then* a 3x3 depthwise conv + BN; the strided blocks keep a max-pool and a
BN-free 1x1 shortcut; there is no stride-32 separable-conv block with ReLUs inside. BatchNorm
eps is Paddle's default 1e-5.

``ROWS``: PaddleClas's Xception41/65/71 (ours) and Xception41/65_deeplab: timm's aligned
Xception with PaddleClas's dilation-2 last block (:func:`xception_deeplab`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from timm.models.xception_aligned import SeparableConv2d, XceptionModule
from torch import nn

from .entry import ModelEntry, timm_model
from .layers.plain_net import PlainNet

__all__ = ["Xception", "XCEPTION_DEPTHS", "xception_deeplab", "ROWS"]

# depth: (entry-flow block strides and widths, middle-flow blocks), PaddleClas's EntryFlow/MiddleFlow
XCEPTION_DEPTHS = {
    41: (((2, 128), (2, 256), (2, 728)), 8),
    65: (((2, 128), (2, 256), (2, 728)), 16),
    71: (((2, 128), (1, 256), (2, 256), (1, 728), (2, 728)), 16),
}


def _conv_bn(in_chs: int, out_chs: int, kernel: int, stride: int = 1, groups: int = 1,
             relu: bool = False) -> nn.Sequential:
    layers = [nn.Conv2d(in_chs, out_chs, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(out_chs)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class PointwiseFirstSeparableConv(nn.Sequential):
    """PaddleClas's ``SeparableConv``: 1x1 conv + BN, then 3x3 depthwise conv + BN (no ReLU)."""

    def __init__(self, in_chs: int, out_chs: int):
        super().__init__()
        self.pointwise = _conv_bn(in_chs, out_chs, 1)
        self.depthwise = _conv_bn(out_chs, out_chs, 3, groups=out_chs)


class PooledBlock(nn.Module):
    """Two separable convs and a 3x3 max-pool (``stride``), plus a strided BN-free 1x1 shortcut.

    PaddleClas's entry-flow blocks (``relu_first`` for all but the first) and its exit-flow
    block (always ``relu_first``); the shortcut reads the block input before any ReLU.
    """

    def __init__(self, in_chs: int, mid_chs: int, out_chs: int, stride: int, relu_first: bool):
        super().__init__()
        self.relu_first = relu_first
        self.shortcut = nn.Conv2d(in_chs, out_chs, 1, stride, bias=False)
        self.conv1 = PointwiseFirstSeparableConv(in_chs, mid_chs)
        self.conv2 = PointwiseFirstSeparableConv(mid_chs, out_chs)
        self.pool = nn.MaxPool2d(3, stride, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual sum of the pooled separable branch and the shortcut."""
        y = self.conv1(F.relu(x) if self.relu_first else x)
        y = self.pool(self.conv2(F.relu(y)))
        return y + self.shortcut(x)


class MiddleBlock(nn.Module):
    """Three ReLU + separable conv pairs with an identity shortcut (728 channels)."""

    def __init__(self, chs: int = 728):
        super().__init__()
        self.convs = nn.ModuleList(PointwiseFirstSeparableConv(chs, chs) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` plus the separable branch."""
        y = x
        for conv in self.convs:
            y = conv(F.relu(y))
        return x + y


class Xception(PlainNet):
    """Xception41/65/71 as PaddleClas builds them (see the module docstring).

    Args:
        depth: 41, 65 or 71.
        num_classes: classifier size (0: no classifier).
        in_chans: input channels.

    Stages: ``stages.0`` the two stem convs, then one stage per entry-flow block, the middle
    flow, and the exit flow (its pooled block and the two final separable convs, each followed
    by a ReLU).
    """

    def __init__(self, depth: int = 41, num_classes: int = 1000, in_chans: int = 3, **kwargs: Any):
        super().__init__()
        if depth not in XCEPTION_DEPTHS:
            raise ValueError(f"Xception depth must be one of {sorted(XCEPTION_DEPTHS)}, got {depth}")
        if kwargs:
            raise TypeError(f"Xception got unexpected arguments {sorted(kwargs)}")
        entry, middle_blocks = XCEPTION_DEPTHS[depth]
        stages = [nn.Sequential(_conv_bn(in_chans, 32, 3, 2, relu=True), _conv_bn(32, 64, 3, relu=True))]
        infos, chs, reduction = [(64, 2)], 64, 2
        for i, (stride, out_chs) in enumerate(entry):
            stages.append(PooledBlock(chs, out_chs, out_chs, stride, relu_first=i > 0))
            chs, reduction = out_chs, reduction * stride
            infos.append((chs, reduction))
        stages.append(nn.Sequential(*[MiddleBlock(chs) for _ in range(middle_blocks)]))
        infos.append((chs, reduction))
        stages.append(nn.Sequential(
            PooledBlock(chs, 728, 1024, 2, relu_first=True),
            PointwiseFirstSeparableConv(1024, 1536), nn.ReLU(inplace=True),
            PointwiseFirstSeparableConv(1536, 2048), nn.ReLU(inplace=True)))
        infos.append((2048, reduction * 2))
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.num_features = 2048
        self.fc = self._make_classifier(num_classes)
        # per reduction, the last stage at it (Xception71's stride-1 entry blocks share one)
        last = {r: i for i, (_, r) in enumerate(infos)}
        self.feature_info = [dict(num_chs=infos[i][0], reduction=r, module=f"stages.{i}") for r, i in last.items()]


def xception_deeplab(timm_name: str, **kwargs: Any) -> nn.Module:
    """timm's aligned Xception with the last block's depthwise convs dilated by 2, as
    PaddleClas's (whose exit flow keeps ``dilation=2`` at output stride 32)."""
    model = timm_model(timm_name, **kwargs)
    last_blocks = [m for m in model.modules() if isinstance(m, XceptionModule) and m.no_skip]
    for block in last_blocks:
        for conv in block.modules():
            if isinstance(conv, SeparableConv2d):
                conv.conv_dw.dilation, conv.conv_dw.padding = (2, 2), (2, 2)
    return model


def _shortcut_first(keys: list[str]) -> list[str]:
    """PaddleClas's Xception_Block registers its shortcut (``_short``) after the three
    separable convs; timm's XceptionModule before them."""
    shortcut = [k for k in keys if "._short." in k]
    out = [k for k in keys if "._short." not in k]
    for prefix in dict.fromkeys(k.split("._short.")[0] for k in shortcut):
        at = next(i for i, k in enumerate(out) if k.startswith(f"{prefix}."))
        out[at:at] = [k for k in shortcut if k.startswith(f"{prefix}._short.")]
    return out


def _xception_rows() -> list[ModelEntry]:
    size = (3, 299, 299)
    out = [ModelEntry(f"Xception{d}", "Xception", partial(Xception, depth=d), "ours", input_size=size,
                      top1=top1, note="PaddleClas's own variant (pointwise-first separable convs, pooled "
                                      "blocks); timm has no equivalent")
           for d, top1 in ((41, 79.3), (65, 81.0), (71, 81.1))]
    out += [ModelEntry(f"Xception{d}_deeplab", "Xception", partial(xception_deeplab, f"xception{d}"),
                       f"timm:xception{d}+patch", kwargs=dict(drop_rate=0.5), input_size=size, top1=top1,
                       paddle_dropout=0.5, paddle_reorder=_shortcut_first,
                       note="last block's depthwise convs dilated by 2 (PaddleClas; timm: 1); PaddleClas's "
                            "dropout comes before the pooling (linear, so the same logits)")
            for d, top1 in ((41, 79.6), (65, 80.3))]
    return out


ROWS: list[ModelEntry] = _xception_rows()
