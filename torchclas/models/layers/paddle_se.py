"""PaddleClas's squeeze-and-excitation as two ``Linear`` layers (ResNet/ResNeXt SE, SE-HRNet).

timm's SE is two 1x1 convs with the hidden width rounded to 8; PaddleClas's is
``Linear(C, int(C / 16))`` with bias, so the weights and widths differ.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PaddleSE"]


class PaddleSE(nn.Module):
    """PaddleClas's squeeze-and-excitation: global average, ``Linear(C, int(C / reduction))``,
    ReLU, ``Linear(., C)``, sigmoid, scale. Sits after the last BN of a block, before the add."""

    def __init__(self, channels: int, reduction: int = 16, device=None, dtype=None):
        super().__init__()
        hidden = int(channels / reduction)
        self.fc1 = nn.Linear(channels, hidden, device=device, dtype=dtype)
        self.fc2 = nn.Linear(hidden, channels, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x`` by its excitation."""
        scale = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3))))))
        return x * scale[:, :, None, None]
