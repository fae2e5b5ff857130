"""The timm model interface for our own small classic nets (VGG, AlexNet, SqueezeNet)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PlainNet", "LinearHeadMixin", "FourStageMapMixin", "stage_info"]


class PlainNet(nn.Module):
    """A net made of ``stages`` (the features) then ``head`` (pooling/hidden layers) then ``fc``.

    Subclasses fill ``self.stages`` (an ``nn.Sequential``), ``self.head`` (input: the last
    stage's map; output: the pre-logits), ``self.fc`` and ``feature_info``, and set
    ``num_features`` (the width ``fc`` reads); this class gives them timm's methods.
    """

    num_features: int
    stages: nn.Sequential
    head: nn.Module
    fc: nn.Module
    feature_info: list[dict]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map."""
        return self.stages(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits (or, with ``pre_logits``, the classifier's input) from the feature map."""
        x = self.head(x)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The classifier layer."""
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh classifier for ``num_classes`` (0: none, the model returns pre-logits)."""
        self.fc = self._make_classifier(num_classes)

    def _make_classifier(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


def stage_info(channels: list[int], reductions: list[int]) -> list[dict]:
    """timm-style ``feature_info`` for ``stages.0``, ``stages.1``, ..."""
    return [dict(num_chs=c, reduction=r, module=f"stages.{i}")
            for i, (c, r) in enumerate(zip(channels, reductions))]


class LinearHeadMixin:
    """``forward``, ``get_classifier`` and ``reset_classifier`` for nets whose classifier is
    ``self.head``, a Linear over ``self.num_features`` (the transformer-style own modules)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final Linear (Identity when reset to 0 classes)."""
        return self.head

    def reset_classifier(self, num_classes: int, **_) -> None:
        """A fresh classifier for ``num_classes`` (0: none, the model returns pooled features)."""
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


class FourStageMapMixin(LinearHeadMixin):
    """The feature path of nets laid out as PaddleClas's UniFormer/DSNet: ``patch_embed1..4``
    each followed by ``blocks1..4`` (dropout ``pos_drop`` after the first embedding), then
    ``norm``; the head averages the map and applies ``head``."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised map of the last stage (B, C, H/32, W/32)."""
        for i in range(1, 5):
            x = getattr(self, f"patch_embed{i}")(x)
            if i == 1:
                x = self.pos_drop(x)
            for block in getattr(self, f"blocks{i}"):
                x = block(x)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Logits (or the averaged features with ``pre_logits``) from :meth:`forward_features`."""
        x = x.flatten(2).mean(-1)
        return x if pre_logits else self.head(x)
