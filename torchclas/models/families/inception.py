"""Xception, Xception-DeepLab, InceptionV4 and GoogLeNet rows (InceptionV3 is in cnn.py).

Xception41_deeplab/65_deeplab are timm's aligned Xception with PaddleClas's dilation-2
last block; PaddleClas's own Xception41/65/71, InceptionV4 and GoogLeNet are ours
(``torchclas/models/{xception,inception_v4,googlenet}.py``): timm has no GoogLeNet nor
PaddleClas's Xception variant, and its inception_v4 stem has other kernel shapes.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from torch import nn

from ..zoo import ModelEntry

_GOOGLENET_AUX = re.compile(r"^(_conv_o[12]|_fc_o[12]|_out[12])\.")


def _own(module: str, cls: str, **fixed: Any) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        from importlib import import_module

        return getattr(import_module(f"torchclas.models.{module}"), cls)(**{**fixed, **kwargs})
    return build


def _xception_deeplab(timm_name: str) -> Callable[..., nn.Module]:
    """timm's aligned Xception with the last block's depthwise convs dilated by 2, as
    PaddleClas's (whose exit flow keeps ``dilation=2`` at output stride 32)."""
    def build(**kwargs: Any) -> nn.Module:
        import timm
        from timm.models.xception_aligned import SeparableConv2d, XceptionModule

        model = timm.create_model(timm_name, pretrained=False, **kwargs)
        last_blocks = [m for m in model.modules() if isinstance(m, XceptionModule) and m.no_skip]
        for block in last_blocks:
            for conv in block.modules():
                if isinstance(conv, SeparableConv2d):
                    conv.conv_dw.dilation, conv.conv_dw.padding = (2, 2), (2, 2)
        return model
    return build


def _shortcut_first(keys: list[str]) -> list[str]:
    """PaddleClas's Xception_Block registers its shortcut (``_short``) after the three
    separable convs; timm's XceptionModule before them."""
    shortcut = [k for k in keys if "._short." in k]
    out = [k for k in keys if "._short." not in k]
    for prefix in dict.fromkeys(k.split("._short.")[0] for k in shortcut):
        at = next(i for i, k in enumerate(out) if k.startswith(f"{prefix}."))
        out[at:at] = [k for k in shortcut if k.startswith(f"{prefix}._short.")]
    return out


def _drop_googlenet_aux(keys: list[str]) -> list[str]:
    """GoogLeNet's auxiliary heads are training-only; the row builds without them."""
    return [k for k in keys if not _GOOGLENET_AUX.match(k)]


def _xception_rows() -> list[ModelEntry]:
    size = (3, 299, 299)
    out = [ModelEntry(f"Xception{d}", "Xception", _own("xception", "Xception", depth=d), "ours", input_size=size,
                      top1=top1, note="PaddleClas's own variant (pointwise-first separable convs, pooled "
                                      "blocks); timm has no equivalent")
           for d, top1 in ((41, 79.3), (65, 81.0), (71, 81.1))]
    out += [ModelEntry(f"Xception{d}_deeplab", "Xception", _xception_deeplab(f"xception{d}"),
                       f"timm:xception{d}+patch", kwargs=dict(drop_rate=0.5), input_size=size, top1=top1,
                       paddle_dropout=0.5, paddle_reorder=_shortcut_first,
                       note="last block's depthwise convs dilated by 2 (PaddleClas; timm: 1); PaddleClas's "
                            "dropout comes before the pooling (linear, so the same logits)")
            for d, top1 in ((41, 79.6), (65, 80.3))]
    return out


def rows() -> list[ModelEntry]:
    """The rows of this module's families (see the module docstring)."""
    return _xception_rows() + [
        ModelEntry("InceptionV4", "Inception", _own("inception_v4", "InceptionV4"), "ours",
                   kwargs=dict(drop_rate=0.2), paddle_dropout=0.2, input_size=(3, 299, 299), top1=80.8,
                   note="timm's inception_v4 swaps the stem's 7x1/1x7 kernels and uses BN eps 1e-3"),
        ModelEntry("GoogLeNet", "GoogLeNet", _own("googlenet", "GoogLeNet"), "ours", top1=70.7,
                   paddle_reorder=_drop_googlenet_aux,
                   note="no BatchNorm; forward gives the main logits; aux_heads=True adds PaddleClas's two "
                        "auxiliary heads for forward_aux() -> (main, aux1, aux2), weighted 1/0.3/0.3 by its "
                        "GoogLeNetLoss (their PaddleClas weights are not converted)"),
    ]
