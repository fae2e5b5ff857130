"""RegNetX rows: timm's RegNetX under PaddleClas's names (same architecture).

Top-1: PaddleClas's (docs/en/models/*), published for 4GF only.
"""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

# PaddleClas tag -> timm tag (regnetx_<tag>)
_TAGS = (("200MF", "002"), ("400MF", "004"), ("600MF", "006"), ("800MF", "008"), ("1600MF", "016"),
         ("3200MF", "032"), ("4GF", "040"), ("6400MF", "064"), ("8GF", "080"), ("12GF", "120"), ("16GF", "160"),
         ("32GF", "320"))
_TOP1 = {"RegNetX_4GF": 78.5}

ROWS: list[ModelEntry] = [timm_row(f"RegNetX_{paddle_tag}", "RegNet", f"regnetx_{timm_tag}",
                                   top1=_TOP1.get(f"RegNetX_{paddle_tag}"))
                          for paddle_tag, timm_tag in _TAGS]
