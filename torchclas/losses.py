"""Losses under PaddleClas names, and the weighted sum PaddleClas configs describe."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config.entries import parse_entries

__all__ = ["CELoss", "LOSSES", "NOT_YET_IMPLEMENTED_LOSSES", "CombinedLoss", "build_loss"]


class CELoss(nn.Module):
    """Cross entropy with optional label smoothing (``epsilon``), PaddleClas ``CELoss``.

    Hard integer labels use ``F.cross_entropy(label_smoothing=epsilon)``. Soft targets
    (one row of class probabilities per sample) are used as given: unlike PaddleClas,
    no softmax is applied to them.

    Args:
        epsilon: label-smoothing factor in [0, 1); None or 0 disables smoothing.
        weight: the weight of this loss in the weighted sum (honoured even for a lone loss).
    """

    def __init__(self, epsilon: float | None = None, weight: float = 1.0):
        super().__init__()
        if epsilon is not None and not 0 <= epsilon < 1:
            raise ValueError(f"CELoss.epsilon must be in [0, 1), got {epsilon}")
        self.epsilon = float(epsilon or 0.0)
        self.weight = float(weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the mean loss over the batch."""
        if target.ndim == logits.ndim:  # soft targets
            if self.epsilon:
                target = target * (1 - self.epsilon) + self.epsilon / logits.shape[-1]
            return torch.sum(-target * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
        return F.cross_entropy(logits.float(), target, label_smoothing=self.epsilon)


LOSSES: dict[str, type[nn.Module]] = {"CELoss": CELoss}
NOT_YET_IMPLEMENTED_LOSSES = frozenset({
    "MixCELoss", "GoogLeNetLoss", "FocalLoss", "DistillationCELoss", "DistillationGTCELoss",
    "DistillationDMLLoss", "DistillationKLDivLoss", "DKDLoss", "TripletLoss", "ArcMargin",
    "SupConLoss", "MultiLabelLoss", "KLDivLoss", "DMLLoss", "AsymmetricLoss",
})


class CombinedLoss(nn.Module):
    """Weighted sum of several losses; ``forward`` returns ``{"loss": total, name: part, ...}``.

    A name listed twice is keyed ``name_<index>`` the second time, so every part is reported
    and summed.
    """

    def __init__(self, losses: list[tuple[str, nn.Module]]):
        super().__init__()
        names = [name for name, _ in losses]
        self.names = [name if name not in names[:i] else f"{name}_{i}" for i, name in enumerate(names)]
        self.parts = nn.ModuleList(loss for _, loss in losses)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the total under ``"loss"`` and each weighted part under its name."""
        out = {name: loss.weight * loss(logits, target) for name, loss in zip(self.names, self.parts)}
        out["loss"] = torch.stack(list(out.values())).sum()
        return out


def build_loss(entries: list[dict] | None, where: str = "Loss.Train") -> CombinedLoss:
    """Build the weighted sum from a PaddleClas loss list; an empty list means plain ``CELoss``.

    Example:
        >>> loss = build_loss([{"CELoss": {"weight": 1.0, "epsilon": 0.1}}])
    """
    parsed = parse_entries(entries, LOSSES, where, NOT_YET_IMPLEMENTED_LOSSES) or [("CELoss", {})]
    return CombinedLoss([(name, LOSSES[name](**params)) for name, params in parsed])
