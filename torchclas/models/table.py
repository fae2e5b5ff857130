"""``MODEL_TABLE``: every PaddleClas name torchclas builds, gathered from the family modules.

Each family module (one PaddleClas family, or a few closely related ones) holds that family's
architecture code and ends with ``ROWS``, a list of :class:`~.entry.ModelEntry`. This module
names those modules explicitly in :data:`FAMILY_MODULES` (add a new family there) and gathers
their rows into a read-only :class:`~torchclas.config.registry.Registry`; nothing registers
itself on import.

Example:
    >>> MODEL_TABLE["ResNet50_vd"].backend
    'timm:resnet50'
"""

from __future__ import annotations

from types import ModuleType
from typing import Iterable

from ..config.registry import Registry
from . import (alexnet, cae, convnext, cswin, cvt, darknet, deit, densenet, dla, dpn, dsnet, efficientnet,
               efficientnet_v2, esnet, fasternet, foundation_vit, ghostnet, googlenet, hardnet, hrnet, inception,
               levit, micronet, mixnet, mobilenet_v1, mobilenet_v2, mobilenet_v3, mobilenet_v4, mobilenext, mobilevit,
               mobilevit_v3, nextvit, peleenet, pphgnet, pplcnet, pplcnet_v2, pvt_v2, rednet, regnet, repvgg, resnest,
               resnet, rexnet, shufflenet_v2, squeezenet, starnet, swin, tnt, twins, uniformer, van, vgg, vit,
               wideresnet, xception)
from .entry import ModelEntry

__all__ = ["FAMILY_MODULES", "MODEL_TABLE", "gather_rows"]

FAMILY_MODULES: tuple[ModuleType, ...] = (
    resnet, resnest, regnet,
    mobilenet_v1, mobilenet_v2, pplcnet_v2, esnet, ghostnet, shufflenet_v2, mobilenet_v3, pplcnet, mobilenet_v4,
    mixnet, rexnet,
    repvgg,
    vgg, alexnet, squeezenet, inception, darknet, densenet, dpn, efficientnet, pphgnet, dla, starnet,
    vit, deit, swin, levit, convnext, mobilevit, pvt_v2, twins, nextvit, foundation_vit,
    tnt, cvt, cswin,
    hrnet,
    xception, googlenet,
    hardnet, fasternet, efficientnet_v2, mobilenext, micronet,
    van, rednet, peleenet,
    mobilevit_v3, uniformer, dsnet,
    wideresnet, cae,
)
"""The family modules, in table order."""


def gather_rows(modules: Iterable[ModuleType]) -> dict[str, ModelEntry]:
    """``{name: row}`` over every module's ``ROWS``, in module order.

    Raises:
        RuntimeError: a name is defined twice.
    """
    table: dict[str, ModelEntry] = {}
    for module in modules:
        for row in module.ROWS:
            if row.name in table:
                raise RuntimeError(f"model table: '{row.name}' is defined twice (again in {module.__name__})")
            table[row.name] = row
    return table


MODEL_TABLE: Registry[ModelEntry] = Registry("model", gather_rows(FAMILY_MODULES))
