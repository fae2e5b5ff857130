"""VAN (Visual Attention Network) as PaddleClas builds it: large-kernel attention blocks.

timm has no VAN. Layers are registered in PaddleClas's order (per stage: patch embedding,
blocks, LayerNorm; then the head) so its weights convert by order.

``ROWS``: VAN B0 ... B3.
"""

from __future__ import annotations

from functools import partial
import torch
from timm.layers import DropPath
from torch import nn

from .entry import ModelEntry
from .layers.plain_net import PlainNet, stage_info

__all__ = ["VAN", "LargeKernelAttention", "VANBlock", "ROWS"]


class LargeKernelAttention(nn.Module):
    """LKA: ``x * conv1x1(dilated_dw7x7(dw5x5(x)))`` (a 21x21 receptive field, dilation 3)."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv0 = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.conv_spatial = nn.Conv2d(dim, dim, 7, padding=9, groups=dim, dilation=3)
        self.conv1 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv1(self.conv_spatial(self.conv0(x)))


class SpatialAttention(nn.Module):
    """``x + proj_2(LKA(gelu(proj_1(x))))``: the attention branch of a VAN block."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.activation = nn.GELU()
        self.spatial_gating_unit = LargeKernelAttention(dim)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x))))


class ConvMlp(nn.Module):
    """1x1 conv, depthwise 3x3 conv, GELU, 1x1 conv (dropout after the GELU and at the end)."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        return self.drop(self.fc2(x))


class VANBlock(nn.Module):
    """``x + s1 * attn(bn1(x))`` then ``x + s2 * mlp(bn2(x))`` with per-channel layer scales
    (init 0.01) and stochastic depth on both branches."""

    def __init__(self, dim: int, mlp_ratio: float, drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.layer_scale_1 = nn.Parameter(torch.full((dim, 1, 1), 1e-2))
        self.layer_scale_2 = nn.Parameter(torch.full((dim, 1, 1), 1e-2))
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = SpatialAttention(dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))


class VANStage(nn.Module):
    """Overlapping patch embedding (strided conv + BN), blocks, then a LayerNorm over channels."""

    def __init__(self, in_chs: int, dim: int, patch_size: int, stride: int, depth: int, mlp_ratio: float,
                 drop: float, drop_paths: list[float]):
        super().__init__()
        self.patch_embed = nn.Sequential(nn.Conv2d(in_chs, dim, patch_size, stride, patch_size // 2),
                                         nn.BatchNorm2d(dim))
        self.blocks = nn.Sequential(*[VANBlock(dim, mlp_ratio, drop, drop_paths[j]) for j in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.patch_embed(x))
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class VAN(PlainNet):
    """PaddleClas's VAN: four stages (strides 4, 8, 16, 32), token mean, Linear head.

    Args:
        embed_dims: stage widths.
        mlp_ratios: MLP expansion per stage.
        depths: blocks per stage.
        num_classes: classifier width (0: none).
        in_chans: input channels.
        drop_rate: dropout inside the MLPs (PaddleClas's ``drop_rate``; there is none before the head).
        drop_path_rate: stochastic depth, rising linearly to this over all blocks.
    """

    def __init__(self, embed_dims: tuple[int, ...], mlp_ratios: tuple[float, ...], depths: tuple[int, ...],
                 num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.0, drop_path_rate: float = 0.0):
        super().__init__()
        total = sum(depths)
        rates = [drop_path_rate * j / max(total - 1, 1) for j in range(total)]  # linspace(0, rate, total)
        stages, chs, start = [], in_chans, 0
        for i, (dim, ratio, depth) in enumerate(zip(embed_dims, mlp_ratios, depths)):
            stages.append(VANStage(chs, dim, 7 if i == 0 else 3, 4 if i == 0 else 2, depth, ratio, drop_rate,
                                   rates[start:start + depth]))
            chs, start = dim, start + depth
        self.stages = nn.Sequential(*stages)
        self.feature_info = stage_info(list(embed_dims), [4, 8, 16, 32])
        self.num_features = chs
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.fc = self._make_classifier(num_classes)


_VAN = {  # name: (embed dims, depths, top1); every VAN has MLP ratios (8, 8, 4, 4)
    "VAN_B0": ((32, 64, 160, 256), (3, 3, 5, 2), 75.35), "VAN_B1": ((64, 128, 320, 512), (2, 2, 4, 2), 81.02),
    "VAN_B2": ((64, 128, 320, 512), (3, 3, 12, 3), 82.80), "VAN_B3": ((64, 128, 320, 512), (3, 5, 27, 3), 83.89)}

ROWS: list[ModelEntry] = [
    ModelEntry(name, "VAN", partial(VAN, embed_dims=dims, mlp_ratios=(8, 8, 4, 4), depths=depths), "ours", top1=top1,
               note="timm has no VAN; BatchNorm in the blocks, LayerNorm (eps 1e-6) after each stage "
                    "and a token mean before the head, as in PaddleClas")
    for name, (dims, depths, top1) in _VAN.items()]
