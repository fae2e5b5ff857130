"""A config ready to run: its shape validated (``torchclas.config``), then every name it uses
checked against the registries that hold them (models, transform and batch ops, losses, metrics,
LR schedules), before any data is read or any model is built.

This module sits one layer above the registries it checks; ``config/`` below it imports nothing
else from torchclas. ``torchclas.load_config`` is :func:`load_config`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

from .config import (Config, ConfigError, closest, ignored_keys, parse_config, read_config,
                     unimplemented_fields)
from .config.entries import parse_entries
from .data.pipeline import check_batch_ops, check_ops, label_keys
from .data.registry import NOT_YET_IMPLEMENTED_OPS
from .metrics import METRICS, check_train_metrics, topk_beyond_classes
from .losses import LOSSES, NOT_YET_IMPLEMENTED_LOSSES
from .models import MODEL_TABLE, check_lr_mult_list

__all__ = ["load_config", "config_from_dict", "check_names", "apply_loss_model_kwargs", "unimplemented_keys",
           "report_unused_keys", "warn_topk_beyond_classes"]

log = logging.getLogger(__name__)


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Load a PaddleClas-style YAML config, apply ``Key.path=value`` overrides and validate it.

    Unknown keys, wrong types, unknown model/op/loss/metric names all raise ``ConfigError``
    naming the key and the nearest valid spelling, before any data is read. Keys that
    PaddleClas configs carry and torchclas does not implement yet, or that have no effect here,
    are logged by name.

    Example:
        >>> cfg = load_config("configs/quickstart/fashion_mnist.yaml", ["Global.epochs=1"])
        >>> cfg.Global.epochs
        1
    """
    cfg = read_config(path, overrides)
    return _checked(cfg, str(path))


def config_from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    """Validate a config dict (already loaded and overridden) into a ``Config``, names included.

    Example:
        >>> config_from_dict({"Arch": {"name": "ResNet18", "class_num": 2}}).Arch.name
        'ResNet18'
    """
    return _checked(parse_config(raw, source), source)


def _checked(cfg: Config, source: str) -> Config:
    check_names(cfg, source)
    apply_loss_model_kwargs(cfg, source)
    report_unused_keys(cfg, source)
    warn_topk_beyond_classes(cfg, source)
    return cfg


def warn_topk_beyond_classes(cfg: Config, source: str = "config") -> list[str]:
    """Log (and return) a warning for each ``TopkAcc`` k above the class count (a top-5 of 3
    classes always reads 100%), naming the key and ``class_num``."""
    messages = [message for split in ("Train", "Eval")
                for message in topk_beyond_classes(getattr(cfg.Metric, split), f"Metric.{split}", cfg.class_num)]
    for message in messages:
        log.warning("%s: %s", source, message)
    return messages


def apply_loss_model_kwargs(cfg: Config, source: str = "config") -> None:
    """Set the ``Arch`` keys a training loss needs from the model, unless the config sets them:
    ``GoogLeNetLoss`` trains GoogLeNet's auxiliary heads, so it builds GoogLeNet with
    ``aux_heads: true`` (PaddleClas's GoogLeNet always has them). The resolved config the run
    saves shows the key. A loss that needs a model other than ``Arch.name`` is a ``ConfigError``.

    Example:
        >>> cfg = config_from_dict({"Arch": {"name": "GoogLeNet"}, "Loss": {"Train": [{"GoogLeNetLoss": {}}]}})
        >>> cfg.Arch.aux_heads
        True
    """
    for name, _ in parse_entries(cfg.Loss.Train, LOSSES, "Loss.Train", NOT_YET_IMPLEMENTED_LOSSES):
        needs = getattr(LOSSES[name], "MODEL_KWARGS", None)
        if needs is None:
            continue
        if cfg.Arch.name not in needs:
            raise ConfigError(f"{source}: Loss.Train: {name} takes the outputs of {', '.join(sorted(needs))}; "
                              f"Arch.name is {cfg.Arch.name}")
        for key, value in needs[cfg.Arch.name].items():
            if key not in cfg.Arch.builder_kwargs:
                setattr(cfg.Arch, key, value)
                log.info("%s: Arch.%s: %s (Loss.Train's %s needs it)", source, key, value, name)


def check_names(cfg: Config, source: str = "config") -> None:
    """Raise ``ConfigError`` (prefixed with ``source``) for the first name ``cfg`` uses that no
    registry holds: ``Arch.name`` (and whether it takes ``Arch.lr_mult_list``), ``Loss``/``Metric``
    entries, op lists, the LR schedule."""
    try:
        if cfg.Arch.name not in MODEL_TABLE:
            name = cfg.Arch.name
            raise ConfigError(f"Arch.name: unknown model '{name}'{closest(name, MODEL_TABLE)}; "
                              f"`torchclas models` lists the {len(MODEL_TABLE)} names "
                              "(`torchclas models 'ResNet*'` those matching a pattern)")
        check_lr_mult_list(cfg.Arch.name, cfg.Arch.lr_mult_list)
        for split in ("Train", "Eval"):
            parse_entries(getattr(cfg.Loss, split), LOSSES, f"Loss.{split}", NOT_YET_IMPLEMENTED_LOSSES)
            parse_entries(getattr(cfg.Metric, split), METRICS, f"Metric.{split}")
            if split == "Train":
                check_train_metrics(cfg.Metric.Train)
            section = getattr(cfg.DataLoader, split)
            if section is not None:
                check_ops(section.dataset.transform_ops, f"DataLoader.{split}.dataset.transform_ops")
                check_batch_ops(section.dataset.batch_transform_ops,
                                f"DataLoader.{split}.dataset.batch_transform_ops", cfg.class_num)
                _check_label_key(section.dataset, f"DataLoader.{split}.dataset")
        check_ops(cfg.Infer.transforms, "Infer.transforms")
        _check_lr(cfg)
    except ValueError as exc:  # ConfigError included
        raise ConfigError(f"{source}: {exc}") from None


def _check_label_key(dataset: Any, where: str) -> None:
    """A ``CustomLabelDataset``'s ``label_key`` must be a key a label op of its list makes."""
    if dataset.name != "CustomLabelDataset":
        return
    made = label_keys(dataset.transform_ops, f"{where}.transform_ops")
    if dataset.label_key not in made:
        raise ConfigError(f"{where}.label_key: no op of transform_ops makes label '{dataset.label_key}'"
                          f"{closest(dataset.label_key, made)}; the label ops there make: "
                          f"{', '.join(made) or 'none (add BlurImage or RandomRot90)'}")


def _check_lr(cfg: Config) -> None:
    lr = cfg.Optimizer.lr
    if lr.name == "Piecewise":
        if not lr.decay_epochs or not lr.values or len(lr.values) != len(lr.decay_epochs) + 1:
            raise ConfigError("Optimizer.lr: Piecewise needs decay_epochs and values with "
                              "len(values) == len(decay_epochs) + 1")


def unimplemented_keys(cfg: Config) -> list[str]:
    """Dotted names of what ``cfg`` sets that torchclas does not implement yet: keys, and ops of
    its op lists (named by the op, e.g. ``Infer.transforms.RandomRotation``)."""
    ops = _unimplemented_ops(cfg)  # name the op, not just the list holding it
    return [k for k in unimplemented_fields(cfg) if not any(o.startswith(k + ".") for o in ops)] + ops


def _unimplemented_ops(cfg: Config) -> list[str]:
    lists = {"Infer.transforms": cfg.Infer.transforms}
    for split in ("Train", "Eval"):
        section = getattr(cfg.DataLoader, split)
        if section is not None:
            lists[f"DataLoader.{split}.dataset.transform_ops"] = section.dataset.transform_ops
            lists[f"DataLoader.{split}.dataset.batch_transform_ops"] = section.dataset.batch_transform_ops
    return [f"{where}.{name}" for where, ops in lists.items() for op in ops or []
            for name in op if name in NOT_YET_IMPLEMENTED_OPS]


def report_unused_keys(cfg: Config, source: str = "config") -> list[str]:
    """Log (and return) the keys ``cfg`` sets without effect: not implemented yet, or ignored here."""
    todo = unimplemented_keys(cfg)
    if todo:
        log.warning("%s: keys not implemented in torchclas yet (ignored): %s", source, ", ".join(todo))
    ignored = ignored_keys(cfg)
    for key, why in ignored:
        log.warning("%s: %s has no effect in torchclas (ignored): %s", source, key, why)
    return todo + [key for key, _ in ignored]
