"""TNT rows: timm's TNT with the pixel position embedding stored PaddleClas's way.

PaddleClas's ``model_zoo/tnt.py`` is timm's non-legacy TNT (LayerNorm eps 1e-5, no qkv bias);
its ``pixel_pos`` is (1, pixels, C) where timm's is (1, C, h, w) (:class:`PaddleTNT`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from timm.layers import trunc_normal_
from timm.models import build_model_with_cfg
from timm.models.tnt import TNT, PixelEmbed
from torch import nn

from .entry import ModelEntry

__all__ = ["PaddleTNT", "paddle_tnt", "ROWS"]


class _TokenPixelEmbed(PixelEmbed):
    """timm's ``PixelEmbed`` taking the pixel position embedding as (1, pixels, C), PaddleClas's
    layout, instead of timm's (1, C, h, w)."""

    def forward(self, x: torch.Tensor, pixel_pos: torch.Tensor) -> torch.Tensor:
        """Pixel embeddings (B * patches, pixels, C)."""
        h, w = self.new_patch_size
        return super().forward(x, pixel_pos.transpose(1, 2).reshape(1, self.in_dim, h, w))


class PaddleTNT(TNT):
    """timm's TNT with ``pixel_pos`` of shape (1, pixels, inner dim), so PaddleClas's parameter
    converts as is (same maths: the embedding is added per pixel and channel either way)."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        old = self.pixel_embed
        self.pixel_embed = _TokenPixelEmbed(img_size=old.img_size, patch_size=old.patch_size,
                                            in_chans=old.proj.in_channels, in_dim=old.in_dim,
                                            stride=old.proj.stride[0])
        h, w = old.new_patch_size
        # reassigning keeps the parameter's registration position
        self.pixel_pos = nn.Parameter(trunc_normal_(torch.zeros(1, h * w, old.in_dim), std=0.02))


_TNT = dict(patch_size=16, depth=12, num_heads_inner=4, qkv_bias=False)


def paddle_tnt(timm_name: str, **kwargs: Any) -> PaddleTNT:
    """:class:`PaddleTNT` through timm's builder (so ``features_only=True`` works), with the
    default config of ``timm_name``."""
    out_indices = kwargs.pop("out_indices", 3)
    return build_model_with_cfg(PaddleTNT, timm_name, pretrained=False,
                                feature_cfg=dict(out_indices=out_indices, feature_cls="getter"), **kwargs)


def _rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/tnt.py`` = timm's non-legacy TNT (LayerNorm eps 1e-5, no qkv bias)."""
    return [ModelEntry(name, "TNT", partial(paddle_tnt, timm_name), f"timm:{timm_name}+patch",
                       kwargs=dict(_TNT, embed_dim=dim, inner_dim=inner, num_heads_outer=heads), top1=top1,
                       note="timm's tnt_*_patch16_224 with pixel_pos stored (1, 16, C) as PaddleClas does")
            for name, timm_name, dim, inner, heads, top1 in (
                ("TNT_small", "tnt_s_patch16_224", 384, 24, 6, 81.12),
                ("TNT_base", "tnt_b_patch16_224", 640, 40, 10, None))]


ROWS: list[ModelEntry] = _rows()
