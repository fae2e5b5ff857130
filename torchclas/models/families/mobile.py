"""Mobile family rows: MobileNetV1-V4, PP-LCNet(V2), ESNet, GhostNet, ShuffleNetV2, MixNet, ReXNet.

timm builds MobileNetV1/V4, MixNet and ReXNet as they are; MobileNetV3 and PP-LCNet are timm's
``MobileNetV3`` class configured to PaddleClas's tables; the rest are ours (timm lacks them or
cannot match PaddleClas's widths). Builders are imported lazily: listing the table builds nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable

from torch import nn

from ..zoo import ModelEntry, timm_row

# PaddleClas's published ImageNet top-1 (%): Mobile_en.md, PP-LCNet_en.md, PP-LCNetV2_en.md,
# ESNet_en.md, MixNet_en.md, ReXNet_en.md.
_TOP1 = {
    "MobileNetV1_x0_25": 51.4, "MobileNetV1_x0_5": 63.5, "MobileNetV1_x0_75": 68.8, "MobileNetV1": 71.0,
    "MobileNetV2_x0_25": 53.2, "MobileNetV2_x0_5": 65.0, "MobileNetV2_x0_75": 69.8, "MobileNetV2": 72.2,
    "MobileNetV2_x1_5": 74.1, "MobileNetV2_x2_0": 75.2,
    "MobileNetV3_small_x0_35": 53.0, "MobileNetV3_small_x0_5": 59.2, "MobileNetV3_small_x0_75": 66.0,
    "MobileNetV3_small_x1_0": 68.2, "MobileNetV3_small_x1_25": 70.7,
    "MobileNetV3_large_x0_35": 64.3, "MobileNetV3_large_x0_5": 69.2, "MobileNetV3_large_x0_75": 73.1,
    "MobileNetV3_large_x1_0": 75.3, "MobileNetV3_large_x1_25": 76.4,
    "PPLCNet_x0_25": 51.86, "PPLCNet_x0_35": 58.09, "PPLCNet_x0_5": 63.14, "PPLCNet_x0_75": 68.18,
    "PPLCNet_x1_0": 71.32, "PPLCNet_x1_5": 73.71, "PPLCNet_x2_0": 75.18, "PPLCNet_x2_5": 76.60,
    "PPLCNetV2_base": 77.04,
    "ESNet_x0_25": 62.48, "ESNet_x0_5": 68.82, "ESNet_x0_75": 72.24, "ESNet_x1_0": 73.92,
    "GhostNet_x0_5": 66.8, "GhostNet_x1_0": 74.0, "GhostNet_x1_3": 75.7,
    "ShuffleNetV2_x0_25": 49.9, "ShuffleNetV2_x0_33": 53.7, "ShuffleNetV2_x0_5": 60.3,
    "ShuffleNetV2_x1_0": 68.8, "ShuffleNetV2_x1_5": 71.6, "ShuffleNetV2_x2_0": 73.2, "ShuffleNetV2_swish": 70.0,
    "MixNet_S": 76.28, "MixNet_M": 77.67, "MixNet_L": 78.60,
    "ReXNet_1_0": 77.46, "ReXNet_1_3": 79.13, "ReXNet_1_5": 80.06, "ReXNet_2_0": 81.22, "ReXNet_3_0": 82.09,
}
_SCALES = {0.25: "0_25", 0.33: "0_33", 0.35: "0_35", 0.5: "0_5", 0.75: "0_75", 1.0: "1_0", 1.25: "1_25",
           1.3: "1_3", 1.5: "1_5", 2.0: "2_0", 2.5: "2_5"}


def _lazy(module: str, function: str, **fixed: Any) -> Callable[..., nn.Module]:
    """A builder calling ``<module>.<function>(**fixed, **kwargs)`` on use (relative to torchclas.models)."""
    def build(**kwargs: Any) -> nn.Module:
        path = module if module.startswith("timm.") else f"torchclas.models.{module}"
        return getattr(import_module(path), function)(**{**fixed, **kwargs})
    return build


def _row(name: str, family: str, builder: Callable[..., nn.Module], backend: str, **fields: Any) -> ModelEntry:
    return ModelEntry(name, family, builder, backend, top1=_TOP1.get(name), **fields)


def _pplcnet_v2_reorder(keys: list[str]) -> list[str]:
    from ..pplcnet_v2 import drop_unused_fold_conv

    return drop_unused_fold_conv(keys)


def _mobilenet_v1_rows() -> list[ModelEntry]:
    # PaddleClas truncates widths (int(c * scale)); at these four scales they are multiples of
    # 8, so timm's rounding gives the same network. PaddleClas uses ReLU, timm ReLU6.
    return [_row(name, "MobileNetV1",
                 _lazy("timm.models.efficientnet", "_gen_mobilenet_v1", variant="mobilenetv1_100",
                       channel_multiplier=scale, act_layer=nn.ReLU),
                 "timm:mobilenetv1", note="timm _gen_mobilenet_v1 with PaddleClas's ReLU (timm: ReLU6)")
            for name, scale in (("MobileNetV1_x0_25", 0.25), ("MobileNetV1_x0_5", 0.5),
                                ("MobileNetV1_x0_75", 0.75), ("MobileNetV1", 1.0))]


def _our_rows() -> list[ModelEntry]:
    out = [_row(name, "MobileNetV2", _lazy("mobilenet_v2", "mobilenet_v2_paddle", scale=scale), "ours",
                note="timm rounds widths to multiples of 8 and drops the first block's expand conv")
           for name, scale in (("MobileNetV2_x0_25", 0.25), ("MobileNetV2_x0_5", 0.5), ("MobileNetV2_x0_75", 0.75),
                               ("MobileNetV2", 1.0), ("MobileNetV2_x1_5", 1.5), ("MobileNetV2_x2_0", 2.0))]
    out += [_row(f"PPLCNetV2_{size}", "PP-LCNetV2", _lazy("pplcnet_v2", "pplcnet_v2_paddle", size=size), "ours",
                 paddle_dropout=0.2, paddle_reorder=_pplcnet_v2_reorder,
                 note="timm has no PP-LCNetV2; reparameterize() folds the multi-kernel depthwise convs")
            for size in ("small", "base", "large")]
    out += [_row(f"ESNet_x{_SCALES[scale]}", "ESNet", _lazy("esnet", "esnet_paddle", scale=scale), "ours",
                 paddle_dropout=0.2, note="timm has no ESNet")
            for scale in (0.25, 0.5, 0.75, 1.0)]
    out += [_row(f"GhostNet_x{_SCALES[scale]}", "GhostNet", _lazy("ghostnet", "ghostnet_paddle", scale=scale), "ours",
                 note="timm's GhostNet has conv SE with hard sigmoid and a biased, BN-free head conv")
            for scale in (0.5, 1.0, 1.3)]
    for scale in (0.25, 0.33, 0.5, 1.0, 1.5, 2.0):
        out.append(_row(f"ShuffleNetV2_x{_SCALES[scale]}", "ShuffleNetV2",
                        _lazy("shufflenet_v2", "shufflenet_v2_paddle", scale=scale), "ours",
                        note="timm has no ShuffleNetV2; PaddleClas's width tables"))
    out.append(_row("ShuffleNetV2_swish", "ShuffleNetV2",
                    _lazy("shufflenet_v2", "shufflenet_v2_paddle", scale=1.0, act="swish"), "ours",
                    note="ShuffleNetV2_x1_0 with swish activations"))
    return out


def _timm_configured_rows() -> list[ModelEntry]:
    out = []
    for size in ("small", "large"):
        for scale in (0.35, 0.5, 0.75, 1.0, 1.25):
            out.append(_row(f"MobileNetV3_{size}_x{_SCALES[scale]}", "MobileNetV3",
                            _lazy("mobilenet_v3", "mobilenet_v3_paddle", size=size, scale=scale),
                            "timm:MobileNetV3+paddle-config", paddle_dropout=0.2,
                            note="timm MobileNetV3 class with PaddleClas's widths, expand conv in the first "
                                 "block, SE channels//4 with hard-sigmoid slope 0.2, 1280-wide bias-free "
                                 "head conv; use_se=False drops the SE blocks"))
    out += [_row(f"PPLCNet_x{_SCALES[scale]}", "PP-LCNet", _lazy("pplcnet", "pplcnet_paddle", scale=scale),
                 "timm:lcnet+paddle-config", paddle_dropout=0.2,
                 note="timm MobileNetV3/LCNet blocks, PaddleClas's stages, bias-free head conv; "
                      "use_se=False drops the SE of the last two blocks")
            for scale in (0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5)]
    return out


def _timm_rows() -> list[ModelEntry]:
    pairs = [("MobileNetV4_conv_small", "MobileNetV4", "mobilenetv4_conv_small"),
             ("MobileNetV4_conv_medium", "MobileNetV4", "mobilenetv4_conv_medium"),
             ("MobileNetV4_conv_large", "MobileNetV4", "mobilenetv4_conv_large"),
             ("MobileNetV4_hybrid_medium", "MobileNetV4", "mobilenetv4_hybrid_medium"),
             ("MobileNetV4_hybrid_large", "MobileNetV4", "mobilenetv4_hybrid_large"),
             ("MixNet_S", "MixNet", "mixnet_s"), ("MixNet_M", "MixNet", "mixnet_m"), ("MixNet_L", "MixNet", "mixnet_l"),
             ("ReXNet_1_0", "ReXNet", "rexnet_100"), ("ReXNet_1_3", "ReXNet", "rexnet_130"),
             ("ReXNet_1_5", "ReXNet", "rexnet_150"), ("ReXNet_2_0", "ReXNet", "rexnet_200"),
             ("ReXNet_3_0", "ReXNet", "rexnet_300")]
    return [timm_row(name, family, timm_name, top1=_TOP1.get(name)) for name, family, timm_name in pairs]


def rows() -> list[ModelEntry]:
    """Every mobile-family row."""
    return [*_mobilenet_v1_rows(), *_our_rows(), *_timm_configured_rows(), *_timm_rows()]
