"""Mobile family rows (placeholder rows carried over from the first table; issue 4 reworks them)."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..zoo import ModelEntry, timm_row


def _lcnet(multiplier: float) -> Callable[..., nn.Module]:
    # timm registers PP-LCNet only for x0.35..x1.5; its generator takes any width multiplier.
    from timm.models.mobilenetv3 import _gen_lcnet

    def build(**kwargs: Any) -> nn.Module:
        return _gen_lcnet("lcnet_100", multiplier, pretrained=False, **kwargs)
    return build


def rows() -> list[ModelEntry]:
    """MobileNetV3 and PP-LCNet rows."""
    out = [timm_row("MobileNetV3_small_x1_0", "MobileNetV3", "mobilenetv3_small_100"),
           timm_row("MobileNetV3_large_x1_0", "MobileNetV3", "mobilenetv3_large_100")]
    for tag, mult in (("0_25", 0.25), ("0_35", 0.35), ("0_5", 0.5), ("0_75", 0.75), ("1_0", 1.0),
                      ("1_5", 1.5), ("2_0", 2.0), ("2_5", 2.5)):
        out.append(ModelEntry(f"PPLCNet_x{tag}", "PP-LCNet", _lcnet(mult), "timm:lcnet",
                              note=f"timm _gen_lcnet with width multiplier {mult}"))
    return out
