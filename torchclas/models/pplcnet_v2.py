"""PaddleClas's PP-LCNetV2 (``legendary_models/pp_lcnet_v2.py``): ours, timm has none.

Its depthwise convs in stages 3-4 train as a sum of kxk, (k-2)x(k-2) ... 1x1 conv-BN branches
and fold into one biased kxk conv for inference (:meth:`RepDepthwiseSeparable.reparameterize`,
called by ``timm.utils.reparameterize_model``). PaddleClas also registers that folded conv
while training, unused; its two tensors are skipped on conversion (:func:`drop_unused_fold_conv`).

``ROWS``: PPLCNetV2 small, base, large.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import make_divisible
from torch import nn

from .entry import ModelEntry
from .layers.mobile import ConvBNAct, MobileNetBase, SEModule, make_act
from .reparam import fold_conv_bn, reparameterize_model

__all__ = ["PPLCNetV2Paddle", "RepDepthwiseSeparable", "drop_unused_fold_conv", "PPLCNETV2_DEPTHS", "ROWS"]

# base width, dw kernel, split pointwise, re-parameterisable dw, SE, shortcut
_STAGES = ((64, 3, False, False, False, False), (128, 3, False, False, False, False),
           (256, 5, True, True, True, False), (512, 5, False, True, False, True))
PPLCNETV2_DEPTHS = {"small": (0.75, (2, 2, 4, 2)), "base": (1.0, (2, 2, 6, 2)), "large": (1.25, (2, 2, 8, 2))}


class RepDepthwiseSeparable(nn.Module):
    """Depthwise conv (plain, or a sum of odd-kernel branches) → [SE] → pointwise (or two
    pointwise halves), with a residual when asked and the shape allows."""

    def __init__(self, in_chs: int, out_chs: int, stride: int, dw_size: int = 3, split_pw: bool = False,
                 use_rep: bool = False, use_se: bool = False, use_shortcut: bool = False, act: str = "relu"):
        super().__init__()
        self.use_shortcut = use_shortcut and stride == 1 and in_chs == out_chs
        self.dw_size, self.stride = dw_size, stride
        if use_rep:
            self.dw_conv_list = nn.ModuleList([
                ConvBNAct(in_chs, in_chs, k, stride, groups=in_chs, act=None)
                for k in range(dw_size, 0, -2) if not (k == 1 and stride != 1)])
            self.dw_conv = None  # the folded conv, made by reparameterize()
        else:
            self.dw_conv_list = None
            self.dw_conv = ConvBNAct(in_chs, in_chs, dw_size, stride, groups=in_chs, act=act)
        self.act = make_act(act)
        self.se = SEModule(in_chs, act=act, gate="sigmoid") if use_se else nn.Identity()
        if split_pw:
            self.pw_conv = nn.Sequential(ConvBNAct(in_chs, out_chs // 2, 1, act=act),
                                         ConvBNAct(out_chs // 2, out_chs, 1, act=act))
        else:
            self.pw_conv = ConvBNAct(in_chs, out_chs, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dw_conv_list is not None:
            y = self.act(sum(branch(x) for branch in self.dw_conv_list))
        elif isinstance(self.dw_conv, nn.Conv2d):
            y = self.act(self.dw_conv(x))
        else:
            y = self.dw_conv(x)
        y = self.pw_conv(self.se(y))
        return x + y if self.use_shortcut else y

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the branches into one biased depthwise conv (eval-mode BN); idempotent."""
        if self.dw_conv_list is None:
            return
        weight, bias = 0, 0
        for branch in self.dw_conv_list:
            w, b = fold_conv_bn(branch.conv, branch.bn)
            pad = (self.dw_size - w.shape[-1]) // 2
            weight, bias = weight + F.pad(w, [pad] * 4), bias + b
        chs = weight.shape[0]
        conv = nn.Conv2d(chs, chs, self.dw_size, self.stride, (self.dw_size - 1) // 2, groups=chs,
                         device=weight.device, dtype=weight.dtype)
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
        self.dw_conv, self.dw_conv_list = conv, None


class PPLCNetV2Paddle(MobileNetBase):
    """PP-LCNetV2 at width ``scale`` with stage ``depths``."""

    def __init__(self, scale: float = 1.0, depths: tuple[int, ...] = (2, 2, 6, 2), num_classes: int = 1000,
                 in_chans: int = 3, drop_rate: float = 0.2, act: str = "relu"):
        super().__init__()
        stem_chs, in_chs = make_divisible(32 * scale), make_divisible(64 * scale)
        self.stem = nn.Sequential(ConvBNAct(in_chans, stem_chs, 3, 2, act=act),
                                  RepDepthwiseSeparable(stem_chs, in_chs, 1, 3, act=act))
        self.feature_info = [dict(num_chs=in_chs, reduction=2, module="stem")]
        stages = []
        for i, (width, kernel, split_pw, use_rep, use_se, shortcut) in enumerate(_STAGES):
            out_chs = make_divisible(width * 2 * scale)
            stages.append(nn.Sequential(*[
                RepDepthwiseSeparable(in_chs if j == 0 else out_chs, out_chs, 2 if j == 0 else 1, kernel,
                                      split_pw, use_rep, use_se, shortcut, act) for j in range(depths[i])]))
            in_chs = out_chs
            self.feature_info.append(dict(num_chs=out_chs, reduction=2 ** (i + 2), module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.init_head(in_chs, num_classes, head_chs=1280, act=act, drop_rate=drop_rate)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and the four stages."""
        return self.stages(self.stem(x))

    def reparameterize(self) -> None:
        """Fold every re-parameterisable block for inference (eval-mode BN statistics)."""
        reparameterize_model(self)


def drop_unused_fold_conv(paddle_keys: list[str]) -> list[str]:
    """PaddleClas's keys without the unused folded ``dw_conv`` of re-parameterisable blocks
    (a plain conv's ``...dw_conv.weight``/``.bias``; a ConvBN's keys are ``dw_conv.conv.*``)."""
    return [k for k in paddle_keys if not re.search(r"\.dw_conv\.(weight|bias)$", k)]


def pplcnet_v2_paddle(size: str, **kwargs: Any) -> PPLCNetV2Paddle:
    """PaddleClas's ``PPLCNetV2_{size}`` (small, base, large)."""
    if size not in PPLCNETV2_DEPTHS:
        raise ValueError(f"PPLCNetV2 size must be one of {sorted(PPLCNETV2_DEPTHS)}, got '{size}'")
    scale, depths = PPLCNETV2_DEPTHS[size]
    return PPLCNetV2Paddle(scale, depths, **kwargs)


ROWS: list[ModelEntry] = [
    ModelEntry(f"PPLCNetV2_{size}", "PP-LCNetV2", partial(pplcnet_v2_paddle, size=size), "ours",
               top1=77.04 if size == "base" else None,  # PP-LCNetV2_en.md
               paddle_dropout=0.2, paddle_reorder=drop_unused_fold_conv,
               note="timm has no PP-LCNetV2; reparameterize() folds the multi-kernel depthwise convs")
    for size in ("small", "base", "large")]
