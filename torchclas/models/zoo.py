"""The model table: PaddleClas names mapped onto builders (timm where timm has the architecture).

Data only, apart from the two tiny builders below; architecture code lives in timm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import timm
from torch import nn

__all__ = ["ModelEntry", "MODEL_TABLE"]


@dataclass(frozen=True)
class ModelEntry:
    """One row: PaddleClas name, family, how it is built, and its default input size."""

    name: str
    family: str
    timm_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    input_size: tuple[int, int, int] = (3, 224, 224)
    builder: Callable[..., nn.Module] | None = None
    note: str = ""

    def build(self, **kwargs: Any) -> nn.Module:
        """Build the architecture with random weights; ``kwargs`` override the row's."""
        merged = {**self.kwargs, **kwargs}
        if self.builder is not None:
            return self.builder(**merged)
        return timm.create_model(self.timm_name, pretrained=False, **merged)


def _lcnet(multiplier: float) -> Callable[..., nn.Module]:
    # timm registers PP-LCNet only for x0.35..x1.5; its generator takes any width multiplier.
    from timm.models.mobilenetv3 import _gen_lcnet

    def build(**kwargs: Any) -> nn.Module:
        return _gen_lcnet("lcnet_100", multiplier, pretrained=False, **kwargs)
    return build


def _table() -> dict[str, ModelEntry]:
    rows: list[ModelEntry] = []
    for depth in (18, 34, 50, 101, 152):
        rows.append(ModelEntry(f"ResNet{depth}", "ResNet", f"resnet{depth}"))
        rows.append(ModelEntry(f"ResNet{depth}_vd", "ResNet_vd", f"resnet{depth}d",
                               note="vd: 3x3 deep stem and avg-pool before the shortcut 1x1 conv"))
    rows.append(ModelEntry("MobileNetV3_small_x1_0", "MobileNetV3", "mobilenetv3_small_100"))
    rows.append(ModelEntry("MobileNetV3_large_x1_0", "MobileNetV3", "mobilenetv3_large_100"))
    for tag, mult in (("0_25", 0.25), ("0_35", 0.35), ("0_5", 0.5), ("0_75", 0.75), ("1_0", 1.0),
                      ("1_5", 1.5), ("2_0", 2.0), ("2_5", 2.5)):
        rows.append(ModelEntry(f"PPLCNet_x{tag}", "PP-LCNet", "lcnet", builder=_lcnet(mult),
                               note=f"timm _gen_lcnet with width multiplier {mult}"))
    return {row.name: row for row in rows}


MODEL_TABLE: dict[str, ModelEntry] = _table()
