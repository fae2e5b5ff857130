"""One training epoch: forward under autocast, backward, gradient accumulation, optimizer,
LR and EMA steps, train metrics (summed over processes)."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..data.device_loader import DeviceLoader
from .distributed import DistInfo, all_reduce_sums
from .metrics import TopkAcc
from .precision import LowPrecisionCopy, autocast
from .progress import epoch_progress

__all__ = ["TrainState", "EpochProgress", "NonFiniteLoss", "train_one_epoch", "ema_decay"]

log = logging.getLogger("torchclas")


@dataclass
class TrainState:
    """What one training run carries from epoch to epoch.

    ``net`` is the plain model (saved, evaluated, averaged by EMA); ``model`` is what runs the
    training forward pass: ``net`` itself, or ``net`` wrapped by O2's low-precision copy, DDP
    and ``torch.compile``.
    """

    net: nn.Module
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    loss_fn: nn.Module
    device: torch.device
    channels_last: bool = False
    amp_dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None
    low_precision: LowPrecisionCopy | None = None
    ema: Any = None
    ema_decay: float = 0.9999
    ema_warmup: bool = True
    accum_steps: int = 1
    dist: DistInfo = DistInfo()
    start_epoch: int = 1
    best_top1: float = -1.0
    best_epoch: int = 0
    min_batch: int = 1
    nan_patience: int = 5
    nan_streak: int = 0
    stop_signal: str | None = None
    resume_progress: dict[str, Any] | None = None
    last_checkpoint: Path | None = None
    rollbacks: int = 0
    thread_watch: Any = None  # fast_defaults.ThreadWatch when the probe chose the thread count

    @property
    def eval_model(self) -> nn.Module:
        """The weights to evaluate and keep as ``best_model``: the EMA when there is one."""
        return self.ema.module if self.ema is not None else self.net

    def lr(self) -> float:
        """The current learning rate of the first parameter group."""
        return self.optimizer.param_groups[0]["lr"]


@dataclass
class EpochProgress:
    """How far an epoch has got and its running sums; a mid-epoch checkpoint stores it so a
    resumed epoch reports what an uninterrupted one would."""

    batches: int = 0
    loss_sum: float = 0.0
    seen: int = 0
    correct: dict[int, int] = field(default_factory=dict)
    count: int = 0
    nonfinite: int = 0
    overflows: int = 0
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


def train_one_epoch(state: TrainState, loader: DeviceLoader, metric: TopkAcc, description: str,
                    print_every: int = 10, progress: EpochProgress | None = None,
                    after_step: Callable[[EpochProgress], None] | None = None) -> dict[str, Any]:
    """One pass over ``loader``, an optimizer step every ``accum_steps`` batches.

    ``progress`` continues an epoch resumed mid-way (the loader's sampler must start at
    ``progress.batches``); ``after_step(progress)`` runs after every optimizer step (mid-epoch
    checkpoints, graceful stops). A step whose loss is NaN/Inf is skipped and logged with its
    images; ``state.nan_patience`` such steps in a row raise ``NonFiniteLoss``.

    Returns mean loss, train top-k, last lr, images/s, the fraction of time spent waiting
    for data, skipped (unreadable) images, skipped non-finite steps and AMP overflows; sums
    cover all processes.
    """
    state.model.train()
    progress = progress or EpochProgress()
    metric.reset()
    metric.correct.update(progress.correct)
    metric.count = progress.count
    start = tick = time.perf_counter() - progress.elapsed
    wait, finite = progress.wait, True
    with epoch_progress(enabled=state.dist.is_main) as bar:
        task = bar.add_task(description, total=len(loader), completed=progress.batches, loss=0.0,
                            lr=state.lr(), ips=0.0)
        batches = loader.on(state.device, state.channels_last)  # finished there; iterating draws no RNG
        for index, (images, labels, bad_batch) in enumerate(batches, start=progress.batches):
            wait += time.perf_counter() - tick
            _report_bad(bad_batch, progress)
            group = _group_size(index, len(loader), state.accum_steps)
            last_of_group = (index + 1) % state.accum_steps == 0 or index + 1 == len(loader)
            if 0 < labels.shape[0] < state.min_batch:
                log.warning("%s batch %d: only %d readable image(s), skipped (BatchNorm needs %d in training)",
                            description, index + 1, labels.shape[0], state.min_batch)
            elif labels.shape[0] > 0:
                loss = _forward_backward(state, images, labels, metric, group, last_of_group)
                if math.isfinite(loss):
                    progress.loss_sum += loss * labels.shape[0]
                    progress.seen += labels.shape[0]
                else:
                    finite = False
                    _report_nonfinite(state, loader, index, loss, description)
            if last_of_group:
                _finish_group(state, progress, finite, index)
                finite = True
                progress.batches = index + 1
                progress.correct, progress.count = dict(metric.correct), metric.count
                progress.elapsed, progress.wait = time.perf_counter() - start, wait
                if after_step is not None:
                    after_step(progress)
            ips = progress.seen / (time.perf_counter() - start)
            mean = progress.loss_sum / max(progress.seen, 1)
            bar.update(task, advance=1, loss=mean, lr=state.lr(), ips=ips)
            if (index + 1) % print_every == 0:
                log.debug("%s step %d/%d loss %.4f lr %.6f %.0f img/s", description, index + 1, len(loader),
                          mean, state.lr(), ips)
            tick = time.perf_counter()
    return _epoch_stats(state, metric, progress, wait, time.perf_counter() - start)


def _finish_group(state: TrainState, progress: EpochProgress, finite: bool, index: int) -> None:
    """The optimizer step of an accumulation group, or its skip when a loss was not finite
    (on any process: they agree, so the replicas stay equal)."""
    flags = [0.0 if finite else 1.0, 1.0 if state.stop_signal else 0.0]
    if state.dist.enabled:
        flags = all_reduce_sums(flags, state.device, state.dist)
        if flags[1] and not state.stop_signal:
            state.stop_signal = "a stop signal (another process)"
    if flags[0] == 0:
        progress.overflows += _optimizer_step(state)
        state.nan_streak = 0
        return
    state.optimizer.zero_grad(set_to_none=True)
    state.scheduler.step()  # keeps the schedule aligned with the epoch; the weights stay as they were
    state.nan_streak += 1
    progress.nonfinite += 1
    if state.nan_streak >= state.nan_patience:
        raise NonFiniteLoss(f"the loss was NaN/Inf in {state.nan_streak} optimizer steps in a row "
                            f"(last at batch {index + 1}, lr {state.lr():.3g})")


def _group_size(index: int, batches: int, accum: int) -> int:
    """How many batches the accumulation group of batch ``index`` holds (the last may be short)."""
    return min(accum, batches - (index // accum) * accum)


def _forward_backward(state: TrainState, images: torch.Tensor, labels: torch.Tensor, metric: TopkAcc,
                      group: int, sync: bool) -> float:
    labels = labels.to(state.device, non_blocking=True)
    # DDP averages gradients only on the last batch of an accumulation group.
    no_sync = getattr(state.model, "no_sync", None)
    with (no_sync() if no_sync is not None and not sync else contextlib.nullcontext()):
        with autocast(state.amp_dtype, state.device):
            logits = state.model(images)
            loss = state.loss_fn(logits, labels)["loss"]
        scaled = loss / group
        (state.scaler.scale(scaled) if state.scaler is not None else scaled).backward()
    metric.update(logits.detach().float(), labels)
    return float(loss.detach())


def _optimizer_step(state: TrainState) -> int:
    """Step the optimizer, LR and EMA; returns 1 when the AMP loss scaler skipped an overflow."""
    overflow = 0
    if state.low_precision is not None:
        state.low_precision.grads_to_master()
    if state.scaler is not None:
        scale = state.scaler.get_scale()
        state.scaler.step(state.optimizer)
        state.scaler.update()
        overflow = int(state.scaler.get_scale() < scale)
    else:
        state.optimizer.step()
    state.optimizer.zero_grad(set_to_none=True)
    if state.low_precision is not None:
        state.low_precision.weights_from_master()
    state.scheduler.step()
    if state.ema is not None:  # the scheduler counts optimizer steps, and resumes with them
        state.ema.decay = ema_decay(state.ema_decay, state.scheduler.last_step, state.ema_warmup)
        state.ema.update(state.net)
    return overflow


def ema_decay(decay: float, step: int, warmup: bool) -> float:
    """The EMA decay after optimizer step ``step`` (1-based): ``decay``, or with ``warmup``
    ``min(decay, (1 + step) / (10 + step))``."""
    return min(decay, (1 + step) / (10 + step)) if warmup else decay


def _epoch_stats(state: TrainState, metric: TopkAcc, progress: EpochProgress, wait: float,
                 elapsed: float) -> dict[str, Any]:
    ks = metric.ks
    sums = all_reduce_sums([progress.loss_sum, progress.seen, len(progress.bad_images), progress.nonfinite,
                            progress.overflows, metric.count, *(metric.correct[k] for k in ks)],
                           state.device, state.dist)
    total_loss, seen, bad, nonfinite, overflows, metric.count = sums[0], *(int(v) for v in sums[1:6])
    metric.correct = {k: int(v) for k, v in zip(ks, sums[6:])}
    return {"loss": total_loss / max(seen, 1), **metric.compute(), "lr": state.lr(),
            "ips": seen / max(elapsed, 1e-9), "data_wait": wait / max(elapsed, 1e-9), "num_images": seen,
            "bad_images": bad, "nonfinite_steps": nonfinite, "amp_overflows": overflows}


def _report_bad(bad_batch: list[tuple[str, str]], progress: EpochProgress) -> None:
    for path, reason in bad_batch:
        log.warning("skipped bad image %s: %s", path, reason)
        progress.bad_images.append([path, reason])


def _report_nonfinite(state: TrainState, loader: DeviceLoader, index: int, loss: float, description: str) -> None:
    paths = loader.batch_paths(index)
    shown = ", ".join(paths[:8]) + (f" and {len(paths) - 8} more" if len(paths) > 8 else "")
    log.warning("%s batch %d: loss is %s; skipping this optimizer step (%d/%d in a row before rollback). "
                "Images: %s", description, index + 1, loss, state.nan_streak + 1, state.nan_patience, shown)
