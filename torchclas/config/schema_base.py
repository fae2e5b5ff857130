"""The base of every config section, and the markers for PaddleClas keys without effect here
(``not_yet``: not implemented yet; ``ignored``: no effect by design)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Section", "OpList", "not_yet", "ignored"]

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
