"""NextViT rows: timm's NextViT under PaddleClas's names (224 and 384 inputs)."""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

_ROWS = (("small_224", "nextvit_small", 224, 82.48), ("base_224", "nextvit_base", 224, 83.24),
         ("large_224", "nextvit_large", 224, 83.63), ("small_384", "nextvit_small", 384, 84.01),
         ("base_384", "nextvit_base", 384, 84.65), ("large_384", "nextvit_large", 384, 84.92))

ROWS: list[ModelEntry] = [timm_row(f"NextViT_{name}", "NextViT", timm_name, input_size=(3, size, size), top1=top1)
                          for name, timm_name, size, top1 in _ROWS]
