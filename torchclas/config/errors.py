"""Config errors whose messages name the key path, the value and what would be valid."""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

__all__ = ["ConfigError", "closest", "format_validation_error"]


class ConfigError(ValueError):
    """A config that cannot run: the message names the key, the value and what is allowed."""


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """Return ``" (did you mean 'x'?)"`` for the nearest candidate, or ``""`` when none is near.

    ``cutoff`` is difflib's similarity floor (0..1); a short closed set of choices can take a
    lower one, so that ``O3`` still points at ``O2``.

    Example:
        >>> closest("Adamw", ["Adam", "AdamW"])
        " (did you mean 'AdamW'?)"
    """
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:  # a case slip ("Adamw") beats a near spelling ("Adam")
        matches = [lowered[name.lower()]]
    else:
        matches = difflib.get_close_matches(name, candidates, n=1, cutoff=cutoff)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """Walk field annotations of ``root`` along ``loc`` to the model that holds the last key."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        model = _first_model(field.annotation)
        if model is None:
            return None
    return model


def _first_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _describe(error: dict, root: type[BaseModel]) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    key = _dotted(loc)
    if error["type"] == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        valid = list(parent.model_fields) if parent else []
        hint = closest(str(loc[-1]), valid)
        allowed = f"; valid keys: {', '.join(valid)}" if valid and not hint else ""
        return f"unknown key '{key}'{hint}{allowed}"
    if error["type"] == "missing":
        return f"missing required key '{key}'"
    value = error.get("input")
    message = error["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's ValueError
    if error["type"] == "literal_error":
        choices = re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
        return f"{key}: invalid value {value!r}: {message}{closest(str(value), choices, cutoff=0.5)}"
    return f"{key}: invalid value {value!r}: {message}"


def format_validation_error(exc: ValidationError, root: type[BaseModel], source: str) -> ConfigError:
    """Turn a pydantic ``ValidationError`` into one ``ConfigError`` listing every problem."""
    lines = [_describe(err, root) for err in exc.errors()]
    return ConfigError(f"{source}: invalid config:\n  " + "\n  ".join(lines))
