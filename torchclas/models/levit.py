"""LeViT rows: timm's LeViT without the distillation head (PaddleClas's default)."""

from __future__ import annotations

from .entry import ModelEntry, timm_row
from .io.paddle_order import drop_keys

__all__ = ["ROWS"]

_TOP1 = {"128S": 75.98, "128": 78.10, "192": 79.34, "256": 80.85, "384": 81.91}

ROWS: list[ModelEntry] = [
    timm_row(f"LeViT_{name}", "LeViT", f"levit_{name.lower()}", top1=top1, kwargs=dict(distilled=False),
             paddle_reorder=drop_keys(r"attention_bias_idxs$"), note="PaddleClas's default: no distillation head")
    for name, top1 in _TOP1.items()]
