"""Evaluation: one pass over a loader (``run_eval``) and the ``torchclas eval`` command (``evaluate``).

It goes through the training step's seam: ``outputs = model(batch.images)``,
``criterion(outputs, batch)["loss"]``, ``metric.update(outputs, batch)``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config.paths import check_config_paths
from ..config.schema import Config
from ..data.loader import DeviceLoader, build_dataloader
from ..losses import build_loss
from ..metrics import ConfusionMatrix, TopkAcc, build_metrics
from ..models import create_model
from .batches import detached_float, loader_batches
from .eval_report import report_class_names, write_eval_report
from .precision import autocast
from .runtime import configure_threads, select_device

__all__ = ["run_eval", "evaluate"]

log = logging.getLogger("torchclas")


@torch.no_grad()
def run_eval(model: nn.Module, loader: DeviceLoader, loss_fn: nn.Module, device: torch.device,
             metric: Any = None, channels_last: bool = False,
             amp_dtype: torch.dtype | None = None, confusion: ConfusionMatrix | None = None) -> dict[str, Any]:
    """Mean loss and metric values (top-k accuracy, ``TprAtFpr``'s ``tpr``...) of ``model`` over
    ``loader``; also counts skipped images.

    ``loss_fn`` is the criterion, ``loss_fn(outputs, batch)["loss"]``; ``metric`` takes
    ``update(outputs, batch)`` (default: top-1/top-5). ``amp_dtype`` runs the forward pass under
    autocast (``AMP.use_fp16_test``). ``confusion``, when given, is reset and counts the pass.
    """
    metric = metric or TopkAcc((1, 5))
    metric.reset()
    if confusion is not None:
        confusion.reset()
    was_training = model.training
    model.eval()
    total_loss, count, bad = 0.0, 0, []
    for batch in loader_batches(loader, device, channels_last):
        bad.extend(batch.bad)
        if batch.labels.numel() == 0:
            continue
        with autocast(amp_dtype, device):
            outputs = model(batch.images)
        total_loss += float(loss_fn(outputs, batch)["loss"]) * batch.size
        outputs = detached_float(outputs)
        metric.update(outputs, batch)
        if confusion is not None:
            confusion.update(outputs, batch)
        count += batch.size
    model.train(was_training)
    result = {"loss": total_loss / max(count, 1), **metric.compute(), "num_images": count}
    if bad:
        result["bad_images"] = len(bad)
        for path, reason in bad:
            log.warning("skipped bad image %s: %s", path, reason)
    return result


def evaluate(cfg: Config, report_dir: str | Path | None = None) -> dict[str, Any]:
    """Evaluate ``Global.pretrained_model`` on ``DataLoader.Eval``; returns loss, the values of every
    ``Metric.Eval`` metric (top-k, ``TprAtFpr``'s ``tpr``/``threshold``/``fpr``), num_images
    and ``per_class`` (a row per class, `metrics.per_class_accuracy`; absent when the model's
    outputs are not plain logits).

    Writes the report (``per_class.json``, ``per_class.csv``, ``confusion_matrix.png``) to
    ``report_dir`` (default: the run folder ``Global.output_dir/<Arch.name>``); ``report``
    names its files.

    Example:
        >>> metrics = evaluate(load_config("cfg.yaml", ["Global.pretrained_model=output/ResNet18/best_model"]))  # doctest: +SKIP
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
    metric = build_metrics(cfg.Metric.Eval, "Metric.Eval")
    confusion = ConfusionMatrix(cfg.class_num)
    result = run_eval(model, loader, build_loss(cfg.Loss.Eval, "Loss.Eval"), device, metric, confusion=confusion)
    out = Path(report_dir) if report_dir is not None else Path(cfg.Global.output_dir) / cfg.Arch.name
    report = write_eval_report(confusion, report_class_names(cfg), out, title=Path(cfg.Global.pretrained_model).name)
    if report is not None:
        result.update(per_class=report["per_class"], report=report["files"])
    return result
