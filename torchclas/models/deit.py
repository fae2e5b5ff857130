"""DeiT rows: timm's DeiT (distilled ones included) under PaddleClas's names."""

from __future__ import annotations

from .entry import ModelEntry, timm_row
from .vit import VIT_TOKEN_ORDER

__all__ = ["ROWS"]

_TOP1 = {"tiny_patch16_224": 71.8, "small_patch16_224": 79.6, "base_patch16_224": 81.7,
         "tiny_distilled_patch16_224": 74.1, "small_distilled_patch16_224": 80.9,
         "base_distilled_patch16_224": 83.1, "base_patch16_384": 83.0, "base_distilled_patch16_384": 85.1}

_DISTILLED_NOTE = "distilled: logits are the mean of the class and distillation heads"

ROWS: list[ModelEntry] = [
    timm_row(f"DeiT_{name}", "DeiT", f"deit_{name}", input_size=(3, int(name[-3:]), int(name[-3:])), top1=top1,
             paddle_reorder=VIT_TOKEN_ORDER, note=_DISTILLED_NOTE if "distilled" in name else "")
    for name, top1 in _TOP1.items()]
