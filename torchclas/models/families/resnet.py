"""ResNet family rows (placeholder rows carried over from the first table; issue 4 reworks them)."""

from __future__ import annotations

from ..zoo import ModelEntry, timm_row


def rows() -> list[ModelEntry]:
    """ResNet and ResNet_vd rows."""
    out = []
    for depth in (18, 34, 50, 101, 152):
        out.append(timm_row(f"ResNet{depth}", "ResNet", f"resnet{depth}"))
        out.append(timm_row(f"ResNet{depth}_vd", "ResNet_vd", f"resnet{depth}d",
                            note="vd: 3x3 deep stem and avg-pool before the shortcut 1x1 conv"))
    return out
