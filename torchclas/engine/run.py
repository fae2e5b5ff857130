"""``train(cfg)``: set a training run up from its config (device, processes, seed, loaders,
state, settings, criterion, metrics, hooks) and run its `Trainer`."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from ..config import save_config
from ..config.paths import check_config_paths
from ..config.schema import Config
from ..data.custom_label import CustomLabelDataset
from ..data.loader import build_dataloader
from ..data.samplers import label_counts
from ..losses import build_loss
from ..metrics import ConfusionMatrix, build_metric, build_metrics
from ..optim import plot_lr_curve
from .build import build_train_state, lr_scale_factor, scaled_lr_config
from .distributed import DistInfo, all_reduce_sums, barrier, init_distributed, shutdown_distributed
from .fast_defaults import ThreadWatch, resolve_precision
from .hooks import build_hooks
from .progressive import ProgressiveHook
from .recovery import check_free_space, checkpoint_bytes, checkpoint_fast_defaults, resolve_resume, resume
from .runtime import (attach_log_file, configure_threads, run_dir, seed_everything, select_device,
                      use_deterministic_kernels)
from .settings import build_settings
from .trainer import Trainer

__all__ = ["train"]

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
        >>> result = train(load_config("configs/quickstart/fashion_mnist.yaml"))  # doctest: +SKIP
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

    def train_loader_of(split):
        return build_dataloader(split, seed, cfg.Global.strict_data, info.world_size, info.rank, pin_memory=pin,
                                class_num=cfg.class_num)

    train_loader = train_loader_of(cfg.DataLoader.Train)
    progressive = (ProgressiveHook(cfg.DataLoader.Train, train_loader_of, cfg.Global.epochs)
                   if cfg.Global.train_mode == "progressive" else None)
    eval_loader = None
    if cfg.DataLoader.Eval is not None and cfg.Global.eval_during_train and info.is_main:
        eval_loader = build_dataloader(cfg.DataLoader.Eval, seed, cfg.Global.strict_data, pin_memory=pin,
                                       class_num=cfg.class_num)
    if len(train_loader) == 0:
        raise ValueError("DataLoader.Train yields no batch (empty list, or drop_last with too few images)")
    base = train_loader.base_dataset
    # a CustomLabelDataset's labels come from its ops, image by image: none to count up front
    counts = None if isinstance(base, CustomLabelDataset) else label_counts(base, cfg.class_num)
    checkpoint = _find_checkpoint(cfg, info, out)
    max_threads, probed_threads = torch.get_num_threads(), cfg.Global.num_threads is None
    cfg = _decide_fast_defaults(cfg, device, info, checkpoint)
    state = build_train_state(cfg, device, info, len(train_loader))
    criterion = build_loss(cfg.Loss.Train, "Loss.Train", counts)
    watch = None
    if probed_threads and device.type == "cpu" and max_threads > 1 and not info.enabled:
        watch = ThreadWatch([1, max_threads], bf16=cfg.Global.precision == "bf16")
    if info.is_main:
        check_free_space(out, 2 * checkpoint_bytes(state) * (2 if cfg.Global.save_interval < cfg.Global.epochs
                                                              else 1))
        save_config(cfg, out / "config.yaml")
        plot_lr_curve(scaled_lr_config(cfg, lr_scale_factor(cfg, info.world_size)), cfg.Global.epochs,
                      math.ceil(len(train_loader) / cfg.Global.accum_steps), out / "lr.png",
                      scales=[group.get("lr_scale", 1.0) for group in state.optimizer.param_groups])
    if checkpoint is not None:
        resume(state, checkpoint)
    log.info("training %s (%d classes) on %s: %d train images, %d steps/epoch, epochs %d..%d, output %s",
             cfg.Arch.name, cfg.class_num, device, len(train_loader.base_dataset), len(train_loader),
             state.start_epoch, cfg.Global.epochs, out)
    eval_metric = build_metrics(cfg.Metric.Eval, "Metric.Eval")
    hooks = build_hooks(cfg, out, info.is_main, fresh=checkpoint is None, thread_watch=watch)
    if progressive is not None:
        hooks.hooks.insert(0, progressive)
    trainer = Trainer(state=state, settings=build_settings(cfg, state.net, device, seed, eval_metric.best_key),
                      criterion=criterion, train_metric=build_metric(cfg.Metric.Train, "Metric.Train"),
                      eval_metric=eval_metric, eval_criterion=build_loss(cfg.Loss.Eval, "Loss.Eval", counts),
                      train_loader=train_loader, eval_loader=eval_loader,
                      hooks=hooks,
                      device=device, dist=info, out=out, eval_confusion=ConfusionMatrix(cfg.class_num))
    return trainer.fit()


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
