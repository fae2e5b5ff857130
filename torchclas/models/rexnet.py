"""ReXNet rows: timm's ReXNet under PaddleClas's names (same architecture).

Top-1: PaddleClas's ReXNet_en.md.
"""

from __future__ import annotations

from .entry import ModelEntry, scale_tag, timm_row

__all__ = ["ROWS"]

_TOP1 = {1.0: 77.46, 1.3: 79.13, 1.5: 80.06, 2.0: 81.22, 3.0: 82.09}

ROWS: list[ModelEntry] = [timm_row(f"ReXNet_{scale_tag(scale)}", "ReXNet", f"rexnet_{round(scale * 100)}", top1=top1)
                          for scale, top1 in _TOP1.items()]
