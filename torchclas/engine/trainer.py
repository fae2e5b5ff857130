"""The training run: epochs, evaluation, metrics.jsonl, best/latest checkpoints, resume, one or
many processes."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..config import save_config
from ..config.schema import Config
from ..data.loader import build_dataloader
from ..data.samplers import label_counts
from ..losses import build_loss
from ..optim import plot_lr_curve
from .build import build_train_state, lr_scale_factor, scaled_lr_config
from .checkpoint import load_checkpoint, save_checkpoint, save_weights
from .distributed import DistInfo, all_reduce_sums, barrier, init_distributed, shutdown_distributed
from .evaluate import run_eval
from .loop import TrainState, train_one_epoch
from .metrics import MetricsLog, build_metric
from .progress import console, summary_line
from .runtime import attach_log_file, configure_threads, run_dir, seed_everything, select_device

__all__ = ["train", "train_one_epoch", "TrainState"]

log = logging.getLogger("torchclas")


def train(cfg: Config) -> dict[str, Any]:
    """Train ``cfg`` end to end; returns the last epoch's metrics and the best eval top-1.

    Writes ``Global.output_dir/<Arch.name>/``: ``config.yaml``, ``train.log``, ``lr.png``,
    ``metrics.jsonl``, ``best_model.safetensors`` and ``latest.safetensors`` (+ ``.state.pt``).
    ``Global.checkpoints`` resumes from a ``latest`` checkpoint exactly where it stopped.
    Under ``torchrun`` each process trains on its shard and only rank 0 writes.

    Example:
        >>> result = train(load_config("configs/quickstart/fashion_mnist.yaml"))
    """
    if cfg.DataLoader.Train is None:
        raise ValueError("DataLoader.Train is missing: nothing to train on")
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
    state = build_train_state(cfg, device, info, len(train_loader), counts)
    metrics_log = MetricsLog(out / "metrics.jsonl")
    if info.is_main:
        save_config(cfg, out / "config.yaml")
        plot_lr_curve(scaled_lr_config(cfg, lr_scale_factor(cfg, info.world_size)), cfg.Global.epochs,
                      math.ceil(len(train_loader) / cfg.Global.accum_steps), out / "lr.png")
    if cfg.Global.checkpoints:
        _resume(state, cfg.Global.checkpoints)
        if info.is_main:
            metrics_log.truncate_after(state.start_epoch - 1)
    elif info.is_main:
        metrics_log.path.unlink(missing_ok=True)
    log.info("training %s (%d classes) on %s: %d train images, %d steps/epoch, epochs %d..%d, output %s",
             cfg.Arch.name, cfg.class_num, device, len(train_loader.base_dataset), len(train_loader),
             state.start_epoch, cfg.Global.epochs, out)
    return _epochs(cfg, state, seed, train_loader, eval_loader, metrics_log, out, counts)


def _resume(state: TrainState, checkpoint: str) -> None:
    saved = load_checkpoint(checkpoint, state.net, state.optimizer, state.scheduler)
    modules = saved.get("modules", {})
    if state.ema is not None and "ema" in modules:
        state.ema.load_state_dict(modules["ema"])
    elif state.ema is not None:  # EMA switched on for the rest of the run: start from the weights
        state.ema.module.load_state_dict(state.net.state_dict())
    if state.scaler is not None and "scaler" in modules:
        state.scaler.load_state_dict(modules["scaler"])
    if state.low_precision is not None:
        state.low_precision.weights_from_master()
    state.start_epoch = int(saved["epoch"]) + 1
    state.best_top1 = float(saved["extra"].get("best_top1", -1.0))
    state.best_epoch = int(saved["extra"].get("best_epoch", 0))
    log.info("resumed from %s: continuing at epoch %d", checkpoint, state.start_epoch)


def _epochs(cfg: Config, state: TrainState, seed: int, train_loader: DataLoader,
            eval_loader: DataLoader | None, metrics_log: MetricsLog, out: Path,
            counts: list[int]) -> dict[str, Any]:
    epochs, main = cfg.Global.epochs, state.dist.is_main
    train_metric = build_metric(cfg.Metric.Train, "Metric.Train")
    eval_metric = build_metric(cfg.Metric.Eval, "Metric.Eval")
    eval_loss = build_loss(cfg.Loss.Eval, "Loss.Eval", counts)
    result: dict[str, Any] = {}
    for epoch in range(state.start_epoch, epochs + 1):
        began = time.perf_counter()
        torch.manual_seed(seed * 1_009 + epoch)  # model-side randomness (dropout) per epoch
        train_loader.batch_sampler.set_epoch(epoch)
        stats = train_one_epoch(state, train_loader, train_metric, f"epoch {epoch}/{epochs}",
                                cfg.Global.print_batch_step)
        evaluation = None
        if eval_loader is not None and (epoch % cfg.Global.eval_interval == 0 or epoch == epochs):
            fp16_test = cfg.AMP is not None and cfg.AMP.use_fp16_test
            evaluation = run_eval(state.eval_model, eval_loader, eval_loss, state.device, eval_metric,
                                  state.channels_last, state.amp_dtype if fp16_test else None)
        state.scheduler.epoch_end(_plateau_metric(cfg, state, stats, evaluation))
        if main:
            metrics_log.write({"epoch": epoch, "split": "train", **stats})
            if evaluation is not None:
                metrics_log.write({"epoch": epoch, "split": "eval", **evaluation})
                _save_best(cfg, state, epoch, evaluation["top1"], out)
            _save_checkpoints(cfg, state, epoch, out)
            log.info(summary_line(epoch, epochs, stats, evaluation, time.perf_counter() - began))
        barrier(state.dist)
        result = {"epoch": epoch, "train": stats, "eval": evaluation}
    if eval_loader is None and main:  # no evaluation: the last weights are the best we know
        save_weights(state.eval_model, out / "best_model.safetensors", {"epoch": epochs, "arch": cfg.Arch.name})
    result.update(best_top1=state.best_top1, best_epoch=state.best_epoch, output_dir=str(out))
    return result


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
    extra = {"best_top1": state.best_top1, "best_epoch": state.best_epoch, "arch": cfg.Arch.name,
             "class_num": cfg.class_num}
    modules = {"ema": state.ema.state_dict()} if state.ema is not None else {}
    if state.scaler is not None:
        modules["scaler"] = state.scaler.state_dict()
    names = ["latest"] + ([f"epoch_{epoch}"] if epoch % cfg.Global.save_interval == 0 else [])
    for name in names:
        save_checkpoint(out / f"{name}.safetensors", state.net, state.optimizer, state.scheduler,
                        epoch, extra, modules)


def _save_best(cfg: Config, state: TrainState, epoch: int, top1: float, out: Path) -> None:
    if top1 <= state.best_top1:
        return
    state.best_top1, state.best_epoch = top1, epoch
    save_weights(state.eval_model, out / "best_model.safetensors",
                 {"epoch": epoch, "top1": top1, "arch": cfg.Arch.name, "class_num": cfg.class_num})
    console.print(f"[green]new best top1 {100 * top1:.2f}% at epoch {epoch}[/green]")
