"""PP-HGNet and PP-HGNetV2 rows: timm's HGNet / HGNetV2 under PaddleClas's names."""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

_V2_TOP1 = (77.77, 79.18, 81.74, 82.98, 83.57, 84.75, 86.30)

ROWS: list[ModelEntry] = [
    timm_row("PPHGNet_tiny", "PP-HGNet", "hgnet_tiny", top1=79.83),
    timm_row("PPHGNet_small", "PP-HGNet", "hgnet_small", top1=81.51),
    timm_row("PPHGNet_base", "PP-HGNet", "hgnet_base", kwargs=dict(drop_rate=0.2), paddle_dropout=0.2,
             top1=85.00, note="top1 of the SSLD weights (the only ones published)"),
    *(timm_row(f"PPHGNetV2_B{i}", "PP-HGNetV2", f"hgnetv2_b{i}", top1=top1,
               note="top1 of the SSLD stage-2 weights; learnable affine blocks in B0-B3 as PaddleClas")
      for i, top1 in enumerate(_V2_TOP1)),
]
