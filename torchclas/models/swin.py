"""Swin Transformer V1 and V2 rows: timm's Swin under PaddleClas's names.

V1 is PaddleClas's ``legendary_models/swin_transformer.py``: shifted windows even where a stage
is one window (``always_partition``). PaddleClas ends a stage with its patch merging (timm starts
the next one with it) and saves buffers timm recomputes; ``paddle_reorder`` maps both.
"""

from __future__ import annotations

from .entry import ModelEntry, timm_row
from .io.paddle_order import next_stage, timm_order

__all__ = ["ROWS"]

_RENAMES = ((r"^(layers)\.(\d+)\.downsample\.", next_stage), (r"^head\.", "head.fc."))
_BUFFERS = r"relative_position_index$|relative_coords_table$|attn_mask$"
_V1 = (  # name, timm name, input size, drop path, top1
    ("tiny_patch4_window7_224", "swin_tiny_patch4_window7_224", 224, 0.2, 80.69),
    ("small_patch4_window7_224", "swin_small_patch4_window7_224", 224, 0.3, 82.75),
    ("base_patch4_window7_224", "swin_base_patch4_window7_224", 224, 0.5, 83.00),
    ("base_patch4_window12_384", "swin_base_patch4_window12_384", 384, 0.5, 84.39),
    ("large_patch4_window7_224", "swin_large_patch4_window7_224", 224, 0.1, 85.96),
    ("large_patch4_window12_384", "swin_large_patch4_window12_384", 384, 0.1, 87.19))
_V2 = (
    ("tiny_patch4_window8_256", "swinv2_tiny_window8_256", 256, 0.2, 81.77),
    ("tiny_patch4_window16_256", "swinv2_tiny_window16_256", 256, 0.2, 82.83),
    ("small_patch4_window8_256", "swinv2_small_window8_256", 256, 0.3, 83.73),
    ("small_patch4_window16_256", "swinv2_small_window16_256", 256, 0.3, 84.14),
    ("base_patch4_window8_256", "swinv2_base_window8_256", 256, 0.5, 84.19),
    ("base_patch4_window16_256", "swinv2_base_window16_256", 256, 0.5, 84.58),
    ("base_patch4_window24_384", "swinv2_base_window12to24_192to384", 384, 0.2, 87.14),
    ("large_patch4_window16_256", "swinv2_large_window12to16_192to256", 256, 0.2, 86.89),
    ("large_patch4_window24_384", "swinv2_large_window12to24_192to384", 384, 0.2, 87.47))
_V1_NOTE = "shifted windows even where a stage is one window (PaddleClas does not clamp the shift)"

ROWS: list[ModelEntry] = [
    *(timm_row(f"SwinTransformer_{name}", "SwinTransformer", timm_name, input_size=(3, size, size), top1=top1,
               kwargs=dict(drop_path_rate=drop_path, always_partition=True),
               note=_V1_NOTE + ("; top1 of the ImageNet-22k-pretrained weights" if "large" in name else ""),
               paddle_reorder=timm_order(timm_name, _RENAMES, _BUFFERS))
      for name, timm_name, size, drop_path, top1 in _V1),
    *(timm_row(f"SwinTransformerV2_{name}", "SwinTransformerV2", timm_name, input_size=(3, size, size), top1=top1,
               kwargs=dict(drop_path_rate=drop_path), paddle_reorder=timm_order(timm_name, _RENAMES, _BUFFERS))
      for name, timm_name, size, drop_path, top1 in _V2),
]
