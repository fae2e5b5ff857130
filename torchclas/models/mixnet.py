"""MixNet rows: timm's MixNet under PaddleClas's names (same architecture).

Top-1: PaddleClas's MixNet_en.md.
"""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

_TOP1 = {"S": 76.28, "M": 77.67, "L": 78.60}

ROWS: list[ModelEntry] = [timm_row(f"MixNet_{size}", "MixNet", f"mixnet_{size.lower()}", top1=top1)
                          for size, top1 in _TOP1.items()]
