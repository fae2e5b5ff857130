"""The weighted sum PaddleClas configs describe (the training step's criterion), and the name
table of losses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..config.entries import parse_entries
from ..config.errors import ConfigError
from ..config.registry import Registry
from .ce import CELoss, MixCELoss, OHEMCELoss
from .class_weights import class_weights_from_counts
from .focal import FocalLoss
from .googlenet import GoogLeNetLoss

__all__ = ["LOSSES", "NOT_YET_IMPLEMENTED_LOSSES", "CombinedLoss", "build_loss"]

NOT_YET_IMPLEMENTED_LOSSES = frozenset({
    "DistillationCELoss", "DistillationGTCELoss",
    "DistillationDMLLoss", "DistillationKLDivLoss", "DKDLoss", "TripletLoss", "ArcMargin",
    "SupConLoss", "MultiLabelLoss", "KLDivLoss", "DMLLoss", "AsymmetricLoss",
})
LOSSES: Registry[type[nn.Module]] = Registry("loss", {
    "CELoss": CELoss, "MixCELoss": MixCELoss, "OHEMCELoss": OHEMCELoss, "FocalLoss": FocalLoss,
    "GoogLeNetLoss": GoogLeNetLoss,
}, not_yet=NOT_YET_IMPLEMENTED_LOSSES)


class CombinedLoss(nn.Module):
    """Weighted sum of several losses; ``forward`` returns ``{"loss": total, name: part, ...}``.

    It is the criterion of the training step: ``criterion(outputs, batch)`` with the model's
    outputs and the batch (its ``labels``: integer classes, or the soft targets of a Mixup/CutMix
    batch); ``criterion(logits, labels)`` works too. Each part loss is called
    ``loss(logits, labels)``; when the model returns a dict of named outputs, ``logits`` is its
    ``"logits"`` entry (the main head), and a loss marked ``takes_outputs`` (``GoogLeNetLoss``)
    gets the whole dict instead. A name listed twice is keyed ``name_<index>`` the second time, so
    every part is reported and summed.

    Example:
        >>> criterion = CombinedLoss([("CELoss", CELoss())])
        >>> sorted(criterion(torch.zeros(2, 3), torch.tensor([0, 2])))
        ['CELoss', 'loss']
    """

    def __init__(self, losses: list[tuple[str, nn.Module]]):
        super().__init__()
        names = [name for name, _ in losses]
        self.names = [name if name not in names[:i] else f"{name}_{i}" for i, name in enumerate(names)]
        self.parts = nn.ModuleList(loss for _, loss in losses)

    def forward(self, outputs: Any, batch: Any) -> dict[str, torch.Tensor]:
        """Return the total under ``"loss"`` and each weighted part under its name.

        ``outputs``: the model's logits; ``batch``: a batch (anything with ``labels``) or the labels.
        """
        labels = getattr(batch, "labels", batch)
        out = {name: loss.weight * loss(outputs if getattr(loss, "takes_outputs", False) else self._logits(outputs),
                                        labels)
               for name, loss in zip(self.names, self.parts)}
        out["loss"] = torch.stack(list(out.values())).sum()
        return out

    def _logits(self, outputs: Any) -> torch.Tensor:
        """The logits in ``outputs``: the tensor itself, or a dict's ``"logits"`` entry."""
        if not isinstance(outputs, dict):
            return outputs
        if "logits" not in outputs:
            raise TypeError(f"{', '.join(self.names)}: these losses take a tensor of logits; the model "
                            f"returned a dict with keys {sorted(outputs)} and no 'logits'")
        return outputs["logits"]


def build_loss(entries: list[dict] | None, where: str = "Loss.Train",
               class_counts: Sequence[int] | None = None) -> CombinedLoss:
    """Build the weighted sum from a PaddleClas loss list; an empty list means plain ``CELoss``.

    Args:
        entries: ``[{Name: {params}}, ...]`` as in ``Loss.Train``.
        where: the config key, for error messages.
        class_counts: training samples per class (``torchclas.data.samplers.label_counts``);
            needed only when a loss has ``class_weights: auto``, which becomes
            `class_weights_from_counts` of them.

    Example:
        >>> loss = build_loss([{"CELoss": {"weight": 1.0, "epsilon": 0.1}}])
        >>> loss = build_loss([{"CELoss": {"class_weights": "auto"}}], class_counts=[90, 9, 1])
    """
    parsed = parse_entries(entries, LOSSES, where, NOT_YET_IMPLEMENTED_LOSSES) or [("CELoss", {})]
    losses = []
    for i, (name, params) in enumerate(parsed):
        if params.get("class_weights") == "auto":
            if class_counts is None:
                raise ConfigError(f"{where}[{i}].{name}.class_weights: 'auto' needs the training set's "
                                  "label counts: pass build_loss(..., class_counts=label_counts(dataset)), "
                                  "or give a list of weights")
            params = {**params, "class_weights": class_weights_from_counts(list(class_counts))}
        try:
            losses.append((name, LOSSES[name](**params)))
        except ValueError as exc:
            raise ConfigError(f"{where}[{i}]: {exc}") from None
    return CombinedLoss(losses)
