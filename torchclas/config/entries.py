"""Lists of ``{Name: {params}}`` entries, as PaddleClas writes losses and metrics."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

from .errors import ConfigError, closest

__all__ = ["parse_entries", "signature_params"]


def parse_entries(
    entries: list[dict[str, Any]] | None,
    registry: Mapping[str, Callable],
    where: str,
    not_yet: frozenset[str] = frozenset(),
) -> list[tuple[str, dict[str, Any]]]:
    """Validate ``[{Name: {params}}, ...]`` against ``registry`` and return ``(name, params)`` pairs.

    Names in ``not_yet`` are known to PaddleClas but not implemented here: they raise too,
    saying so, since silently dropping a loss or metric would change what a run means.

    Example:
        >>> parse_entries([{"CELoss": {"epsilon": 0.1}}], {"CELoss": lambda epsilon=None: 0}, "Loss.Train")
        [('CELoss', {'epsilon': 0.1})]
    """
    parsed = []
    for i, entry in enumerate(entries or []):
        here = f"{where}[{i}]"
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(f"{here}: expected one '{{Name: {{params}}}}' mapping, got {entry!r}")
        (name, params), = entry.items()
        params = dict(params or {})
        if name not in registry:
            if name in not_yet:
                raise ConfigError(f"{here}: '{name}' is a PaddleClas name not implemented in torchclas yet; "
                                  f"available: {', '.join(registry)}")
            raise ConfigError(f"{here}: unknown name '{name}'{closest(name, registry)}; "
                              f"available: {', '.join(registry)}")
        _check_params(registry[name], params, f"{here}.{name}")
        parsed.append((name, params))
    return parsed


def signature_params(builder: Callable) -> tuple[list[str], list[str], bool]:
    """``(accepted, required, takes_any)`` keyword names of a builder, from its signature."""
    params = inspect.signature(builder).parameters.values()
    named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]
    return ([p.name for p in named], [p.name for p in named if p.default is p.empty],
            any(p.kind is p.VAR_KEYWORD for p in params))


def _check_params(builder: Callable, params: dict[str, Any], here: str) -> None:
    accepted, _, takes_any = signature_params(builder)
    for key in params:
        if key not in accepted and not takes_any:
            raise ConfigError(f"{here}: unknown parameter '{key}'{closest(key, accepted)}; "
                              f"accepted: {', '.join(accepted) or 'none'}")
