"""PVTv2 rows: timm's PVT-v2 under PaddleClas's names (same architecture)."""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

_ROWS = (("B0", "pvt_v2_b0", 70.5), ("B1", "pvt_v2_b1", 78.7), ("B2", "pvt_v2_b2", 82.1),
         ("B2_Linear", "pvt_v2_b2_li", 82.1), ("B3", "pvt_v2_b3", 83.1), ("B4", "pvt_v2_b4", 83.6),
         ("B5", "pvt_v2_b5", 83.7))

ROWS: list[ModelEntry] = [timm_row(f"PVT_V2_{name}", "PVTV2", timm_name, top1=top1) for name, timm_name, top1 in _ROWS]
