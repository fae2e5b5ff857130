"""PaddleClas's MobileNetV3, built by timm's ``MobileNetV3`` class with PaddleClas's block table.

timm's own ``mobilenetv3_*`` differ from PaddleClas's in five places, all configured here:

- PaddleClas gives every block an absolute expansion width ``make_divisible(scale * exp)``;
  timm scales a ratio of the (rounded) input width, which rounds differently below x1.0.
- the first block of both sizes is an inverted residual with a 1x1 expand conv even at
  expansion 1 (timm's is a depthwise-separable block without one);
- the SE reduces to ``channels // 4`` (timm: ``make_divisible(channels / 4)``) and gates with
  a hard sigmoid of slope 0.2, offset 0.5 (timm: slope 1/6);
- the head conv is 1280 wide for both sizes and has no bias (timm: 1024 for small, biased);
- the classifier sits behind a 0.2 ``downscale_in_infer`` dropout (the row's ``paddle_dropout``).

``ROWS``: MobileNetV3 small and large, x0.35 ... x1.25.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from timm.layers import make_divisible
from timm.models._efficientnet_blocks import SqueezeExcite
from timm.models._efficientnet_builder import decode_arch_def
from timm.models.mobilenetv3 import MobileNetV3, _create_mnv3
from torch import nn

from .entry import ModelEntry, scale_tag

__all__ = ["PaddleHardSigmoid", "mobilenet_v3_paddle", "MNV3_CONFIG", "ROWS"]

# PaddleClas NET_CONFIG: kernel, expanded width, out width, SE, activation, stride.
MNV3_CONFIG = {
    "large": [
        (3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
        (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
        (3, 240, 80, False, "hardswish", 2), (3, 200, 80, False, "hardswish", 1),
        (3, 184, 80, False, "hardswish", 1), (3, 184, 80, False, "hardswish", 1),
        (3, 480, 112, True, "hardswish", 1), (3, 672, 112, True, "hardswish", 1),
        (5, 672, 160, True, "hardswish", 2), (5, 960, 160, True, "hardswish", 1),
        (5, 960, 160, True, "hardswish", 1),
    ],
    "small": [
        (3, 16, 16, True, "relu", 2), (3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1),
        (5, 96, 40, True, "hardswish", 2), (5, 240, 40, True, "hardswish", 1),
        (5, 240, 40, True, "hardswish", 1), (5, 120, 48, True, "hardswish", 1),
        (5, 144, 48, True, "hardswish", 1), (5, 288, 96, True, "hardswish", 2),
        (5, 576, 96, True, "hardswish", 1), (5, 576, 96, True, "hardswish", 1),
    ],
}
_SQUEEZE = {"large": 960, "small": 576}  # width of the last conv before pooling
_STEM, _HEAD = 16, 1280


class PaddleHardSigmoid(nn.Module):
    """``clip(slope * x + offset, 0, 1)``: Paddle's ``hardsigmoid`` (PaddleClas's MobileNetV3 SE
    uses slope 0.2; torch's ``hardsigmoid`` is slope 1/6)."""

    def __init__(self, slope: float = 0.2, offset: float = 0.5, inplace: bool = False):
        super().__init__()  # ``inplace`` is accepted (timm's act-layer factories pass it) and unused
        self.slope, self.offset = slope, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.slope + self.offset).clamp_(0.0, 1.0)


def _block_args(size: str, scale: float, use_se: bool) -> list[list[dict[str, Any]]]:
    """timm block args for PaddleClas's table: the first block, then a new stage at each
    stride-2 block; exact expand widths; the 960/576 conv as the last stage."""
    stages: list[list[str]] = []
    widths: list[tuple[int, int]] = []  # (in, mid) per block
    in_chs = make_divisible(_STEM * scale)
    for i, (kernel, exp, out, se, act, stride) in enumerate(MNV3_CONFIG[size]):
        out_chs, mid_chs = make_divisible(out * scale), make_divisible(exp * scale)
        spec = f"ir_r1_k{kernel}_s{stride}_e1_c{out_chs}"
        spec += "_se0.25" if se and use_se else ""
        spec += "_nre" if act == "relu" else ""
        if i == 0 or stride == 2:
            stages.append([])
        stages[-1].append(spec)
        widths.append((in_chs, mid_chs))
        in_chs = out_chs
    stages.append([f"cn_r1_k1_s1_c{make_divisible(_SQUEEZE[size] * scale)}"])
    decoded = decode_arch_def(stages)
    blocks = [b for stage in decoded[:-1] for b in stage]
    for block, (in_chs, mid_chs) in zip(blocks, widths):
        block["exp_ratio"] = mid_chs / in_chs  # InvertedResidual rounds in*ratio back to mid_chs
    return decoded


def mobilenet_v3_paddle(size: str, scale: float, use_se: bool = True, drop_rate: float = 0.2,
                        **kwargs: Any) -> MobileNetV3:
    """PaddleClas's ``MobileNetV3_{size}_x{scale}`` as a timm ``MobileNetV3``.

    Args:
        size: ``"small"`` or ``"large"``.
        scale: the width multiplier (0.35 ... 1.25).
        use_se: keep PaddleClas's SE blocks (False removes all of them).
        drop_rate: dropout before the classifier (PaddleClas: 0.2).
        **kwargs: timm ``MobileNetV3`` arguments (``num_classes``, ``in_chans``,
            ``features_only`` ...).
    """
    if size not in MNV3_CONFIG:
        raise ValueError(f"MobileNetV3 size must be one of {sorted(MNV3_CONFIG)}, got '{size}'")
    se_layer = partial(SqueezeExcite, gate_layer=PaddleHardSigmoid, force_act_layer=nn.ReLU, rd_round_fn=int)
    return _create_mnv3(
        f"mobilenetv3_{size}_100", pretrained=False, block_args=_block_args(size, scale, use_se),
        stem_size=make_divisible(_STEM * scale), fix_stem=True, round_chs_fn=int, num_features=_HEAD,
        head_bias=False, act_layer=nn.Hardswish, se_layer=se_layer, drop_rate=drop_rate, **kwargs)


# PaddleClas's published ImageNet top-1 (%), Mobile_en.md
_TOP1 = {"small": {0.35: 53.0, 0.5: 59.2, 0.75: 66.0, 1.0: 68.2, 1.25: 70.7},
         "large": {0.35: 64.3, 0.5: 69.2, 0.75: 73.1, 1.0: 75.3, 1.25: 76.4}}

ROWS: list[ModelEntry] = [
    ModelEntry(f"MobileNetV3_{size}_x{scale_tag(scale)}", "MobileNetV3",
               partial(mobilenet_v3_paddle, size=size, scale=scale), "timm:MobileNetV3+paddle-config",
               top1=top1, paddle_dropout=0.2,
               note="timm MobileNetV3 class with PaddleClas's widths, expand conv in the first "
                    "block, SE channels//4 with hard-sigmoid slope 0.2, 1280-wide bias-free "
                    "head conv; use_se=False drops the SE blocks")
    for size, scales in _TOP1.items() for scale, top1 in scales.items()]
