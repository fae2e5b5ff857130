"""More CNN rows: HarDNet, FasterNet, EfficientNetV2-S, TinyNet, MobileNeXt.

HarDNet and MobileNeXt are ours (``torchclas/models/{hardnet,mobilenext}.py``: timm has
neither). FasterNet and EfficientNetV2-S are timm models and TinyNet is timm's EfficientNet
builder, configured to PaddleClas's shapes and maths; ``paddle_reorder`` maps fix where
PaddleClas registers parameters in another order (FasterNet's patch merging ends a stage,
timm's starts the next; EfficientNetV2's blocks come before its stem).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from timm.layers import Conv2dSame
from torch import nn

from ..io.paddle_order import order_like
from ..zoo import ModelEntry, timm_row


def _hardnet(arch: int, depthwise: bool) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        from ..hardnet import HarDNet

        return HarDNet(arch=arch, depthwise=depthwise, **kwargs)
    return build


def _hardnet_rows() -> list[ModelEntry]:
    specs = (("HarDNet39_ds", 39, True, 71.33), ("HarDNet68_ds", 68, True, 73.62),
             ("HarDNet68", 68, False, 75.46), ("HarDNet85", 85, False, 77.44))
    return [ModelEntry(name, "HarDNet", _hardnet(arch, ds), "ours", top1=top1,
                       note="timm has no HarDNet; PaddleClas's layer order and ReLU6 convs")
            for name, arch, ds, top1 in specs]


def _fasternet_stage(match) -> str:
    """PaddleClas ``stages`` alternates stage (even index) and patch merging (odd index)."""
    index, rest = int(match.group(1)), match.group(2)
    if index % 2 == 0:
        return f"stages.{index // 2}.{rest}"
    return f"stages.{index // 2 + 1}.downsample.{rest}"


_FASTERNET_RENAMES = ((r"^stages\.(\d+)\.(.*)$", _fasternet_stage), (r"^avgpool_pre_head\.1\.", "conv_head."),
                      (r"^head\.", "classifier."), (r"\._mean$", ".running_mean"), (r"\._variance$", ".running_var"))


def _fasternet_rows() -> list[ModelEntry]:
    top1 = {"T0": 71.9, "T1": 75.9, "T2": 79.1, "S": 81.3, "M": 83.0, "L": 83.5}
    return [timm_row(f"FasterNet_{tag}", "FasterNet", f"fasternet_{tag.lower()}", top1=acc,
                     paddle_reorder=order_like(lambda t=tag: _timm(f"fasternet_{t.lower()}"), _FASTERNET_RENAMES),
                     note="PaddleClas registers each patch merging after the previous stage (paddle_reorder)")
            for tag, acc in top1.items()]


def _timm(name: str, **kwargs: Any) -> nn.Module:
    import timm

    return timm.create_model(name, pretrained=False, **kwargs)


class BottomRightPadConv2d(Conv2dSame):
    """PaddleClas's "SAME" stride-2 3x3 conv in EfficientNetV2: pad 2 and crop the first row and
    column, i.e. zero padding at the bottom/right only (TF SAME pads the top too at odd sizes)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (0, 2, 0, 2)), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def tf_efficientnetv2(timm_name: str, **kwargs: Any) -> nn.Module:
    """timm's ``timm_name`` (a ``tf_efficientnetv2_*``: BN eps 1e-3, SAME padding) with
    PaddleClas's stride-2 padding."""
    model = _timm(timm_name, **kwargs)
    for module in model.modules():
        if isinstance(module, Conv2dSame):
            if module.stride != (2, 2) or module.kernel_size != (3, 3):
                raise RuntimeError(f"{timm_name}: unexpected SAME conv {module}")
            module.__class__ = BottomRightPadConv2d
    return model


def _efficientnetv2_s(**kwargs: Any) -> nn.Module:
    """timm's ``tf_efficientnetv2_s`` with PaddleClas's stride-2 padding."""
    return tf_efficientnetv2("tf_efficientnetv2_s", **kwargs)


def _stem_first(keys: list[str]) -> list[str]:
    """PaddleClas registers EfficientNetV2's (empty) block list before its stem."""
    return [k for k in keys if k.startswith("_stem.")] + [k for k in keys if not k.startswith("_stem.")]


def _efficientnetv2_rows() -> list[ModelEntry]:
    return [ModelEntry("EfficientNetV2_S", "EfficientNetV2", _efficientnetv2_s, "timm:tf_efficientnetv2_s+patch",
                       kwargs=dict(drop_rate=0.1, drop_path_rate=0.2), input_size=(3, 384, 384),
                       paddle_reorder=_stem_first,
                       note="stride-2 convs pad bottom/right only (PaddleClas's crop), equal to TF SAME on "
                            "even sizes")]


_TINYNET = {  # tag: (width, depth, input size); PaddleClas publishes no top1 for these
    "A": (1.0, 1.2, 192), "B": (0.75, 1.1, 188), "C": (0.54, 0.85, 184), "D": (0.54, 0.695, 152),
    "E": (0.51, 0.6, 106)}


def _tinynet(width: float, depth: float) -> Callable[..., nn.Module]:
    """timm's TinyNet builder as PaddleClas configures its EfficientNet port: stage depths
    rounded up (timm's tinynet rounds to nearest), a 1280-wide head at every width, BN eps 1e-3."""
    def build(**kwargs: Any) -> nn.Module:
        from functools import partial

        from timm.layers import get_act_layer
        from timm.models._efficientnet_builder import decode_arch_def, round_channels
        from timm.models.efficientnet import _create_effnet

        arch_def = [["ds_r1_k3_s1_e1_c16_se0.25"], ["ir_r2_k3_s2_e6_c24_se0.25"], ["ir_r2_k5_s2_e6_c40_se0.25"],
                    ["ir_r3_k3_s2_e6_c80_se0.25"], ["ir_r3_k5_s1_e6_c112_se0.25"],
                    ["ir_r4_k5_s2_e6_c192_se0.25"], ["ir_r1_k3_s1_e6_c320_se0.25"]]
        return _create_effnet("tinynet_a", block_args=decode_arch_def(arch_def, depth, depth_trunc="ceil"),
                              num_features=1280, stem_size=32, fix_stem=True,
                              round_chs_fn=partial(round_channels, multiplier=width),
                              act_layer=get_act_layer("swish"), norm_layer=partial(nn.BatchNorm2d, eps=1e-3),
                              **kwargs)
    return build


def _tinynet_rows() -> list[ModelEntry]:
    return [ModelEntry(f"TinyNet_{tag}", "TinyNet", _tinynet(width, depth), "timm:efficientnet+config",
                       kwargs=dict(drop_rate=0.2, drop_path_rate=0.2), input_size=(3, size, size),
                       note="timm's TinyNet with PaddleClas's depths (ceil: timm rounds), head width 1280 and "
                            "BN eps 1e-3")
            for tag, (width, depth, size) in _TINYNET.items()]


def _mobilenext(width: float) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        from ..mobilenext import MobileNeXt

        return MobileNeXt(width=width, **kwargs)
    return build


def _mobilenext_rows() -> list[ModelEntry]:
    tags = {0.35: "0_35", 0.5: "0_5", 0.75: "0_75", 1.0: "1_0", 1.4: "1_4"}
    return [ModelEntry(f"MobileNeXt_x{tag}", "MobileNeXt", _mobilenext(width), "ours",
                       note="timm has no MobileNeXt; PaddleClas's sandglass blocks (weights published for x1_0 only)")
            for width, tag in tags.items()]


def _micronet(variant: str) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        from ..micronet import MicroNet

        return MicroNet(variant=variant, **kwargs)
    return build


def _micronet_rows() -> list[ModelEntry]:
    return [ModelEntry(f"MicroNet_{v}", "MicroNet", _micronet(v), "ours",
                       note="timm has no MicroNet; Paddle's hard sigmoid slope 0.1666667; the classifier is "
                            "Linear + BatchNorm1d + hard swish as in PaddleClas")
            for v in ("M0", "M1", "M2", "M3")]


def rows() -> list[ModelEntry]:
    """The rows of this module's families (see the module docstring)."""
    return (_hardnet_rows() + _fasternet_rows() + _efficientnetv2_rows() + _tinynet_rows() + _mobilenext_rows()
            + _micronet_rows())
