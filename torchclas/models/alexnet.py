"""PaddleClas's AlexNet (torchvision's layer shapes, but Paddle's downscale-in-infer dropouts)."""

from __future__ import annotations

from typing import Any

from torch import nn

from .entry import ModelEntry
from .layers.downscale_dropout import DownscaleInInferDropout
from .layers.plain_net import PlainNet, stage_info

__all__ = ["AlexNet", "ROWS"]


def _conv(in_chs: int, out_chs: int, kernel: int, stride: int, padding: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_chs, out_chs, kernel, stride, padding), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(3, 2))
    return nn.Sequential(*layers)


class AlexNet(PlainNet):
    """AlexNet as PaddleClas builds it: five convs with bias, then dropout-fc6-relu-dropout-fc7-relu-fc8.

    Args:
        num_classes: classifier size (0: no classifier).
        drop_rate: ``p`` of the two downscale-in-infer dropouts (PaddleClas: 0.5).
        in_chans: input channels.

    The head adaptively pools to 6x6 (identity at 224 px) so smaller inputs also run.
    """

    def __init__(self, num_classes: int = 1000, drop_rate: float = 0.5, in_chans: int = 3, **kwargs: Any):
        super().__init__()
        if kwargs:
            raise TypeError(f"AlexNet got unexpected arguments {sorted(kwargs)}")
        self.stages = nn.Sequential(
            _conv(in_chans, 64, 11, 4, 2, pool=True), _conv(64, 192, 5, 1, 2, pool=True),
            _conv(192, 384, 3, 1, 1, pool=False), _conv(384, 256, 3, 1, 1, pool=False),
            _conv(256, 256, 3, 1, 1, pool=True))
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(6), nn.Flatten(1),
            DownscaleInInferDropout(drop_rate), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            DownscaleInInferDropout(drop_rate), nn.Linear(4096, 4096), nn.ReLU(inplace=True))
        self.num_features = 4096
        self.fc = self._make_classifier(num_classes)
        self.feature_info = stage_info([64, 192, 384, 256, 256], [8, 16, 16, 16, 32])


ROWS: list[ModelEntry] = [ModelEntry("AlexNet", "AlexNet", AlexNet, "ours", top1=56.7,
                                     note="torchvision's shapes; Paddle's downscale-in-infer dropouts")]
