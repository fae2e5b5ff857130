"""cnn family rows (filled in by issue 4's work)."""

from __future__ import annotations

from ..zoo import ModelEntry


def rows() -> list[ModelEntry]:
    """No rows yet."""
    return []
