"""Paddle's ``Dropout(mode="downscale_in_infer")`` for the classic nets that put it between
hidden layers (VGG, AlexNet, SqueezeNet, GoogLeNet), where folding ``1 - p`` into the
classifier (``ModelEntry.paddle_dropout``) cannot reach it."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DownscaleInInferDropout"]


class DownscaleInInferDropout(nn.Module):
    """Dropout that keeps kept units unscaled in training and scales by ``1 - p`` in eval.

    Same expectation as ``nn.Dropout``, but the same eval output as PaddleClas's layer, so
    converted weights give PaddleClas's logits with no rescaling.

    Example:
        >>> DownscaleInInferDropout(0.5).eval()(torch.ones(2))
        tensor([0.5000, 0.5000])
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x * (1.0 - self.p)
        keep = torch.rand_like(x) >= self.p
        return x * keep

    def extra_repr(self) -> str:
        return f"p={self.p}"
