"""MobileNetV1 rows: timm's MobileNetV1 generator with PaddleClas's ReLU.

PaddleClas truncates widths (``int(c * scale)``); at its four scales they are multiples of 8, so
timm's rounding gives the same network. PaddleClas uses ReLU, timm ReLU6.
Top-1: PaddleClas's Mobile_en.md.
"""

from __future__ import annotations

from functools import partial

from timm.models.efficientnet import _gen_mobilenet_v1
from torch import nn

from .entry import ModelEntry, scale_tag

__all__ = ["ROWS"]

_TOP1 = {0.25: 51.4, 0.5: 63.5, 0.75: 68.8, 1.0: 71.0}

ROWS: list[ModelEntry] = [
    ModelEntry("MobileNetV1" if scale == 1.0 else f"MobileNetV1_x{scale_tag(scale)}", "MobileNetV1",
               partial(_gen_mobilenet_v1, variant="mobilenetv1_100", channel_multiplier=scale, act_layer=nn.ReLU),
               "timm:mobilenetv1", top1=top1, note="timm _gen_mobilenet_v1 with PaddleClas's ReLU (timm: ReLU6)")
    for scale, top1 in _TOP1.items()]
