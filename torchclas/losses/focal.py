"""Focal loss (Lin et al. 2017, softmax form): cross entropy scaled down on well-classified samples."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .ce import target_rows, weights_for
from .class_weights import check_class_weights

__all__ = ["FocalLoss"]


class FocalLoss(nn.Module):
    """``FL = -sum_c alpha_c q_c (1 - p_c)^gamma log p_c`` per sample, reduced like `CELoss`.

    ``q`` is the target row (one-hot for hard labels, soft rows as given), ``p`` the softmax of
    the logits. ``gamma = 0`` with ``alpha = 1`` is plain cross entropy. ``alpha`` scales the loss
    (one float for every class, or one per class) and is not normalised away; ``class_weights``
    weight the mean instead, exactly as in `CELoss`.

    Args:
        gamma: focusing exponent >= 0 (2 in the paper).
        alpha: a float >= 0, or a list with one float >= 0 per class.
        class_weights: as in `CELoss` (a list, or ``'auto'`` resolved by ``build_loss``).
        weight: the weight of this loss in the weighted sum.

    Example:
        >>> loss = FocalLoss(gamma=2.0, alpha=[0.25, 0.75])(torch.randn(8, 2), torch.randint(2, (8,)))
    """

    def __init__(self, gamma: float = 2.0, alpha: float | list[float] = 1.0,
                 class_weights: list[float] | str | None = None, weight: float = 1.0):
        super().__init__()
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 <= gamma < math.inf:
            raise ValueError(f"FocalLoss.gamma must be a number >= 0, got {gamma!r}")
        self.gamma, self.weight = float(gamma), float(weight)
        if isinstance(alpha, (list, tuple)):
            alpha_tensor = check_class_weights(list(alpha), "FocalLoss", "alpha")
        elif isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and 0 <= alpha < math.inf:
            alpha_tensor = torch.tensor([float(alpha)])
        else:
            raise ValueError(f"FocalLoss.alpha must be a number >= 0 or a list of them, got {alpha!r}")
        self.per_class_alpha = isinstance(alpha, (list, tuple))
        self.register_buffer("alpha", alpha_tensor, persistent=False)
        self.register_buffer("class_weights", check_class_weights(class_weights, "FocalLoss"), persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the (weighted) mean focal loss over the batch."""
        rows = target_rows(logits, target)
        logp = F.log_softmax(logits.float(), dim=-1)
        # 1 - p without cancellation; clamped so the gradient of x**gamma (gamma < 1) stays finite at p = 1
        modulator = (-torch.expm1(logp)).clamp_min(1e-12).pow(self.gamma)
        alpha = self.alpha.to(logits.device)
        if self.per_class_alpha and alpha.numel() != logits.shape[-1]:
            raise ValueError(f"FocalLoss.alpha has {alpha.numel()} values but the model predicts "
                             f"{logits.shape[-1]} classes")
        terms = -alpha * rows * modulator * logp
        weights = weights_for(self.class_weights, logits, "FocalLoss")
        if weights is None:
            return terms.sum(-1).mean()
        return (terms * weights).sum(-1).sum() / (rows * weights).sum()
