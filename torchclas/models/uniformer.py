"""UniFormer, laid out as PaddleClas's ``model_zoo/uniformer.py``.

timm has no UniFormer. Four stages, each a patch embedding followed by blocks: the first two
stages use convolutional "relation aggregators" (:class:`CBlock`: BatchNorm, 1x1, depthwise
5x5, 1x1), the last two multi-head self-attention (:class:`SABlock`); every block starts with a
depthwise 3x3 position encoding added to its input. Module names and registration order are
PaddleClas's (note ``conv1, conv2, attn`` in :class:`CBlock`, the LayerNorm before the conv in
:class:`PatchEmbed`; the layer-scale gammas, as a block's own parameters, lead its state dict in
both frameworks), so its weights convert in order.

``ROWS``: UniFormer small, small_plus, small_plus_dim64, base, base_ls.
"""

from __future__ import annotations

from typing import Sequence

import torch
from timm.layers import Attention, DropPath, Mlp, trunc_normal_
from torch import nn

from .entry import ModelEntry
from .layers.plain_net import FourStageMapMixin

__all__ = ["UniFormer", "CBlock", "SABlock", "ROWS"]


class CMlp(nn.Module):
    """1x1 conv -> GELU -> 1x1 conv."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1_conv = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2_conv = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The two-layer conv MLP."""
        return self.drop(self.fc2_conv(self.drop(self.act(self.fc1_conv(x)))))


class CBlock(nn.Module):
    """Convolutional block: local aggregation by a depthwise 5x5 between two 1x1 convs."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.BatchNorm2d(dim)
        self.conv1 = nn.Conv2d(dim, dim, 1)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.attn = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = CMlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map after position encoding, aggregation and MLP residuals."""
        x = x + self.pos_embed(x)
        x = x + self.drop_path(self.conv2(self.attn(self.conv1(self.norm1(x)))))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class SABlock(nn.Module):
    """Self-attention block over the flattened map (LayerNorm eps 1e-6), optional layer scale."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, drop: float = 0.0,
                 attn_drop: float = 0.0, drop_path: float = 0.0, layer_scale: float | None = None):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=True, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU, drop=drop)
        self.gamma_1 = self.gamma_2 = None
        if layer_scale is not None:
            self.gamma_1 = nn.Parameter(torch.full((dim,), layer_scale))
            self.gamma_2 = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map after position encoding, attention and MLP residuals."""
        x = x + self.pos_embed(x)
        batch, chs, height, width = x.shape
        x = x.flatten(2).transpose(1, 2)
        attn = self.attn(self.norm1(x))
        x = x + self.drop_path(attn if self.gamma_1 is None else self.gamma_1 * attn)
        mlp = self.mlp(self.norm2(x))
        x = x + self.drop_path(mlp if self.gamma_2 is None else self.gamma_2 * mlp)
        return x.transpose(1, 2).reshape(batch, chs, height, width)


class PatchEmbed(nn.Module):
    """Non-overlapping strided conv, then LayerNorm over channels (registered first)."""

    def __init__(self, in_chs: int, dim: int, patch: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.proj_conv = nn.Conv2d(in_chs, dim, patch, patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded map (B, C, H / patch, W / patch)."""
        x = self.proj_conv(x)
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _conv_bn(in_chs: int, out_chs: int) -> list[nn.Module]:
    return [nn.Conv2d(in_chs, out_chs, 3, 2, 1), nn.BatchNorm2d(out_chs)]


class ConvEmbed(nn.Module):
    """``conv_stem`` embeddings: (3x3/2 conv + BN + GELU +) 3x3/2 conv + BN."""

    def __init__(self, in_chs: int, dim: int, first: bool):
        super().__init__()
        layers = _conv_bn(in_chs, dim // 2) + [nn.GELU()] + _conv_bn(dim // 2, dim) if first else _conv_bn(in_chs, dim)
        self.proj = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded map at half (first: a quarter of) the resolution."""
        return self.proj(x)


class UniFormer(FourStageMapMixin, nn.Module):
    """PaddleClas's ``UniFormer`` with timm's model interface.

    Unlike PaddleClas, the input size is free with either stem (PaddleClas asserts
    ``img_size`` with the patch stem; the maths does not depend on it).

    Args:
        depth: blocks per stage (two conv stages, two attention stages).
        embed_dim: widths of the four stages.
        head_dim: attention head width (heads = width // head_dim).
        conv_stem: overlapping conv embeddings instead of patchify + LayerNorm.
        layer_scale: initial value of per-channel scales on the attention blocks' residual
            branches (PaddleClas's ``_ls`` rows: 1e-6), None for none.
    """

    def __init__(self, depth: Sequence[int] = (3, 4, 8, 3), embed_dim: Sequence[int] = (64, 128, 320, 512),
                 head_dim: int = 64, mlp_ratio: float = 4.0, conv_stem: bool = False,
                 layer_scale: float | None = None, num_classes: int = 1000, in_chans: int = 3,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.0):
        super().__init__()
        total = sum(depth)
        dpr = [drop_path_rate * j / max(total - 1, 1) for j in range(total)]  # linspace, meta-device safe
        chs = (in_chans, *embed_dim)
        for i, dim in enumerate(embed_dim):  # PaddleClas registers all embeddings before the blocks
            embed = ConvEmbed(chs[i], dim, i == 0) if conv_stem else PatchEmbed(chs[i], dim, 4 if i == 0 else 2)
            self.add_module(f"patch_embed{i + 1}", embed)
        self.feature_info, start = [], 0
        for i, (dim, count) in enumerate(zip(embed_dim, depth)):
            blocks = [CBlock(dim, mlp_ratio, drop_rate, r) if i < 2 else
                      SABlock(dim, dim // head_dim, mlp_ratio, drop_rate, attn_drop_rate, r, layer_scale)
                      for r in dpr[start:start + count]]
            self.add_module(f"blocks{i + 1}", nn.ModuleList(blocks))
            self.feature_info.append(dict(num_chs=dim, reduction=2 ** (i + 2), module=f"blocks{i + 1}.{count - 1}"))
            start += count
        self.pos_drop = nn.Dropout(drop_rate)
        self.norm = nn.BatchNorm2d(embed_dim[-1])
        self.num_features = self.head_hidden_size = embed_dim[-1]
        self.head = nn.Linear(embed_dim[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# docs/zh_CN/models/ImageNet1k/UniFormer.md (PaddleClas's own top-1)
_UNIFORMER = {  # name -> (depth, head_dim, conv_stem, layer_scale, drop_path_rate, top1)
    "small": ((3, 4, 8, 3), 64, False, None, 0.1, 82.94),
    "small_plus": ((3, 5, 9, 3), 32, True, None, 0.1, 83.29),
    "small_plus_dim64": ((3, 5, 9, 3), 64, True, None, 0.1, 83.25),
    "base": ((5, 8, 20, 7), 64, False, None, 0.3, 83.76),
    "base_ls": ((5, 8, 20, 7), 64, False, 1e-6, 0.3, 83.98),
}


def _rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/uniformer.py``."""
    return [ModelEntry(f"UniFormer_{tag}", "UniFormer", UniFormer, "ours",
                       kwargs=dict(depth=depth, head_dim=head_dim, conv_stem=conv_stem, layer_scale=ls,
                                   drop_path_rate=dpr),
                       top1=top1, note="own code (timm has no UniFormer); input size not fixed as in PaddleClas")
            for tag, (depth, head_dim, conv_stem, ls, dpr, top1) in _UNIFORMER.items()]


ROWS: list[ModelEntry] = _rows()
