"""MobileViTV3, laid out as PaddleClas's ``model_zoo/mobilevit_v3.py``.

timm has MobileViT V1/V2 but not V3, whose fusion differs: the local branch's output (after
the depthwise 3x3 and the 1x1 to transformer width) is concatenated with the global branch's,
fused by a 1x1 conv, and the block's input is added. The blocks below are timm's
``MobileVitBlock`` / ``MobileVitV2Block`` (same parameters and registration order as
PaddleClas's) with the V3 fusion conv swapped in and a V3 forward. The ``XXS/XS/S[_L2]`` rows
use V1 blocks (multi-head attention over LayerNorm tokens), the ``x0_5/x0_75/x1_0`` rows V2
blocks (linear attention over GroupNorm maps, no final 1x1 expansion).

``ROWS``: MobileViTV3 XXS/XS/S (+ _L2) on V1 blocks and x0_5/x0_75/x1_0 on V2 blocks.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import ConvNormAct, make_divisible, trunc_normal_
from timm.models.byobnet import LayerFn
from timm.models.mobilevit import MobileVitBlock, MobileVitV2Block
from torch import nn

from .entry import ModelEntry

__all__ = ["MobileViTV3", "MobileViTV3Block", "MobileViTV3BlockV2", "MOBILEVIT_V3_SPECS", "ROWS"]

_SILU_LAYERS = LayerFn(conv_norm_act=partial(ConvNormAct, act_layer=nn.SiLU), act=nn.SiLU)

# name -> (stem, layer1, layer2, (out, width, depth) of layers 3-5, mv2 expansion, V2-based);
# V1 rows' transformer widths are given, V2 rows' are their "attn_unit_dim"; every FFN is 2x.
MOBILEVIT_V3_SPECS: dict[str, tuple] = {
    "XXS": (16, 16, 24, ((64, 64, 2), (80, 80, 4), (128, 96, 3)), 2, False),
    "XS": (16, 32, 48, ((96, 96, 2), (160, 120, 4), (160, 144, 3)), 4, False),
    "S": (16, 32, 64, ((128, 144, 2), (256, 192, 4), (320, 240, 3)), 4, False),
    "XXS_L2": (16, 16, 24, ((64, 64, 2), (80, 80, 2), (128, 96, 3)), 2, False),
    "XS_L2": (16, 32, 48, ((96, 96, 2), (160, 120, 2), (160, 144, 3)), 4, False),
    "S_L2": (16, 32, 64, ((128, 144, 2), (256, 192, 2), (320, 240, 3)), 4, False),
    "x0_5": (16, 32, 64, ((128, 64, 2), (192, 96, 4), (256, 128, 3)), 2, True),
    "x0_75": (24, 48, 96, ((192, 96, 2), (288, 144, 4), (384, 192, 3)), 2, True),
    "x1_0": (32, 64, 128, ((256, 128, 2), (384, 192, 4), (512, 256, 3)), 2, True),
}


class InvertedResidual(nn.Module):
    """MobileNetV2 block (expand 1x1, depthwise 3x3, linear 1x1), residual only when shapes
    match; PaddleClas's has no projection shortcut, unlike timm's byobnet bottleneck."""

    def __init__(self, in_chs: int, out_chs: int, stride: int, expand_ratio: float):
        super().__init__()
        hidden = make_divisible(int(round(in_chs * expand_ratio)), 8)
        self.use_residual = stride == 1 and in_chs == out_chs
        self.block = nn.Sequential()
        if expand_ratio != 1:
            self.block.add_module("exp_1x1", ConvNormAct(in_chs, hidden, 1, act_layer=nn.SiLU))
        self.block.add_module("conv_3x3", ConvNormAct(hidden, hidden, 3, stride, groups=hidden, act_layer=nn.SiLU))
        self.block.add_module("red_1x1", ConvNormAct(hidden, out_chs, 1, apply_act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Block output, plus the input where shapes allow."""
        return x + self.block(x) if self.use_residual else self.block(x)


class MobileViTV3Block(MobileVitBlock):
    """timm's V1 block with a depthwise 3x3, and V3 fusion: 1x1 conv over
    ``cat(local features, projected global features)``, plus the input."""

    def __init__(self, in_chs: int, transformer_dim: int, depth: int, dropout: float = 0.1):
        super().__init__(in_chs, kernel_size=3, group_size=1, mlp_ratio=2.0, transformer_dim=transformer_dim,
                         transformer_depth=depth, patch_size=2, num_heads=4, drop=dropout, layers=_SILU_LAYERS)
        for block in self.transformer:  # PaddleClas has no dropout between the FFN's linears
            block.mlp.drop1 = nn.Identity()
        # reassigning keeps the registration position (after conv_proj)
        self.conv_fusion = ConvNormAct(transformer_dim + in_chs, in_chs, 1, act_layer=nn.SiLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Local and global features fused, plus ``x``."""
        local = self.conv_1x1(self.conv_kxk(x))
        batch, chs, height, width = local.shape
        ph, pw = self.patch_size
        new_h, new_w = math.ceil(height / ph) * ph, math.ceil(width / pw) * pw
        y = local
        if (new_h, new_w) != (height, width):
            y = F.interpolate(y, size=(new_h, new_w), mode="bilinear", align_corners=False)
        nh, nw = new_h // ph, new_w // pw
        # (B, C, nh*ph, nw*pw) -> (B * P, N, C): one sequence per position inside the patches
        y = y.reshape(batch, chs, nh, ph, nw, pw).permute(0, 3, 5, 2, 4, 1).reshape(batch * ph * pw, nh * nw, chs)
        y = self.norm(self.transformer(y))
        y = y.reshape(batch, ph, pw, nh, nw, chs).permute(0, 5, 3, 1, 4, 2).reshape(batch, chs, new_h, new_w)
        if (new_h, new_w) != (height, width):
            y = F.interpolate(y, size=(height, width), mode="bilinear", align_corners=False)
        return self.conv_fusion(torch.cat((local, self.conv_proj(y)), dim=1)) + x


class MobileViTV3BlockV2(MobileVitV2Block):
    """timm's V2 block with V3 fusion: ``conv_proj`` takes ``cat(global, local)`` (twice the
    attention width), and the input is added. Like PaddleClas's, the map must be divisible by
    the 2x2 patch (no interpolation)."""

    def __init__(self, in_chs: int, attn_dim: int, depth: int):
        super().__init__(in_chs, kernel_size=3, group_size=1, mlp_ratio=2.0, transformer_dim=attn_dim,
                         transformer_depth=depth, patch_size=2, layers=_SILU_LAYERS)
        self.conv_proj = ConvNormAct(2 * attn_dim, in_chs, 1, apply_act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Global and local features fused, plus ``x``."""
        local = self.conv_1x1(self.conv_kxk(x))
        batch, chs, height, width = local.shape
        ph, pw = self.patch_size
        if height % ph or width % pw:
            raise ValueError(f"MobileViTV3 (V2 blocks): feature map {height}x{width} is not divisible by the "
                             f"{ph}x{pw} patch; use an input size divisible by 64")
        nh, nw = height // ph, width // pw
        # (B, C, H, W) -> (B, C, P, N), as F.unfold with kernel = stride = patch
        y = local.reshape(batch, chs, nh, ph, nw, pw).permute(0, 1, 3, 5, 2, 4).reshape(batch, chs, ph * pw, nh * nw)
        y = self.norm(self.transformer(y))
        y = y.reshape(batch, chs, ph, pw, nh, nw).permute(0, 1, 4, 2, 5, 3).reshape(batch, chs, height, width)
        return self.conv_proj(torch.cat((y, local), dim=1)) + x


class MobileViTV3(nn.Module):
    """PaddleClas's ``MobileViTV3`` with timm's model interface.

    Args:
        variant: a key of :data:`MOBILEVIT_V3_SPECS`.
        dropout: dropout inside the V1 transformer blocks (PaddleClas: 0.1).
        classifier_dropout: dropout before the classifier (PaddleClas: 0.1).
    """

    def __init__(self, variant: str = "XXS", num_classes: int = 1000, in_chans: int = 3,
                 dropout: float = 0.1, classifier_dropout: float = 0.1):
        super().__init__()
        if variant not in MOBILEVIT_V3_SPECS:
            raise ValueError(f"MobileViTV3 variant '{variant}': expected one of {sorted(MOBILEVIT_V3_SPECS)}")
        stem, chs1, chs2, vit_layers, expand, v2_based = MOBILEVIT_V3_SPECS[variant]
        self.conv_1 = ConvNormAct(in_chans, stem, 3, 2, act_layer=nn.SiLU)
        self.layer_1 = nn.Sequential(InvertedResidual(stem, chs1, 1, expand))
        self.layer_2 = nn.Sequential(InvertedResidual(chs1, chs2, 2, expand),
                                     *[InvertedResidual(chs2, chs2, 1, expand) for _ in range(1 if v2_based else 2)])
        in_chs = chs2
        for i, (out_chs, width, depth) in enumerate(vit_layers, start=3):
            block = (MobileViTV3BlockV2(out_chs, width, depth) if v2_based
                     else MobileViTV3Block(out_chs, width, depth, dropout))
            self.add_module(f"layer_{i}", nn.Sequential(InvertedResidual(in_chs, out_chs, 2, expand), block))
            in_chs = out_chs
        widths = (chs1, chs2) + tuple(layer[0] for layer in vit_layers)
        self.feature_info = [dict(num_chs=c, reduction=2 ** i, module=f"layer_{i}") for i, c in enumerate(widths, 1)]
        if v2_based:
            self.conv_1x1_exp = nn.Identity()
        else:
            self.conv_1x1_exp = ConvNormAct(in_chs, min(4 * in_chs, 960), 1, act_layer=nn.SiLU)
            in_chs = min(4 * in_chs, 960)
        self.num_features = self.head_hidden_size = in_chs
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.head_drop = nn.Dropout(classifier_dropout)
        self.fc = nn.Linear(in_chs, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map before pooling (after the final 1x1 expansion in V1-based rows)."""
        x = self.conv_1(x)
        for i in range(1, 6):
            x = getattr(self, f"layer_{i}")(x)
        return self.conv_1x1_exp(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits (or the pooled features with ``pre_logits``) from :meth:`forward_features`."""
        x = self.head_drop(self.global_pool(x).flatten(1))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final Linear (Identity when reset to 0 classes)."""
        return self.fc

    def reset_classifier(self, num_classes: int, **_: Any) -> None:
        """A fresh classifier for ``num_classes`` (0: none, the model returns pooled features)."""
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


# docs/zh_CN/models/ImageNet1k/MobileViTV3.md (PaddleClas's own top-1)
_MOBILEVIT_V3_TOP1 = {"XXS": 70.87, "XS": 76.63, "S": 79.28, "XXS_L2": 70.28, "XS_L2": 76.07, "S_L2": 79.07,
                      "x0_5": 72.00, "x0_75": 76.26, "x1_0": 78.38}


def _rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/mobilevit_v3.py`` (256x256 inputs, as its configs)."""
    rows = []
    for variant, top1 in _MOBILEVIT_V3_TOP1.items():
        v2_based = variant.startswith("x")
        note = ("own code on timm's MobileVitV2Block: V3 fusion (1x1 conv of global+local, plus input); "
                "input sides must be divisible by 64" if v2_based else
                "own code on timm's MobileVitBlock: depthwise local conv, V3 fusion (1x1 conv of "
                "local+global, plus input)")
        rows.append(ModelEntry(f"MobileViTV3_{variant}", "MobileViTV3", partial(MobileViTV3, variant), "ours",
                               input_size=(3, 256, 256), top1=top1, note=note))
    return rows


ROWS: list[ModelEntry] = _rows()
