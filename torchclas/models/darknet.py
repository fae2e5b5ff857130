"""DarkNet53 and CSPDarkNet53 rows: timm's DarkNet / CSPNet under PaddleClas's names.

timm builds both with PaddleClas's layer shapes in PaddleClas's registration order; DarkNet53
uses PaddleClas's ReLU (timm's darknet53: LeakyReLU).
"""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

ROWS: list[ModelEntry] = [
    timm_row("DarkNet53", "DarkNet", "darknet53", kwargs=dict(act_layer="relu"), input_size=(3, 256, 256), top1=78.0,
             note="ReLU (timm's darknet53 uses LeakyReLU)"),
    timm_row("CSPDarkNet53", "CSPNet", "cspdarknet53", input_size=(3, 256, 256)),
]
