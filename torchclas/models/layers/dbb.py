"""The Diverse Branch Block (DBB; Ding et al., CVPR 2021, https://arxiv.org/abs/2103.13425), as
PaddleClas builds it (``arch/backbone/base/dbb``): four conv+BN branches in training, one k×k conv
after `DiverseBranchBlock.fuse`.

The branches, summed (no activation: the block's owner applies it):

- ``dbb_origin``: k×k conv + BN;
- ``dbb_1x1``: 1×1 conv + BN (same stride);
- ``dbb_avg``: 1×1 conv, BN padded with its own value for a zero input (`BNAndPad`), k×k average
  pool (stride, no padding), BN;
- ``dbb_1x1_kxk``: 1×1 conv starting at the identity (`IdentityBasedConv1x1`), `BNAndPad`,
  k×k conv (stride, no padding), BN.

Each branch is linear in eval mode, so `fuse` folds them into one k×k conv with bias (PaddleClas's
``transI``..``transVI``). The padded BNs make the border exact: they pad with what BN gives a
zero-padded input. As in PaddleClas, `BNAndPad`'s BN has momentum 0.1 in Paddle's sense: its
running statistics move by 0.9 of the batch's each step (``torch`` momentum 0.9).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from ..reparam import fold_conv_bn

__all__ = ["DiverseBranchBlock", "BNAndPad", "IdentityBasedConv1x1", "merge_1x1_kxk", "avg_kernel"]


def _conv_bn(in_chs: int, out_chs: int, kernel: int, stride: int, padding: int, groups: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(in_chs, out_chs, kernel, stride, padding, groups=groups, bias=False),
                              bn=nn.BatchNorm2d(out_chs)))


class IdentityBasedConv1x1(nn.Conv2d):
    """A 1×1 conv whose kernel is ``weight + identity`` (the weight starts at zero)."""

    def __init__(self, channels: int, groups: int = 1):
        super().__init__(channels, channels, 1, groups=groups, bias=False)
        per_group = channels // groups
        identity = torch.zeros(channels, per_group, 1, 1)
        identity[torch.arange(channels), torch.arange(channels) % per_group] = 1.0
        self.register_buffer("id_tensor", identity, persistent=False)
        nn.init.zeros_(self.weight)

    def actual_kernel(self) -> torch.Tensor:
        """``weight + identity``: the kernel the conv applies."""
        return self.weight + self.id_tensor.to(self.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The 1×1 conv with `actual_kernel`."""
        return F.conv2d(x, self.actual_kernel(), None, 1, 0, 1, self.groups)


class BNAndPad(nn.Module):
    """BN, then ``pad`` pixels on each side filled with BN's output for a zero input
    (``bias - weight * running_mean / sqrt(running_var + eps)``)."""

    def __init__(self, pad: int, num_features: int, eps: float = 1e-5, momentum: float = 0.9):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps, momentum)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """BN of ``x``, padded by ``pad`` with BN's value of zero."""
        out = self.bn(x)
        if self.pad == 0:
            return out
        bn = self.bn
        value = (bn.bias - bn.weight * bn.running_mean / torch.sqrt(bn.running_var + bn.eps)).view(1, -1, 1, 1)
        return F.pad(out - value, [self.pad] * 4) + value


def merge_1x1_kxk(k1: torch.Tensor, b1: torch.Tensor, k2: torch.Tensor, b2: torch.Tensor,
                  groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k×k conv (kernel, bias) equal to 1×1 conv ``(k1, b1)`` then k×k conv ``(k2, b2)``
    (PaddleClas's ``transIII_1x1_kxk``), per group."""
    kernels, biases = [], []
    w1, w2 = k1.shape[0] // groups, k2.shape[0] // groups
    for g in range(groups):
        k1_g, k2_g, b1_g = k1[g * w1:(g + 1) * w1], k2[g * w2:(g + 1) * w2], b1[g * w1:(g + 1) * w1]
        kernels.append(F.conv2d(k2_g, k1_g.permute(1, 0, 2, 3)))
        biases.append((k2_g * b1_g.view(1, -1, 1, 1)).sum((1, 2, 3)))
    return torch.cat(kernels), torch.cat(biases) + b2


def avg_kernel(channels: int, kernel_size: int, groups: int) -> torch.Tensor:
    """The conv kernel of a k×k average pool over each channel (PaddleClas's ``transV_avg``).

    Example:
        >>> avg_kernel(2, 3, 1)[:, :, 1, 1]
        tensor([[0.1111, 0.0000],
                [0.0000, 0.1111]])
    """
    per_group = channels // groups
    kernel = torch.zeros(channels, per_group, kernel_size, kernel_size)
    kernel[torch.arange(channels), torch.arange(channels) % per_group] = 1.0 / kernel_size ** 2
    return kernel


class DiverseBranchBlock(nn.Module):
    """The four DBB branches of a k×k conv (see the module docstring), summed.

    Args:
        in_channels, out_channels, kernel_size, stride, groups: as for the k×k ``nn.Conv2d`` it
            replaces (padding ``kernel_size // 2``, odd kernel); ``groups < out_channels``.

    Example:
        >>> block = DiverseBranchBlock(8, 16, 3, stride=2)
        >>> block(torch.randn(2, 8, 9, 9)).shape
        torch.Size([2, 16, 5, 5])
        >>> conv = block.eval().fuse()  # one 3x3 nn.Conv2d with bias, same eval output
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"DiverseBranchBlock needs an odd kernel_size, got {kernel_size}")
        if groups >= out_channels:
            raise ValueError(f"DiverseBranchBlock: depthwise convs (groups={groups} >= out_channels={out_channels}) "
                             "are not supported; no PaddleClas model uses them")
        pad = kernel_size // 2
        self.kernel_size, self.stride, self.groups = kernel_size, stride, groups
        self.in_channels, self.out_channels = in_channels, out_channels
        self.dbb_origin = _conv_bn(in_channels, out_channels, kernel_size, stride, pad, groups)
        self.dbb_avg = nn.Sequential(OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=False),
            bn=BNAndPad(pad, out_channels), avg=nn.AvgPool2d(kernel_size, stride, 0),
            avgbn=nn.BatchNorm2d(out_channels)))
        self.dbb_1x1 = _conv_bn(in_channels, out_channels, 1, stride, 0, groups)
        self.dbb_1x1_kxk = nn.Sequential(OrderedDict(
            idconv1=IdentityBasedConv1x1(in_channels, groups), bn1=BNAndPad(pad, in_channels),
            conv2=nn.Conv2d(in_channels, out_channels, kernel_size, stride, 0, groups=groups, bias=False),
            bn2=nn.BatchNorm2d(out_channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The sum of the four branches."""
        return self.dbb_origin(x) + self.dbb_1x1(x) + self.dbb_avg(x) + self.dbb_1x1_kxk(x)

    @torch.no_grad()
    def equivalent_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The k×k kernel and bias the four branches add up to in eval mode."""
        k, pad = self.kernel_size, self.kernel_size // 2
        k_origin, b_origin = fold_conv_bn(self.dbb_origin.conv, self.dbb_origin.bn)
        k_1x1, b_1x1 = fold_conv_bn(self.dbb_1x1.conv, self.dbb_1x1.bn)
        k_1x1 = F.pad(k_1x1, [pad] * 4)
        seq = self.dbb_1x1_kxk
        first = nn.Conv2d(self.in_channels, self.in_channels, 1, groups=self.groups, bias=False).to(k_origin)
        first.weight.copy_(seq.idconv1.actual_kernel())
        k_first, b_first = fold_conv_bn(first, seq.bn1.bn)
        k_second, b_second = fold_conv_bn(seq.conv2, seq.bn2)
        k_kxk, b_kxk = merge_1x1_kxk(k_first, b_first, k_second, b_second, self.groups)
        avg = self.dbb_avg
        avg_conv = nn.Conv2d(self.out_channels, self.out_channels, k, groups=self.groups, bias=False).to(k_origin)
        avg_conv.weight.copy_(avg_kernel(self.out_channels, k, self.groups))
        k_avg2, b_avg2 = fold_conv_bn(avg_conv, avg.avgbn)
        k_avg1, b_avg1 = fold_conv_bn(avg.conv, avg.bn.bn)
        k_avg, b_avg = merge_1x1_kxk(k_avg1, b_avg1, k_avg2, b_avg2, self.groups)
        return k_origin + k_1x1 + k_kxk + k_avg, b_origin + b_1x1 + b_kxk + b_avg

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """One k×k conv with bias computing what the block computes in eval mode."""
        weight, bias = self.equivalent_kernel_bias()
        origin = self.dbb_origin.conv
        conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride, self.kernel_size // 2,
                         groups=self.groups, bias=True, device=weight.device, dtype=weight.dtype)
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
        return conv.train(origin.training)
