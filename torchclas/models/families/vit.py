"""Transformer and hybrid families: ViT, DeiT, Swin (V1/V2), LeViT, ConvNeXt, MobileViT (V1/V2),
PVTv2, Twins, NextViT and PaddleClas's "foundation" ViTs (CLIP, MoCo v3, MAE).

Every row is a timm model configured to PaddleClas's layer shapes and forward maths; the
``paddle_reorder`` maps fix the few places where PaddleClas registers parameters in another
order (token parameters, Swin's patch merging) or saves buffers timm recomputes.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import timm
import torch
import torch.nn.functional as F
from timm.layers import Attention, PatchEmbed
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from ..io.paddle_order import drop_keys, next_stage, order_like, tokens_first
from ..zoo import ModelEntry, timm_row

_LN_1E5 = partial(nn.LayerNorm, eps=1e-5)
_VIT_TOKENS = tokens_first("cls_token", "pos_embed", "dist_token")
_SWIN_RENAMES = ((r"^(layers)\.(\d+)\.downsample\.", next_stage), (r"^head\.", "head.fc."))
_SWIN_BUFFERS = r"relative_position_index$|relative_coords_table$|attn_mask$"
_CONVNEXT_RENAMES = ((r"^head\.", "head.fc."), (r"^norm\.", "head.norm."), (r"^downsample_layers\.0\.", "stem."),
                     (r"^downsample_layers\.(\d+)\.", r"stages.\1.downsample."),
                     (r"^stages\.(\d+)\.(\d+)\.", r"stages.\1.blocks.\2."), (r"\.dwconv\.", ".conv_dw."),
                     (r"\.pwconv1\.", ".mlp.fc1."), (r"\.pwconv2\.", ".mlp.fc2."))


class EmbedDimScaledAttention(Attention):
    """timm ``Attention`` whose logits are scaled by ``dim ** -0.5`` (the token width), not
    ``head_dim ** -0.5``; the fused (SDPA) and the explicit paths both use that scale."""

    def __init__(self, dim: int, *args, **kwargs):
        super().__init__(dim, *args, **kwargs)
        self.scale = dim ** -0.5

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None,
                is_causal: bool = False) -> torch.Tensor:
        """Multi-head self-attention over ``x`` of shape (B, N, C)."""
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal,
                                               dropout_p=self.attn_drop.p if self.training else 0.0,
                                               scale=self.scale)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            if attn_mask is not None:
                attn = attn + attn_mask
            x = self.attn_drop(attn.softmax(dim=-1)) @ v
        x = self.norm(x.transpose(1, 2).reshape(batch, tokens, self.attn_dim))
        return self.proj_drop(self.proj(x))


def _timm_order(timm_name: str, renames=(), drop: str | None = None, **kwargs: Any):
    """:func:`order_like` against ``timm_name`` built with ``kwargs``."""
    return order_like(partial(timm.create_model, timm_name, **kwargs), renames, drop)


def _compose(*maps):
    """Order map applying ``maps`` left to right."""
    def reorder(keys: list[str]) -> list[str]:
        for fn in maps:
            keys = fn(keys)
        return keys
    return reorder


def _vit_rows() -> list[ModelEntry]:
    """PaddleClas's ``vision_transformer.py``: LayerNorm eps 1e-6 and qkv bias, except the old
    ViT-S (eps 1e-5, no qkv bias, ``embed_dim ** -0.5`` attention scale)."""
    rows = [timm_row(
        "ViT_small_patch16_224", "ViT", "vit_base_patch16_224", top1=77.69, paddle_reorder=_VIT_TOKENS,
        kwargs=dict(embed_dim=768, depth=8, num_heads=8, mlp_ratio=3, qkv_bias=False, norm_layer=_LN_1E5,
                    attn_layer=EmbedDimScaledAttention),
        note="the original ViT-S (embed 768, depth 8, mlp 3, no qkv bias); attention scaled by "
             "768**-0.5 as PaddleClas does, not head_dim**-0.5")]
    for name, timm_name, top1 in (
            ("ViT_base_patch16_224", "vit_base_patch16_224", 81.95),
            ("ViT_base_patch16_384", "vit_base_patch16_384", 84.14),
            ("ViT_base_patch32_384", "vit_base_patch32_384", 81.76),
            ("ViT_large_patch16_224", "vit_large_patch16_224", 83.23),
            ("ViT_large_patch16_384", "vit_large_patch16_384", 85.13),
            ("ViT_large_patch32_384", "vit_large_patch32_384", 81.53)):
        size = 384 if name.endswith("384") else 224
        rows.append(timm_row(name, "ViT", timm_name, input_size=(3, size, size), top1=top1,
                             paddle_reorder=_VIT_TOKENS))
    for name, top1 in (("tiny_patch16_224", 71.8), ("small_patch16_224", 79.6), ("base_patch16_224", 81.7),
                       ("tiny_distilled_patch16_224", 74.1), ("small_distilled_patch16_224", 80.9),
                       ("base_distilled_patch16_224", 83.1), ("base_patch16_384", 83.0),
                       ("base_distilled_patch16_384", 85.1)):
        size = 384 if name.endswith("384") else 224
        rows.append(timm_row(f"DeiT_{name}", "DeiT", f"deit_{name}", input_size=(3, size, size), top1=top1,
                             paddle_reorder=_VIT_TOKENS,
                             note="distilled: logits are the mean of the class and distillation heads"
                             if "distilled" in name else ""))
    return rows


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


def _foundation_vit(cls: type[VisionTransformer] = VisionTransformer, **kwargs: Any) -> VisionTransformer:
    """A PaddleClas ``foundation_vit.py`` ViT: bias-free patch conv, LayerNorm eps 1e-5 unless
    given, final norm on the class token, a plain linear head."""
    kwargs.setdefault("norm_layer", _LN_1E5)
    if not kwargs.get("pre_norm"):
        kwargs["embed_layer"] = _PatchEmbedNoBias
    return cls(**kwargs)


_FOUNDATION = dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4, qkv_bias=True)


def _foundation_rows() -> list[ModelEntry]:
    """CLIP (pre-encoder LayerNorm), MoCo v3 and MAE ViTs; PaddleClas's unused ``proj``
    parameter (CLIP's text projection) is dropped on conversion."""
    reorder = _compose(drop_keys(r"^proj$"), _VIT_TOKENS)
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
            name, "FoundationViT", partial(_foundation_vit, cls), "timm:VisionTransformer+config",
            kwargs=kwargs, input_size=(3, size, size), paddle_reorder=reorder,
            note=note or "PaddleClas foundation_vit.py config: bias-free patch conv, LayerNorm eps 1e-5"))
    return rows


def _swin_rows() -> list[ModelEntry]:
    """Swin V1 (``legendary_models/swin_transformer.py``) and V2."""
    rows = []
    for name, timm_name, size, drop_path, top1 in (
            ("SwinTransformer_tiny_patch4_window7_224", "swin_tiny_patch4_window7_224", 224, 0.2, 80.69),
            ("SwinTransformer_small_patch4_window7_224", "swin_small_patch4_window7_224", 224, 0.3, 82.75),
            ("SwinTransformer_base_patch4_window7_224", "swin_base_patch4_window7_224", 224, 0.5, 83.00),
            ("SwinTransformer_base_patch4_window12_384", "swin_base_patch4_window12_384", 384, 0.5, 84.39),
            ("SwinTransformer_large_patch4_window7_224", "swin_large_patch4_window7_224", 224, 0.1, 85.96),
            ("SwinTransformer_large_patch4_window12_384", "swin_large_patch4_window12_384", 384, 0.1, 87.19)):
        rows.append(timm_row(name, "SwinTransformer", timm_name, input_size=(3, size, size), top1=top1,
                             kwargs=dict(drop_path_rate=drop_path, always_partition=True),
                             note="shifted windows even where a stage is one window (PaddleClas does not clamp "
                                  "the shift)" + ("; top1 of the ImageNet-22k-pretrained weights" if "large" in name else ""),
                             paddle_reorder=_timm_order(timm_name, _SWIN_RENAMES, _SWIN_BUFFERS)))
    for name, timm_name, size, drop_path, top1 in (
            ("tiny_patch4_window8_256", "swinv2_tiny_window8_256", 256, 0.2, 81.77),
            ("tiny_patch4_window16_256", "swinv2_tiny_window16_256", 256, 0.2, 82.83),
            ("small_patch4_window8_256", "swinv2_small_window8_256", 256, 0.3, 83.73),
            ("small_patch4_window16_256", "swinv2_small_window16_256", 256, 0.3, 84.14),
            ("base_patch4_window8_256", "swinv2_base_window8_256", 256, 0.5, 84.19),
            ("base_patch4_window16_256", "swinv2_base_window16_256", 256, 0.5, 84.58),
            ("base_patch4_window24_384", "swinv2_base_window12to24_192to384", 384, 0.2, 87.14),
            ("large_patch4_window16_256", "swinv2_large_window12to16_192to256", 256, 0.2, 86.89),
            ("large_patch4_window24_384", "swinv2_large_window12to24_192to384", 384, 0.2, 87.47)):
        rows.append(timm_row(f"SwinTransformerV2_{name}", "SwinTransformerV2", timm_name,
                             input_size=(3, size, size), top1=top1, kwargs=dict(drop_path_rate=drop_path),
                             paddle_reorder=_timm_order(timm_name, _SWIN_RENAMES, _SWIN_BUFFERS)))
    return rows


def _hybrid_rows() -> list[ModelEntry]:
    """LeViT, ConvNeXt, MobileViT, PVTv2, Twins and NextViT."""
    rows = []
    for name, timm_name, top1 in (("128S", "levit_128s", 75.98), ("128", "levit_128", 78.10),
                                  ("192", "levit_192", 79.34), ("256", "levit_256", 80.85),
                                  ("384", "levit_384", 81.91)):
        rows.append(timm_row(f"LeViT_{name}", "LeViT", timm_name, top1=top1, kwargs=dict(distilled=False),
                             paddle_reorder=drop_keys(r"attention_bias_idxs$"),
                             note="PaddleClas's default: no distillation head"))
    for name, timm_name, size, top1 in (("tiny", "convnext_tiny", 224, 82.03), ("small", "convnext_small", 224, None),
                                        ("base_224", "convnext_base", 224, None),
                                        ("base_384", "convnext_base", 384, None),
                                        ("large_224", "convnext_large", 224, None),
                                        ("large_384", "convnext_large", 384, None)):
        rows.append(timm_row(f"ConvNeXt_{name}", "ConvNeXt", timm_name, input_size=(3, size, size), top1=top1,
                             paddle_reorder=_timm_order(timm_name, _CONVNEXT_RENAMES)))
    for name, timm_name, top1 in (("XXS", "mobilevit_xxs", 68.67), ("XS", "mobilevit_xs", 74.54),
                                  ("S", "mobilevit_s", 78.14)):
        rows.append(timm_row(f"MobileViT_{name}", "MobileViT", timm_name, input_size=(3, 256, 256), top1=top1))
    for name, timm_name, top1 in (("x0_5", "mobilevitv2_050", 70.17), ("x1_0", "mobilevitv2_100", 78.13),
                                  ("x1_5", "mobilevitv2_150", 80.34), ("x2_0", "mobilevitv2_200", 81.16)):
        rows.append(timm_row(f"MobileViTV2_{name}", "MobileViTV2", timm_name, input_size=(3, 256, 256), top1=top1))
    for name, timm_name, top1 in (("B0", "pvt_v2_b0", 70.5), ("B1", "pvt_v2_b1", 78.7), ("B2", "pvt_v2_b2", 82.1),
                                  ("B2_Linear", "pvt_v2_b2_li", 82.1), ("B3", "pvt_v2_b3", 83.1),
                                  ("B4", "pvt_v2_b4", 83.6), ("B5", "pvt_v2_b5", 83.7)):
        rows.append(timm_row(f"PVT_V2_{name}", "PVTV2", timm_name, top1=top1))
    for name, timm_name, top1 in (("pcpvt_small", "twins_pcpvt_small", 80.82), ("pcpvt_base", "twins_pcpvt_base", 82.42),
                                  ("pcpvt_large", "twins_pcpvt_large", 82.73), ("alt_gvt_small", "twins_svt_small", 81.40),
                                  ("alt_gvt_base", "twins_svt_base", 82.94), ("alt_gvt_large", "twins_svt_large", 83.31)):
        rows.append(timm_row(name, "Twins", timm_name, top1=top1, paddle_reorder=_timm_order(timm_name)))
    for name, timm_name, size, top1 in (("small_224", "nextvit_small", 224, 82.48), ("base_224", "nextvit_base", 224, 83.24),
                                        ("large_224", "nextvit_large", 224, 83.63),
                                        ("small_384", "nextvit_small", 384, 84.01),
                                        ("base_384", "nextvit_base", 384, 84.65),
                                        ("large_384", "nextvit_large", 384, 84.92)):
        rows.append(timm_row(f"NextViT_{name}", "NextViT", timm_name, input_size=(3, size, size), top1=top1))
    return rows


def rows() -> list[ModelEntry]:
    """Every transformer / hybrid row."""
    return _vit_rows() + _swin_rows() + _hybrid_rows() + _foundation_rows()
