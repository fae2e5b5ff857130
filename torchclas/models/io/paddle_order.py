"""State-order maps for :func:`~torchclas.models.io.paddle_weights.convert_paddle_state`.

Given PaddleClas's parameter names (its registration order), a map returns them in our
module's order. Rows whose family registers layers in another order than PaddleClas carry
one as ``ModelEntry.paddle_reorder``; these are the generic ones (family-specific maps live
next to their family).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Callable, Iterable

import timm
import torch
from torch import nn

__all__ = ["tokens_first", "drop_keys", "order_like", "timm_order", "compose", "next_stage"]


def tokens_first(*names: str) -> Callable[[list[str]], list[str]]:
    """Order map putting the top-level ``names`` (e.g. ``cls_token``, ``pos_embed``) first, in
    that order, where PaddleClas registers them in another order; other keys keep theirs."""
    def reorder(keys: list[str]) -> list[str]:
        head = [n for n in names if n in keys]
        return head + [k for k in keys if k not in head]
    return reorder


def drop_keys(pattern: str) -> Callable[[list[str]], list[str]]:
    """Order map dropping PaddleClas keys matching ``pattern`` (buffers it saves that timm
    recomputes, such as relative-position indices)."""
    regex = re.compile(pattern)
    return lambda keys: [k for k in keys if not regex.search(k)]


def order_like(build: Callable[[], nn.Module], renames: Iterable[tuple[str, str | Callable]] = (),
               drop: str | None = None) -> Callable[[list[str]], list[str]]:
    """Order map for models whose names match PaddleClas's after ``renames`` (regex, replacement
    pairs applied in turn) but whose registration order differs: PaddleClas keys are sorted by
    the position of their renamed key in ``build()``'s state dict (built on the meta device).
    Keys matching ``drop`` (buffers PaddleClas saves and timm recomputes) are left out.

    Raises:
        ValueError: a PaddleClas key has no counterpart in our model (names it).
    """
    rules = [(re.compile(pattern), repl) for pattern, repl in renames]
    skip = re.compile(drop) if drop else None

    def rename(key: str) -> str:
        for pattern, repl in rules:
            key = pattern.sub(repl, key)
        return key

    def reorder(keys: list[str]) -> list[str]:
        with torch.device("meta"):
            ours = [k for k in build().state_dict() if not k.endswith("num_batches_tracked")]
        position = {k: i for i, k in enumerate(ours)}
        kept = [k for k in keys if not (skip and skip.search(k))]
        unknown = [k for k in kept if rename(k) not in position]
        if unknown:
            raise ValueError(f"PaddleClas key '{unknown[0]}' (as '{rename(unknown[0])}') has no counterpart "
                             f"in {type(build()).__name__}")
        return sorted(kept, key=lambda k: position[rename(k)])
    return reorder


def timm_order(timm_name: str, renames: Iterable[tuple[str, str | Callable]] = (), drop: str | None = None,
               **kwargs) -> Callable[[list[str]], list[str]]:
    """:func:`order_like` against timm's ``timm_name`` built with ``kwargs``."""
    return order_like(partial(timm.create_model, timm_name, **kwargs), renames, drop)


def compose(*maps: Callable[[list[str]], list[str]]) -> Callable[[list[str]], list[str]]:
    """Order map applying ``maps`` left to right."""
    def reorder(keys: list[str]) -> list[str]:
        for fn in maps:
            keys = fn(keys)
        return keys
    return reorder


def next_stage(match: re.Match) -> str:
    """Replacement moving ``<stages>.<i>.downsample`` to ``<stages>.<i+1>.downsample`` (PaddleClas
    ends a stage with its downsampling, timm starts the next one with it)."""
    return f"{match.group(1)}.{int(match.group(2)) + 1}.downsample."
