"""CSWin Transformer, laid out as PaddleClas's ``model_zoo/cswin_transformer.py``.

timm has no CSWin. Each block splits the heads into a horizontal-stripe and a vertical-stripe
branch (the last stage attends over the whole map in one branch) with LePE: a depthwise 3x3
conv of V per stripe added to the attention output. Stripe sizes follow PaddleClas: a branch
of stage ``i`` uses stripes of the full map side by ``split`` (and the transpose). Module
names and registration order are PaddleClas's, so its weights convert in order.

``ROWS``: CSWin tiny/small/base/large at 224, base/large at 384.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from timm.layers import DropPath, trunc_normal_
from torch import nn

from .entry import ModelEntry
from .layers.plain_net import LinearHeadMixin

__all__ = ["CSWinTransformer", "ROWS"]


class LePEAttention(nn.Module):
    """Attention inside ``h_split`` x ``w_split`` stripes, plus the LePE conv of V."""

    def __init__(self, dim: int, h_split: int, w_split: int, num_heads: int):
        super().__init__()
        self.h_split, self.w_split, self.num_heads = h_split, w_split, num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.get_v = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def _stripes(self, x: torch.Tensor, channels_first: bool) -> torch.Tensor:
        """(B, H*W, C) -> (B * stripes, C, hs, ws) or (B * stripes, hs * ws, C)."""
        batch, tokens, chs = x.shape
        side, hs, ws = math.isqrt(tokens), self.h_split, self.w_split
        x = x.transpose(1, 2).reshape(batch, chs, side // hs, hs, side // ws, ws)
        if channels_first:
            return x.permute(0, 2, 4, 1, 3, 5).reshape(-1, chs, hs, ws)
        return x.permute(0, 2, 4, 3, 5, 1).reshape(-1, hs * ws, chs)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, C) -> (N, heads, L, C / heads)."""
        return x.reshape(x.shape[0], x.shape[1], self.num_heads, -1).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Attention output (B, H*W, C) for q, k, v of that shape."""
        batch, tokens, chs = q.shape
        side, hs, ws = math.isqrt(tokens), self.h_split, self.w_split
        q, k = self._heads(self._stripes(q, False)), self._heads(self._stripes(k, False))
        v = self._stripes(v, True)
        lepe = self.get_v(v).reshape(-1, self.num_heads, chs // self.num_heads, hs * ws).transpose(-1, -2)
        v = v.reshape(-1, self.num_heads, chs // self.num_heads, hs * ws).transpose(-1, -2)
        z = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1) @ v + lepe
        z = z.transpose(1, 2).reshape(batch, side // hs, side // ws, hs, ws, chs)
        return z.permute(0, 1, 3, 2, 4, 5).reshape(batch, tokens, chs)


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(dim, hidden), nn.Linear(hidden, dim), nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The two-layer MLP."""
        return self.fc2(self.act(self.fc1(x)))


class CSWinBlock(nn.Module):
    """Pre-norm block: cross-shaped (two-branch) or full-map LePE attention, then an MLP."""

    def __init__(self, dim: int, resolution: int, num_heads: int, split: int, last_stage: bool,
                 drop_path: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        branches = ((resolution, resolution),) if last_stage else ((resolution, split), (split, resolution))
        self.attns = nn.ModuleList(LePEAttention(dim // len(branches), hs, ws, num_heads // len(branches))
                                   for hs, ws in branches)
        self.proj = nn.Linear(dim, dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (B, H*W, C) after both residual branches."""
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        parts = len(self.attns)
        attn = torch.cat([attn(qi, ki, vi) for attn, qi, ki, vi in
                          zip(self.attns, q.chunk(parts, -1), k.chunk(parts, -1), v.chunk(parts, -1))], dim=-1)
        x = x + self.drop_path(self.proj(attn))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class MergeBlock(nn.Module):
    """Stride-2 3x3 conv + LayerNorm between stages (tokens in, tokens out)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.conv = nn.Conv2d(dim_in, dim_out, 3, 2, 1)
        self.norm = nn.LayerNorm(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens at half the resolution and ``dim_out`` channels."""
        batch, tokens, chs = x.shape
        side = math.isqrt(tokens)
        x = self.conv(x.transpose(1, 2).reshape(batch, chs, side, side))
        return self.norm(x.flatten(2).transpose(1, 2))


class PatchEmbedding(nn.Module):
    """7x7 stride-4 conv (padding 2) + LayerNorm; returns tokens."""

    def __init__(self, in_chans: int, dim: int):
        super().__init__()
        self.patch_embed = nn.Conv2d(in_chans, dim, 7, 4, 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (B, H/4 * W/4, C)."""
        return self.norm(self.patch_embed(x).flatten(2).transpose(1, 2))


class CSWinStage(nn.Module):
    """Blocks then (except in the last stage) a :class:`MergeBlock`."""

    def __init__(self, dim: int, resolution: int, depth: int, num_heads: int, split: int, last: bool,
                 drop_path: Sequence[float]):
        super().__init__()
        self.blocks = nn.ModuleList(CSWinBlock(dim, resolution, num_heads, split, last, dp) for dp in drop_path)
        self.merge = nn.Identity() if last else MergeBlock(dim, dim * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens after the blocks and the merge."""
        for block in self.blocks:
            x = block(x)
        return self.merge(x)


class CSWinTransformer(LinearHeadMixin, nn.Module):
    """PaddleClas's ``CSwinTransformer`` with timm's model interface. The stripe layout is fixed
    by ``img_size`` (inputs must have that size). ``forward_features`` returns the normalised
    tokens (B, H*W, C); ``feature_info`` names each stage's last block (token outputs)."""

    def __init__(self, img_size: int = 224, embed_dim: int = 96, depths: Sequence[int] = (2, 4, 32, 2),
                 splits: Sequence[int] = (1, 2, 7, 7), num_heads: Sequence[int] = (4, 8, 16, 32),
                 num_classes: int = 1000, in_chans: int = 3, drop_path_rate: float = 0.0):
        super().__init__()
        self.patch_embedding = PatchEmbedding(in_chans, embed_dim)
        total = sum(depths)
        rates = [drop_path_rate * i / (total - 1) for i in range(total)]  # linspace
        dim, resolution, self.feature_info, stages = embed_dim, img_size // 4, [], []
        for i, (depth, heads, split) in enumerate(zip(depths, num_heads, splits)):
            last = i == len(depths) - 1
            start = sum(depths[:i])
            stages.append(CSWinStage(dim, resolution, depth, heads, split, last, rates[start:start + depth]))
            self.feature_info.append(dict(num_chs=dim, reduction=4 * 2 ** i, module=f"stages.{i}.blocks.{depth - 1}"))
            if not last:
                dim, resolution = dim * 2, resolution // 2
        self.stages = nn.ModuleList(stages)
        self.num_features = self.head_hidden_size = dim
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised tokens of the last stage."""
        x = self.patch_embedding(x)
        for stage in self.stages:
            x = stage(x)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Token mean, then (unless ``pre_logits``) the classifier."""
        x = x.mean(dim=1)
        return x if pre_logits else self.head(x)


# CSWinTransformer_en.md; its last row is labelled base_384 but has large's params/FLOPs.
_CSWIN_TOP1 = {"tiny_224": 82.81, "small_224": 83.58, "base_224": 84.20, "large_224": 86.43,
              "base_384": 85.50, "large_384": 87.48}


def _rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/cswin_transformer.py``."""
    specs = (("tiny_224", 224, 64, (1, 2, 21, 1), (2, 4, 8, 16), 0.2),
             ("small_224", 224, 64, (2, 4, 32, 2), (2, 4, 8, 16), 0.4),
             ("base_224", 224, 96, (2, 4, 32, 2), (4, 8, 16, 32), 0.5),
             ("base_384", 384, 96, (2, 4, 32, 2), (4, 8, 16, 32), 0.5),
             ("large_224", 224, 144, (2, 4, 32, 2), (6, 12, 24, 24), 0.5),
             ("large_384", 384, 144, (2, 4, 32, 2), (6, 12, 24, 24), 0.5))
    return [ModelEntry(f"CSWinTransformer_{tag}", "CSWinTransformer", CSWinTransformer, "ours",
                       kwargs=dict(img_size=size, embed_dim=dim, depths=depths, num_heads=heads,
                                   splits=(1, 2, 7, 7) if size == 224 else (1, 2, 12, 12), drop_path_rate=dpr),
                       input_size=(3, size, size), top1=_CSWIN_TOP1[tag],
                       note="own code (timm has no CSWin); stripe layout fixed by img_size")
            for tag, size, dim, depths, heads, dpr in specs]


ROWS: list[ModelEntry] = _rows()
