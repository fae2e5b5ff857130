"""What a training run carries from step to step: ``TrainState`` (the things a checkpoint
saves and a resume restores) and ``EpochProgress`` (how far an epoch has got)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .ema import EmaWeights
from .precision import LowPrecisionCopy

__all__ = ["TrainState", "EpochProgress", "NonFiniteLoss"]


@dataclass
class TrainState:
    """The state of one training run: what changes as it trains, never its configuration
    (that is ``TrainSettings`` and the hooks').

    ``net`` is the plain model (saved, evaluated, averaged by EMA); ``model`` is what runs the
    training forward pass: ``net`` itself, or ``net`` wrapped by O2's low-precision copy, DDP
    and ``torch.compile``. ``best_value``/``best_epoch`` are the best eval value of the metric
    the best model is kept by (checkpoints store it under the key ``best_top1``).
    """

    net: nn.Module
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler | None = None
    low_precision: LowPrecisionCopy | None = None
    ema: EmaWeights | None = None
    start_epoch: int = 1
    best_value: float = -1.0
    best_epoch: int = 0
    nan_streak: int = 0
    rollbacks: int = 0
    stop_signal: str | None = None
    resume_progress: dict[str, Any] | None = None
    last_checkpoint: Path | None = None

    @property
    def eval_model(self) -> nn.Module:
        """The weights to evaluate and keep as ``best_model``: the EMA when there is one."""
        return self.ema.module if self.ema is not None else self.net

    def lr(self) -> float:
        """The schedule's current learning rate: that of param groups with ``lr_scale`` 1 (others,
        such as ``Arch.lr_mult_list`` stages, train at it times their scale)."""
        current = getattr(self.scheduler, "current_lr", None)
        return current() if current is not None else self.optimizer.param_groups[0]["lr"]


@dataclass
class EpochProgress:
    """How far an epoch has got and its running sums; a mid-epoch checkpoint stores it so a
    resumed epoch reports what an uninterrupted one would. ``correct``/``count`` are the train
    metric's sums (``TopkAcc.state_dict()``)."""

    batches: int = 0
    loss_sum: float = 0.0
    seen: int = 0
    correct: dict[int, int] = field(default_factory=dict)
    count: int = 0
    nonfinite: int = 0
    overflows: int = 0
    clipped_steps: int = 0
    bad_images: list[list[str]] = field(default_factory=list)
    elapsed: float = 0.0
    wait: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values (loadable with ``weights_only=True``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "EpochProgress":
        """The inverse of ``to_dict``; ``None`` gives a fresh epoch."""
        if not values:
            return cls()
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        known["correct"] = {int(k): int(v) for k, v in known.get("correct", {}).items()}
        return cls(**known)


class NonFiniteLoss(RuntimeError):
    """``Global.nan_patience`` optimizer steps in a row had a NaN/Inf loss."""
