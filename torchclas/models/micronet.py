"""MicroNet (Li et al., 2021) as PaddleClas builds it: ``MicroNet_M0`` ... ``MicroNet_M3`` (timm
and torchvision have no MicroNet).

Micro-factorized convolutions (spatially separable k x 1 / 1 x k depthwise convs, grouped 1x1
convs with channel shuffles) and the dynamic shift-max activation. Layers are registered in
PaddleClas's order (``micronet.py``), so its weights convert by order.

``ROWS``: MicroNet M0 ... M3.
"""

from __future__ import annotations

from functools import partial
import torch
from torch import nn

from .entry import ModelEntry
from .layers.mobile import channel_shuffle
from .mobilenext import make_divisible

__all__ = ["MicroNet", "DynamicShiftMax", "MicroBlock", "CONFIGS", "ROWS"]

# per block: stride, repeats, out, kernel, exp1, exp2, per-group (a, b), 1x1 (hidden, g1, g2), dy (y1, y2, y3),
# activation reduction ratio — PaddleClas's NET_CONFIG rows, column for column
_M0 = ((2, 1, 8, 3, 2, 2, 0, 4, 8, 2, 2, 2, 0, 1, 1), (2, 1, 12, 3, 2, 2, 0, 8, 12, 4, 4, 2, 2, 1, 1),
       (2, 1, 16, 5, 2, 2, 0, 12, 16, 4, 4, 2, 2, 1, 1), (1, 1, 32, 5, 1, 4, 4, 4, 32, 4, 4, 2, 2, 1, 1),
       (2, 1, 64, 5, 1, 4, 8, 8, 64, 8, 8, 2, 2, 1, 1), (1, 1, 96, 3, 1, 4, 8, 8, 96, 8, 8, 2, 2, 1, 2),
       (1, 1, 384, 3, 1, 4, 12, 12, 0, 0, 0, 2, 2, 1, 2))
_M1 = ((2, 1, 8, 3, 2, 2, 0, 6, 8, 2, 2, 2, 0, 1, 1), (2, 1, 16, 3, 2, 2, 0, 8, 16, 4, 4, 2, 2, 1, 1),
       (2, 1, 16, 5, 2, 2, 0, 16, 16, 4, 4, 2, 2, 1, 1), (1, 1, 32, 5, 1, 6, 4, 4, 32, 4, 4, 2, 2, 1, 1),
       (2, 1, 64, 5, 1, 6, 8, 8, 64, 8, 8, 2, 2, 1, 1), (1, 1, 96, 3, 1, 6, 8, 8, 96, 8, 8, 2, 2, 1, 2),
       (1, 1, 576, 3, 1, 6, 12, 12, 0, 0, 0, 2, 2, 1, 2))
_M2 = ((2, 1, 12, 3, 2, 2, 0, 8, 12, 4, 4, 2, 0, 1, 1), (2, 1, 16, 3, 2, 2, 0, 12, 16, 4, 4, 2, 2, 1, 1),
       (1, 1, 24, 3, 2, 2, 0, 16, 24, 4, 4, 2, 2, 1, 1), (2, 1, 32, 5, 1, 6, 6, 6, 32, 4, 4, 2, 2, 1, 1),
       (1, 1, 32, 5, 1, 6, 8, 8, 32, 4, 4, 2, 2, 1, 2), (1, 1, 64, 5, 1, 6, 8, 8, 64, 8, 8, 2, 2, 1, 2),
       (2, 1, 96, 5, 1, 6, 8, 8, 96, 8, 8, 2, 2, 1, 2), (1, 1, 128, 3, 1, 6, 12, 12, 128, 8, 8, 2, 2, 1, 2),
       (1, 1, 768, 3, 1, 6, 16, 16, 0, 0, 0, 2, 2, 1, 2))
_M3 = ((2, 1, 16, 3, 2, 2, 0, 12, 16, 4, 4, 0, 2, 0, 1), (2, 1, 24, 3, 2, 2, 0, 16, 24, 4, 4, 0, 2, 0, 1),
       (1, 1, 24, 3, 2, 2, 0, 24, 24, 4, 4, 0, 2, 0, 1), (2, 1, 32, 5, 1, 6, 6, 6, 32, 4, 4, 0, 2, 0, 1),
       (1, 1, 32, 5, 1, 6, 8, 8, 32, 4, 4, 0, 2, 0, 2), (1, 1, 64, 5, 1, 6, 8, 8, 48, 8, 8, 0, 2, 0, 2),
       (1, 1, 80, 5, 1, 6, 8, 8, 80, 8, 8, 0, 2, 0, 2), (1, 1, 80, 5, 1, 6, 10, 10, 80, 8, 8, 0, 2, 0, 2),
       (2, 1, 120, 5, 1, 6, 10, 10, 120, 10, 10, 0, 2, 0, 2), (1, 1, 120, 5, 1, 6, 12, 12, 120, 10, 10, 0, 2, 0, 2),
       (1, 1, 144, 3, 1, 6, 12, 12, 144, 12, 12, 0, 2, 0, 2), (1, 1, 864, 3, 1, 6, 12, 12, 0, 0, 0, 0, 2, 0, 2))
# name: (blocks, stem width, stem groups, head width, dropout, init_a, init_b)
CONFIGS = {"M0": (_M0, 4, (2, 2), 640, 0.05, (1.0, 1.0), (0.0, 0.0)),
           "M1": (_M1, 6, (3, 2), 960, 0.05, (1.0, 1.0), (0.0, 0.0)),
           "M2": (_M2, 8, (4, 2), 1024, 0.1, (1.0, 1.0), (0.0, 0.0)),
           "M3": (_M3, 12, (4, 3), 1024, 0.1, (1.0, 0.5), (0.0, 0.5))}
ACT_MAX, ACT_REDUCTION = 2.0, 8
# Paddle's default hard-sigmoid slope 0.1666667, as the float32 attribute its kernels read
_PADDLE_SLOPE = 0.16666670143604279
# offsets of the one-branch shift-max after a block's last 1x1 conv (PaddleClas's init_ab3 = [1, 0])
_LAST_A, _LAST_B = (1.0, 0.0), (0.0, 0.0)


class HardSigmoid(nn.Module):
    """Paddle's ``nn.Hardsigmoid``: ``clip(0.1666667 x + 0.5, 0, 1)`` (its slope is not exactly 1/6)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x * _PADDLE_SLOPE + 0.5, 0.0, 1.0)


class ChannelShuffle(nn.Module):
    """Interleave the channels of ``groups`` groups."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)


def _conv_bn(in_chs: int, out_chs: int, kernel: tuple[int, int], stride: tuple[int, int], groups: int) -> list:
    padding = (kernel[0] // 2, kernel[1] // 2)
    return [nn.Conv2d(in_chs, out_chs, kernel, stride, padding, groups=groups, bias=False), nn.BatchNorm2d(out_chs)]


def spatial_sep_conv(in_chs: int, exp: tuple[int, int], kernel: int, stride: int, depthwise: bool = True) -> list:
    """A k x 1 conv (stride on H) then a depthwise 1 x k conv (stride on W), each with BN; the
    first is depthwise (``DepthSpatialSepConv``) or full (the stem's ``SpatialSepConvSF``)."""
    mid = in_chs * exp[0] if depthwise else exp[0]
    return (_conv_bn(in_chs, mid, (kernel, 1), (stride, 1), in_chs if depthwise else 1)
            + _conv_bn(mid, mid * exp[1], (1, kernel), (1, stride), mid))


def group_conv(in_chs: int, out_chs: int, groups: int) -> list:
    """A grouped 1x1 conv with BN."""
    return _conv_bn(in_chs, out_chs, (1, 1), (1, 1), groups)


class DynamicShiftMax(nn.Module):
    """Dynamic shift-max: ``max_k(a_k x + b_k shift(x))`` with per-sample coefficients from an SE-like
    branch; ``shift`` rolls the channel groups and the channels within each group by one.

    Args:
        channels: input (= output) width.
        reduction: squeeze ratio of the coefficient branch.
        two_branches: max over two affine maps (PaddleClas's ``act_relu``) or one map.
        init_a, init_b: coefficient offsets.
        groups: PaddleClas's ``g`` pair; its second entry is the number of channel groups
            (with ``expansion``, the group width).
    """

    def __init__(self, channels: int, reduction: float, two_branches: bool, init_a, init_b,
                 groups: tuple[int, int], expansion: bool = False):
        super().__init__()
        self.exp = 4 if two_branches else 2
        self.init_a, self.init_b = init_a, init_b
        squeeze = max(4, make_divisible(channels // reduction, 4))
        self.fc = nn.Sequential(nn.Linear(channels, squeeze), nn.ReLU(), nn.Linear(squeeze, channels * self.exp),
                                HardSigmoid())
        num_groups = groups[1]
        if num_groups != 1 and expansion:
            num_groups = channels // num_groups
        index = torch.arange(channels).reshape(num_groups, channels // num_groups).roll(-1, 0).roll(-1, 1)
        self.register_buffer("index", index.flatten(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x.mean((2, 3)))[:, :, None, None]
        y = (y - 0.5) * (2 * ACT_MAX)
        shifted = x[:, self.index]
        if self.exp == 4:
            a1, b1, a2, b2 = y.chunk(4, 1)
            return torch.maximum(x * (a1 + self.init_a[0]) + shifted * (b1 + self.init_b[0]),
                                 x * (a2 + self.init_a[1]) + shifted * (b2 + self.init_b[1]))
        a1, b1 = y.chunk(2, 1)
        return x * (a1 + self.init_a[0]) + shifted * (b1 + self.init_b[0])


def _shuffle_or_identity(groups: int, use: bool) -> nn.Module:
    return ChannelShuffle(groups) if use else nn.Identity()


class MicroBlock(nn.Module):
    """PaddleClas's ``DYMicroBlock`` for one NET_CONFIG row (see ``_M0``); residual when the
    stride is 1 and the widths agree."""

    def __init__(self, in_chs: int, row: tuple, stride: int, init_a, init_b):
        super().__init__()
        _, _, out_chs, kernel, e1, e2, ga, gb, _, g1, g2, y1, y2, y3, ratio = row
        self.identity = stride == 1 and in_chs == out_chs
        reduction = ACT_REDUCTION * ratio
        hidden = in_chs * e1 * e2
        per_group = (ga, gb)
        shift_max = DynamicShiftMax
        if ga == 0:  # depthwise-first block
            layers = [nn.Sequential(*spatial_sep_conv(in_chs, (e1, e2), kernel, stride)),
                      shift_max(hidden, reduction, y2 == 2, init_a, init_b, per_group) if y2 > 0 else nn.ReLU6(),
                      ChannelShuffle(gb), _shuffle_or_identity(hidden // 2, y2 != 0),
                      nn.Sequential(*group_conv(hidden, out_chs, g1)),
                      shift_max(out_chs, reduction // 2, False, _LAST_A, _LAST_B, (g1, g2))
                      if y3 > 0 else nn.Identity(),
                      ChannelShuffle(g2), _shuffle_or_identity(out_chs // 2, out_chs % 2 == 0 and y3 != 0)]
        elif g2 == 0:  # the last block: one grouped 1x1 conv
            layers = [nn.Sequential(*group_conv(in_chs, hidden, ga)),
                      shift_max(hidden, reduction, False, _LAST_A, _LAST_B, per_group)
                      if y3 > 0 else nn.Identity()]
        else:
            if y1 != 0 and y2 != 0:
                mid_shuffle = ChannelShuffle(hidden // 4)
            else:
                mid_shuffle = nn.Identity() if y1 == 0 and y2 == 0 else ChannelShuffle(hidden // 2)
            layers = [nn.Sequential(*group_conv(in_chs, hidden, ga)),
                      shift_max(hidden, reduction, y1 == 2, init_a, init_b, per_group) if y1 > 0 else nn.ReLU6(),
                      ChannelShuffle(gb), nn.Sequential(*spatial_sep_conv(hidden, (1, 1), kernel, stride)),
                      nn.Identity(),
                      shift_max(hidden, reduction, y2 == 2, init_a, init_b, per_group, expansion=True)
                      if y2 > 0 else nn.ReLU6(),
                      mid_shuffle, nn.Sequential(*group_conv(hidden, out_chs, g1)),
                      shift_max(out_chs, reduction // 2 if out_chs < hidden else reduction, False,
                                _LAST_A, _LAST_B, (g1, g2)) if y3 > 0 else nn.Identity(),
                      ChannelShuffle(g2), _shuffle_or_identity(out_chs // 2, y3 != 0)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        return out + x if self.identity else out


class SwishLinear(nn.Sequential):
    """Linear, BatchNorm1d, hard swish (PaddleClas's head layers)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(nn.Linear(in_features, out_features), nn.BatchNorm1d(out_features), nn.Hardswish())
        self.in_features = in_features


class MicroNet(nn.Module):
    """PaddleClas's MicroNet: stem, micro-blocks, ReLU6 → pool → hard swish, then a SwishLinear,
    dropout and a SwishLinear classifier (its logits pass through BN and hard swish).

    Args:
        variant: ``M0`` ... ``M3``.
        num_classes: classifier width (0: none).
        drop_rate: dropout before the classifier (default PaddleClas's).
    """

    def __init__(self, variant: str = "M0", num_classes: int = 1000, drop_rate: float | None = None):
        super().__init__()
        if variant not in CONFIGS:
            raise ValueError(f"MicroNet variant '{variant}': expected one of {sorted(CONFIGS)}")
        rows, stem_chs, stem_groups, head_chs, default_drop, init_a, init_b = CONFIGS[variant]
        # PaddleClas's stem ends with a group max-pool only when g1 * g2 == 2 * stem width; never here
        layers = [nn.Sequential(nn.Sequential(*spatial_sep_conv(3, stem_groups, 3, 2, depthwise=False),
                                              ChannelShuffle(stem_groups[0])), nn.ReLU6())]
        self.feature_info = []
        chs, reduction = stem_chs, 2
        for row in rows:
            if row[0] == 2 and layers:
                self.feature_info.append(dict(num_chs=chs, reduction=reduction, module=f"features.{len(layers) - 1}"))
            for i in range(row[1]):
                layers.append(MicroBlock(chs, row, row[0] if i == 0 else 1, init_a, init_b))
                chs = row[2]
            reduction *= row[0]
        self.feature_info.append(dict(num_chs=chs, reduction=reduction, module=f"features.{len(layers) - 1}"))
        self.features = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Hardswish(), nn.Flatten(1))
        self.num_features, self.head_hidden_size = chs, head_chs
        self.head_fc = SwishLinear(chs, head_chs)
        self.head_drop = nn.Dropout(default_drop if drop_rate is None else drop_rate)
        self.classifier = SwishLinear(head_chs, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's feature map."""
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, the hidden SwishLinear, dropout and (unless ``pre_logits``) the classifier."""
        x = self.head_drop(self.head_fc(self.pool(x)))
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final SwishLinear (Identity when reset to 0 classes)."""
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh classifier for ``num_classes`` (0: none, the model returns the hidden features)."""
        self.classifier = SwishLinear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()


ROWS: list[ModelEntry] = [
    ModelEntry(f"MicroNet_{variant}", "MicroNet", partial(MicroNet, variant=variant), "ours",
               note="timm has no MicroNet; Paddle's hard sigmoid slope 0.1666667; the classifier is "
                    "Linear + BatchNorm1d + hard swish as in PaddleClas")
    for variant in ("M0", "M1", "M2", "M3")]
