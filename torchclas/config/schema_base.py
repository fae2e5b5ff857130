"""The base of every config section, and the marker for PaddleClas keys not implemented yet."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Section", "not_yet"]

_NOT_YET = {"torchclas_not_yet": True}


def not_yet(default: Any = None) -> Any:
    """A field PaddleClas configs carry that torchclas accepts but does not implement yet."""
    return Field(default, json_schema_extra=_NOT_YET)


class Section(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)
