"""One training epoch: forward under autocast, backward, gradient accumulation, optimizer,
LR and EMA steps, train metrics (summed over processes)."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from .distributed import DistInfo, all_reduce_sums
from .metrics import TopkAcc
from .precision import LowPrecisionCopy, autocast
from .progress import epoch_progress

__all__ = ["TrainState", "train_one_epoch", "ema_decay"]

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

    @property
    def eval_model(self) -> nn.Module:
        """The weights to evaluate and keep as ``best_model``: the EMA when there is one."""
        return self.ema.module if self.ema is not None else self.net

    def lr(self) -> float:
        """The current learning rate of the first parameter group."""
        return self.optimizer.param_groups[0]["lr"]


def train_one_epoch(state: TrainState, loader: DataLoader, metric: TopkAcc, description: str,
                    print_every: int = 10) -> dict[str, Any]:
    """One pass over ``loader``, an optimizer step every ``accum_steps`` batches.

    Returns mean loss, train top-k, last lr, images/s, the fraction of time spent waiting
    for data, and the number of skipped (unreadable) images; sums cover all processes.
    """
    state.model.train()
    metric.reset()
    total_loss, seen, bad, wait = 0.0, 0, 0, 0.0
    start = tick = time.perf_counter()
    with epoch_progress(enabled=state.dist.is_main) as progress:
        task = progress.add_task(description, total=len(loader), loss=0.0, lr=state.lr(), ips=0.0)
        for index, (images, labels, bad_batch) in enumerate(loader):
            wait += time.perf_counter() - tick
            bad += _report_bad(bad_batch)
            group = _group_size(index, len(loader), state.accum_steps)
            last_of_group = (index + 1) % state.accum_steps == 0 or index + 1 == len(loader)
            if labels.shape[0] > 0:
                loss = _forward_backward(state, images, labels, metric, group, last_of_group)
                total_loss += loss * labels.shape[0]
                seen += labels.shape[0]
            if last_of_group:
                _optimizer_step(state)
            ips = seen / (time.perf_counter() - start)
            progress.update(task, advance=1, loss=total_loss / max(seen, 1), lr=state.lr(), ips=ips)
            if (index + 1) % print_every == 0:
                log.debug("%s step %d/%d loss %.4f lr %.6f %.0f img/s", description, index + 1, len(loader),
                          total_loss / max(seen, 1), state.lr(), ips)
            tick = time.perf_counter()
    elapsed = time.perf_counter() - start
    return _epoch_stats(state, metric, total_loss, seen, bad, wait, elapsed)


def _group_size(index: int, batches: int, accum: int) -> int:
    """How many batches the accumulation group of batch ``index`` holds (the last may be short)."""
    return min(accum, batches - (index // accum) * accum)


def _forward_backward(state: TrainState, images: torch.Tensor, labels: torch.Tensor, metric: TopkAcc,
                      group: int, sync: bool) -> float:
    images = images.to(state.device, non_blocking=True)
    labels = labels.to(state.device, non_blocking=True)
    if state.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
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


def _optimizer_step(state: TrainState) -> None:
    if state.low_precision is not None:
        state.low_precision.grads_to_master()
    if state.scaler is not None:
        state.scaler.step(state.optimizer)
        state.scaler.update()
    else:
        state.optimizer.step()
    state.optimizer.zero_grad(set_to_none=True)
    if state.low_precision is not None:
        state.low_precision.weights_from_master()
    state.scheduler.step()
    if state.ema is not None:  # the scheduler counts optimizer steps, and resumes with them
        state.ema.decay = ema_decay(state.ema_decay, state.scheduler.last_step, state.ema_warmup)
        state.ema.update(state.net)


def ema_decay(decay: float, step: int, warmup: bool) -> float:
    """The EMA decay after optimizer step ``step`` (1-based): ``decay``, or with ``warmup``
    ``min(decay, (1 + step) / (10 + step))``."""
    return min(decay, (1 + step) / (10 + step)) if warmup else decay


def _epoch_stats(state: TrainState, metric: TopkAcc, total_loss: float, seen: int, bad: int, wait: float,
                 elapsed: float) -> dict[str, Any]:
    ks = metric.ks
    sums = all_reduce_sums([total_loss, seen, bad, metric.count, *(metric.correct[k] for k in ks)],
                           state.device, state.dist)
    total_loss, seen, bad, metric.count = sums[0], int(sums[1]), int(sums[2]), int(sums[3])
    metric.correct = {k: int(v) for k, v in zip(ks, sums[4:])}
    return {"loss": total_loss / max(seen, 1), **metric.compute(), "lr": state.lr(),
            "ips": seen / elapsed, "data_wait": wait / elapsed, "num_images": seen, "bad_images": bad}


def _report_bad(bad_batch: list[tuple[str, str]]) -> int:
    for path, reason in bad_batch:
        log.warning("skipped bad image %s: %s", path, reason)
    return len(bad_batch)
