"""The training loop: epochs of SGD steps, evaluation, metrics.jsonl, best/latest checkpoints, resume."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..config import save_config
from ..config.schema import Config
from ..data.loader import build_dataloader
from ..losses import build_loss
from ..models import create_model
from ..optim import build_lr_scheduler, build_optimizer
from .checkpoint import load_checkpoint, save_checkpoint, save_weights
from .evaluate import run_eval
from .metrics import MetricsLog, TopkAcc, build_metric
from .progress import console, epoch_progress, summary_line
from .runtime import attach_log_file, configure_threads, run_dir, seed_everything, select_device

__all__ = ["train", "train_one_epoch", "TrainState"]

log = logging.getLogger("torchclas")


@dataclass
class TrainState:
    """What one training run carries from epoch to epoch."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    loss_fn: nn.Module
    device: torch.device
    channels_last: bool = False
    start_epoch: int = 1
    best_top1: float = -1.0
    best_epoch: int = 0


def train_one_epoch(state: TrainState, loader: DataLoader, metric: TopkAcc, description: str,
                    print_every: int = 10) -> dict[str, Any]:
    """One pass over ``loader``: forward, loss, backward, SGD and LR step per batch.

    Returns mean loss, train top-k, last lr, images/s, the fraction of time spent waiting
    for data, and the number of skipped (unreadable) images.
    """
    model, device = state.model, state.device
    model.train()
    metric.reset()
    total_loss, seen, bad, wait = 0.0, 0, 0, 0.0
    start = tick = time.perf_counter()
    with epoch_progress() as progress:
        task = progress.add_task(description, total=len(loader), loss=0.0, lr=_lr(state), ips=0.0)
        for step, (images, labels, bad_batch) in enumerate(loader, 1):
            wait += time.perf_counter() - tick
            bad += _report_bad(bad_batch)
            if labels.numel() > 0:
                loss = _step(state, images.to(device, non_blocking=True), labels.to(device, non_blocking=True),
                             metric)
                total_loss += loss * labels.shape[0]
                seen += labels.shape[0]
            ips = seen / (time.perf_counter() - start)
            progress.update(task, advance=1, loss=total_loss / max(seen, 1), lr=_lr(state), ips=ips)
            if step % print_every == 0:
                log.debug("%s step %d/%d loss %.4f lr %.6f %.0f img/s", description, step, len(loader),
                          total_loss / max(seen, 1), _lr(state), ips)
            tick = time.perf_counter()
    elapsed = time.perf_counter() - start
    return {"loss": total_loss / max(seen, 1), **metric.compute(), "lr": _lr(state),
            "ips": seen / elapsed, "data_wait": wait / elapsed, "num_images": seen, "bad_images": bad}


def _step(state: TrainState, images: torch.Tensor, labels: torch.Tensor, metric: TopkAcc) -> float:
    if state.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    logits = state.model(images)
    loss = state.loss_fn(logits, labels)["loss"]
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.optimizer.step()
    state.scheduler.step()
    metric.update(logits.float(), labels)
    return float(loss.detach())


def _lr(state: TrainState) -> float:
    return state.optimizer.param_groups[0]["lr"]


def _report_bad(bad_batch: list[tuple[str, str]]) -> int:
    for path, reason in bad_batch:
        log.warning("skipped bad image %s: %s", path, reason)
    return len(bad_batch)


def _build_state(cfg: Config, device: torch.device, steps_per_epoch: int) -> TrainState:
    model = create_model(cfg.Arch.name, cfg.class_num, pretrained=cfg.Global.pretrained_model,
                         **cfg.Arch.builder_kwargs).to(device)
    if cfg.Global.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg.Optimizer, model)
    scheduler = build_lr_scheduler(cfg.Optimizer.lr, optimizer, cfg.Global.epochs, steps_per_epoch)
    return TrainState(model, optimizer, scheduler, build_loss(cfg.Loss.Train, "Loss.Train"), device,
                      cfg.Global.channels_last)


def _resume(state: TrainState, checkpoint: str) -> None:
    saved = load_checkpoint(checkpoint, state.model, state.optimizer, state.scheduler)
    state.start_epoch = int(saved["epoch"]) + 1
    state.best_top1 = float(saved["extra"].get("best_top1", -1.0))
    state.best_epoch = int(saved["extra"].get("best_epoch", 0))
    log.info("resumed from %s: continuing at epoch %d", checkpoint, state.start_epoch)


def train(cfg: Config) -> dict[str, Any]:
    """Train ``cfg`` end to end; returns the last epoch's metrics and the best eval top-1.

    Writes ``Global.output_dir/<Arch.name>/``: ``config.yaml``, ``train.log``,
    ``metrics.jsonl``, ``best_model.safetensors`` and ``latest.safetensors`` (+ ``.state.pt``).
    ``Global.checkpoints`` resumes from a ``latest`` checkpoint exactly where it stopped.

    Example:
        >>> result = train(load_config("configs/quickstart/fashion_mnist.yaml"))
    """
    if cfg.DataLoader.Train is None:
        raise ValueError("DataLoader.Train is missing: nothing to train on")
    threads = configure_threads(cfg)
    seed = cfg.Global.seed if cfg.Global.seed is not None else int(time.time())
    seed_everything(seed)
    device = select_device(cfg.Global.device)
    out = run_dir(cfg)
    handler = attach_log_file(out / "train.log")
    try:
        log.info("device %s, %d compute threads, seed %d", device, threads, seed)
        return _run(cfg, seed, device, out)
    finally:
        logging.getLogger("torchclas").removeHandler(handler)
        handler.close()


def _run(cfg: Config, seed: int, device: torch.device, out: Path) -> dict[str, Any]:
    save_config(cfg, out / "config.yaml")
    pin = device.type == "cuda"
    train_loader = build_dataloader(cfg.DataLoader.Train, seed, cfg.Global.strict_data, pin_memory=pin)
    eval_loader = None
    if cfg.DataLoader.Eval is not None and cfg.Global.eval_during_train:
        eval_loader = build_dataloader(cfg.DataLoader.Eval, seed, cfg.Global.strict_data, pin_memory=pin)
    if len(train_loader) == 0:
        raise ValueError("DataLoader.Train yields no batch (empty list, or drop_last with too few images)")
    state = _build_state(cfg, device, len(train_loader))
    metrics_log = MetricsLog(out / "metrics.jsonl")
    if cfg.Global.checkpoints:
        _resume(state, cfg.Global.checkpoints)
        metrics_log.truncate_after(state.start_epoch - 1)
    else:
        metrics_log.path.unlink(missing_ok=True)
    log.info("training %s (%d classes) on %s: %d train images, %d steps/epoch, epochs %d..%d, output %s",
             cfg.Arch.name, cfg.class_num, device, len(train_loader.base_dataset), len(train_loader),
             state.start_epoch, cfg.Global.epochs, out)
    return _epochs(cfg, state, seed, train_loader, eval_loader, metrics_log, out)


def _epochs(cfg: Config, state: TrainState, seed: int, train_loader: DataLoader,
            eval_loader: DataLoader | None, metrics_log: MetricsLog, out: Path) -> dict[str, Any]:
    epochs = cfg.Global.epochs
    train_metric = build_metric(cfg.Metric.Train, "Metric.Train")
    eval_metric = build_metric(cfg.Metric.Eval, "Metric.Eval")
    eval_loss = build_loss(cfg.Loss.Eval, "Loss.Eval")
    result: dict[str, Any] = {}
    for epoch in range(state.start_epoch, epochs + 1):
        began = time.perf_counter()
        torch.manual_seed(seed * 1_009 + epoch)  # model-side randomness (dropout) per epoch
        train_loader.batch_sampler.set_epoch(epoch)
        stats = train_one_epoch(state, train_loader, train_metric, f"epoch {epoch}/{epochs}",
                                cfg.Global.print_batch_step)
        metrics_log.write({"epoch": epoch, "split": "train", **stats})
        evaluation = None
        if eval_loader is not None and (epoch % cfg.Global.eval_interval == 0 or epoch == epochs):
            evaluation = run_eval(state.model, eval_loader, eval_loss, state.device, eval_metric,
                                  state.channels_last)
            metrics_log.write({"epoch": epoch, "split": "eval", **evaluation})
            _save_best(cfg, state, epoch, evaluation["top1"], out)
        _save_checkpoints(cfg, state, epoch, out)
        line = summary_line(epoch, epochs, stats, evaluation, time.perf_counter() - began)
        log.info(line)
        result = {"epoch": epoch, "train": stats, "eval": evaluation}
    if eval_loader is None:  # no evaluation: the last weights are the best we know
        save_weights(state.model, out / "best_model.safetensors", {"epoch": epochs, "arch": cfg.Arch.name})
    result.update(best_top1=state.best_top1, best_epoch=state.best_epoch, output_dir=str(out))
    return result


def _save_checkpoints(cfg: Config, state: TrainState, epoch: int, out: Path) -> None:
    """``latest`` every epoch, and ``epoch_N`` every ``save_interval`` epochs, as PaddleClas does."""
    extra = {"best_top1": state.best_top1, "best_epoch": state.best_epoch, "arch": cfg.Arch.name,
             "class_num": cfg.class_num}
    names = ["latest"] + ([f"epoch_{epoch}"] if epoch % cfg.Global.save_interval == 0 else [])
    for name in names:
        save_checkpoint(out / f"{name}.safetensors", state.model, state.optimizer, state.scheduler,
                        epoch, extra)


def _save_best(cfg: Config, state: TrainState, epoch: int, top1: float, out: Path) -> None:
    if top1 <= state.best_top1:
        return
    state.best_top1, state.best_epoch = top1, epoch
    save_weights(state.model, out / "best_model.safetensors",
                 {"epoch": epoch, "top1": top1, "arch": cfg.Arch.name, "class_num": cfg.class_num})
    console.print(f"[green]new best top1 {100 * top1:.2f}% at epoch {epoch}[/green]")
