"""Evaluation: one pass over a loader (``run_eval``) and the ``torchclas eval`` command (``evaluate``)."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from ..config.paths import check_config_paths
from ..config.schema import Config
from ..data.loader import DeviceLoader, build_dataloader
from ..losses import build_loss
from ..models import create_model
from .metrics import TopkAcc, build_metric
from .precision import autocast
from .runtime import configure_threads, select_device

__all__ = ["run_eval", "evaluate"]

log = logging.getLogger("torchclas")


@torch.no_grad()
def run_eval(model: nn.Module, loader: DeviceLoader, loss_fn: nn.Module, device: torch.device,
             metric: TopkAcc | None = None, channels_last: bool = False,
             amp_dtype: torch.dtype | None = None) -> dict[str, Any]:
    """Mean loss and top-k accuracy of ``model`` over ``loader``; also counts skipped images.

    ``amp_dtype`` runs the forward pass under autocast (``AMP.use_fp16_test``).
    """
    metric = metric or TopkAcc((1, 5))
    metric.reset()
    was_training = model.training
    model.eval()
    total_loss, bad = 0.0, []
    for images, labels, bad_batch in loader.on(device, channels_last):
        bad.extend(bad_batch)
        if labels.numel() == 0:
            continue
        labels = labels.to(device, non_blocking=True)
        with autocast(amp_dtype, device):
            logits = model(images)
        total_loss += float(loss_fn(logits, labels)["loss"]) * labels.shape[0]
        metric.update(logits.float(), labels)
    model.train(was_training)
    result = {"loss": total_loss / max(metric.count, 1), **metric.compute(), "num_images": metric.count}
    if bad:
        result["bad_images"] = len(bad)
        for path, reason in bad:
            log.warning("skipped bad image %s: %s", path, reason)
    return result


def evaluate(cfg: Config) -> dict[str, Any]:
    """Evaluate ``Global.pretrained_model`` on ``DataLoader.Eval``; returns loss/top-k/num_images.

    Example:
        >>> metrics = evaluate(load_config("cfg.yaml", ["Global.pretrained_model=output/ResNet18/best_model"]))
    """
    if cfg.DataLoader.Eval is None:
        raise ValueError("DataLoader.Eval is missing: nothing to evaluate")
    if not cfg.Global.pretrained_model:
        raise ValueError("Global.pretrained_model is not set: pass -o Global.pretrained_model=PATH")
    check_config_paths(cfg, "eval")
    configure_threads(cfg)
    device = select_device(cfg.Global.device)
    model = create_model(cfg.Arch.name, cfg.class_num, pretrained=cfg.Global.pretrained_model,
                         **cfg.Arch.builder_kwargs).to(device)
    loader = build_dataloader(cfg.DataLoader.Eval, seed=cfg.Global.seed or 0,
                              strict=cfg.Global.strict_data, pin_memory=device.type == "cuda",
                              class_num=cfg.class_num)
    metric = build_metric(cfg.Metric.Eval, "Metric.Eval")
    return run_eval(model, loader, build_loss(cfg.Loss.Eval, "Loss.Eval"), device, metric)
