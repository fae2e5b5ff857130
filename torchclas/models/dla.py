"""DLA rows: timm's DLA under PaddleClas's names (same architecture)."""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

_TOP1 = {"34": 76.03, "46_c": 63.21, "46x_c": 64.36, "60": 76.10, "60x": 77.53, "60x_c": 66.45,
         "102": 78.93, "102x": 78.10, "102x2": 78.85, "169": 78.09}

ROWS: list[ModelEntry] = [timm_row(f"DLA{tag}", "DLA", f"dla{tag}", top1=top1) for tag, top1 in _TOP1.items()]
