"""EfficientNet and TinyNet rows on timm's EfficientNet.

EfficientNetB0-B7 are timm's ``tf_efficientnet_*`` (TF "SAME" padding, as PaddleClas computes it
for the native size). EfficientNetB0_small and TinyNet are timm's EfficientNet builder given
PaddleClas's block tables (:func:`efficientnet_b0_small`, :func:`tinynet`).

All take PaddleClas's ``override_params`` (``Arch.override_params``): a dict replacing fields of
its ``GlobalParams`` (:func:`global_params`), e.g. the TinyNet configs' ``batch_norm_momentum:
0.9, batch_norm_epsilon: 1e-5, depth_trunc: round, drop_connect_rate: 0.1``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from timm.layers import get_act_layer
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.efficientnet import EfficientNet, _create_effnet
from torch import nn

from .entry import ModelEntry, timm_model

__all__ = ["global_params", "efficientnet_b0_small", "tinynet", "tf_efficientnet", "ROWS"]

# PaddleClas's GlobalParams defaults (efficientnet.py's ``efficientnet()``); a row sets the rest
_GLOBAL_DEFAULTS = dict(batch_norm_momentum=0.99, batch_norm_epsilon=1e-3, dropout_rate=0.2, num_classes=1000,
                        width_coefficient=None, depth_coefficient=None, depth_divisor=8, depth_trunc="ceil",
                        min_depth=None, drop_connect_rate=0.2)
_ARCH_KEYS = ("width_coefficient", "depth_coefficient", "depth_divisor", "depth_trunc", "min_depth")


def global_params(override_params: dict[str, Any] | None = None, **row: Any) -> dict[str, Any]:
    """PaddleClas's ``GlobalParams`` of a row (``row`` over the defaults) with ``override_params``
    replacing fields, as its ``get_model_params`` does. Unknown fields are an error.

    ``num_classes`` is accepted and unused (PaddleClas sizes the classifier by ``class_num``).

    Example:
        >>> p = global_params({"depth_trunc": "round", "batch_norm_momentum": 0.9}, dropout_rate=0.3)
        >>> p["depth_trunc"], p["batch_norm_momentum"], p["dropout_rate"], p["drop_connect_rate"]
        ('round', 0.9, 0.3, 0.2)
    """
    override = dict(override_params or {})
    unknown = sorted(set(override) - set(_GLOBAL_DEFAULTS))
    if unknown:
        raise ValueError(f"override_params: unknown key(s) {unknown}; PaddleClas's EfficientNet GlobalParams has "
                         f"{', '.join(_GLOBAL_DEFAULTS)}")
    if override.get("depth_trunc", "ceil") not in ("ceil", "round"):
        raise ValueError(f"override_params.depth_trunc must be 'ceil' or 'round', got {override['depth_trunc']!r}")
    return {**_GLOBAL_DEFAULTS, **row, **override}


def _timm_args(params: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """timm arguments for ``params``' head dropout and drop connect (timm and PaddleClas both
    raise it linearly over the blocks); explicit ``kwargs`` win."""
    return {"drop_rate": params["dropout_rate"] or 0.0, "drop_path_rate": params["drop_connect_rate"] or 0.0,
            **kwargs}


def _norm_layer(params: dict[str, Any]) -> Any:
    return partial(nn.BatchNorm2d, eps=float(params["batch_norm_epsilon"]), momentum=_torch_momentum(params))


def _torch_momentum(params: dict[str, Any]) -> float:
    """Paddle's BN momentum m keeps m of the running statistics; torch's momentum is 1 - m."""
    return round(1.0 - float(params["batch_norm_momentum"]), 12)


def _paddle_effnet(arch_def: list[list[str]], params: dict[str, Any], fix_stem: bool, head: int | None,
                   **kwargs: Any) -> EfficientNet:
    """timm's EfficientNet from PaddleClas's block table and ``GlobalParams``: widths by
    ``round_filters`` (= timm's ``round_channels``), depths by ``round_repeats`` (ceil or round per
    stage), the stem unscaled with ``fix_stem``, the head ``head`` wide (None: 1280 scaled)."""
    round_chs = partial(round_channels, multiplier=params["width_coefficient"] or 1.0,
                        divisor=int(params["depth_divisor"]), channel_min=params["min_depth"])
    depth = params["depth_coefficient"] or 1.0
    return _create_effnet("efficientnet_b0", block_args=decode_arch_def(arch_def, depth, params["depth_trunc"]),
                          num_features=head or round_chs(1280), stem_size=32, fix_stem=fix_stem,
                          round_chs_fn=round_chs, act_layer=get_act_layer("swish"), norm_layer=_norm_layer(params),
                          **_timm_args(params, kwargs))


def efficientnet_b0_small(override_params: dict[str, Any] | None = None, **kwargs: Any) -> EfficientNet:
    """EfficientNet-B0 without SE blocks and with symmetric padding (PaddleClas's B0_small).

    Example:
        >>> efficientnet_b0_small({"width_coefficient": 0.5}).conv_head.out_channels
        640
    """
    arch_def = [["ds_r1_k3_s1_e1_c16"], ["ir_r2_k3_s2_e6_c24"], ["ir_r2_k5_s2_e6_c40"], ["ir_r3_k3_s2_e6_c80"],
                ["ir_r3_k5_s1_e6_c112"], ["ir_r4_k5_s2_e6_c192"], ["ir_r1_k3_s1_e6_c320"]]
    return _paddle_effnet(arch_def, global_params(override_params), fix_stem=False, head=None, **kwargs)


def tinynet(width: float, depth: float, override_params: dict[str, Any] | None = None, **kwargs: Any) -> EfficientNet:
    """timm's TinyNet builder as PaddleClas configures its EfficientNet port: stage depths
    rounded up (``depth_trunc: round`` in ``override_params``, which PaddleClas's TinyNet configs
    set, rounds them to nearest as timm's tinynet does), a 1280-wide head and a 32-wide stem at
    every width.

    Example:
        >>> [len(s) for s in tinynet(1.0, 1.2, {"depth_trunc": "round"}).blocks]
        [1, 2, 2, 4, 4, 5, 1]
    """
    arch_def = [["ds_r1_k3_s1_e1_c16_se0.25"], ["ir_r2_k3_s2_e6_c24_se0.25"], ["ir_r2_k5_s2_e6_c40_se0.25"],
                ["ir_r3_k3_s2_e6_c80_se0.25"], ["ir_r3_k5_s1_e6_c112_se0.25"],
                ["ir_r4_k5_s2_e6_c192_se0.25"], ["ir_r1_k3_s1_e6_c320_se0.25"]]
    params = global_params(override_params, width_coefficient=width, depth_coefficient=depth)
    return _paddle_effnet(arch_def, params, fix_stem=True, head=1280, **kwargs)


def tf_efficientnet(timm_name: str, dropout: float, override_params: dict[str, Any] | None = None,
                    **kwargs: Any) -> nn.Module:
    """timm's ``timm_name`` (a ``tf_efficientnet_b*``) with PaddleClas's BN, dropout and drop
    connect; ``override_params`` may change those, not the architecture (width/depth keys)."""
    params = global_params(override_params, dropout_rate=dropout)
    changed = sorted(k for k in _ARCH_KEYS if k in (override_params or {}))
    if changed:
        raise ValueError(f"override_params: {changed} not supported on {timm_name} (timm's fixed table); "
                         "only batch_norm_*, dropout_rate and drop_connect_rate")
    return timm_model(timm_name, bn_eps=float(params["batch_norm_epsilon"]),
                      bn_momentum=_torch_momentum(params), **_timm_args(params, kwargs))


_EFFNET = {  # name: (input size, dropout, top1)
    "B0": (224, 0.2, 77.4), "B1": (240, 0.2, 79.2), "B2": (260, 0.3, 79.9), "B3": (300, 0.3, 81.2),
    "B4": (380, 0.4, 82.9), "B5": (456, 0.4, 83.6), "B6": (528, 0.5, 84.0), "B7": (600, 0.5, 84.3)}
_TINYNET = {  # tag: (width, depth, input size); PaddleClas publishes no top1 for these
    "A": (1.0, 1.2, 192), "B": (0.75, 1.1, 188), "C": (0.54, 0.85, 184), "D": (0.54, 0.695, 152),
    "E": (0.51, 0.6, 106)}
_BN_NOTE = "BN momentum 0.01 (PaddleClas's 0.99)"

ROWS: list[ModelEntry] = [
    *(ModelEntry(f"EfficientNet{tag}", "EfficientNet", partial(tf_efficientnet, f"tf_efficientnet_{tag.lower()}", drop),
                 f"timm:tf_efficientnet_{tag.lower()}", input_size=(3, size, size), top1=top1,
                 note=f"TF 'SAME' padding (PaddleClas computes it for the native size); {_BN_NOTE}")
      for tag, (size, drop, top1) in _EFFNET.items()),
    ModelEntry("EfficientNetB0_small", "EfficientNet", efficientnet_b0_small, "timm:efficientnet+config", top1=75.8,
               note=f"timm EfficientNet from a B0 arch_def without SE; symmetric padding, BN eps 1e-3, {_BN_NOTE}"),
    *(ModelEntry(f"TinyNet_{tag}", "TinyNet", partial(tinynet, width, depth), "timm:efficientnet+config",
                 input_size=(3, size, size),
                 note="timm's TinyNet with PaddleClas's depths (ceil: timm rounds; override_params.depth_trunc: "
                      f"round gives timm's), head width 1280, BN eps 1e-3, {_BN_NOTE}")
      for tag, (width, depth, size) in _TINYNET.items()),
]
