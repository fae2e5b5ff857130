"""StarNet rows: timm's StarNet under PaddleClas's names (same architecture)."""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

ROWS: list[ModelEntry] = [timm_row(f"StarNet_S{i}", "StarNet", f"starnet_s{i}") for i in range(1, 5)]
