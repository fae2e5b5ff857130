"""Optimizer and LR schedule from the ``Optimizer`` section (PaddleClas names and formulas)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config.schema import LRConfig, OptimizerConfig

__all__ = ["build_optimizer", "build_lr_scheduler", "lr_at_step"]


def build_optimizer(cfg: OptimizerConfig, model: nn.Module) -> torch.optim.Optimizer:
    """SGD with momentum; ``regularizer: {name: L2, coeff}`` is coupled L2 decay, as in Paddle.

    Example:
        >>> opt = build_optimizer(OptimizerConfig(momentum=0.9), nn.Linear(2, 2))
    """
    decay = cfg.regularizer.coeff if cfg.regularizer else 0.0
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=cfg.lr.learning_rate, momentum=cfg.momentum,
                           nesterov=cfg.use_nesterov and cfg.momentum > 0, weight_decay=decay)


def lr_at_step(cfg: LRConfig, step: int, epochs: int, steps_per_epoch: int) -> float:
    """The learning rate at iteration ``step`` (0-based) of a run of ``epochs`` epochs.

    Warmup rises linearly from ``warmup_start_lr`` to ``learning_rate`` (``values[0]`` for
    ``Piecewise``) over ``warmup_epoch`` epochs; then ``Cosine`` decays to ``eta_min`` at the
    end of the run, ``Piecewise`` takes ``values[i]`` after ``decay_epochs[i-1]``, ``Constant``
    stays. With ``by_epoch`` the schedule (not the warmup) moves once per epoch.
    """
    warmup_steps = round(cfg.warmup_epoch * steps_per_epoch)
    if step < warmup_steps:
        # PaddleClas warms Piecewise up to values[0] (its first plateau), the others to learning_rate.
        peak = cfg.values[0] if cfg.name == "Piecewise" and cfg.values else cfg.learning_rate
        return cfg.warmup_start_lr + (peak - cfg.warmup_start_lr) * step / warmup_steps
    if cfg.by_epoch:
        step = (step // steps_per_epoch) * steps_per_epoch
    if cfg.name == "Cosine":
        total = max(epochs * steps_per_epoch - warmup_steps, 1)
        progress = min(max(step - warmup_steps, 0) / total, 1.0)
        return cfg.eta_min + 0.5 * (cfg.learning_rate - cfg.eta_min) * (1 + math.cos(math.pi * progress))
    if cfg.name == "Piecewise":
        boundaries = [round(e * steps_per_epoch) for e in cfg.decay_epochs or []]
        index = sum(step >= b for b in boundaries)
        return (cfg.values or [cfg.learning_rate])[index]
    return cfg.learning_rate


def build_lr_scheduler(cfg: LRConfig, optimizer: torch.optim.Optimizer, epochs: int,
                       steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-iteration scheduler following ``lr_at_step``; call ``step()`` after each batch."""
    base = optimizer.param_groups[0]["lr"]
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] = base

    def factor(step: int) -> float:
        return lr_at_step(cfg, step, epochs, steps_per_epoch) / base
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
