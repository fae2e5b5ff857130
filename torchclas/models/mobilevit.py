"""MobileViT V1 and V2 rows: timm's MobileViT under PaddleClas's names (256x256 inputs).

MobileViTV3 is ours: ``mobilevit_v3.py``.
"""

from __future__ import annotations

from .entry import ModelEntry, timm_row

__all__ = ["ROWS"]

_V1 = (("XXS", "mobilevit_xxs", 68.67), ("XS", "mobilevit_xs", 74.54), ("S", "mobilevit_s", 78.14))
_V2 = (("x0_5", "mobilevitv2_050", 70.17), ("x1_0", "mobilevitv2_100", 78.13), ("x1_5", "mobilevitv2_150", 80.34),
       ("x2_0", "mobilevitv2_200", 81.16))

ROWS: list[ModelEntry] = [
    *(timm_row(f"MobileViT_{name}", "MobileViT", timm_name, input_size=(3, 256, 256), top1=top1)
      for name, timm_name, top1 in _V1),
    *(timm_row(f"MobileViTV2_{name}", "MobileViTV2", timm_name, input_size=(3, 256, 256), top1=top1)
      for name, timm_name, top1 in _V2),
]
