"""DPN rows: timm's DPN with PaddleClas's head (pool, then a Linear classifier) and BN eps."""

from __future__ import annotations

from functools import partial
from typing import Any

from timm.layers import SelectAdaptivePool2d
from torch import nn

from .entry import ModelEntry, timm_model
from .layers.batchnorm import set_bn_eps

__all__ = ["dpn", "ROWS"]


def dpn(timm_name: str, num_classes: int = 1000, **kwargs: Any) -> nn.Module:
    """timm's DPN ``timm_name`` with PaddleClas's head (pool, then a Linear classifier; timm: a
    1x1 conv) and BatchNorm eps 1e-5 (timm: 1e-3)."""
    model = timm_model(timm_name, num_classes=num_classes, **kwargs)

    def reset_classifier(num_classes: int, global_pool: str | None = None) -> None:
        model.num_classes = num_classes
        model.global_pool = SelectAdaptivePool2d(pool_type=global_pool or "avg", flatten=True)
        model.classifier = nn.Linear(model.num_features, num_classes) if num_classes else nn.Identity()
        model.flatten = nn.Identity()

    if hasattr(model, "classifier"):  # not for features_only models
        model.reset_classifier = reset_classifier
        reset_classifier(num_classes)
    return set_bn_eps(model, 1e-5)


_TOP1 = {68: 76.8, 92: 79.9, 98: 80.6, 107: 80.9, 131: 80.7}

ROWS: list[ModelEntry] = [
    ModelEntry(f"DPN{depth}", "DPN", partial(dpn, f"dpn{depth}"), f"timm:dpn{depth}+patch", top1=top1,
               note="Linear classifier after pooling (timm: 1x1 conv); BatchNorm eps 1e-5 (timm: 1e-3)")
    for depth, top1 in _TOP1.items()]
