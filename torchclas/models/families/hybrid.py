"""Conv/attention hybrids timm lacks: MobileViTV3, UniFormer and DSNet (own code in
``torchclas/models/{mobilevit_v3,uniformer,dsnet}.py``; the MobileViTV3 blocks subclass timm's
MobileViT V1/V2 blocks). Module registration order is PaddleClas's, so weights convert as is."""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import nn

from ..zoo import ModelEntry

# docs/zh_CN/models/ImageNet1k/{MobileViTV3,UniFormer,DSNet}.md (PaddleClas's own top-1)
_MOBILEVIT_V3_TOP1 = {"XXS": 70.87, "XS": 76.63, "S": 79.28, "XXS_L2": 70.28, "XS_L2": 76.07, "S_L2": 79.07,
                      "x0_5": 72.00, "x0_75": 76.26, "x1_0": 78.38}
_UNIFORMER = {  # name -> (depth, head_dim, conv_stem, layer_scale, drop_path_rate, top1)
    "small": ((3, 4, 8, 3), 64, False, None, 0.1, 82.94),
    "small_plus": ((3, 5, 9, 3), 32, True, None, 0.1, 83.29),
    "small_plus_dim64": ((3, 5, 9, 3), 64, True, None, 0.1, 83.25),
    "base": ((5, 8, 20, 7), 64, False, None, 0.3, 83.76),
    "base_ls": ((5, 8, 20, 7), 64, False, 1e-6, 0.3, 83.98),
}
_DSNET = {"tiny": ((2, 2, 4, 1), 79.2), "small": ((3, 4, 8, 3), 81.4), "base": ((3, 4, 28, 3), 81.8)}


def _mobilevit_v3(variant: str, **kwargs: Any) -> nn.Module:
    from ..mobilevit_v3 import MobileViTV3
    return MobileViTV3(variant, **kwargs)


def _uniformer(**kwargs: Any) -> nn.Module:
    from ..uniformer import UniFormer
    return UniFormer(**kwargs)


def _dsnet(**kwargs: Any) -> nn.Module:
    from ..dsnet import DSNet
    return DSNet(**kwargs)


def _mobilevit_v3_rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/mobilevit_v3.py`` (256x256 inputs, as its configs)."""
    rows = []
    for variant, top1 in _MOBILEVIT_V3_TOP1.items():
        v2_based = variant.startswith("x")
        note = ("own code on timm's MobileVitV2Block: V3 fusion (1x1 conv of global+local, plus input); "
                "input sides must be divisible by 64" if v2_based else
                "own code on timm's MobileVitBlock: depthwise local conv, V3 fusion (1x1 conv of "
                "local+global, plus input)")
        rows.append(ModelEntry(f"MobileViTV3_{variant}", "MobileViTV3", partial(_mobilevit_v3, variant), "ours",
                               input_size=(3, 256, 256), top1=top1, note=note))
    return rows


def _uniformer_rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/uniformer.py``."""
    return [ModelEntry(f"UniFormer_{tag}", "UniFormer", _uniformer, "ours",
                       kwargs=dict(depth=depth, head_dim=head_dim, conv_stem=conv_stem, layer_scale=ls,
                                   drop_path_rate=dpr),
                       top1=top1, note="own code (timm has no UniFormer); input size not fixed as in PaddleClas")
            for tag, (depth, head_dim, conv_stem, ls, dpr, top1) in _UNIFORMER.items()]


def _dsnet_rows() -> list[ModelEntry]:
    """PaddleClas's ``model_zoo/dsnet.py`` (no overlapping embeddings, no conv FFN: its defaults)."""
    return [ModelEntry(f"DSNet_{tag}", "DSNet", _dsnet, "ours", kwargs=dict(depth=depth), top1=top1,
                       note="own code (timm has no DSNet); input size not fixed as in PaddleClas; "
                            "PaddleClas's stage-local stochastic-depth rates kept")
            for tag, (depth, top1) in _DSNET.items()]


def rows() -> list[ModelEntry]:
    """MobileViTV3, UniFormer and DSNet rows."""
    return _mobilevit_v3_rows() + _uniformer_rows() + _dsnet_rows()
