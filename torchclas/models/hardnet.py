"""HarDNet (Chao et al., 2019) as PaddleClas builds it: ``HarDNet39_ds``, ``HarDNet68_ds``,
``HarDNet68``, ``HarDNet85`` (timm and torchvision have no HarDNet).

Layers are registered in PaddleClas's order (``hardnet.py``'s ``base`` list: two stem convs, a
max-pool or depthwise downsampling, then per stage a harmonic dense block, a 1x1 transition
conv and an optional downsampling), so PaddleClas weights convert by order.

``ROWS``: HarDNet39_ds, HarDNet68_ds, HarDNet68, HarDNet85.
"""

from __future__ import annotations

from functools import partial
import torch
from torch import nn

from .entry import ModelEntry
from .layers.plain_net import PlainNet

__all__ = ["HarDNet", "HarDBlock", "ARCHS", "ROWS"]

# arch: (stem widths, stage widths, growth rates, grmul, layers per block, downsample after stage)
ARCHS = {
    39: ((24, 48), (96, 320, 640, 1024), (16, 20, 64, 160), 1.6, (4, 16, 8, 4), (1, 1, 1, 0)),
    68: ((32, 64), (128, 256, 320, 640, 1024), (14, 16, 20, 40, 160), 1.7, (8, 16, 16, 16, 4), (1, 0, 1, 1, 0)),
    85: ((48, 96), (192, 256, 320, 480, 720, 1280), (24, 24, 28, 36, 48, 256), 1.7, (8, 16, 16, 16, 16, 4),
         (1, 0, 1, 0, 1, 0)),
}


def conv_bn_relu6(in_chs: int, out_chs: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    """PaddleClas's ``ConvLayer``: bias-free conv (padding ``k // 2``), BN, ReLU6."""
    return nn.Sequential(nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, bias=False),
                         nn.BatchNorm2d(out_chs), nn.ReLU6())


def dw_conv_bn(channels: int, stride: int = 1) -> nn.Sequential:
    """PaddleClas's ``DWConvLayer``: bias-free 3x3 depthwise conv and BN, no activation."""
    return nn.Sequential(nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False),
                         nn.BatchNorm2d(channels))


def _link(layer: int, base_chs: int, growth: int, grmul: float) -> tuple[int, int, list[int]]:
    """(out channels, in channels, inputs) of layer ``layer`` of a harmonic dense block: layer
    ``l`` reads layers ``l - 2**i`` for every ``2**i`` dividing ``l`` (layer 0 is the block input)."""
    if layer == 0:
        return base_chs, 0, []
    out_chs: float = growth
    links = []
    for i in range(10):
        if layer % 2 ** i == 0:
            links.append(layer - 2 ** i)
            if i > 0:
                out_chs *= grmul
    out_chs = int(int(out_chs + 1) / 2) * 2  # PaddleClas's rounding to an even width
    in_chs = sum(_link(k, base_chs, growth, grmul)[0] for k in links)
    return out_chs, in_chs, links


class HarDBlock(nn.Module):
    """A harmonic dense block: concatenates the odd-numbered layers and the last one.

    Args:
        in_chs: input width.
        growth: base growth rate (layer widths grow by ``grmul`` per extra link).
        grmul: width multiplier per link.
        num_layers: conv layers in the block.
        depthwise: each layer is 1x1 conv-BN-ReLU6 then 3x3 depthwise conv-BN (the ``_ds`` nets);
            otherwise one 3x3 conv-BN-ReLU6.
    """

    def __init__(self, in_chs: int, growth: int, grmul: float, num_layers: int, depthwise: bool = False):
        super().__init__()
        self.links: list[list[int]] = []
        self.out_chs = 0
        layers = []
        for i in range(num_layers):
            out_chs, layer_in, links = _link(i + 1, in_chs, growth, grmul)
            self.links.append(links)
            if depthwise:
                layers.append(nn.Sequential(conv_bn_relu6(layer_in, out_chs, 1), dw_conv_bn(out_chs)))
            else:
                layers.append(conv_bn_relu6(layer_in, out_chs))
            if i % 2 == 0 or i == num_layers - 1:
                self.out_chs += out_chs
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x]
        for layer, links in zip(self.layers, self.links):
            inputs = [outputs[i] for i in links]
            outputs.append(layer(torch.cat(inputs, 1) if len(inputs) > 1 else inputs[0]))
        last = len(outputs) - 1
        return torch.cat([t for i, t in enumerate(outputs) if i == last or i % 2 == 1], 1)


class HarDNet(PlainNet):
    """PaddleClas's HarDNet; ``stages.0`` is the stem, ``stages.i`` block ``i`` with its
    transition conv and downsampling; ``feature_info`` names the last transition conv at each
    resolution (strides 4 to 32).

    Args:
        arch: 39, 68 or 85.
        depthwise: the ``_ds`` variant (1x1 second stem conv, depthwise downsampling instead of
            max-pools, depthwise block layers, dropout 0.05).
        num_classes: classifier width (0: none).
        in_chans: input channels.
        drop_rate: dropout before the classifier (default PaddleClas's: 0.1, 0.2 for HarDNet85,
            0.05 for the ``_ds`` nets).
    """

    def __init__(self, arch: int = 68, depthwise: bool = False, num_classes: int = 1000, in_chans: int = 3,
                 drop_rate: float | None = None):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"HarDNet arch {arch}: expected one of {sorted(ARCHS)}")
        stem_chs, widths, growths, grmul, num_layers, downsample = ARCHS[arch]
        if drop_rate is None:
            drop_rate = 0.05 if depthwise else 0.2 if arch == 85 else 0.1

        def down(chs: int, kernel: int) -> nn.Module:
            return dw_conv_bn(chs, 2) if depthwise else nn.MaxPool2d(kernel, 2, (kernel - 1) // 2)

        stages = [nn.Sequential(conv_bn_relu6(in_chans, stem_chs[0], 3, 2),
                                conv_bn_relu6(stem_chs[0], stem_chs[1], 1 if depthwise else 3),
                                down(stem_chs[1], 3))]
        by_reduction, chs, reduction = {}, stem_chs[1], 4
        for i, width in enumerate(widths):
            block = HarDBlock(chs, growths[i], grmul, num_layers[i], depthwise)
            # HarDNet85 has an extra dropout before its last transition conv
            extra_drop = [nn.Dropout(0.1)] if arch == 85 and i == len(widths) - 1 else []
            stage = [block, *extra_drop, conv_bn_relu6(block.out_chs, width, 1)]
            # features: the last transition conv at each resolution (before its downsampling)
            by_reduction[reduction] = dict(num_chs=width, reduction=reduction,
                                           module=f"stages.{i + 1}.{len(stage) - 1}")
            if downsample[i]:
                stage.append(down(width, 2))
                reduction *= 2
            stages.append(nn.Sequential(*stage))
            chs = width
        self.stages = nn.Sequential(*stages)
        self.feature_info = list(by_reduction.values())
        self.num_features = chs
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Dropout(drop_rate))
        self.fc = self._make_classifier(num_classes)


ROWS: list[ModelEntry] = [
    ModelEntry(name, "HarDNet", partial(HarDNet, arch=arch, depthwise=depthwise), "ours", top1=top1,
               note="timm has no HarDNet; PaddleClas's layer order and ReLU6 convs")
    for name, arch, depthwise, top1 in (("HarDNet39_ds", 39, True, 71.33), ("HarDNet68_ds", 68, True, 73.62),
                                        ("HarDNet68", 68, False, 75.46), ("HarDNet85", 85, False, 77.44))]
