"""DSNet (Dual-Stream Network), laid out as PaddleClas's ``model_zoo/dsnet.py``.

timm has no DSNet. Every block (:class:`MixBlock`) splits the channels of a 1x1 conv into a
self-attention half (attention over the map bilinearly downsampled by 8/4/2/2 in stages 1-4)
and a convolution half (depthwise 3x3), lets each half attend to the other (co-attention),
upsamples the attention half back, concatenates and fuses by a 1x1 conv; a 1x1-conv MLP follows.
Module names and registration order are PaddleClas's, so its weights convert in order.
PaddleClas quirks kept: the attention half is the *first* half of the channels; a map
downsampled to one row/column takes the first one (Paddle's bilinear resize); stochastic depth
rates of stages 2-4 restart from the first rates instead of continuing the linspace.

``ROWS``: DSNet tiny, small, base.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from timm.layers import DropPath, trunc_normal_
from torch import nn

from .entry import ModelEntry
from .layers.plain_net import FourStageMapMixin

__all__ = ["DSNet", "MixBlock", "paddle_bilinear", "ROWS"]

_DOWNSAMPLE = (8, 4, 2, 2)  # attention-half downsampling per stage


class ConvMlp(nn.Module):
    """1x1 conv -> GELU -> 1x1 conv (PaddleClas's ``Mlp`` of DSNet)."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The two-layer conv MLP."""
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, drop: nn.Dropout) -> torch.Tensor:
    """Softmax attention of (B, heads, N, d) queries over keys/values, merged to (B, N, heads*d)."""
    attn = drop((q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1))
    return (attn @ v).transpose(1, 2).flatten(2)


def paddle_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (half-pixel centres) as Paddle computes it: a side resized to 1 takes the
    first row/column (Paddle's scale is 0 there), where PyTorch would average the centre."""
    if size[0] == 1:
        x = x[:, :, :1]
    if size[1] == 1:
        x = x[:, :, :, :1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class MixBlock(nn.Module):
    """Dual-stream block: attention over the downsampled first half of the channels, depthwise
    conv over the second, co-attention between them, 1x1 fusion, then an MLP."""

    def __init__(self, dim: int, num_heads: int, downsample: int, mlp_ratio: float = 4.0,
                 drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.num_heads, self.downsample = num_heads, downsample
        self.dim_conv = int(dim * 0.5)
        self.dim_sa = dim - self.dim_conv
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.BatchNorm2d(dim)
        self.conv1 = nn.Conv2d(dim, dim, 1)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.norm_conv1 = nn.BatchNorm2d(self.dim_conv)
        self.norm_sa1 = nn.LayerNorm(self.dim_sa)
        self.conv = nn.Conv2d(self.dim_conv, self.dim_conv, 3, padding=1, groups=self.dim_conv)
        self.channel_up = nn.Linear(self.dim_sa, 3 * self.dim_sa)
        self.cross_channel_up_conv = nn.Conv2d(self.dim_conv, 3 * self.dim_conv, 1)
        self.cross_channel_up_sa = nn.Linear(self.dim_sa, 3 * self.dim_sa)
        self.fuse_channel_conv = nn.Linear(self.dim_conv, self.dim_conv)
        self.fuse_channel_sa = nn.Linear(self.dim_sa, self.dim_sa)
        self.attn_drop = nn.Dropout(0.1)  # PaddleClas fixes attention dropout at 0.1
        self.proj_drop = nn.Dropout(drop)
        self.norm_conv2 = nn.BatchNorm2d(self.dim_conv)
        self.norm_sa2 = nn.LayerNorm(self.dim_sa)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), drop)

    def _heads(self, qkv: torch.Tensor) -> torch.Tensor:
        """(B, N, 3C) -> (3, B, heads, N, C / heads)."""
        batch, tokens, width = qkv.shape
        return qkv.reshape(batch, tokens, 3, self.num_heads, width // 3 // self.num_heads).permute(2, 0, 3, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map after the dual-stream mixing and MLP residuals."""
        x = x + self.pos_embed(x)
        batch, _, height, width = x.shape
        residual = x
        x = self.conv1(self.norm1(x))
        sa, conv = x[:, :self.dim_sa], x[:, self.dim_sa:]
        conv = conv + self.conv(self.norm_conv1(conv))

        sa = paddle_bilinear(sa, (height // self.downsample, width // self.downsample))
        down_h, down_w = sa.shape[2:]
        sa = sa.flatten(2).transpose(1, 2)
        q, k, v = self._heads(self.channel_up(self.norm_sa1(sa)))
        sa = sa + self.proj_drop(_attend(q, k, v, self.attn_drop))

        conv_qkv = self.cross_channel_up_conv(self.norm_conv2(conv)).flatten(2).transpose(1, 2)
        conv_q, conv_k, conv_v = self._heads(conv_qkv)
        sa_q, sa_k, sa_v = self._heads(self.cross_channel_up_sa(self.norm_sa2(sa)))
        conv_out = self.fuse_channel_conv(self.proj_drop(_attend(conv_q, sa_k, sa_v, self.attn_drop)))
        conv = conv + conv_out.transpose(1, 2).reshape(batch, self.dim_conv, height, width)
        sa = sa + self.fuse_channel_sa(self.proj_drop(_attend(sa_q, conv_k, conv_v, self.attn_drop)))
        sa = sa.transpose(1, 2).reshape(batch, self.dim_sa, down_h, down_w)
        sa = paddle_bilinear(sa, (height, width))

        x = residual + self.drop_path(self.conv2(torch.cat((conv, sa), dim=1)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class DSNet(FourStageMapMixin, nn.Module):
    """PaddleClas's ``MixVisionTransformer`` (DSNet) with timm's model interface.

    Unlike PaddleClas, the input size is free (PaddleClas asserts ``img_size`` in its patch
    embeddings; the maths does not depend on it). Each side must stay divisible by 32.

    Args:
        depth: MixBlocks per stage.
        embed_dim: stage widths; num_heads: attention heads per stage.
        drop_path_rate: top stochastic-depth rate (PaddleClas: 0.1).
    """

    def __init__(self, depth: Sequence[int] = (2, 2, 4, 1), embed_dim: Sequence[int] = (64, 128, 320, 512),
                 num_heads: Sequence[int] = (1, 2, 5, 8), mlp_ratio: float = 4.0, num_classes: int = 1000,
                 in_chans: int = 3, drop_rate: float = 0.0, drop_path_rate: float = 0.1):
        super().__init__()
        chs = (in_chans, *embed_dim)
        for i, dim in enumerate(embed_dim):
            patch = 4 if i == 0 else 2
            self.add_module(f"patch_embed{i + 1}", nn.Conv2d(chs[i], dim, patch, patch))
        self.pos_drop = nn.Dropout(drop_rate)
        total = sum(depth)
        dpr = [drop_path_rate * j / max(total - 1, 1) for j in range(total)]  # linspace, meta-device safe
        self.feature_info = []
        for i, (dim, count, heads) in enumerate(zip(embed_dim, depth, num_heads)):
            self.add_module(f"blocks{i + 1}", nn.ModuleList(
                MixBlock(dim, heads, _DOWNSAMPLE[i], mlp_ratio, drop_rate, dpr[j]) for j in range(count)))
            self.feature_info.append(dict(num_chs=dim, reduction=2 ** (i + 2), module=f"blocks{i + 1}.{count - 1}"))
        self.norm = nn.BatchNorm2d(embed_dim[-1])
        self.num_features = self.head_hidden_size = embed_dim[-1]
        self.head = nn.Linear(embed_dim[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)


# docs/zh_CN/models/ImageNet1k/DSNet.md (PaddleClas's own top-1)
_DSNET = {"tiny": ((2, 2, 4, 1), 79.2), "small": ((3, 4, 8, 3), 81.4), "base": ((3, 4, 28, 3), 81.8)}


def _rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/dsnet.py`` (no overlapping embeddings, no conv FFN: its defaults)."""
    return [ModelEntry(f"DSNet_{tag}", "DSNet", DSNet, "ours", kwargs=dict(depth=depth), top1=top1,
                       note="own code (timm has no DSNet); input size not fixed as in PaddleClas; "
                            "PaddleClas's stage-local stochastic-depth rates kept")
            for tag, (depth, top1) in _DSNET.items()]


ROWS: list[ModelEntry] = _rows()
