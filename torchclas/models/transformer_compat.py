"""Pieces that make timm's transformers match PaddleClas exactly.

* :class:`EmbedDimScaledAttention`: PaddleClas's ``ViT_small_patch16_224`` (the original,
  pre-DeiT "ViT-S") scales ``q k^T`` by ``embed_dim ** -0.5`` instead of
  ``head_dim ** -0.5``; timm's fused path would silently use the head-dim scale.
* State-order maps for :func:`~torchclas.models.paddle_weights.convert_paddle_state`: given
  PaddleClas's parameter names (its registration order), return them in our module's order.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from timm.layers import Attention
from torch import nn

__all__ = ["EmbedDimScaledAttention", "tokens_first", "drop_keys", "order_like", "next_stage"]


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


def tokens_first(*names: str) -> Callable[[list[str]], list[str]]:
    """Order map putting the top-level ``names`` (e.g. ``cls_token``, ``pos_embed``) first, in
    that order, where PaddleClas registers them in another order; other keys keep theirs."""
    def reorder(keys: list[str]) -> list[str]:
        head = [n for n in names if n in keys]
        return head + [k for k in keys if k not in head]
    return reorder


def drop_keys(pattern: str) -> Callable[[list[str]], list[str]]:
    """Order map dropping PaddleClas keys matching ``pattern`` (buffers it saves that timm
    recomputes, such as relative-position indices)."""
    regex = re.compile(pattern)
    return lambda keys: [k for k in keys if not regex.search(k)]


def order_like(build: Callable[[], nn.Module], renames: Iterable[tuple[str, str | Callable]] = (),
               drop: str | None = None) -> Callable[[list[str]], list[str]]:
    """Order map for models whose names match PaddleClas's after ``renames`` (regex, replacement
    pairs applied in turn) but whose registration order differs: PaddleClas keys are sorted by
    the position of their renamed key in ``build()``'s state dict (built on the meta device).
    Keys matching ``drop`` (buffers PaddleClas saves and timm recomputes) are left out.

    Raises:
        ValueError: a PaddleClas key has no counterpart in our model (names it).
    """
    rules = [(re.compile(pattern), repl) for pattern, repl in renames]
    skip = re.compile(drop) if drop else None

    def rename(key: str) -> str:
        for pattern, repl in rules:
            key = pattern.sub(repl, key)
        return key

    def reorder(keys: list[str]) -> list[str]:
        with torch.device("meta"):
            ours = [k for k in build().state_dict() if not k.endswith("num_batches_tracked")]
        position = {k: i for i, k in enumerate(ours)}
        kept = [k for k in keys if not (skip and skip.search(k))]
        unknown = [k for k in kept if rename(k) not in position]
        if unknown:
            raise ValueError(f"PaddleClas key '{unknown[0]}' (as '{rename(unknown[0])}') has no counterpart "
                             f"in {type(build()).__name__}")
        return sorted(kept, key=lambda k: position[rename(k)])
    return reorder


def next_stage(match: re.Match) -> str:
    """Replacement moving ``<stages>.<i>.downsample`` to ``<stages>.<i+1>.downsample`` (PaddleClas
    ends a stage with its downsampling, timm starts the next one with it)."""
    return f"{match.group(1)}.{int(match.group(2)) + 1}.downsample."
