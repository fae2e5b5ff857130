"""The training run: epochs, evaluation, metrics.jsonl, best/latest checkpoints, resume, one or
many processes."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..config import save_config
from ..config.paths import check_config_paths
from ..config.schema import Config
from ..data.loader import build_dataloader
from ..data.samplers import label_counts
from ..losses import build_loss
from ..optim import plot_lr_curve
from .build import build_train_state, lr_scale_factor, scaled_lr_config
from .bad_images import BadImageLog
from .checkpoint import save_weights
from .distributed import DistInfo, all_reduce_sums, barrier, init_distributed, shutdown_distributed
from .evaluate import run_eval
from .loop import EpochProgress, NonFiniteLoss, TrainState, train_one_epoch
from .metrics import MetricsLog, build_metric
from .recovery import (check_free_space, checkpoint_bytes, checkpoint_fast_defaults, resolve_resume, resume,
                       rollback, save_training_checkpoint)
from .fast_defaults import ThreadWatch, resolve_precision
from .signals import TrainingStopped, stop_on_signals
from .progress import console, summary_line
from .runtime import (attach_log_file, configure_threads, run_dir, seed_everything, select_device,
                      use_deterministic_kernels)

__all__ = ["train", "train_one_epoch", "TrainState"]

log = logging.getLogger("torchclas")


def train(cfg: Config) -> dict[str, Any]:
    """Train ``cfg`` end to end; returns the last epoch's metrics and the best eval top-1.

    Writes ``Global.output_dir/<Arch.name>/``: ``config.yaml``, ``train.log``, ``lr.png``,
    ``metrics.jsonl``, ``bad_images.txt``, ``best_model.safetensors`` and the ``latest``
    checkpoint (``.safetensors`` + ``.state.pt`` + ``.manifest.json``).
    ``Global.checkpoints`` (a path, or ``auto``) resumes exactly where a run stopped, mid-epoch
    too. SIGTERM/Ctrl-C commit a checkpoint and return ``{"stopped": signal, ...}``. Under
    ``torchrun`` each process trains on its shard and only rank 0 writes.

    Example:
        >>> result = train(load_config("configs/quickstart/fashion_mnist.yaml"))
    """
    if cfg.DataLoader.Train is None:
        raise ValueError("DataLoader.Train is missing: nothing to train on")
    check_config_paths(cfg, "train")  # every path the run needs, before any work
    info, device = init_distributed(select_device(cfg.Global.device))
    try:
        threads = configure_threads(cfg)
        seed = cfg.Global.seed if cfg.Global.seed is not None else int(time.time())
        seed_everything(seed)
        out = run_dir(cfg) if info.is_main else Path(cfg.Global.output_dir) / cfg.Arch.name
        handler = attach_log_file(out / "train.log") if info.is_main else None
        try:
            log.info("device %s, %d compute threads, seed %d, %d process(es)", device, threads, seed,
                     info.world_size)
            return _run(cfg, seed, device, info, out)
        finally:
            if handler is not None:
                logging.getLogger("torchclas").removeHandler(handler)
                handler.close()
    finally:
        shutdown_distributed()


def _run(cfg: Config, seed: int, device: torch.device, info: DistInfo, out: Path) -> dict[str, Any]:
    pin = device.type == "cuda"
    train_loader = build_dataloader(cfg.DataLoader.Train, seed, cfg.Global.strict_data, info.world_size,
                                    info.rank, pin_memory=pin, class_num=cfg.class_num)
    eval_loader = None
    if cfg.DataLoader.Eval is not None and cfg.Global.eval_during_train and info.is_main:
        eval_loader = build_dataloader(cfg.DataLoader.Eval, seed, cfg.Global.strict_data, pin_memory=pin,
                                       class_num=cfg.class_num)
    if len(train_loader) == 0:
        raise ValueError("DataLoader.Train yields no batch (empty list, or drop_last with too few images)")
    counts = label_counts(train_loader.base_dataset, cfg.class_num)
    checkpoint = _find_checkpoint(cfg, info, out)
    max_threads, probed_threads = torch.get_num_threads(), cfg.Global.num_threads is None
    cfg = _decide_fast_defaults(cfg, device, info, checkpoint)
    state = build_train_state(cfg, device, info, len(train_loader), counts)
    if probed_threads and device.type == "cpu" and max_threads > 1 and not info.enabled:
        state.thread_watch = ThreadWatch([1, max_threads], bf16=cfg.Global.precision == "bf16")
    metrics_log = MetricsLog(out / "metrics.jsonl")
    bad_log = BadImageLog(out / "bad_images.txt")
    if info.is_main:
        check_free_space(out, 2 * checkpoint_bytes(state) * (2 if cfg.Global.save_interval < cfg.Global.epochs
                                                              else 1))
        save_config(cfg, out / "config.yaml")
        plot_lr_curve(scaled_lr_config(cfg, lr_scale_factor(cfg, info.world_size)), cfg.Global.epochs,
                      math.ceil(len(train_loader) / cfg.Global.accum_steps), out / "lr.png")
    _start_or_resume(state, checkpoint, (metrics_log, bad_log))
    if info.is_main:
        bad_log.write_missing(getattr(train_loader.base_dataset, "missing_files", []))
    log.info("training %s (%d classes) on %s: %d train images, %d steps/epoch, epochs %d..%d, output %s",
             cfg.Arch.name, cfg.class_num, device, len(train_loader.base_dataset), len(train_loader),
             state.start_epoch, cfg.Global.epochs, out)
    loaders = (train_loader, eval_loader)
    with stop_on_signals(state):
        while True:
            if info.is_main:
                metrics_log.truncate_after(state.start_epoch - 1)
                bad_log.truncate_after(state.start_epoch - 1)
            try:
                return _epochs(cfg, state, seed, loaders, metrics_log, bad_log, out, counts)
            except NonFiniteLoss as err:
                rollback(cfg, state, err)
            except TrainingStopped:
                return _stopped(state, out)


def _find_checkpoint(cfg: Config, info: DistInfo, out: Path) -> Path | None:
    """The checkpoint ``Global.checkpoints`` names (``auto``: the newest complete one). Rank 0
    looks first: verifying may finish an interrupted commit, which one process must do alone."""
    checkpoint = resolve_resume(cfg.Global.checkpoints, out) if info.is_main else None
    barrier(info)
    return checkpoint if info.is_main else resolve_resume(cfg.Global.checkpoints, out)


def _decide_fast_defaults(cfg: Config, device: torch.device, info: DistInfo, checkpoint: Path | None) -> Config:
    """``Global.precision`` (and, unset, ``Global.num_threads``) decided by the hardware, or as the
    resumed run had them; the processes of a distributed run agree on bf16 only when every one
    of them chose it."""
    cfg, why = resolve_precision(cfg, device, checkpoint_fast_defaults(checkpoint), torch.get_num_threads())
    if cfg.Global.num_threads is not None:
        torch.set_num_threads(cfg.Global.num_threads)
    if info.enabled:  # each process probed its own CPU: bf16 only if all of them chose it
        bf16 = all_reduce_sums([float(cfg.Global.precision == "bf16")], device, info)[0]
        if 0 < bf16 < info.world_size:
            cfg = cfg.model_copy(update={"AMP": None, "Global": cfg.Global.model_copy(update={"precision": "fp32"})})
            why = f"only {int(bf16)} of {info.world_size} processes found bf16 faster"
    log.info("precision %s, %d compute thread(s) (%s)", cfg.Global.precision, torch.get_num_threads(), why)
    if cfg.Global.deterministic:
        use_deterministic_kernels()
        log.info("deterministic kernels on, cudnn.benchmark off (Global.deterministic)")
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = cfg.Global.cudnn_benchmark
        log.info("cudnn.benchmark %s (Global.cudnn_benchmark)", cfg.Global.cudnn_benchmark)
    return cfg


def _start_or_resume(state: TrainState, checkpoint: Path | None, logs: tuple[MetricsLog, BadImageLog]) -> None:
    """Resume from ``checkpoint``, or start fresh with empty per-epoch logs."""
    if checkpoint is not None:
        resume(state, checkpoint)
    elif state.dist.is_main:
        for run_log in logs:
            run_log.path.unlink(missing_ok=True)


def _stopped(state: TrainState, out: Path) -> dict[str, Any]:
    where = f"epoch {state.start_epoch}" if state.last_checkpoint is None else str(state.last_checkpoint)
    if state.dist.is_main:
        log.warning("stopped by %s; checkpoint %s. Resume with the same command plus --resume "
                    "(or -o Global.checkpoints=auto)", state.stop_signal, where)
    return {"stopped": state.stop_signal, "checkpoint": str(state.last_checkpoint),
            "best_top1": state.best_top1, "best_epoch": state.best_epoch, "output_dir": str(out)}


def _epochs(cfg: Config, state: TrainState, seed: int, loaders: tuple[DataLoader, DataLoader | None],
            metrics_log: MetricsLog, bad_log: BadImageLog, out: Path, counts: list[int]) -> dict[str, Any]:
    train_loader, eval_loader = loaders
    epochs, main = cfg.Global.epochs, state.dist.is_main
    train_metric = build_metric(cfg.Metric.Train, "Metric.Train")
    eval_metric = build_metric(cfg.Metric.Eval, "Metric.Eval")
    eval_loss = build_loss(cfg.Loss.Eval, "Loss.Eval", counts)
    result: dict[str, Any] = {}
    for epoch in range(state.start_epoch, epochs + 1):
        began = time.perf_counter()
        progress = EpochProgress.from_dict(state.resume_progress if epoch == state.start_epoch else None)
        if not main:  # rank 0 carries the sums a mid-epoch checkpoint kept
            progress = EpochProgress(batches=progress.batches)
        if progress.batches == 0:  # a mid-epoch checkpoint restored the RNG where it stopped
            torch.manual_seed(seed * 1_009 + epoch)  # model-side randomness (dropout) per epoch
        train_loader.batch_sampler.set_epoch(epoch, progress.batches)
        stats = train_one_epoch(state, train_loader, train_metric, f"epoch {epoch}/{epochs}",
                                cfg.Global.print_batch_step, progress,
                                _mid_epoch_saver(cfg, state, epoch, len(train_loader), out))
        if state.thread_watch is not None and (change := state.thread_watch.after_epoch(stats["ips"])):
            log.warning(change)
        evaluation = None
        if eval_loader is not None and (epoch % cfg.Global.eval_interval == 0 or epoch == epochs):
            fp16_test = cfg.AMP is not None and cfg.AMP.use_fp16_test
            evaluation = run_eval(state.eval_model, eval_loader, eval_loss, state.device, eval_metric,
                                  state.channels_last, state.amp_dtype if fp16_test else None)
        state.scheduler.epoch_end(_plateau_metric(cfg, state, stats, evaluation))
        if main:
            metrics_log.write({"epoch": epoch, "split": "train", **stats})
            bad_log.write(epoch, progress.bad_images)
            if evaluation is not None:
                metrics_log.write({"epoch": epoch, "split": "eval", **evaluation})
                _save_best(cfg, state, epoch, evaluation["top1"], out)
            _save_checkpoints(cfg, state, epoch, out)
            log.info(summary_line(epoch, epochs, stats, evaluation, time.perf_counter() - began))
        state.last_checkpoint = out / "latest"
        state.resume_progress = None
        barrier(state.dist)
        result = {"epoch": epoch, "train": stats, "eval": evaluation}
        if state.stop_signal is not None and epoch < epochs:
            raise TrainingStopped
    if eval_loader is None and main:  # no evaluation: the last weights are the best we know
        save_weights(state.eval_model, out / "best_model.safetensors", {"epoch": epochs, "arch": cfg.Arch.name})
    result.update(best_top1=state.best_top1, best_epoch=state.best_epoch, output_dir=str(out))
    return result


def _mid_epoch_saver(cfg: Config, state: TrainState, epoch: int, batches: int, out: Path):
    """After each optimizer step: commit ``latest`` every ``Global.save_steps`` steps, and on a
    stop signal commit it and stop. Steps that end the epoch are left to the epoch's end."""
    every = cfg.Global.save_steps

    def after_step(progress: EpochProgress) -> None:
        if progress.batches >= batches:
            return
        stop = state.stop_signal is not None
        if not stop and not (every and state.scheduler.last_step % every == 0):
            return
        totals = _summed_progress(state, progress)
        if state.dist.is_main:
            save_training_checkpoint(cfg, state, out / "latest", epoch - 1, totals)
        state.last_checkpoint = out / "latest"
        barrier(state.dist)
        if stop:
            raise TrainingStopped

    return after_step


def _summed_progress(state: TrainState, progress: EpochProgress) -> EpochProgress:
    """The epoch's running sums over all processes (what a mid-epoch checkpoint keeps; on
    resume rank 0 carries them and the other ranks start from zero)."""
    if not state.dist.enabled:
        return progress
    ks = sorted(progress.correct)
    sums = all_reduce_sums([progress.loss_sum, progress.seen, progress.count, progress.nonfinite,
                            progress.overflows, *(progress.correct[k] for k in ks)], state.device, state.dist)
    return dataclasses.replace(progress, loss_sum=sums[0], seen=int(sums[1]), count=int(sums[2]),
                               nonfinite=int(sums[3]), overflows=int(sums[4]),
                               correct={k: int(v) for k, v in zip(ks, sums[5:])})


def _plateau_metric(cfg: Config, state: TrainState, stats: dict, evaluation: dict | None) -> float:
    """What ReduceOnPlateau watches: top-1 for ``mode: max``, loss for ``min``; eval's when there
    was one (rank 0 evaluates, so its value is shared with every process)."""
    key = "top1" if cfg.Optimizer.lr.param("mode") == "max" else "loss"
    value = (evaluation or stats)[key] if state.dist.is_main else 0.0
    if state.dist.enabled:
        value = all_reduce_sums([value], state.device, state.dist)[0]
    return value


def _save_checkpoints(cfg: Config, state: TrainState, epoch: int, out: Path) -> None:
    """``latest`` every epoch, and ``epoch_N`` every ``save_interval`` epochs, as PaddleClas does."""
    names = ["latest"] + ([f"epoch_{epoch}"] if epoch % cfg.Global.save_interval == 0 else [])
    for name in names:
        save_training_checkpoint(cfg, state, out / name, epoch)


def _save_best(cfg: Config, state: TrainState, epoch: int, top1: float, out: Path) -> None:
    if top1 <= state.best_top1:
        return
    state.best_top1, state.best_epoch = top1, epoch
    try:
        save_weights(state.eval_model, out / "best_model.safetensors",
                     {"epoch": epoch, "top1": top1, "arch": cfg.Arch.name, "class_num": cfg.class_num})
    except OSError as exc:
        log.error("could not write best_model.safetensors: %s; the previous best is intact", exc.strerror or exc)
        return
    console.print(f"[green]new best top1 {100 * top1:.2f}% at epoch {epoch}[/green]")
