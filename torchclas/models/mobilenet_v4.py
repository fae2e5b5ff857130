"""MobileNetV4 rows: timm's MobileNetV4 under PaddleClas's names (same architecture)."""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

ROWS: list[ModelEntry] = [timm_row(f"MobileNetV4_{variant}", "MobileNetV4", f"mobilenetv4_{variant}")
                          for variant in ("conv_small", "conv_medium", "conv_large", "hybrid_medium", "hybrid_large")]
