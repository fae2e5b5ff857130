"""What runs around the training step: hooks, called at named events.

A hook is a plain object with a method for each event it cares about (any subset):

- ``on_train_start(trainer)``: the epochs (re)start: at the start or resume, and again after
  a NaN rollback (``trainer.state.start_epoch`` says where).
- ``on_epoch_setup(trainer, epoch)``: before the epoch reads ``trainer.train_loader``, which
  the hook may replace (progressive training's per-stage loader).
- ``on_epoch_start(trainer, epoch)``: before the epoch's first batch (``trainer.progress``
  says how far a resumed epoch had got).
- ``on_batch_end(trainer, batch)``: after every batch (``batch.index``).
- ``on_step_end(trainer, progress)``: after every optimizer step (or its skip).
- ``on_epoch_end(trainer, epoch, stats)``: the epoch's training pass is over; ``stats`` are
  its metrics (summed over processes), before any evaluation.
- ``on_eval_end(trainer, epoch, evaluation)``: the epoch is evaluated (``evaluation`` is None
  when no evaluation was due) and the LR scheduler has ended the epoch.
- ``on_train_end(trainer, result)``: ``fit`` is returning or raising; ``result`` is the
  finished run's dict, None after a stop or an error.

A hook may raise ``signals.TrainingStopped`` (stop, ``fit`` returns) or ``state.NonFiniteLoss``
(roll back). `build_hooks` makes the list a run uses, in the order they are called.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Iterable

from ..config.schema import Config
from .bad_images import BadImageLog
from .checkpoint_hooks import BestModelHook, CheckpointHook
from .eval_report import EvalReportHook, report_class_names
from .metrics_log import MetricsLog
from .progress import EpochSummary, ProgressBar
from .signals import TrainingStopped, stop_on_signals
from .tensorboard_log import TensorBoardHook, tensorboard_enabled, train_normalize

__all__ = ["EVENTS", "Hooks", "build_hooks", "RunLogHook", "ThreadWatchHook", "StopSignalHook"]

log = logging.getLogger("torchclas")

EVENTS = ("on_train_start", "on_epoch_setup", "on_epoch_start", "on_batch_end", "on_step_end", "on_epoch_end",
          "on_eval_end", "on_train_end")


class Hooks:
    """The hooks of a run, called in order at each event.

    Example:
        >>> class Count:
        ...     steps = 0
        ...     def on_step_end(self, trainer, progress):
        ...         self.steps += 1
        >>> hooks = Hooks([Count()])
        >>> hooks.call("on_step_end", None, None); hooks.hooks[0].steps
        1
    """

    def __init__(self, hooks: Iterable[Any] = ()):
        self.hooks = list(hooks)

    def call(self, event: str, *args: Any) -> None:
        """Call ``event`` (one of `EVENTS`) on every hook that has it."""
        if event not in EVENTS:
            raise ValueError(f"unknown hook event '{event}'; events: {', '.join(EVENTS)}")
        for hook in self.hooks:
            method = getattr(hook, event, None)
            if method is not None:
                method(*args)


class RunLogHook:
    """Hook (rank 0): ``metrics.jsonl`` (a record per epoch and split) and ``bad_images.txt``.

    A fresh run starts both empty; a resumed one drops the epochs it redoes."""

    def __init__(self, out: Path, fresh: bool):
        self.metrics, self.bad = MetricsLog(out / "metrics.jsonl"), BadImageLog(out / "bad_images.txt")
        self.fresh = fresh

    def on_train_start(self, trainer) -> None:
        """Empty the logs (fresh run) or drop the epochs about to be redone; list missing files."""
        if self.fresh:
            for run_log in (self.metrics, self.bad):
                run_log.path.unlink(missing_ok=True)
            self.fresh = False
        self.bad.write_missing(getattr(trainer.train_loader.base_dataset, "missing_files", []))
        self.metrics.truncate_after(trainer.state.start_epoch - 1)
        self.bad.truncate_after(trainer.state.start_epoch - 1)

    def on_epoch_end(self, trainer, epoch: int, stats: dict) -> None:
        """The train record, and the images the epoch skipped."""
        self.metrics.write({"epoch": epoch, "split": "train", **stats})
        self.bad.write(epoch, trainer.progress.bad_images)

    def on_eval_end(self, trainer, epoch: int, evaluation: dict | None) -> None:
        """The eval record."""
        if evaluation is not None:
            self.metrics.write({"epoch": epoch, "split": "eval", **evaluation})


class ThreadWatchHook:
    """Hook: re-decides the compute thread count after each epoch (``fast_defaults.ThreadWatch``)
    of a CPU run whose thread count the probe chose."""

    def __init__(self, watch):
        self.watch = watch

    def on_epoch_end(self, trainer, epoch: int, stats: dict) -> None:
        """Re-probe when the epoch's speed calls for it; log a change."""
        change = self.watch.after_epoch(stats["ips"])
        if change:
            log.warning(change)


class StopSignalHook:
    """Hook: SIGTERM/Ctrl-C while training set ``state.stop_signal`` (`stop_on_signals`); once the
    step's (or epoch's) checkpoint is committed the run stops. Goes after `CheckpointHook`."""

    def __init__(self):
        self.handlers: contextlib.ExitStack | None = None

    def on_train_start(self, trainer) -> None:
        """Catch the signals (once: a rollback starts the epochs again)."""
        if self.handlers is None:
            self.handlers = contextlib.ExitStack()
            self.handlers.enter_context(stop_on_signals(trainer.state))

    def on_step_end(self, trainer, progress) -> None:
        """Stop mid-epoch after the checkpoint a stop commits."""
        if trainer.state.stop_signal is not None and progress.batches < len(trainer.train_loader):
            raise TrainingStopped

    def on_eval_end(self, trainer, epoch: int, evaluation: dict | None) -> None:
        """Stop after an epoch's checkpoints (the last epoch just finishes)."""
        if trainer.state.stop_signal is not None and epoch < trainer.settings.epochs:
            raise TrainingStopped

    def on_train_end(self, trainer, result: dict | None) -> None:
        """Give the signals back."""
        if self.handlers is not None:
            self.handlers.close()
            self.handlers = None


def build_hooks(cfg: Config, out: Path, is_main: bool, fresh: bool, thread_watch=None) -> Hooks:
    """The hooks of a training run of ``cfg`` writing to ``out``, in calling order: the progress
    bar, the thread watch, the run logs, TensorBoard (``Global.use_visualdl``/``tensorboard``),
    ``best_model``, the last evaluation's report, checkpoints, the summary line, stop signals.
    Rank 0 (``is_main``) alone shows and writes; ``fresh``: no checkpoint was resumed.

    Example:
        >>> hooks = build_hooks(cfg, Path("output/ResNet18"), is_main=True, fresh=True)  # doctest: +SKIP
    """
    g = cfg.Global
    run_facts = {"arch": cfg.Arch.name, "class_num": cfg.class_num, "precision": g.precision,
                 "num_threads": g.num_threads}
    hooks: list[Any] = [ProgressBar(g.print_batch_step, enabled=is_main)]
    if thread_watch is not None:
        hooks.append(ThreadWatchHook(thread_watch))
    if is_main:
        hooks.append(RunLogHook(out, fresh))
        if tensorboard_enabled(cfg):
            hooks.append(TensorBoardHook(out, g.print_batch_step, fresh, train_normalize(cfg)))
        hooks += [BestModelHook(out, cfg.Arch.name, cfg.class_num), EvalReportHook(out, report_class_names(cfg))]
    hooks.append(CheckpointHook(out, g.save_interval, g.save_steps, run_facts))
    if is_main:
        hooks.append(EpochSummary())
    hooks.append(StopSignalHook())
    return Hooks(hooks)
