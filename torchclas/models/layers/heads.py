"""Heads and backbones: an extra FC before the classifier, and multi-scale feature maps.

Both work on any model of the table through timm's interface (``get_classifier``,
``forward_features``, ``feature_info``), so no family needs code of its own for them.
"""

from __future__ import annotations

from typing import Sequence

import torch
from timm.layers import get_act_layer
from torch import nn

__all__ = ["ExtraFCClassifier", "add_extra_fc", "FeatureExtractor", "stage_indices"]


class ExtraFCClassifier(nn.Module):
    """``Linear(in, width) → act → dropout → Linear(width, num_classes)``.

    The PaddleClas FAQ's trick for small models trained with label smoothing: a wider FC
    (1000–2000) after pooling gives the logits room. ``in_features`` is the pooled width,
    like a plain ``nn.Linear`` classifier's.
    """

    def __init__(self, in_features: int, width: int, num_classes: int, act: str = "relu",
                 drop_rate: float = 0.0):
        super().__init__()
        self.in_features = in_features
        self.fc_extra = nn.Linear(in_features, width)
        self.act = get_act_layer(act)()
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.act(self.fc_extra(x))))


def add_extra_fc(model: nn.Module, width: int, act: str = "relu", drop_rate: float = 0.0) -> nn.Module:
    """Replace ``model``'s Linear classifier by an :class:`ExtraFCClassifier` of ``width``.

    Raises:
        ValueError: the model's classifier is not an ``nn.Linear`` (e.g. a 1×1 conv head).
    """
    head = model.get_classifier()
    if not isinstance(head, nn.Linear):
        raise ValueError(f"extra_fc needs a Linear classifier; {type(model).__name__} has a "
                         f"{type(head).__name__}")
    if width < 1:
        raise ValueError(f"extra_fc must be a positive width, got {width}")
    path = next(name for name, module in model.named_modules() if module is head)
    model.set_submodule(path, ExtraFCClassifier(head.in_features, width, head.out_features, act, drop_rate))
    return model


def stage_indices(model: nn.Module) -> list[int]:
    """Indices into ``model.feature_info`` of the stage outputs, PaddleClas-style: entries
    at stride 4 and coarser (a stride-2 stem entry is not a stage)."""
    return [i for i, info in enumerate(model.feature_info) if info["reduction"] >= 4]


class FeatureExtractor(nn.Module):
    """A backbone returning the feature maps of chosen stages (a list, finest first).

    Hooks the modules named in ``model.feature_info`` and runs ``forward_features``; the
    classifier is dropped. ``channels`` and ``reductions`` describe the outputs.

    Example:
        >>> from torchclas.models import create_model
        >>> backbone = FeatureExtractor(create_model("ResNet50_vd"), return_stages=[1, 2, 3])
        >>> [f.shape[1] for f in backbone(torch.randn(1, 3, 64, 64))]
        [512, 1024, 2048]
    """

    def __init__(self, model: nn.Module, return_stages: Sequence[int]):
        super().__init__()
        stages = stage_indices(model)
        bad = [i for i in return_stages if not 0 <= i < len(stages)]
        if bad or not return_stages:
            raise ValueError(f"return_stages {list(return_stages)}: {type(model).__name__} has stages "
                             f"0..{len(stages) - 1}")
        self.infos = [model.feature_info[stages[i]] for i in return_stages]
        self.channels = [info["num_chs"] for info in self.infos]
        self.reductions = [info["reduction"] for info in self.infos]
        model.reset_classifier(0)
        self.model = model
        self._names = [info["module"] for info in self.infos]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        captured: dict[str, torch.Tensor] = {}
        handles = [self.model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: captured.__setitem__(name, out)) for name in self._names]
        try:
            self.model.forward_features(x)
        finally:
            for handle in handles:
                handle.remove()
        return [captured[name] for name in self._names]
