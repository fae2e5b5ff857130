"""FasterNet rows: timm's FasterNet under PaddleClas's names.

Same layers; PaddleClas registers each patch merging at the end of the previous stage (timm: at
the start of the next), so the rows carry a ``paddle_reorder`` built from :data:`_FASTERNET_RENAMES`.
"""

from __future__ import annotations

from functools import partial

from .entry import ModelEntry, timm_model, timm_row
from .io.paddle_order import order_like

__all__ = ["ROWS"]


def _fasternet_stage(match) -> str:
    """PaddleClas ``stages`` alternates stage (even index) and patch merging (odd index)."""
    index, rest = int(match.group(1)), match.group(2)
    if index % 2 == 0:
        return f"stages.{index // 2}.{rest}"
    return f"stages.{index // 2 + 1}.downsample.{rest}"


_FASTERNET_RENAMES = ((r"^stages\.(\d+)\.(.*)$", _fasternet_stage), (r"^avgpool_pre_head\.1\.", "conv_head."),
                      (r"^head\.", "classifier."), (r"\._mean$", ".running_mean"), (r"\._variance$", ".running_var"))
_TOP1 = {"T0": 71.9, "T1": 75.9, "T2": 79.1, "S": 81.3, "M": 83.0, "L": 83.5}

ROWS: list[ModelEntry] = [
    timm_row(f"FasterNet_{tag}", "FasterNet", f"fasternet_{tag.lower()}", top1=top1,
             paddle_reorder=order_like(partial(timm_model, f"fasternet_{tag.lower()}"), _FASTERNET_RENAMES),
             note="PaddleClas registers each patch merging after the previous stage (paddle_reorder)")
    for tag, top1 in _TOP1.items()]
