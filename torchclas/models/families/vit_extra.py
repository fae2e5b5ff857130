"""More transformer families: TNT (timm, pixel position embedding stored PaddleClas's way),
CvT and CSWin (ours, ``torchclas/models/{cvt,cswin}.py``: timm has neither)."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from timm.layers import trunc_normal_
from timm.models.tnt import TNT, PixelEmbed
from torch import nn

from ..zoo import ModelEntry


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


def _paddle_tnt(timm_name: str, **kwargs: Any) -> PaddleTNT:
    """:class:`PaddleTNT` through timm's builder (so ``features_only=True`` works), with the
    default config of ``timm_name``."""
    from timm.models import build_model_with_cfg

    out_indices = kwargs.pop("out_indices", 3)
    return build_model_with_cfg(PaddleTNT, timm_name, pretrained=False,
                                feature_cfg=dict(out_indices=out_indices, feature_cls="getter"), **kwargs)


def _tnt_rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/tnt.py`` = timm's non-legacy TNT (LayerNorm eps 1e-5, no qkv bias)."""
    return [ModelEntry(name, "TNT", partial(_paddle_tnt, timm_name), f"timm:{timm_name}+patch",
                       kwargs=dict(_TNT, embed_dim=dim, inner_dim=inner, num_heads_outer=heads), top1=top1,
                       note="timm's tnt_*_patch16_224 with pixel_pos stored (1, 16, C) as PaddleClas does")
            for name, timm_name, dim, inner, heads, top1 in (
                ("TNT_small", "tnt_s_patch16_224", 384, 24, 6, 81.12),
                ("TNT_base", "tnt_b_patch16_224", 640, 40, 10, None))]


def _cvt(variant: str, **kwargs: Any) -> nn.Module:
    from ..cvt import CvT
    return CvT(variant, **kwargs)


def _cvt_rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/cvt.py``; 224 and 384 rows share weights' shapes (no position
    embedding), only the input size differs."""
    return [ModelEntry(f"CvT_{variant}_{size}", "CvT", partial(_cvt, variant), "ours",
                       input_size=(3, size, size),
                       note="own code (timm has no CvT); attention scaled by width**-0.5 and QuickGELU "
                            "MLPs as in PaddleClas")
            for variant, size in (("13", 224), ("13", 384), ("21", 224), ("21", 384), ("W24", 384))]


# CSWinTransformer_en.md; its last row is labelled base_384 but has large's params/FLOPs.
_CSWIN_TOP1 = {"tiny_224": 82.81, "small_224": 83.58, "base_224": 84.20, "large_224": 86.43,
              "base_384": 85.50, "large_384": 87.48}


def _cswin(**kwargs: Any) -> nn.Module:
    from ..cswin import CSWinTransformer
    return CSWinTransformer(**kwargs)


def _cswin_rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/cswin_transformer.py``."""
    specs = (("tiny_224", 224, 64, (1, 2, 21, 1), (2, 4, 8, 16), 0.2),
             ("small_224", 224, 64, (2, 4, 32, 2), (2, 4, 8, 16), 0.4),
             ("base_224", 224, 96, (2, 4, 32, 2), (4, 8, 16, 32), 0.5),
             ("base_384", 384, 96, (2, 4, 32, 2), (4, 8, 16, 32), 0.5),
             ("large_224", 224, 144, (2, 4, 32, 2), (6, 12, 24, 24), 0.5),
             ("large_384", 384, 144, (2, 4, 32, 2), (6, 12, 24, 24), 0.5))
    return [ModelEntry(f"CSWinTransformer_{tag}", "CSWinTransformer", _cswin, "ours",
                       kwargs=dict(img_size=size, embed_dim=dim, depths=depths, num_heads=heads,
                                   splits=(1, 2, 7, 7) if size == 224 else (1, 2, 12, 12), drop_path_rate=dpr),
                       input_size=(3, size, size), top1=_CSWIN_TOP1[tag],
                       note="own code (timm has no CSWin); stripe layout fixed by img_size")
            for tag, size, dim, depths, heads, dpr in specs]


def rows() -> list[ModelEntry]:
    """TNT, CvT and CSWin rows."""
    return _tnt_rows() + _cvt_rows() + _cswin_rows()
