"""Config: load YAML → apply ``-o`` overrides → validate (pydantic + name tables) → ``Config``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError, closest, format_validation_error
from .loader import apply_overrides, parse_arithmetic, read_yaml, resolve_arithmetic
from .paths import check_config_paths
from .schema import Config

__all__ = ["Config", "ConfigError", "load_config", "config_from_dict", "save_config",
           "unimplemented_keys", "parse_arithmetic", "closest", "check_config_paths"]

log = logging.getLogger(__name__)


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Load a PaddleClas-style YAML config, apply ``Key.path=value`` overrides and validate it.

    Unknown keys, wrong types, unknown model/op/loss/metric names all raise ``ConfigError``
    naming the key and the nearest valid spelling, before any data is read. Keys that
    PaddleClas configs carry and torchclas does not implement yet are logged by name.

    Example:
        >>> cfg = load_config("configs/quickstart/fashion_mnist.yaml", ["Global.epochs=1"])
    """
    raw = apply_overrides(read_yaml(path), list(overrides))
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    """Validate a config dict (already loaded and overridden) into a ``Config``."""
    raw = resolve_arithmetic(raw)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise format_validation_error(exc, Config, source) from None
    _check_names(cfg, source)
    todo = unimplemented_keys(cfg)
    if todo:
        log.warning("%s: keys not implemented in torchclas yet (ignored): %s", source, ", ".join(todo))
    return cfg


def _check_names(cfg: Config, source: str) -> None:
    from ..data.batch_ops import check_batch_ops
    from ..data.pipeline import check_ops
    from ..losses import LOSSES, NOT_YET_IMPLEMENTED_LOSSES
    from ..metrics import METRICS
    from ..models import MODEL_TABLE
    from .entries import parse_entries

    try:
        if cfg.Arch.name not in MODEL_TABLE:
            raise ConfigError(f"Arch.name: unknown model '{cfg.Arch.name}'{closest(cfg.Arch.name, MODEL_TABLE)}; "
                              f"`torchclas models` lists the {len(MODEL_TABLE)} names "
                              "(`torchclas models 'ResNet*'` those matching a pattern)")
        for split in ("Train", "Eval"):
            parse_entries(getattr(cfg.Loss, split), LOSSES, f"Loss.{split}", NOT_YET_IMPLEMENTED_LOSSES)
            parse_entries(getattr(cfg.Metric, split), METRICS, f"Metric.{split}")
            section = getattr(cfg.DataLoader, split)
            if section is not None:
                check_ops(section.dataset.transform_ops, f"DataLoader.{split}.dataset.transform_ops")
                check_batch_ops(section.dataset.batch_transform_ops,
                                f"DataLoader.{split}.dataset.batch_transform_ops", cfg.class_num)
        check_ops(cfg.Infer.transforms, "Infer.transforms")
        _check_lr(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _check_lr(cfg: Config) -> None:
    lr = cfg.Optimizer.lr
    if lr.name == "Piecewise":
        if not lr.decay_epochs or not lr.values or len(lr.values) != len(lr.decay_epochs) + 1:
            raise ConfigError("Optimizer.lr: Piecewise needs decay_epochs and values with "
                              "len(values) == len(decay_epochs) + 1")


def unimplemented_keys(cfg: BaseModel, prefix: str = "") -> list[str]:
    """Dotted names of keys set in ``cfg`` that torchclas accepts but does not implement yet."""
    found: list[str] = []
    for name, field in type(cfg).model_fields.items():
        value = getattr(cfg, name)
        key = f"{prefix}{name}"
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("torchclas_not_yet") and value not in (None, False, field.default):
            found.append(key)
        elif isinstance(value, BaseModel):
            found.extend(unimplemented_keys(value, key + "."))
    if isinstance(cfg, Config):
        ops = _unimplemented_ops(cfg)  # name the op, not just the list holding it
        found = [k for k in found if not any(o.startswith(k + ".") for o in ops)] + ops
    return found


def _unimplemented_ops(cfg: Config) -> list[str]:
    from ..data.transforms import NOT_YET_IMPLEMENTED_OPS

    lists = {"Infer.transforms": cfg.Infer.transforms}
    for split in ("Train", "Eval"):
        section = getattr(cfg.DataLoader, split)
        if section is not None:
            lists[f"DataLoader.{split}.dataset.transform_ops"] = section.dataset.transform_ops
            lists[f"DataLoader.{split}.dataset.batch_transform_ops"] = section.dataset.batch_transform_ops
    return [f"{where}.{name}" for where, ops in lists.items() for op in ops or []
            for name in op if name in NOT_YET_IMPLEMENTED_OPS]


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (what actually ran, overrides and defaults included)."""
    Path(path).write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
