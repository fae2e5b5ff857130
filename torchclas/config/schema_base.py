"""The base of every config section, and the markers for PaddleClas keys without effect here
(``not_yet``: not implemented yet; ``ignored``: no effect by design)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Section", "OpList", "REQUIRED", "not_yet", "ignored", "check_keys"]

OpList = Optional[list[dict[str, Any]]]
"""A YAML op list: ``[{OpName: {params}}, ...]``."""

_NOT_YET = {"torchclas_not_yet": True}


def not_yet(default: Any = None) -> Any:
    """A field PaddleClas configs carry that torchclas accepts but does not implement yet."""
    return Field(default, json_schema_extra=_NOT_YET)


def ignored(default: Any, why: str) -> Any:
    """A field PaddleClas configs carry that has no effect in torchclas, by design; ``why`` says
    what does that job here. Reported by name whenever a config sets it."""
    return Field(default, json_schema_extra={"torchclas_ignored": why})


class Section(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)


REQUIRED = "<required>"
"""Marks a key of a per-name key table (schedule, optimizer, post-process) that has no default."""


def check_keys(section: BaseModel, where: str, owner: str, table: dict[str, dict[str, Any]]) -> None:
    """Raise naming a key set in ``section`` that ``owner`` does not take, or a required one missing;
    ``table`` maps each name (schedule, optimizer, post-process) to its keys and defaults."""
    takes = table[owner]
    for key in sorted({k for keys in table.values() for k in keys} - set(takes)):
        if getattr(section, key) is not None:
            raise ValueError(f"'{where}.{key}' is not a key of {owner} "
                             f"({owner} takes: {', '.join(takes) or 'no extra keys'})")
    for key, default in takes.items():
        if default is REQUIRED and getattr(section, key) is None:
            raise ValueError(f"{owner} needs '{where}.{key}'")
