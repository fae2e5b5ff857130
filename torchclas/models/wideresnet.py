"""PaddleClas's ``WideResNet``: the CIFAR Wide ResNet of FixMatch (WRN-28-2 in its SSL configs).

timm's ``wide_resnet*`` are ImageNet bottleneck ResNets, so this is our own port of PaddleClas's
``model_zoo/wideresnet.py`` (itself from kekmodel/FixMatch-pytorch): pre-activation basic blocks
with LeakyReLU(0.1) and BatchNorm momentum 0.001 (Paddle's 0.999), including its quirk that a
widening block without ``activate_before_residual`` computes ``bn1`` and then discards it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .entry import ModelEntry

__all__ = ["WideResNet", "WideBasicBlock", "ROWS"]

_BN_MOMENTUM = 0.001  # Paddle's momentum 0.999 weighs the running value, torch's the batch value


class WideBasicBlock(nn.Module):
    """Pre-activation 3x3-3x3 block; a 1x1 conv shortcut when the width changes.

    Args:
        in_chs: input channels.
        out_chs: output channels.
        stride: of the first conv (and the shortcut).
        drop_rate: dropout between the two convs.
        activate_before_residual: when the width changes, feed ``relu(bn1(x))`` (not ``x``) to
            both the first conv and the shortcut.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int, drop_rate: float = 0.0,
                 activate_before_residual: bool = False):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_chs, momentum=_BN_MOMENTUM)
        self.relu1 = nn.LeakyReLU(0.1)
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_chs, momentum=_BN_MOMENTUM)
        self.relu2 = nn.LeakyReLU(0.1)
        self.conv2 = nn.Conv2d(out_chs, out_chs, 3, 1, 1, bias=False)
        self.drop_rate = drop_rate
        self.equal_in_out = in_chs == out_chs
        self.shortcut = None if self.equal_in_out else nn.Conv2d(in_chs, out_chs, 1, stride, 0, bias=False)
        self.activate_before_residual = activate_before_residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block on ``x`` (B, in_chs, H, W)."""
        if not self.equal_in_out and self.activate_before_residual:
            x = self.relu1(self.bn1(x))
        else:
            # also when the result is unused (width change): bn1 still updates its statistics
            out = self.relu1(self.bn1(x))
        out = self.relu2(self.bn2(self.conv1(out if self.equal_in_out else x)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        out = self.conv2(out)
        return (x if self.equal_in_out else self.shortcut(x)) + out


class _NetworkBlock(nn.Module):
    """``depth`` blocks; the first changes width and stride (PaddleClas's ``NetworkBlock``)."""

    def __init__(self, depth: int, in_chs: int, out_chs: int, stride: int, drop_rate: float,
                 activate_before_residual: bool = False):
        super().__init__()
        self.layer = nn.Sequential(*[
            WideBasicBlock(in_chs if i == 0 else out_chs, out_chs, stride if i == 0 else 1, drop_rate,
                           activate_before_residual) for i in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks in turn."""
        return self.layer(x)


class WideResNet(nn.Module):
    """WRN-``depth``-``widen_factor`` for 32x32 inputs: a 16-wide stem conv, three stages of
    ``(depth - 4) / 6`` blocks (widths 16k, 32k, 64k; strides 1, 2, 2), BN + LeakyReLU, average
    pooling and a linear classifier.

    Args:
        depth: 6n + 4.
        widen_factor: k.
        drop_rate: dropout inside the blocks (PaddleClas's ``dropout``).
        num_classes: classifier width (0: no classifier).
        in_chans: input channels.

    Raises:
        ValueError: ``depth`` is not 6n + 4.

    Example:
        >>> WideResNet(depth=28, widen_factor=2, num_classes=10)(torch.randn(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """

    def __init__(self, depth: int = 28, widen_factor: int = 2, drop_rate: float = 0.0, num_classes: int = 10,
                 in_chans: int = 3):
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f"WideResNet depth {depth}: expected 6n + 4 with n >= 1 (10, 16, 22, 28, ...)")
        blocks = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False)
        self.block1 = _NetworkBlock(blocks, widths[0], widths[1], 1, drop_rate, activate_before_residual=True)
        self.block2 = _NetworkBlock(blocks, widths[1], widths[2], 2, drop_rate)
        self.block3 = _NetworkBlock(blocks, widths[2], widths[3], 2, drop_rate)
        self.bn1 = nn.BatchNorm2d(widths[3], momentum=_BN_MOMENTUM)
        self.relu = nn.LeakyReLU(0.1)
        self.num_features = widths[3]
        self.fc = nn.Linear(widths[3], num_classes) if num_classes > 0 else nn.Identity()
        self.feature_info = [dict(num_chs=widths[i + 1], reduction=(1, 2, 4)[i], module=f"block{i + 1}")
                             for i in range(3)]
        self._init_weights()

    def _init_weights(self) -> None:
        # FixMatch's initialisation (PaddleClas keeps Paddle's defaults; the weights it ships are converted)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, the three stages and the final BN + LeakyReLU: (B, 64k, H/4, W/4)."""
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.relu(self.bn1(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Average pooling, then the classifier unless ``pre_logits``."""
        x = x.mean((2, 3))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for ``x`` (B, C, H, W)."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final Linear."""
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a new ``num_classes``-way Linear (0: Identity)."""
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


ROWS: list[ModelEntry] = [
    ModelEntry("WideResNet", "WideResNet", WideResNet, "ours", kwargs=dict(depth=28, widen_factor=2, drop_rate=0.0),
               input_size=(3, 32, 32),
               note="timm has no CIFAR WRN; FixMatch's WRN-28-2 (PaddleClas's SSL configs), LeakyReLU "
                    "0.1; PaddleClas's optional projection head (proj=True, CCSSL) is not built")]
