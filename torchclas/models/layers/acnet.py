"""ACNet's asymmetric convolution block: train k×k + 1×k + k×1 conv+BN branches, deploy one k×k conv.

ACNet (Ding et al., ICCV 2019, https://arxiv.org/abs/1908.03930) strengthens a k×k conv's
central cross with two asymmetric branches. Each branch has its own BN and the three are summed;
since each conv+BN is linear in eval mode and the 1×k / k×1 kernels sit on the k×k kernel's
centre row / column, :meth:`ACBlock.fuse` folds them into one k×k conv with bias.

:func:`apply_acb` converts a built model. The pairing rule: inside any module, a child
``nn.Conv2d`` (exact type) with a square odd kernel k > 1, dilation 1, zero padding p ≥ k//2
(any stride, any groups) that is *immediately followed in registration order* by a
``BatchNorm2d`` child (timm's ``BatchNormAct2d`` included) over its output channels. That is
the conv→BN layout of ``nn.Sequential``, timm's ``ConvNormAct``, ResNet blocks
(``conv1``/``bn1``) and EfficientNet blocks (``conv_dw``/``bn2``). The conv becomes an
ACBlock holding the BN; the BN's slot keeps only what came after normalising (a
``BatchNormAct2d``'s activation, else ``nn.Identity``). Modules that fold their own branches
(RepVGG blocks, anything with ``reparameterize``/``fuse``) are left alone: their fold reads
their convs directly.
"""

from __future__ import annotations

import torch
from timm.layers import BatchNormAct2d
from torch import nn

from ..reparam import fold_conv_bn, folds_itself

__all__ = ["ACBlock", "apply_acb", "acb_suitable"]


class ACBlock(nn.Module):
    """k×k, 1×k and k×1 conv+BN branches on the same input, summed.

    Args:
        in_channels, out_channels, kernel_size, stride, groups: as for the k×k ``nn.Conv2d``.
        padding: of the k×k conv (default ``kernel_size // 2``); at least ``kernel_size // 2``.
        bias: give the k×k conv a bias (it only shifts the BN mean).
        eps, momentum: of the three BNs.

    Example:
        >>> block = ACBlock(16, 32, 3, stride=2)
        >>> block(torch.randn(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
        >>> conv = block.eval().fuse()  # one 3x3 nn.Conv2d with bias, same eval output
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int | None = None, groups: int = 1, bias: bool = False,
                 eps: float = 1e-5, momentum: float | None = 0.1):
        super().__init__()
        padding = kernel_size // 2 if padding is None else padding
        if kernel_size < 3 or kernel_size % 2 == 0 or padding < kernel_size // 2:
            raise ValueError(f"ACBlock needs an odd kernel_size >= 3 and padding >= kernel_size // 2, "
                             f"got kernel_size={kernel_size}, padding={padding}")
        # The asymmetric kernels read the k×k window's centre row / column: their padding is
        # the k×k padding less the half-kernel they lack, so all three outputs align.
        thin = padding - kernel_size // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(out_channels, eps, momentum)
        self.conv_hor = nn.Conv2d(in_channels, out_channels, (1, kernel_size), stride, (thin, padding),
                                  groups=groups, bias=False)
        self.bn_hor = nn.BatchNorm2d(out_channels, eps, momentum)
        self.conv_ver = nn.Conv2d(in_channels, out_channels, (kernel_size, 1), stride, (padding, thin),
                                  groups=groups, bias=False)
        self.bn_ver = nn.BatchNorm2d(out_channels, eps, momentum)

    @classmethod
    def from_conv_bn(cls, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> "ACBlock":
        """An ACBlock whose k×k branch is ``conv`` then ``bn`` (weights and statistics copied)."""
        if not acb_suitable(conv, bn):
            raise ValueError(f"not an ACB-able conv+BN pair: {conv} then {bn}")
        block = cls(conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride, conv.padding[0],
                    conv.groups, conv.bias is not None, bn.eps, bn.momentum)
        block.to(device=conv.weight.device, dtype=conv.weight.dtype)
        block.conv.load_state_dict(conv.state_dict())
        block.bn.load_state_dict(bn.state_dict())
        return block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sum of the three conv+BN branches."""
        return self.bn(self.conv(x)) + self.bn_hor(self.conv_hor(x)) + self.bn_ver(self.conv_ver(x))

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """The single k×k conv (with bias) equal to this block in eval mode."""
        weight, bias = fold_conv_bn(self.conv, self.bn)
        weight_hor, bias_hor = fold_conv_bn(self.conv_hor, self.bn_hor)
        weight_ver, bias_ver = fold_conv_bn(self.conv_ver, self.bn_ver)
        centre = self.conv.kernel_size[0] // 2
        weight = weight.clone()
        weight[:, :, centre:centre + 1, :] += weight_hor
        weight[:, :, :, centre:centre + 1] += weight_ver
        src = self.conv
        fused = nn.Conv2d(src.in_channels, src.out_channels, src.kernel_size, src.stride, src.padding,
                          groups=src.groups, bias=True, device=weight.device, dtype=weight.dtype)
        fused.weight.copy_(weight)
        fused.bias.copy_(bias + bias_hor + bias_ver)
        return fused


def acb_suitable(conv: nn.Module, bn: nn.Module) -> bool:
    """Whether ``conv`` then ``bn`` is a pair :func:`apply_acb` converts (see the module docstring)."""
    if type(conv) is not nn.Conv2d or not isinstance(bn, nn.BatchNorm2d):
        return False
    k_h, k_w = conv.kernel_size
    return (k_h == k_w and k_h > 1 and k_h % 2 == 1 and conv.dilation == (1, 1)
            and not isinstance(conv.padding, str) and conv.padding[0] == conv.padding[1] >= k_h // 2
            and conv.padding_mode == "zeros" and bn.num_features == conv.out_channels
            and bn.running_mean is not None)


def _after_normalising(bn: nn.BatchNorm2d) -> nn.Module:
    """What stays in the BN's slot: a BatchNormAct2d's dropout and activation, else nothing."""
    if not isinstance(bn, BatchNormAct2d):
        return nn.Identity()
    kept = [m for m in (bn.drop, bn.act) if not isinstance(m, nn.Identity)]
    return nn.Identity() if not kept else kept[0] if len(kept) == 1 else nn.Sequential(*kept)


def apply_acb(model: nn.Module) -> nn.Module:
    """Swap every suitable conv+BN pair of ``model`` for an :class:`ACBlock`, in place.

    The k×k branch keeps the pair's weights; the asymmetric branches start from PyTorch's
    default init (BN scale 1, shift 0), as in ACNet. State-dict keys change: conv ``X`` and its
    BN become ``X.conv`` / ``X.bn``. Fold back with ``reparameterize_model(model)``.

    Returns:
        ``model`` (a bare ``nn.Conv2d`` is not convertible: it has no BN to pair with).

    Example:
        >>> model = apply_acb(timm.create_model("resnet18"))  # doctest: +SKIP
        >>> sum(isinstance(m, ACBlock) for m in model.modules())  # doctest: +SKIP
        17
    """
    _convert_children(model)
    return model


def _convert_children(parent: nn.Module) -> None:
    children = list(parent.named_children())
    for (name, child), (next_name, next_child) in zip(children, children[1:]):
        if acb_suitable(child, next_child):
            setattr(parent, name, ACBlock.from_conv_bn(child, next_child))
            setattr(parent, next_name, _after_normalising(next_child))
    for child in parent.children():
        if not isinstance(child, ACBlock) and not folds_itself(child):
            _convert_children(child)
