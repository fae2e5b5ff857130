"""Config: YAML → ``-o`` overrides → arithmetic → pydantic ``Config``. Imports nothing else from torchclas.

This package checks the *shape* of a config (keys, types, ranges). The names a config uses
(models, ops, losses, metrics) are checked one layer up, in :mod:`torchclas.configure`, next to
the registries that hold them; ``torchclas.load_config`` does both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError, closest, format_validation_error
from .legacy import is_legacy, translate_legacy
from .loader import apply_overrides, parse_arithmetic, read_yaml, resolve_arithmetic
from .paths import check_config_paths
from .registry import Registry, UnknownName
from .schema import Config

__all__ = ["Config", "ConfigError", "Registry", "UnknownName", "read_config", "parse_config", "save_config",
           "unimplemented_fields", "ignored_keys", "parse_arithmetic", "closest", "check_config_paths"]


def read_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Load a PaddleClas-style YAML file, apply ``Key.path=value`` overrides and validate its shape.

    Unknown keys and wrong types raise ``ConfigError`` naming the key and the nearest valid
    spelling. A PaddleClas 2.0 config (``ARCHITECTURE``, ``TRAIN``, ...; `legacy`) is translated
    after the overrides. Names (models, ops, losses, metrics) are not checked here: use
    ``torchclas.load_config`` for a config about to run.
    """
    return parse_config(apply_overrides(read_yaml(path), list(overrides)), source=str(path))


def parse_config(raw: dict[str, Any], source: str = "config") -> Config:
    """Validate the shape of a config dict (already loaded and overridden) into a ``Config``; a
    PaddleClas 2.0 config (`legacy`) is translated first, so its overrides use its own spelling.

    Example:
        >>> parse_config({"Arch": {"name": "ResNet18", "class_num": 2}}).class_num
        2
    """
    if is_legacy(raw):
        raw = translate_legacy(raw, source)
    raw = resolve_arithmetic(raw)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise format_validation_error(exc, Config, source) from None


def unimplemented_fields(cfg: BaseModel, prefix: str = "") -> list[str]:
    """Dotted names of keys set in ``cfg`` that torchclas accepts but does not implement yet
    (schema fields only; ``torchclas.configure.unimplemented_keys`` adds the ops of op lists).

    Example:
        >>> unimplemented_fields(parse_config({"Arch": {"name": "ResNet18"}, "AMP": {"use_promote": True}}))
        ['AMP.use_promote']
    """
    return [key for key, _ in _marked_keys(cfg, "torchclas_not_yet", prefix)
            if _is_set(cfg, key[len(prefix):], explicit=False)]


def ignored_keys(cfg: BaseModel, prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted key, what does its job here)`` for each key ``cfg`` sets that has no effect in torchclas.

    Example:
        >>> ignored_keys(parse_config({"Arch": {"name": "ResNet18"}, "Global": {"save_inference_dir": "inf"}}))
        [('Global.save_inference_dir', '`torchclas export --out PATH` names the exported file')]
    """
    return [(key, why) for key, why in _marked_keys(cfg, "torchclas_ignored", prefix)
            if _is_set(cfg, key[len(prefix):], explicit=True)]


def _marked_keys(cfg: BaseModel, marker: str, prefix: str) -> list[tuple[str, Any]]:
    """``(dotted key, marker value)`` for every field of ``cfg`` (recursively) carrying ``marker``."""
    found: list[tuple[str, Any]] = []
    for name, field in type(cfg).model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        value = getattr(cfg, name)
        if marker in extra:
            found.append((f"{prefix}{name}", extra[marker]))
        elif isinstance(value, BaseModel):
            found.extend(_marked_keys(value, marker, f"{prefix}{name}."))
    return found


def _is_set(cfg: BaseModel, dotted: str, explicit: bool) -> bool:
    """Whether the key was written in the config (``explicit``) or holds a non-default value."""
    *parents, name = dotted.split(".")
    for part in parents:
        cfg = getattr(cfg, part)
    if explicit:
        return name in cfg.model_fields_set
    value, default = getattr(cfg, name), type(cfg).model_fields[name].default
    return value not in (None, False, default)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (what actually ran, overrides and defaults included)."""
    Path(path).write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
