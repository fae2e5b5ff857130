"""``Trainer``: epochs of training steps, evaluation, and the hooks around them.

The training step is the one seam every task goes through::

    outputs = model(batch.images)          # a tensor, or a dict of named tensors
    losses = criterion(outputs, batch)     # {"loss": total, name: part, ...}
    train_metric.update(outputs, batch)

Single-label, multi-label and distillation differ only in the model, the criterion and the
metrics; the loop, checkpoints and resume are the same. What runs around the steps
(checkpoints, ``best_model``, logs, the progress bar, the thread watch, stop signals) are hooks
(`hooks`), called at named events. A NaN/Inf loss skips its optimizer step;
``nan_patience`` such steps in a row roll the run back to its last checkpoint
(`recovery.rollback`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.loader import DeviceLoader
from .batches import Batch, detached_float, loader_batches
from .distributed import DistInfo, all_reduce_sums
from .evaluate import run_eval
from .hooks import Hooks
from .precision import autocast
from .recovery import rollback
from .settings import TrainSettings
from .signals import TrainingStopped
from .state import EpochProgress, NonFiniteLoss, TrainState
from .step import StepReport, group_size, optimizer_step

__all__ = ["Trainer"]

log = logging.getLogger("torchclas")


@dataclass(eq=False)
class Trainer:
    """Trains ``state`` for ``settings.epochs`` epochs over ``train_loader``; `fit` runs it.

    Args:
        state: what training changes (model, optimizer, ...), resumed or fresh.
        settings: how it trains (`settings.build_settings`).
        criterion: ``criterion(outputs, batch) -> {"loss": ..., ...}`` (``losses.build_loss``).
        train_metric / eval_metric: ``reset``/``update(outputs, batch)``/``compute``
            (``metrics.build_metric``); the eval metric's ``settings.best_metric`` value picks
            ``best_model``.
        eval_criterion: the loss reported by evaluation (``Loss.Eval``).
        train_loader / eval_loader: ``data.build_dataloader`` loaders (no eval loader: no evaluation).
        hooks: what runs around the steps (`hooks.build_hooks`).
        device / dist: where this process trains, and which of how many processes it is.
        out: the run's folder (reported in the result).
        eval_confusion: counts the last epoch's evaluation as a confusion matrix when given
            (``metrics.ConfusionMatrix``; the report hook reads the last one).
    """

    state: TrainState
    settings: TrainSettings
    criterion: nn.Module
    train_metric: Any
    eval_metric: Any
    eval_criterion: nn.Module
    train_loader: DeviceLoader
    eval_loader: DeviceLoader | None
    hooks: Hooks
    device: torch.device
    dist: DistInfo = DistInfo()
    out: Path = Path(".")
    eval_confusion: Any = None
    epoch: int = 0
    progress: EpochProgress = dataclasses.field(default_factory=EpochProgress)
    epoch_clock: float = 0.0

    @property
    def description(self) -> str:
        """``epoch 3/10``: how the current epoch is named in the bar and the log."""
        return f"epoch {self.epoch}/{self.settings.epochs}"

    def fit(self) -> dict[str, Any]:
        """Train from ``state.start_epoch`` to the last epoch; returns the last epoch's train and
        eval metrics with ``best_top1``/``best_epoch`` (the best ``settings.best_metric``, named in
        ``best_metric``), or
        ``{"stopped": signal, ...}`` after a stop signal."""
        result = None
        try:
            while True:
                self.hooks.call("on_train_start", self)
                try:
                    result = self._epochs()
                    return result
                except NonFiniteLoss as err:
                    rollback(self.state, err, self.settings.nan_max_rollbacks, self.settings.nan_lr_factor)
                except TrainingStopped:
                    return self._stopped()
        finally:
            self.hooks.call("on_train_end", self, result)

    def _epochs(self) -> dict[str, Any]:
        state, result = self.state, {}
        for epoch in range(state.start_epoch, self.settings.epochs + 1):
            stats = self.train_epoch(epoch)
            state.resume_progress = None
            self.hooks.call("on_epoch_end", self, epoch, stats)
            evaluation = self.evaluate(epoch)
            state.scheduler.epoch_end(self._plateau_value(stats, evaluation))
            self.hooks.call("on_eval_end", self, epoch, evaluation)
            result = {"epoch": epoch, "train": stats, "eval": evaluation}
        result.update(best_top1=state.best_value, best_epoch=state.best_epoch, best_metric=self.settings.best_metric,
                      output_dir=str(self.out))
        return result

    def _stopped(self) -> dict[str, Any]:
        state = self.state
        where = f"epoch {state.start_epoch}" if state.last_checkpoint is None else str(state.last_checkpoint)
        if self.dist.is_main:
            log.warning("stopped by %s; checkpoint %s. Resume with the same command plus --resume "
                        "(or -o Global.checkpoints=auto)", state.stop_signal, where)
        return {"stopped": state.stop_signal, "checkpoint": str(state.last_checkpoint),
                "best_top1": state.best_value, "best_epoch": state.best_epoch, "output_dir": str(self.out)}

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """One pass over the train loader, an optimizer step every ``accum_steps`` batches; an
        epoch resumed mid-way continues where its checkpoint stopped.

        Returns mean loss, train metrics, last lr, images/s, the fraction of time spent waiting
        for data, skipped (unreadable) images, skipped non-finite steps and AMP overflows (sums
        over all processes), and with ``clip_norm`` the steps it clipped (``clipped_steps``).
        """
        self.hooks.call("on_epoch_setup", self, epoch)
        state, settings, loader = self.state, self.settings, self.train_loader
        progress = EpochProgress.from_dict(state.resume_progress if epoch == state.start_epoch else None)
        if not self.dist.is_main:  # rank 0 carries the sums a mid-epoch checkpoint kept
            progress = EpochProgress(batches=progress.batches)
        if progress.batches == 0:  # a mid-epoch checkpoint restored the RNG where it stopped
            torch.manual_seed(settings.seed * 1_009 + epoch)  # model-side randomness (dropout) per epoch
        loader.batch_sampler.set_epoch(epoch, progress.batches)
        self.epoch, self.progress = epoch, progress
        state.model.train()
        self.train_metric.load_state_dict({"correct": progress.correct, "count": progress.count})
        start = tick = self.epoch_clock = time.perf_counter() - progress.elapsed
        wait, finite = progress.wait, True
        self.hooks.call("on_epoch_start", self, epoch)
        for batch in loader_batches(loader, self.device, settings.channels_last, start=progress.batches):
            wait += time.perf_counter() - tick
            index = batch.index
            self._report_bad(batch)
            last_of_group = (index + 1) % settings.accum_steps == 0 or index + 1 == len(loader)
            if 0 < batch.size < settings.min_batch:
                log.warning("%s batch %d: only %d readable image(s), skipped (BatchNorm needs %d in training)",
                            self.description, index + 1, batch.size, settings.min_batch)
            elif batch.size > 0:
                loss = self.step(batch, group_size(index, len(loader), settings.accum_steps), last_of_group)
                if math.isfinite(loss):
                    progress.loss_sum += loss * batch.size
                    progress.seen += batch.size
                else:
                    finite = False
                    self._report_nonfinite(index, loss)
            if last_of_group:
                self._finish_group(progress, finite, index)
                finite = True
                progress.batches = index + 1
                sums = self.train_metric.state_dict()
                progress.correct, progress.count = sums["correct"], sums["count"]
                progress.elapsed, progress.wait = time.perf_counter() - start, wait
                self.hooks.call("on_step_end", self, progress)
            self.hooks.call("on_batch_end", self, batch)
            tick = time.perf_counter()
        return self._epoch_stats(progress, wait, time.perf_counter() - start)

    def step(self, batch: Batch, group: int, sync: bool) -> float:
        """Forward and backward of one batch (the seam: ``model(images)``, ``criterion(outputs,
        batch)``, ``train_metric.update(outputs, batch)``); the loss is divided by the ``group``
        size of its accumulation group. Returns the batch's loss."""
        state = self.state
        # DDP averages gradients only on the last batch of an accumulation group.
        no_sync = getattr(state.model, "no_sync", None)
        with (no_sync() if no_sync is not None and not sync else contextlib.nullcontext()):
            with autocast(self.settings.amp_dtype, self.device):
                outputs = state.model(batch.images)
                loss = self.criterion(outputs, batch)["loss"]
            scaled = loss / group
            (state.scaler.scale(scaled) if state.scaler is not None else scaled).backward()
        self.train_metric.update(detached_float(outputs), batch)
        return float(loss.detach())

    def evaluate(self, epoch: int) -> dict[str, Any] | None:
        """Evaluate ``state.eval_model`` when epoch ``epoch`` calls for it (every
        ``eval_interval`` epochs from ``start_eval_epoch`` on, as PaddleClas does, and the last),
        else None."""
        settings = self.settings
        due = epoch % settings.eval_interval == 0 and epoch >= settings.start_eval_epoch
        if self.eval_loader is None or not (due or epoch == settings.epochs):
            return None
        return run_eval(self.state.eval_model, self.eval_loader, self.eval_criterion, self.device,
                        self.eval_metric, settings.channels_last, settings.eval_amp_dtype,
                        self.eval_confusion if epoch == settings.epochs else None)  # the report reads the last

    def summed_progress(self, progress: EpochProgress) -> EpochProgress:
        """The epoch's running sums over all processes (what a mid-epoch checkpoint keeps; on
        resume rank 0 carries them and the other ranks start from zero)."""
        if not self.dist.enabled:
            return progress
        ks = sorted(progress.correct)
        sums = all_reduce_sums([progress.loss_sum, progress.seen, progress.count, progress.nonfinite,
                                progress.overflows, *(progress.correct[k] for k in ks)], self.device, self.dist)
        return dataclasses.replace(progress, loss_sum=sums[0], seen=int(sums[1]), count=int(sums[2]),
                                   nonfinite=int(sums[3]), overflows=int(sums[4]),
                                   correct={k: int(v) for k, v in zip(ks, sums[5:])})

    def _finish_group(self, progress: EpochProgress, finite: bool, index: int) -> None:
        """The optimizer step of an accumulation group, or its skip when a loss was not finite
        (on any process: they agree, so the replicas stay equal)."""
        state = self.state
        flags = [0.0 if finite else 1.0, 1.0 if state.stop_signal else 0.0]
        if self.dist.enabled:
            flags = all_reduce_sums(flags, self.device, self.dist)
            if flags[1] and not state.stop_signal:
                state.stop_signal = "a stop signal (another process)"
        if flags[0] == 0:
            report = optimizer_step(state, self.settings.clip_norm)
            progress.overflows += report.overflow
            if report.clipped:
                self._report_clipped(progress, report, index)
            state.nan_streak = 0
            return
        state.optimizer.zero_grad(set_to_none=True)
        state.scheduler.step()  # keeps the schedule aligned with the epoch; the weights stay as they were
        state.nan_streak += 1
        progress.nonfinite += 1
        if state.nan_streak >= self.settings.nan_patience:
            raise NonFiniteLoss(f"the loss was NaN/Inf in {state.nan_streak} optimizer steps in a row "
                                f"(last at batch {index + 1}, lr {state.lr():.3g})")

    def _report_clipped(self, progress: EpochProgress, report: StepReport, index: int) -> None:
        """Count a step ``clip_norm`` clipped; log the epoch's first (the count is in the epoch's stats)."""
        if progress.clipped_steps == 0 and self.dist.is_main:
            log.info("%s batch %d: Optimizer.clip_norm %g clipped %d gradient tensor(s) (largest norm %.4g); "
                     "clipped steps are counted in the epoch's clipped_steps", self.description, index + 1,
                     self.settings.clip_norm, report.clipped, report.largest_norm)
        progress.clipped_steps += 1

    def _epoch_stats(self, progress: EpochProgress, wait: float, elapsed: float) -> dict[str, Any]:
        sums = all_reduce_sums([progress.loss_sum, progress.seen, len(progress.bad_images), progress.nonfinite,
                                progress.overflows], self.device, self.dist)
        total_loss, seen, bad, nonfinite, overflows = sums[0], *(int(v) for v in sums[1:])
        clipped = progress.clipped_steps  # the processes clip the same reduced gradients: not summed
        self.train_metric.all_reduce(lambda values: all_reduce_sums(values, self.device, self.dist))
        return {"loss": total_loss / max(seen, 1), **self.train_metric.compute(), "lr": self.state.lr(),
                "ips": seen / max(elapsed, 1e-9), "data_wait": wait / max(elapsed, 1e-9), "num_images": seen,
                "bad_images": bad, "nonfinite_steps": nonfinite, "amp_overflows": overflows,
                **({"clipped_steps": clipped} if self.settings.clip_norm is not None else {})}

    def _plateau_value(self, stats: dict, evaluation: dict | None) -> float:
        """What ReduceOnPlateau watches: the best-model metric for ``mode: max``, the loss for
        ``min``; eval's when there was one (rank 0 evaluates, so its value is shared)."""
        metric = self.eval_metric if evaluation else self.train_metric
        key = metric.best_key if self.settings.plateau_mode == "max" else "loss"
        value = (evaluation or stats)[key] if self.dist.is_main else 0.0
        if self.dist.enabled:
            value = all_reduce_sums([value], self.device, self.dist)[0]
        return value

    def _report_bad(self, batch: Batch) -> None:
        for path, reason in batch.bad:
            log.warning("skipped bad image %s: %s", path, reason)
            self.progress.bad_images.append([path, reason])

    def _report_nonfinite(self, index: int, loss: float) -> None:
        paths = self.train_loader.batch_paths(index)
        shown = ", ".join(paths[:8]) + (f" and {len(paths) - 8} more" if len(paths) > 8 else "")
        log.warning("%s batch %d: loss is %s; skipping this optimizer step (%d/%d in a row before rollback). "
                    "Images: %s", self.description, index + 1, loss, self.state.nan_streak + 1,
                    self.settings.nan_patience, shown)
