"""Twins rows (PCPVT and ALT-GVT): timm's Twins under PaddleClas's names, in timm's
parameter order (``paddle_reorder``)."""

from __future__ import annotations

from .entry import ModelEntry, timm_row
from .io.paddle_order import timm_order

__all__ = ["ROWS"]

_ROWS = (("pcpvt_small", "twins_pcpvt_small", 80.82), ("pcpvt_base", "twins_pcpvt_base", 82.42),
         ("pcpvt_large", "twins_pcpvt_large", 82.73), ("alt_gvt_small", "twins_svt_small", 81.40),
         ("alt_gvt_base", "twins_svt_base", 82.94), ("alt_gvt_large", "twins_svt_large", 83.31))

ROWS: list[ModelEntry] = [timm_row(name, "Twins", timm_name, top1=top1, paddle_reorder=timm_order(timm_name))
                          for name, timm_name, top1 in _ROWS]
