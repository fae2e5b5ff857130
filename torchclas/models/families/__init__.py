"""Rows of the model table, one module per group of PaddleClas families.

Each module has ``rows() -> list[ModelEntry]``; add a module here to add families.
"""

from __future__ import annotations

from importlib import import_module

__all__ = ["all_rows", "FAMILY_MODULES"]

FAMILY_MODULES = ("resnet", "mobile", "repvgg", "cnn", "vit", "vit_extra", "hrnet", "inception", "extra_cnn",
                  "attention_cnn", "hybrid", "more_rows")


def all_rows():
    """Every row of every family module, in module order."""
    rows = []
    for name in FAMILY_MODULES:
        rows.extend(import_module(f"{__name__}.{name}").rows())
    return rows
