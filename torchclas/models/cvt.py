"""CvT (Convolutional vision Transformer), laid out as PaddleClas's ``model_zoo/cvt.py``.

timm has no CvT. Each of the three stages is a strided conv embedding (+ LayerNorm) followed
by transformer blocks whose q/k/v come from depthwise 3x3 conv + BatchNorm projections (k and
v at stride 2) and then linear projections; only the last stage has a class token, which skips
the conv projections. Module names and registration order are PaddleClas's, so its weights
convert in order. PaddleClas quirks kept: attention logits are scaled by ``dim ** -0.5`` (the
full width, not the head width) and the MLP activation is QuickGELU (``x * sigmoid(1.702 x)``).

``ROWS``: CvT-13/21 at 224 and 384, CvT-W24 at 384.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Sequence

import torch
from timm.layers import DropPath, trunc_normal_
from torch import nn

from .entry import ModelEntry
from .layers.plain_net import LinearHeadMixin

__all__ = ["CvT", "CVT_SPECS", "ROWS"]

# name -> (widths, heads, depths, last-stage drop-path rate); every row has 3 stages with
# patch sizes 7/3/3, strides 4/2/2 and a class token in the last stage only.
CVT_SPECS: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], float]] = {
    "13": ((64, 192, 384), (1, 3, 6), (1, 2, 10), 0.1),
    "21": ((64, 192, 384), (1, 3, 6), (1, 4, 16), 0.1),
    "W24": ((192, 768, 1024), (3, 12, 16), (2, 2, 20), 0.3),
}
_PATCH = ((7, 4, 2), (3, 2, 1), (3, 2, 1))  # (kernel, stride, padding) of each stage's embedding


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``, CvT's MLP activation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Elementwise QuickGELU."""
        return x * torch.sigmoid(1.702 * x)


class TokensToMap(nn.Module):
    """(B, H*W, C) tokens -> (B, C, H, W) map; a named module so stage outputs can be hooked."""

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """The token sequence as a feature map."""
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)


def _conv_projection(dim: int, stride: int) -> nn.Sequential:
    """Depthwise 3x3 conv + BatchNorm (PaddleClas's ``dw_bn`` projection); output is a map."""
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(dim, dim, 3, stride, 1, groups=dim, bias=False),
                                     bn=nn.BatchNorm2d(dim)))


class ConvAttention(nn.Module):
    """Multi-head attention over conv-projected q (stride 1) and k, v (stride 2)."""

    def __init__(self, dim: int, num_heads: int, with_cls_token: bool):
        super().__init__()
        self.num_heads, self.with_cls_token = num_heads, with_cls_token
        self.scale = dim ** -0.5  # PaddleClas scales by the full width
        self.conv_proj_q = _conv_projection(dim, 1)
        self.conv_proj_k = _conv_projection(dim, 2)
        self.conv_proj_v = _conv_projection(dim, 2)
        self.proj_q = nn.Linear(dim, dim)
        self.proj_k = nn.Linear(dim, dim)
        self.proj_v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        return x.reshape(batch, tokens, self.num_heads, width // self.num_heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Attention output for tokens ``x`` (B, [1 +] h*w, C)."""
        cls_token, x = (x[:, :1], x[:, 1:]) if self.with_cls_token else (None, x)
        x = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)
        q, k, v = (proj(x).flatten(2).transpose(1, 2)
                   for proj in (self.conv_proj_q, self.conv_proj_k, self.conv_proj_v))
        if cls_token is not None:
            q, k, v = (torch.cat((cls_token, t), dim=1) for t in (q, k, v))
        q, k, v = self._heads(self.proj_q(q)), self._heads(self.proj_k(k)), self._heads(self.proj_v(v))
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).flatten(2)
        return self.proj(x)


class Mlp(nn.Module):
    """fc1 -> QuickGELU -> fc2."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), QuickGELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The two-layer MLP."""
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block with :class:`ConvAttention`."""

    def __init__(self, dim: int, num_heads: int, with_cls_token: bool, drop_path: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ConvAttention(dim, num_heads, with_cls_token)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * 4)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Tokens after attention and MLP residuals."""
        x = x + self.drop_path(self.attn(self.norm1(x), h, w))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ConvEmbed(nn.Module):
    """Strided conv + LayerNorm over channels; returns tokens (B, H*W, C) and (H, W)."""

    def __init__(self, in_chs: int, dim: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chs, dim, kernel, stride, padding)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """Embedded tokens and the grid size."""
        x = self.proj(x)
        h, w = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class Stage(nn.Module):
    """Embedding, optional class token and blocks; returns the feature map and class token."""

    def __init__(self, in_chs: int, dim: int, patch: Sequence[int], depth: int, num_heads: int,
                 with_cls_token: bool, drop_path: Sequence[float]):
        super().__init__()
        self.patch_embed = ConvEmbed(in_chs, dim, *patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if with_cls_token else None
        self.blocks = nn.ModuleList(Block(dim, num_heads, with_cls_token, dp) for dp in drop_path[:depth])
        self.to_map = TokensToMap()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, C, H, W) map and the (B, 1, C) class token (None without one)."""
        x, h, w = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        for block in self.blocks:
            x = block(x, h, w)
        cls_token, x = (x[:, :1], x[:, 1:]) if self.cls_token is not None else (None, x)
        return self.to_map(x, h, w), cls_token


class CvT(LinearHeadMixin, nn.Module):
    """PaddleClas's ``ConvolutionalVisionTransformer`` with timm's model interface.

    ``forward_features`` returns the normalised class token (B, 1, C); ``forward_head`` takes
    it to logits. Stage outputs (``stage{i}.to_map``) are listed in ``feature_info``.

    Args:
        variant: a key of :data:`CVT_SPECS` (``"13"``, ``"21"``, ``"W24"``).
        drop_path_rate: stochastic depth of the last stage (PaddleClas: 0.1, W24 0.3; the
            first two stages have none).
    """

    def __init__(self, variant: str = "13", num_classes: int = 1000, in_chans: int = 3,
                 drop_path_rate: float | None = None):
        super().__init__()
        if variant not in CVT_SPECS:
            raise ValueError(f"CvT variant '{variant}': expected one of {sorted(CVT_SPECS)}")
        widths, heads, depths, default_dpr = CVT_SPECS[variant]
        last_dpr = default_dpr if drop_path_rate is None else drop_path_rate
        self.feature_info, reduction = [], 1
        for i, (dim, num_heads, depth, patch) in enumerate(zip(widths, heads, depths, _PATCH)):
            last = i == len(widths) - 1
            top = last_dpr if last else 0.0
            rates = [top * j / (depth - 1) if depth > 1 else 0.0 for j in range(depth)]  # linspace
            self.add_module(f"stage{i}", Stage(in_chans, dim, patch, depth, num_heads, last, rates))
            reduction *= patch[1]
            self.feature_info.append(dict(num_chs=dim, reduction=reduction, module=f"stage{i}.to_map"))
            in_chans = dim
        self.num_stages = len(widths)
        self.num_features = self.head_hidden_size = widths[-1]
        self.norm = nn.LayerNorm(widths[-1])
        self.head = nn.Linear(widths[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, Stage) and m.cls_token is not None:
            trunc_normal_(m.cls_token, std=0.02)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The final LayerNorm applied to the last stage's class token: (B, 1, C)."""
        cls_token = None
        for i in range(self.num_stages):
            x, cls_token = getattr(self, f"stage{i}")(x)
        return self.norm(cls_token)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits (or the pooled features with ``pre_logits``) from :meth:`forward_features`."""
        x = x[:, 0]
        return x if pre_logits else self.head(x)


def _rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/cvt.py``; 224 and 384 rows share weights' shapes (no position
    embedding), only the input size differs."""
    return [ModelEntry(f"CvT_{variant}_{size}", "CvT", partial(CvT, variant), "ours",
                       input_size=(3, size, size),
                       note="own code (timm has no CvT); attention scaled by width**-0.5 and QuickGELU "
                            "MLPs as in PaddleClas")
            for variant, size in (("13", 224), ("13", 384), ("21", 224), ("21", 384), ("W24", 384))]


ROWS: list[ModelEntry] = _rows()
