"""``TrainSettings``: how a run trains, decided once from the config (and the built model)
before the first step, never changed by training."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config.schema import Config
from .build import use_channels_last
from .precision import amp_dtype

__all__ = ["TrainSettings", "build_settings"]


@dataclass(frozen=True)
class TrainSettings:
    """The loop's configuration; what changes while training is in ``TrainState``.

    Attributes:
        epochs: ``Global.epochs``.
        seed: the run's seed (``Global.seed``, or the time when unset); epoch ``e`` reseeds
            torch's RNG with ``seed * 1009 + e``.
        accum_steps: ``Global.accum_steps``: batches per optimizer step.
        min_batch: the fewest images a training batch needs (2 when the model has BatchNorm).
        channels_last: whether images go in channels_last layout (``Global.channels_last``, decided).
        amp_dtype: autocast dtype of the training forward pass (None: float32).
        eval_amp_dtype: autocast dtype of evaluation (``AMP.use_fp16_test``).
        eval_interval: ``Global.eval_interval`` (the last epoch is always evaluated).
        start_eval_epoch: ``Global.start_eval_epoch``: no evaluation before this epoch (but the last).
        nan_patience: ``Global.nan_patience``: non-finite steps in a row before a rollback.
        nan_max_rollbacks: ``Global.nan_max_rollbacks``.
        nan_lr_factor: ``Global.nan_lr_factor``: the LR scale a rollback applies.
        plateau_mode: ``Optimizer.lr.mode`` (``max``: ReduceOnPlateau watches the best-model
            metric, else the loss).
        best_metric: the eval value the best model is kept by (higher is better), e.g. ``top1``.
        clip_norm: ``Optimizer.clip_norm``: each gradient tensor is clipped to this L2 norm (None: off).
    """

    epochs: int
    seed: int
    accum_steps: int = 1
    min_batch: int = 1
    channels_last: bool = False
    amp_dtype: torch.dtype | None = None
    eval_amp_dtype: torch.dtype | None = None
    eval_interval: int = 1
    start_eval_epoch: int = 0
    nan_patience: int = 5
    nan_max_rollbacks: int = 3
    nan_lr_factor: float = 0.5
    plateau_mode: str | None = None
    best_metric: str = "top1"
    clip_norm: float | None = None


def build_settings(cfg: Config, net: nn.Module, device: torch.device, seed: int,
                   best_metric: str = "top1") -> TrainSettings:
    """The settings of training ``cfg``'s model ``net`` on ``device``.

    Example:
        >>> settings = build_settings(cfg, state.net, torch.device("cpu"), seed=7)  # doctest: +SKIP
    """
    dtype = amp_dtype(cfg.AMP, device)
    g = cfg.Global
    return TrainSettings(
        epochs=g.epochs, seed=seed, accum_steps=g.accum_steps,
        min_batch=2 if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()) else 1,
        channels_last=use_channels_last(cfg, net, device), amp_dtype=dtype,
        eval_amp_dtype=dtype if cfg.AMP is not None and cfg.AMP.use_fp16_test else None,
        eval_interval=g.eval_interval, start_eval_epoch=g.start_eval_epoch, nan_patience=g.nan_patience,
        nan_max_rollbacks=g.nan_max_rollbacks, nan_lr_factor=g.nan_lr_factor, best_metric=best_metric,
        clip_norm=cfg.Optimizer.clip_norm,
        plateau_mode=cfg.Optimizer.lr.param("mode") if cfg.Optimizer.lr.name == "ReduceOnPlateau" else None)
