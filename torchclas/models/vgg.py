"""PaddleClas's VGG: bias-free 3x3 convs (no BN) and a three-layer Linear head.

timm's and torchvision's VGG convs carry a bias, and timm's head is a conv MLP, so neither
takes PaddleClas's weights.

``ROWS``: VGG11/13/16/19.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import nn

from .entry import ModelEntry
from .layers.downscale_dropout import DownscaleInInferDropout
from .layers.plain_net import PlainNet, stage_info

__all__ = ["VGG", "VGG_DEPTHS", "ROWS"]

# convs per block for each depth (PaddleClas NET_CONFIG)
VGG_DEPTHS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
_WIDTHS = (64, 128, 256, 512, 512)


def _conv_block(in_chs: int, out_chs: int, convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(in_chs if i == 0 else out_chs, out_chs, 3, padding=1, bias=False),
                   nn.ReLU(inplace=True)]
    layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class VGG(PlainNet):
    """VGG11/13/16/19 as PaddleClas builds them.

    Args:
        depth: 11, 13, 16 or 19.
        num_classes: classifier size (0: no classifier).
        drop_rate: ``p`` of the two downscale-in-infer dropouts of the head (PaddleClas: 0.5).
        in_chans: input channels.
        stop_grad_layers: freeze the first this many conv blocks (0-5; PaddleClas's key, used by
            its fine-tuning configs): their parameters get ``requires_grad=False``.

    The head adaptively pools to 7x7 first (identity at 224 px, PaddleClas's only size),
    so smaller inputs also run.
    """

    def __init__(self, depth: int = 16, num_classes: int = 1000, drop_rate: float = 0.5,
                 in_chans: int = 3, stop_grad_layers: int = 0, **kwargs: Any):
        super().__init__()
        if depth not in VGG_DEPTHS:
            raise ValueError(f"VGG depth must be one of {sorted(VGG_DEPTHS)}, got {depth}")
        if kwargs:
            raise TypeError(f"VGG got unexpected arguments {sorted(kwargs)}")
        in_widths = (in_chans,) + _WIDTHS[:-1]
        self.stages = nn.Sequential(*[_conv_block(i, o, n) for i, o, n
                                      in zip(in_widths, _WIDTHS, VGG_DEPTHS[depth])])
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(7), nn.Flatten(1),
            nn.Linear(7 * 7 * 512, 4096), nn.ReLU(inplace=True), DownscaleInInferDropout(drop_rate),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), DownscaleInInferDropout(drop_rate))
        self.num_features = 4096
        self.fc = self._make_classifier(num_classes)
        self.feature_info = stage_info(list(_WIDTHS), [2, 4, 8, 16, 32])
        if not 0 <= stop_grad_layers <= len(self.stages):
            raise ValueError(f"VGG stop_grad_layers must be in 0..{len(self.stages)}, got {stop_grad_layers}")
        for stage in self.stages[:stop_grad_layers]:
            stage.requires_grad_(False)


ROWS: list[ModelEntry] = [
    ModelEntry(f"VGG{depth}", "VGG", partial(VGG, depth=depth), "ours", top1=top1,
               note="bias-free convs, three Linear layers; Paddle's downscale-in-infer dropouts")
    for depth, top1 in ((11, 69.3), (13, 70.0), (16, 72.0), (19, 72.6))]
