"""PaddleClas's "foundation" ViTs (``foundation_vit.py``): CLIP, MoCo v3, MAE, BEiTv2 and CAE_vit.

CLIP / MoCo v3 / MAE are timm's ``VisionTransformer`` with a bias-free patch conv and LayerNorm
eps 1e-5 (CLIP: a pre-encoder LayerNorm); BEiTv2 / CAE_vit are timm's BEiT patched by
:func:`~torchclas.models.layers.beit.paddle_beit` (one full qkv bias, bias-free patch conv).
PaddleClas's unused ``proj`` parameter (CLIP's text projection) is dropped on conversion.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from timm.layers import PatchEmbed
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from .entry import ModelEntry
from .io.paddle_order import compose, drop_keys, order_like
from .layers.beit import paddle_beit
from .vit import VIT_TOKEN_ORDER

__all__ = ["foundation_vit", "foundation_beit", "ROWS"]


class _PatchEmbedNoBias(PatchEmbed):
    """timm ``PatchEmbed`` whose projection has no bias (PaddleClas's foundation ViTs)."""

    def __init__(self, *args: Any, bias: bool = True, **kwargs: Any):
        super().__init__(*args, bias=False, **kwargs)


class _FirstPatchTokenViT(VisionTransformer):
    """PaddleClas's ``CLIP_vit_base_patch16_224`` drops the class token before pooling the
    first token, so its classifier reads the first *patch* token."""

    def pool(self, x: torch.Tensor, pool_type: str | None = None) -> torch.Tensor:
        """The token after the class token."""
        return x[:, self.num_prefix_tokens]


def foundation_vit(cls: type[VisionTransformer] = VisionTransformer, **kwargs: Any) -> VisionTransformer:
    """A PaddleClas ``foundation_vit.py`` ViT: bias-free patch conv, LayerNorm eps 1e-5 unless
    given, final norm on the class token, a plain linear head."""
    kwargs.setdefault("norm_layer", partial(nn.LayerNorm, eps=1e-5))
    if not kwargs.get("pre_norm"):
        kwargs["embed_layer"] = _PatchEmbedNoBias
    return cls(**kwargs)


_FOUNDATION = dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4, qkv_bias=True)


def _foundation_rows() -> list[ModelEntry]:
    """CLIP (pre-encoder LayerNorm), MoCo v3 and MAE ViTs; PaddleClas's unused ``proj``
    parameter (CLIP's text projection) is dropped on conversion."""
    reorder = compose(drop_keys(r"^proj$"), VIT_TOKEN_ORDER)
    specs = (
        ("CLIP_vit_base_patch32_224", 224, dict(patch_size=32, pre_norm=True), None),
        ("CLIP_vit_base_patch16_224", 224, dict(pre_norm=True, cls=_FirstPatchTokenViT),
         "classifier reads the first patch token, as PaddleClas's does (it drops the class token first)"),
        ("CLIP_vit_large_patch14_224", 224, dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16,
                                                 pre_norm=True), None),
        ("CLIP_vit_large_patch14_336", 336, dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16,
                                                 pre_norm=True), None),
        ("MOCOV3_vit_small", 224, dict(embed_dim=384), None),
        ("MOCOV3_vit_base", 224, {}, None),
        ("MAE_vit_base_patch16", 224, {}, None),
        ("MAE_vit_large_patch16", 224, dict(embed_dim=1024, depth=24, num_heads=16), None),
    )
    rows = []
    for name, size, overrides, note in specs:
        kwargs = {**_FOUNDATION, "img_size": size, **overrides}
        cls = kwargs.pop("cls", VisionTransformer)
        rows.append(ModelEntry(
            name, "FoundationViT", partial(foundation_vit, cls), "timm:VisionTransformer+config",
            kwargs=kwargs, input_size=(3, size, size), paddle_reorder=reorder,
            note=note or "PaddleClas foundation_vit.py config: bias-free patch conv, LayerNorm eps 1e-5"))
    return rows


# foundation_vit.py: Paddle keys that differ from timm's BEiT, and buffers/unused parameters it saves
_FOUNDATION_RENAMES = ((r"^head\.fc_head\.", "head."),)
_FOUNDATION_DROP = r"^proj$|relative_position_index$"


def foundation_beit(timm_name: str, **kwargs) -> nn.Module:
    """``foundation_vit.py``'s BEiT layout: bias-free patch conv, full qkv bias, final
    LayerNorm then the class token."""
    return paddle_beit(timm_name, full_qkv_bias=True, patch_bias=False, global_pool="token", **kwargs)


def _beit_rows() -> list[ModelEntry]:
    rows = []
    for name, timm_name, abs_pos in (("BEiTv2_vit_base_patch16_224", "beitv2_base_patch16_224", False),
                                     ("BEiTv2_vit_large_patch16_224", "beitv2_large_patch16_224", False),
                                     ("CAE_vit_base_patch16_224", "beitv2_base_patch16_224", True)):
        kwargs = dict(use_abs_pos_emb=abs_pos, use_rel_pos_bias=True, init_values=1e-5)
        build = partial(foundation_beit, timm_name)
        rows.append(ModelEntry(
            name, "FoundationViT", build, f"timm:{timm_name}+patch", kwargs=kwargs,
            paddle_reorder=order_like(partial(build, **kwargs), _FOUNDATION_RENAMES, drop=_FOUNDATION_DROP),
            note="PaddleClas foundation_vit.py: per-block relative position bias and layer scale, one qkv "
                 "bias (q, k, v), bias-free patch conv; layer scale starts at 1e-5 (PaddleClas: 0); "
                 "its unused `proj` parameter is dropped on conversion"))
    return rows


ROWS: list[ModelEntry] = _foundation_rows() + _beit_rows()
