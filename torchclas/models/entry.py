"""A row of the model table: a PaddleClas name, its builder and what PaddleClas says of it.

Every family module (``torchclas/models/resnet.py``, ``mobilenet_v3.py``, ...) ends with its
``ROWS``, a list of :class:`ModelEntry` whose ``builder`` is a plain function (a class, a
function of that module, or a ``functools.partial`` of one); :func:`timm_row` is the row of a
model timm builds as it is, by its timm name. ``torchclas/models/table.py`` gathers the rows.
Params and FLOPs live in ``zoo_stats.json`` (measured by
``python -m torchclas.zoo.analysis --write-stats``), so listing the table builds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import timm
from torch import nn

__all__ = ["ModelEntry", "timm_model", "timm_row", "scale_tag"]


@dataclass(frozen=True)
class ModelEntry:
    """One row of the zoo.

    Attributes:
        name: the PaddleClas name (``ResNet50_vd``).
        family: the PaddleClas family (``ResNet_vd``); tests and plots group by it.
        builder: called with ``num_classes=`` and the row's ``kwargs`` (+ the user's).
        backend: how it is built, for the table: ``timm:resnet50d``, ``timm:resnet18d+patch``,
            ``torchvision:alexnet`` or ``ours``.
        kwargs: the row's builder arguments.
        input_size: default (C, H, W).
        top1: PaddleClas's published ImageNet top-1 accuracy (%) for its weights, if any.
        paddle_dropout: ``p`` of the ``downscale_in_infer`` dropout before PaddleClas's
            classifier (its weights are scaled by ``1 - p`` on conversion).
        paddle_reorder: maps PaddleClas's parameter order onto ours where they differ.
        note: what differs from PaddleClas or from the timm model, if anything.
    """

    name: str
    family: str
    builder: Callable[..., nn.Module]
    backend: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    input_size: tuple[int, int, int] = (3, 224, 224)
    top1: float | None = None
    paddle_dropout: float = 0.0
    paddle_reorder: Callable[[list[str]], list[str]] | None = None
    note: str = ""

    def build(self, **kwargs: Any) -> nn.Module:
        """Build the architecture with random weights; ``kwargs`` override the row's."""
        return self.builder(**{**self.kwargs, **kwargs})

    def paddle_options(self, model: nn.Module) -> dict[str, Any]:
        """Arguments of :func:`convert_paddle_state` for this row and a built ``model``."""
        options: dict[str, Any] = {"reorder": self.paddle_reorder}
        dropout = getattr(model, "paddle_dropout", self.paddle_dropout)  # a head built without it says 0
        if dropout:
            head = model.get_classifier()
            key = next(n for n, m in model.named_modules() if m is head)
            options["classifier_scale"] = {f"{key}.weight": 1.0 - dropout}
        return options


def timm_model(timm_name: str, **kwargs: Any) -> nn.Module:
    """timm's ``timm_name`` with random weights (timm's own weight downloads are never used).

    Example:
        >>> model = timm_model("resnet18", num_classes=10)
    """
    return timm.create_model(timm_name, pretrained=False, **kwargs)


def timm_row(name: str, family: str, timm_name: str, note: str = "", **fields: Any) -> ModelEntry:
    """A row built by :func:`timm_model` ``(timm_name, **kwargs)``; ``fields`` go to ModelEntry
    (``kwargs``, ``input_size``, ``top1``, ...).

    Example:
        >>> row = timm_row("DLA34", "DLA", "dla34", top1=76.03)
        >>> row.backend
        'timm:dla34'
    """
    return ModelEntry(name, family, partial(timm_model, timm_name), f"timm:{timm_name}", note=note, **fields)


def scale_tag(scale: float) -> str:
    """PaddleClas's spelling of a width multiplier in a model name: 0.25 -> ``0_25``, 1.0 -> ``1_0``.

    Example:
        >>> f"PPLCNet_x{scale_tag(0.5)}"
        'PPLCNet_x0_5'
    """
    text = f"{scale:g}"
    return (text if "." in text else f"{text}.0").replace(".", "_")
