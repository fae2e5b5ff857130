"""DenseNet rows: timm's DenseNet under PaddleClas's names; DenseNet264 from timm's builder
with PaddleClas's block config and plain stem.
"""

from __future__ import annotations

from typing import Any

from timm.models.densenet import DenseNet, _create_densenet

from .entry import ModelEntry, timm_row

__all__ = ["densenet264", "ROWS"]


def densenet264(**kwargs: Any) -> DenseNet:
    """DenseNet-264 (growth 32, blocks (6, 12, 64, 48)) with the plain stem, as PaddleClas's."""
    # densenet264d's registered cfg (metadata only); its deep stem is a kwarg we leave off
    return _create_densenet("densenet264d", growth_rate=32, block_config=(6, 12, 64, 48), pretrained=False,
                            **kwargs)


ROWS: list[ModelEntry] = [
    *(timm_row(f"DenseNet{depth}", "DenseNet", f"densenet{depth}", top1=top1)
      for depth, top1 in ((121, 75.7), (161, 78.6), (169, 76.8), (201, 77.6))),
    ModelEntry("DenseNet264", "DenseNet", densenet264, "timm:densenet+config", top1=78.0,
               note="timm DenseNet, growth 32, blocks (6, 12, 64, 48), plain stem (not densenet264d)"),
]
