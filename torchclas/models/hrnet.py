"""PaddleClas's HRNet (``HRNet_W*_C``, ``SE_HRNet_W64_C``) on timm's HighResolutionNet.

timm's HRNet is PaddleClas's layer for layer (stem, bottleneck stage, transitions, 1/4/3
high-resolution modules of 4 basic blocks, nearest-upsampling sum fusion, the
classification head's incre bottlenecks, stride-2 downsampling convs, 1x1 conv to 2048,
average pool, Linear), in PaddleClas's registration order. What differs, and lives here:

* PaddleClas's head convs (the three stride-2 downsampling convs and the 1x1 conv to 2048)
  have no bias; timm's do unless ``head_conv_bias=False`` (the flag timm added for its
  ``hrnet_w*_ssld`` ports of PaddleClas's weights).
* Widths timm does not register (60) are timm's ``hrnet_w64`` config with PaddleClas's
  branch widths ``(w, 2w, 4w, 8w)``.
* ``SE_HRNet``: PaddleClas puts its Linear-layer SE (:class:`PaddleSE`) in every basic and
  bottleneck block, registered after the block's shortcut conv (:func:`add_paddle_se`).

``ROWS`` top-1 values: PaddleClas docs/en/models/HRNet_en.md (the non-SSLD weights where both
exist; SE_HRNet_W64_C has only SSLD weights). PaddleClas exports ``HRNet_W60_C`` and
``SE_HRNet_W64_C`` but its own builders for them raise ``KeyError`` (no entry in its
``MODEL_URLS``, looked up even without weights); the rows follow its ``HRNet`` class, which
the ``paddle`` tests build directly.
"""

from __future__ import annotations

from typing import Any

import timm
from timm.models.hrnet import cfg_cls
from timm.models.resnet import BasicBlock, Bottleneck
from torch import nn

from .entry import ModelEntry
from .layers.paddle_se import PaddleSE

__all__ = ["build_hrnet", "add_paddle_se", "hrnet_stage_widths", "ROWS"]


def hrnet_stage_widths(width: int) -> dict[str, dict[str, Any]]:
    """timm's ``stage2``-``stage4`` config entries for base ``width`` (branches w, 2w, 4w, 8w)."""
    base = cfg_cls["hrnet_w64"]
    return {f"stage{s}": {**base[f"stage{s}"], "num_channels": tuple(width * 2 ** b for b in range(s))}
            for s in (2, 3, 4)}


def add_paddle_se(model: nn.Module) -> nn.Module:
    """Give every timm basic/bottleneck block of ``model`` PaddleClas's SE (reduction 16).

    The SE is re-registered last in each block, so its parameters follow the shortcut conv's
    as in PaddleClas (``conv1, conv2, conv3, conv_down, se``); timm's blocks apply ``se``
    after the last BN, before the residual add, where PaddleClas does.
    """
    for block in model.modules():
        if isinstance(block, (BasicBlock, Bottleneck)):
            channels = (block.bn3 if isinstance(block, Bottleneck) else block.bn2).num_features
            weight = block.conv1.weight
            del block.se
            block.se = PaddleSE(channels, device=weight.device, dtype=weight.dtype)
    return model


def build_hrnet(width: int = 18, use_se: bool = False, **kwargs: Any) -> nn.Module:
    """PaddleClas's ``HRNet_W{width}_C`` (``SE_HRNet_W{width}_C`` with ``use_se``).

    Args:
        width: the highest-resolution branch's channels (18, 30, 32, 40, 44, 48, 60, 64).
        use_se: PaddleClas's SE in every block.
        **kwargs: timm ``HighResolutionNet`` arguments (``num_classes``, ``drop_rate``,
            ``features_only`` ...).

    Example:
        >>> model = build_hrnet(18, num_classes=10)  # HRNet_W18_C
    """
    timm_name = f"hrnet_w{width}"
    if timm_name not in cfg_cls:
        timm_name, kwargs = "hrnet_w64", {**hrnet_stage_widths(width), **kwargs}
    model = timm.create_model(timm_name, pretrained=False, head_conv_bias=False, **kwargs)
    return add_paddle_se(model) if use_se else model


# width: PaddleClas top-1 %
_TOP1 = {18: 76.9, 30: 78.0, 32: 78.3, 40: 78.8, 44: 79.0, 48: 79.0, 60: None, 64: 79.3}
_NOTE = "timm HRNet with bias-free head convs (head_conv_bias=False)"


def _rows() -> list[ModelEntry]:
    out = []
    for width, top1 in _TOP1.items():
        backend = f"timm:hrnet_w{width}" if width != 60 else "timm:hrnet_w64+config"
        note = _NOTE if width != 60 else f"{_NOTE}; branch widths (60, 120, 240, 480); no PaddleClas weights"
        out.append(ModelEntry(f"HRNet_W{width}_C", "HRNet", build_hrnet, backend, kwargs=dict(width=width),
                              top1=top1, note=note))
    out.append(ModelEntry("SE_HRNet_W64_C", "HRNet", build_hrnet, "timm:hrnet_w64+patch",
                          kwargs=dict(width=64, use_se=True), top1=84.7,
                          note=f"{_NOTE}; PaddleClas's Linear SE (C/16) in every block; top1 of the SSLD weights"))
    return out


ROWS: list[ModelEntry] = _rows()
