"""PaddleClas's GoogLeNet (``model_zoo/googlenet.py``): no BatchNorm, bias-free convs.

PaddleClas's layers differ from the paper's and torchvision's: the stem convs have no
activation at all, each Inception block applies one ReLU after concatenating its branches,
and the second auxiliary head has no ReLU after its hidden Linear. Dropouts are Paddle's
``downscale_in_infer`` kind (:class:`DownscaleInInferDropout`), so converted weights need no
rescaling. timm has no GoogLeNet; torchvision's uses BatchNorm.

PaddleClas's forward returns ``[main, aux1, aux2]`` logits for its ``GoogLeNetLoss``
(``CE(main) + 0.3 * CE(aux1) + 0.3 * CE(aux2)``); ours returns the main logits (timm's
interface) and, built with ``aux_heads=True``, gives all three from :meth:`GoogLeNet.forward_aux`,
which ``forward`` returns in training mode as ``{"logits": main, "aux1": ..., "aux2": ...}``
(the training step's dict of named outputs; metrics read ``logits``). In eval mode, and so in
evaluation and export, ``forward`` gives the main logits only. The aux heads need an input of
192 to 239 px (a 3x3 pooled map, as PaddleClas's fixed-size Linear layers take).
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from .entry import ModelEntry
from .layers.downscale_dropout import DownscaleInInferDropout
from .layers.plain_net import PlainNet, stage_info

__all__ = ["GoogLeNet", "InceptionBlock", "AuxHead", "ROWS"]

# in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection (PaddleClas's Inception arguments)
_BLOCKS = {
    "3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def _conv(in_chs: int, out_chs: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_chs, out_chs, kernel, stride, (kernel - 1) // 2, bias=False)


class InceptionBlock(nn.Module):
    """Four branches (1x1; 1x1-3x3; 1x1-5x5; 3x3 max-pool-1x1), concatenated, then one ReLU."""

    def __init__(self, in_chs: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int, proj: int):
        super().__init__()
        self.conv1 = _conv(in_chs, c1, 1)
        self.conv3_reduce = _conv(in_chs, c3_reduce, 1)
        self.conv3 = _conv(c3_reduce, c3, 3)
        self.conv5_reduce = _conv(in_chs, c5_reduce, 1)
        self.conv5 = _conv(c5_reduce, c5, 5)
        self.pool = nn.MaxPool2d(3, 1, 1)
        self.pool_proj = _conv(in_chs, proj, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU of the concatenated branches."""
        out = torch.cat([self.conv1(x), self.conv3(self.conv3_reduce(x)), self.conv5(self.conv5_reduce(x)),
                         self.pool_proj(self.pool(x))], 1)
        return torch.relu(out)


class AuxHead(nn.Module):
    """An auxiliary classifier: 5x5/3 average pool, 1x1 conv to 128, Linear to 1024, an
    optional ReLU (PaddleClas: only in the first head), dropout 0.7, Linear to the classes.

    Its first Linear takes a 3x3 map, which the 224 px input PaddleClas trains at gives.
    """

    def __init__(self, in_chs: int, num_classes: int, relu: bool):
        super().__init__()
        self.pool = nn.AvgPool2d(5, 3)
        self.conv = _conv(in_chs, 128, 1)
        self.fc = nn.Linear(128 * 3 * 3, 1024)
        self.act = nn.ReLU(inplace=True) if relu else nn.Identity()
        self.drop = DownscaleInInferDropout(0.7)
        self.out = nn.Linear(1024, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Auxiliary logits from an intermediate feature map."""
        x = self.conv(self.pool(x))
        if x.shape[-2:] != (3, 3):
            raise ValueError(f"GoogLeNet's aux heads need a 224 px input (a 3x3 pooled map), "
                             f"got a {tuple(x.shape[-2:])} map")
        return self.out(self.drop(self.act(self.fc(x.flatten(1)))))


class GoogLeNet(PlainNet):
    """GoogLeNet as PaddleClas builds it (see the module docstring).

    Args:
        num_classes: classifier size (0: no classifier).
        aux_heads: build the two auxiliary classifiers (after blocks 4a and 4d) for
            :meth:`forward_aux`; ``forward`` returns their logits in training mode only.
        drop_rate: ``p`` of the downscale-in-infer dropout before the classifier (PaddleClas: 0.4).
        in_chans: input channels.

    Example:
        >>> model = GoogLeNet(num_classes=10, aux_heads=True)
        >>> main, aux1, aux2 = model.forward_aux(torch.randn(2, 3, 224, 224))
    """

    def __init__(self, num_classes: int = 1000, aux_heads: bool = False, drop_rate: float = 0.4,
                 in_chans: int = 3, **kwargs: Any):
        super().__init__()
        if kwargs:
            raise TypeError(f"GoogLeNet got unexpected arguments {sorted(kwargs)}")

        def blocks(*names: str) -> list[nn.Module]:
            return [nn.MaxPool2d(3, 2)] + [InceptionBlock(*_BLOCKS[n]) for n in names]

        self.stages = nn.Sequential(
            nn.Sequential(_conv(in_chans, 64, 7, 2), nn.MaxPool2d(3, 2), _conv(64, 64, 1), _conv(64, 192, 3)),
            nn.Sequential(*blocks("3a", "3b")), nn.Sequential(*blocks("4a", "4b", "4c", "4d", "4e")),
            nn.Sequential(*blocks("5a", "5b")))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), DownscaleInInferDropout(drop_rate), nn.Flatten(1))
        self.num_features = 1024
        self.fc = self._make_classifier(num_classes)
        # registered after the classifier, as PaddleClas does
        self.aux1 = AuxHead(512, num_classes, relu=True) if aux_heads else None
        self.aux2 = AuxHead(528, num_classes, relu=False) if aux_heads else None
        self.feature_info = stage_info([192, 480, 832, 1024], [4, 8, 16, 32])

    def reset_classifier(self, num_classes: int) -> None:
        """Fresh classifiers (main and auxiliary) for ``num_classes``."""
        super().reset_classifier(num_classes)
        for head in (self.aux1, self.aux2):
            if head is not None:
                head.out = nn.Linear(1024, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        """Logits; in training mode with aux heads ``{"logits": main, "aux1": .., "aux2": ..}``."""
        if self.training and self.aux1 is not None:
            main, aux1, aux2 = self.forward_aux(x)
            return {"logits": main, "aux1": aux1, "aux2": aux2}
        return super().forward(x)

    def forward_aux(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(main, aux1, aux2)`` logits, PaddleClas's training output (224 px inputs)."""
        if self.aux1 is None or self.aux2 is None:
            raise ValueError("GoogLeNet was built without aux heads: pass aux_heads=True")
        x = self.stages[1](self.stages[0](x))
        taps = []
        for i, block in enumerate(self.stages[2]):
            x = block(x)
            if i in (1, 4):  # after blocks 4a and 4d (index 0 is the max-pool)
                taps.append(x)
        x = self.stages[3](x)
        return self.forward_head(x), self.aux1(taps[0]), self.aux2(taps[1])


_AUX_KEYS = re.compile(r"^(_conv_o[12]|_fc_o[12]|_out[12])\.")


def drop_aux_keys(keys: list[str]) -> list[str]:
    """PaddleClas key order map: GoogLeNet's auxiliary heads are training-only; the row builds without them."""
    return [k for k in keys if not _AUX_KEYS.match(k)]


ROWS: list[ModelEntry] = [
    ModelEntry("GoogLeNet", "GoogLeNet", GoogLeNet, "ours", top1=70.7, paddle_reorder=drop_aux_keys,
               note="no BatchNorm; forward gives the main logits; aux_heads=True (set by GoogLeNetLoss) adds "
                    "PaddleClas's two auxiliary heads, whose logits training mode returns as a dict "
                    "{logits, aux1, aux2}, weighted 1/0.3/0.3 by GoogLeNetLoss (their PaddleClas weights are "
                    "not converted)")]
