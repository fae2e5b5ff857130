"""EfficientNet and TinyNet rows on timm's EfficientNet.

EfficientNetB0-B7 are timm's ``tf_efficientnet_*`` (TF "SAME" padding, as PaddleClas computes it
for the native size). EfficientNetB0_small and TinyNet are timm's EfficientNet builder given
PaddleClas's block tables (:func:`efficientnet_b0_small`, :func:`tinynet`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from timm.layers import get_act_layer
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.efficientnet import EfficientNet, _create_effnet
from torch import nn

from .entry import ModelEntry, timm_row

__all__ = ["efficientnet_b0_small", "tinynet", "ROWS"]


def efficientnet_b0_small(**kwargs: Any) -> EfficientNet:
    """EfficientNet-B0 without SE blocks and with symmetric padding (PaddleClas's B0_small)."""
    arch_def = [["ds_r1_k3_s1_e1_c16"], ["ir_r2_k3_s2_e6_c24"], ["ir_r2_k5_s2_e6_c40"], ["ir_r3_k3_s2_e6_c80"],
                ["ir_r3_k5_s1_e6_c112"], ["ir_r4_k5_s2_e6_c192"], ["ir_r1_k3_s1_e6_c320"]]
    return _create_effnet("efficientnet_b0", block_args=decode_arch_def(arch_def), num_features=1280,
                          stem_size=32, round_chs_fn=round_channels, act_layer=get_act_layer("swish"),
                          norm_layer=partial(nn.BatchNorm2d, eps=1e-3), **kwargs)


def tinynet(width: float, depth: float, **kwargs: Any) -> EfficientNet:
    """timm's TinyNet builder as PaddleClas configures its EfficientNet port: stage depths
    rounded up (timm's tinynet rounds to nearest), a 1280-wide head at every width, BN eps 1e-3."""
    arch_def = [["ds_r1_k3_s1_e1_c16_se0.25"], ["ir_r2_k3_s2_e6_c24_se0.25"], ["ir_r2_k5_s2_e6_c40_se0.25"],
                ["ir_r3_k3_s2_e6_c80_se0.25"], ["ir_r3_k5_s1_e6_c112_se0.25"],
                ["ir_r4_k5_s2_e6_c192_se0.25"], ["ir_r1_k3_s1_e6_c320_se0.25"]]
    return _create_effnet("tinynet_a", block_args=decode_arch_def(arch_def, depth, depth_trunc="ceil"),
                          num_features=1280, stem_size=32, fix_stem=True,
                          round_chs_fn=partial(round_channels, multiplier=width),
                          act_layer=get_act_layer("swish"), norm_layer=partial(nn.BatchNorm2d, eps=1e-3),
                          **kwargs)


_EFFNET = {  # name: (input size, dropout, top1)
    "B0": (224, 0.2, 77.4), "B1": (240, 0.2, 79.2), "B2": (260, 0.3, 79.9), "B3": (300, 0.3, 81.2),
    "B4": (380, 0.4, 82.9), "B5": (456, 0.4, 83.6), "B6": (528, 0.5, 84.0), "B7": (600, 0.5, 84.3)}
_TINYNET = {  # tag: (width, depth, input size); PaddleClas publishes no top1 for these
    "A": (1.0, 1.2, 192), "B": (0.75, 1.1, 188), "C": (0.54, 0.85, 184), "D": (0.54, 0.695, 152),
    "E": (0.51, 0.6, 106)}

ROWS: list[ModelEntry] = [
    *(timm_row(f"EfficientNet{tag}", "EfficientNet", f"tf_efficientnet_{tag.lower()}",
               kwargs=dict(drop_rate=drop, drop_path_rate=0.2), input_size=(3, size, size), top1=top1,
               note="TF 'SAME' padding (PaddleClas computes it for the native size)")
      for tag, (size, drop, top1) in _EFFNET.items()),
    ModelEntry("EfficientNetB0_small", "EfficientNet", efficientnet_b0_small, "timm:efficientnet+config",
               kwargs=dict(drop_rate=0.2, drop_path_rate=0.2), top1=75.8,
               note="timm EfficientNet from a B0 arch_def without SE; symmetric padding, BN eps 1e-3"),
    *(ModelEntry(f"TinyNet_{tag}", "TinyNet", partial(tinynet, width, depth), "timm:efficientnet+config",
                 kwargs=dict(drop_rate=0.2, drop_path_rate=0.2), input_size=(3, size, size),
                 note="timm's TinyNet with PaddleClas's depths (ceil: timm rounds), head width 1280 and "
                      "BN eps 1e-3")
      for tag, (width, depth, size) in _TINYNET.items()),
]
