"""ViT rows: timm's VisionTransformer configured as PaddleClas's ``vision_transformer.py``.

LayerNorm eps 1e-6 and qkv bias, except the old ViT-S (eps 1e-5, no qkv bias, and attention
scaled by ``embed_dim ** -0.5``: :class:`EmbedDimScaledAttention`). PaddleClas registers its
token parameters in another order (:data:`VIT_TOKEN_ORDER`, also used by DeiT).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import Attention
from torch import nn

from .entry import ModelEntry, timm_row
from .io.paddle_order import tokens_first

__all__ = ["EmbedDimScaledAttention", "VIT_TOKEN_ORDER", "ROWS"]

VIT_TOKEN_ORDER = tokens_first("cls_token", "pos_embed", "dist_token")
"""PaddleClas key order map for timm's ViT/DeiT: the token parameters first."""


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


def _rows() -> list[ModelEntry]:
    rows = [timm_row(
        "ViT_small_patch16_224", "ViT", "vit_base_patch16_224", top1=77.69, paddle_reorder=VIT_TOKEN_ORDER,
        kwargs=dict(embed_dim=768, depth=8, num_heads=8, mlp_ratio=3, qkv_bias=False,
                    norm_layer=partial(nn.LayerNorm, eps=1e-5), attn_layer=EmbedDimScaledAttention),
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
                             paddle_reorder=VIT_TOKEN_ORDER))
    return rows


ROWS: list[ModelEntry] = _rows()
