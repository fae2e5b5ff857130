"""PaddleClas's Inception family: InceptionV3 (timm's, BN eps patched) and InceptionV4 (ours,
``model_zoo/inception_v4.py``).

InceptionV4: timm's ``inception_v4`` has the same widths but cannot take PaddleClas's weights: its stem
runs the 1x7 conv before the 7x1 (PaddleClas: 7x1 first, so the kernels differ in shape),
its branches are registered in another order, and its BatchNorm eps is 1e-3 (Paddle: 1e-5).
Average pools exclude the padding (Paddle's ``exclusive=True``).

``ROWS``: InceptionV3 and InceptionV4 (299x299 inputs).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .entry import ModelEntry, timm_model
from .layers.batchnorm import set_bn_eps
from .layers.plain_net import PlainNet

__all__ = ["InceptionV4", "inception_v3", "ROWS"]


def _conv(in_chs: int, out_chs: int, kernel: int | tuple[int, int], stride: int = 1,
          padding: int | tuple[int, int] = 0) -> nn.Sequential:
    """Bias-free conv, BatchNorm, ReLU (PaddleClas's ``ConvBNLayer``)."""
    return nn.Sequential(nn.Conv2d(in_chs, out_chs, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(out_chs), nn.ReLU(inplace=True))


def _pool3x3() -> nn.AvgPool2d:
    return nn.AvgPool2d(3, 1, 1, count_include_pad=False)


class Branches(nn.Module):
    """Runs each branch on the input and concatenates the outputs along channels."""

    def __init__(self, *branches: nn.Module):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channel concatenation of the branch outputs."""
        return torch.cat([branch(x) for branch in self.branches], 1)


class SplitBranch(nn.Module):
    """A trunk whose output feeds a 1x3 and a 3x1 conv, concatenated (InceptionC)."""

    def __init__(self, trunk: nn.Module, chs: int):
        super().__init__()
        self.trunk = trunk
        self.conv_1x3 = _conv(chs, 256, (1, 3), padding=(0, 1))
        self.conv_3x1 = _conv(chs, 256, (3, 1), padding=(1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Both convs of the trunk's output, concatenated."""
        x = self.trunk(x)
        return torch.cat([self.conv_1x3(x), self.conv_3x1(x)], 1)


def _stem(in_chans: int) -> list[nn.Module]:
    """PaddleClas's ``InceptionStem`` as four stages (64, 160, 192, 384 channels)."""
    return [
        nn.Sequential(_conv(in_chans, 32, 3, 2), _conv(32, 32, 3), _conv(32, 64, 3, padding=1)),
        Branches(nn.MaxPool2d(3, 2), _conv(64, 96, 3, 2)),
        Branches(nn.Sequential(_conv(160, 64, 1), _conv(64, 96, 3)),
                 nn.Sequential(_conv(160, 64, 1), _conv(64, 64, (7, 1), padding=(3, 0)),
                               _conv(64, 64, (1, 7), padding=(0, 3)), _conv(64, 96, 3))),
        Branches(_conv(192, 192, 3, 2), nn.MaxPool2d(3, 2)),
    ]


def _inception_a() -> Branches:
    return Branches(nn.Sequential(_pool3x3(), _conv(384, 96, 1)), _conv(384, 96, 1),
                    nn.Sequential(_conv(384, 64, 1), _conv(64, 96, 3, padding=1)),
                    nn.Sequential(_conv(384, 64, 1), _conv(64, 96, 3, padding=1), _conv(96, 96, 3, padding=1)))


def _reduction_a() -> Branches:
    return Branches(nn.MaxPool2d(3, 2), _conv(384, 384, 3, 2),
                    nn.Sequential(_conv(384, 192, 1), _conv(192, 224, 3, padding=1), _conv(224, 256, 3, 2)))


def _inception_b() -> Branches:
    return Branches(
        nn.Sequential(_pool3x3(), _conv(1024, 128, 1)), _conv(1024, 384, 1),
        nn.Sequential(_conv(1024, 192, 1), _conv(192, 224, (1, 7), padding=(0, 3)),
                      _conv(224, 256, (7, 1), padding=(3, 0))),
        nn.Sequential(_conv(1024, 192, 1), _conv(192, 192, (1, 7), padding=(0, 3)),
                      _conv(192, 224, (7, 1), padding=(3, 0)), _conv(224, 224, (1, 7), padding=(0, 3)),
                      _conv(224, 256, (7, 1), padding=(3, 0))))


def _reduction_b() -> Branches:
    return Branches(
        nn.MaxPool2d(3, 2), nn.Sequential(_conv(1024, 192, 1), _conv(192, 192, 3, 2)),
        nn.Sequential(_conv(1024, 256, 1), _conv(256, 256, (1, 7), padding=(0, 3)),
                      _conv(256, 320, (7, 1), padding=(3, 0)), _conv(320, 320, 3, 2)))


def _inception_c() -> Branches:
    return Branches(
        nn.Sequential(_pool3x3(), _conv(1536, 256, 1)), _conv(1536, 256, 1),
        SplitBranch(_conv(1536, 384, 1), 384),
        SplitBranch(nn.Sequential(_conv(1536, 384, 1), _conv(384, 448, (1, 3), padding=(0, 1)),
                                  _conv(448, 512, (3, 1), padding=(1, 0))), 512))


class InceptionV4(PlainNet):
    """InceptionV4 as PaddleClas builds it (see the module docstring).

    Args:
        num_classes: classifier size (0: no classifier).
        drop_rate: dropout before the classifier (PaddleClas: 0.2, downscale-in-infer; the
            row folds its ``1 - p`` into converted weights).
        in_chans: input channels.

    Stages: ``stages.0``-``3`` the stem, then four InceptionA, ReductionA, seven InceptionB,
    ReductionB and three InceptionC blocks. Needs inputs of at least 75 px.
    """

    def __init__(self, num_classes: int = 1000, drop_rate: float = 0.2, in_chans: int = 3, **kwargs: Any):
        super().__init__()
        if kwargs:
            raise TypeError(f"InceptionV4 got unexpected arguments {sorted(kwargs)}")
        blocks = _stem(in_chans) + [_inception_a() for _ in range(4)] + [_reduction_a()]
        blocks += [_inception_b() for _ in range(7)] + [_reduction_b()] + [_inception_c() for _ in range(3)]
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Dropout(drop_rate))
        self.num_features = 1536
        self.fc = self._make_classifier(num_classes)
        self.feature_info = [dict(num_chs=c, reduction=r, module=f"stages.{i}")
                             for c, r, i in ((64, 2, 0), (192, 4, 2), (384, 8, 7), (1024, 16, 15), (1536, 32, 19))]


def inception_v3(**kwargs: Any) -> nn.Module:
    """timm's Inception-V3 with PaddleClas's BatchNorm epsilon (1e-5; timm's is 1e-3)."""
    return set_bn_eps(timm_model("inception_v3", **kwargs), 1e-5)


ROWS: list[ModelEntry] = [
    ModelEntry("InceptionV3", "Inception", inception_v3, "timm:inception_v3+patch",
               kwargs=dict(drop_rate=0.2), paddle_dropout=0.2, input_size=(3, 299, 299), top1=79.1,
               note="BatchNorm eps set to 1e-5 (timm: 1e-3)"),
    ModelEntry("InceptionV4", "Inception", InceptionV4, "ours",
               kwargs=dict(drop_rate=0.2), paddle_dropout=0.2, input_size=(3, 299, 299), top1=80.8,
               note="timm's inception_v4 swaps the stem's 7x1/1x7 kernels and uses BN eps 1e-3"),
]
