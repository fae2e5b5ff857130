"""PaddleClas's SqueezeNet 1.0/1.1.

torchvision's has the same layer shapes, but its max-pools round up (``ceil_mode``) where
PaddleClas's round down, which changes every map size after the stem.

``ROWS``: SqueezeNet1_0, SqueezeNet1_1.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn

from .entry import ModelEntry
from .layers.downscale_dropout import DownscaleInInferDropout
from .layers.plain_net import PlainNet, stage_info

__all__ = ["SqueezeNet", "Fire", "ROWS"]

# (in, squeeze, expand) per fire module; "pool" marks a max-pool
_FIRES = {
    "1.0": ((96, 16, 64), (128, 16, 64), (128, 32, 128), "pool", (256, 32, 128), (256, 48, 192),
            (384, 48, 192), (384, 64, 256), "pool", (512, 64, 256)),
    "1.1": ((64, 16, 64), (128, 16, 64), "pool", (128, 32, 128), (256, 32, 128), "pool",
            (256, 48, 192), (384, 48, 192), (384, 64, 256), (512, 64, 256)),
}


class Fire(nn.Module):
    """Squeeze 1x1 conv, then 1x1 and 3x3 expand convs concatenated (each conv + ReLU)."""

    def __init__(self, in_chs: int, squeeze: int, expand: int):
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(in_chs, squeeze, 1), nn.ReLU(inplace=True))
        self.expand1x1 = nn.Sequential(nn.Conv2d(squeeze, expand, 1), nn.ReLU(inplace=True))
        self.expand3x3 = nn.Sequential(nn.Conv2d(squeeze, expand, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat([self.expand1x1(x), self.expand3x3(x)], 1)


class SqueezeNet(PlainNet):
    """SqueezeNet as PaddleClas builds it; the classifier is a 1x1 conv, then ReLU and average pooling.

    Args:
        version: ``"1.0"`` (7x7 stem, 96 channels) or ``"1.1"`` (3x3 stem, 64 channels).
        num_classes: classifier size (0: no classifier).
        drop_rate: ``p`` of the downscale-in-infer dropout before the classifier (PaddleClas: 0.5).
        in_chans: input channels.
    """

    def __init__(self, version: str = "1.0", num_classes: int = 1000, drop_rate: float = 0.5,
                 in_chans: int = 3, **kwargs: Any):
        super().__init__()
        if version not in _FIRES:
            raise ValueError(f"SqueezeNet version must be one of {sorted(_FIRES)}, got {version!r}")
        if kwargs:
            raise TypeError(f"SqueezeNet got unexpected arguments {sorted(kwargs)}")
        stem = nn.Conv2d(in_chans, 96, 7, 2) if version == "1.0" else nn.Conv2d(in_chans, 64, 3, 2, 1)
        layers: list[nn.Module] = [nn.Sequential(stem, nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))]
        layers += [nn.MaxPool2d(3, 2) if f == "pool" else Fire(*f) for f in _FIRES[version]]
        self.stages = nn.Sequential(*layers)
        self.head = DownscaleInInferDropout(drop_rate)
        self.num_features = 512
        self.fc = self._make_classifier(num_classes)
        self.feature_info = stage_info([512], [16])
        self.feature_info[0]["module"] = "stages"

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Class scores: 1x1 conv, ReLU, global average. ``pre_logits``: the dropped-out map
        averaged to ``(B, 512)``, the pooled features timm's interface gives (the classifier itself
        runs on the map, before its pooling)."""
        x = self.head(x)
        if pre_logits:
            return x.mean((2, 3))
        return torch.relu(self.fc(x)).mean((2, 3))

    def _make_classifier(self, num_classes: int) -> nn.Module:
        return nn.Conv2d(self.num_features, num_classes, 1) if num_classes > 0 else nn.Identity()


ROWS: list[ModelEntry] = [
    ModelEntry(f"SqueezeNet{tag}", "SqueezeNet", partial(SqueezeNet, version=version), "ours", top1=top1,
               note="floor-mode max-pools (torchvision rounds up)")
    for tag, version, top1 in (("1_0", "1.0", 59.6), ("1_1", "1.1", 60.1))]
