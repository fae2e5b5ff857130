"""Op lists as PaddleClas writes them (``[{Name: {params}}, ...]``): read each entry and construct
one op, every error naming the config place, the op and the closest valid name.

The name tables themselves live in `registry` (``TRANSFORMS``, ``BATCH_OPS``); this module takes
them as arguments, so the op modules (``OpSampler`` builds ops too) can use it without a cycle.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..config.entries import signature_params
from ..config.registry import Registry

__all__ = ["iter_ops", "make_op"]


def iter_ops(ops: Any, where: str, table: Registry, other: Registry, other_where: str
             ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield ``(location, op name, params)`` for each op of a YAML op list, checking its shape.

    ``table`` holds the ops the list may name (its ``not_yet`` names are yielded too, for the
    caller to skip); a name of ``other`` (the other kind of op) is refused with the list it
    belongs in, ``other_where``.

    Example:
        >>> from torchclas.data.registry import BATCH_OPS, TRANSFORMS
        >>> list(iter_ops([{"ResizeImage": {"size": 8}}], "ops", TRANSFORMS, BATCH_OPS, "batch_transform_ops"))
        [('ops[0]', 'ResizeImage', {'size': 8})]
    """
    if ops is None:
        return
    if not isinstance(ops, (list, tuple)):
        raise ValueError(f"{where}: expected a list of ops, got {type(ops).__name__} {ops!r}")
    known = sorted(set(table) | table.not_yet)
    for index, entry in enumerate(ops):
        here = f"{where}[{index}]"
        if isinstance(entry, str):
            name, params = entry, None
        elif isinstance(entry, dict) and len(entry) == 1:
            (name, params), = entry.items()
        else:
            raise ValueError(f"{here}: each op must be a single-key mapping such as "
                             f"{{'ResizeImage': {{'resize_short': 256}}}}, got {entry!r}")
        if name not in table and name not in table.not_yet:
            if name in other or name in other.not_yet:
                raise ValueError(f"{here}: '{name}' is a {other.kind}; list it under {other_where}")
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"{here}: unknown op '{name}'{hint}; known ops: {', '.join(known)}")
        if params is not None and not isinstance(params, dict):
            raise ValueError(f"{here}: parameters of '{name}' must be a mapping, got {params!r}")
        yield here, name, dict(params or {})


def make_op(table: Mapping[str, Callable], here: str, name: str, params: dict[str, Any], **fixed: Any) -> Callable:
    """Construct op ``name`` of ``table``, turning bad parameter names or values into a
    ValueError at ``here``.

    ``fixed`` are arguments that do not come from the config (a batch op's ``class_num``);
    the config's own value wins when it sets one.

    Example:
        >>> from torchclas.data.registry import TRANSFORMS
        >>> make_op(TRANSFORMS, "ops[0]", "ResizeImage", {"resize_shrt": 256})
        Traceback (most recent call last):
        ValueError: ops[0]: ResizeImage has no parameter 'resize_shrt' (did you mean 'resize_short'?); ...
    """
    cls = table[name]
    accepted, required, takes_any = signature_params(cls)
    for key in params:
        if key not in accepted and not takes_any:
            close = difflib.get_close_matches(str(key), accepted, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"{here}: {name} has no parameter '{key}'{hint}; "
                             f"accepted: {', '.join(accepted) or 'none'}")
    missing = [key for key in required if key not in params and key not in fixed]
    if missing:
        raise ValueError(f"{here}: {name} needs parameter '{missing[0]}'; accepted: {', '.join(accepted)}")
    try:
        return cls(**{**fixed, **params})
    except (TypeError, ValueError) as err:
        message = str(err) if str(err).startswith(name) else f"{name}: {err}"
        raise ValueError(f"{here}: {message}") from err
