"""PaddleClas's PP-LCNet, built by timm's ``MobileNetV3`` class with PaddleClas's block table.

timm's ``lcnet_*`` has the same blocks; PaddleClas's differs in three places, configured here:
any width multiplier (timm registers x0.35 ... x1.5), the 1x1 head conv has no bias, and its
stages follow PaddleClas's ``blocks2 ... blocks6`` (timm splits ``blocks5`` in two, which
only moves a ``feature_info`` entry). The classifier sits behind a 0.2 ``downscale_in_infer``
dropout (the row's ``paddle_dropout``).

``ROWS``: PPLCNet x0.25 ... x2.5.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Sequence

from timm.models._efficientnet_blocks import SqueezeExcite
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.mobilenetv3 import MobileNetV3, _create_mnv3
from torch import nn

from .entry import ModelEntry, scale_tag

__all__ = ["pplcnet_paddle", "set_strides", "ROWS"]


def _arch_def(use_se: bool) -> list[list[str]]:
    """PaddleClas's NET_CONFIG as timm block strings, one list per ``blocksN`` stage."""
    se = "_se0.25" if use_se else ""
    return [
        ["dsa_r1_k3_s1_c32"],                          # blocks2
        ["dsa_r2_k3_s2_c64"],                          # blocks3
        ["dsa_r2_k3_s2_c128"],                         # blocks4
        ["dsa_r1_k3_s2_c256", "dsa_r5_k5_s1_c256"],    # blocks5
        [f"dsa_r2_k5_s2_c512{se}"],                    # blocks6: SE in PaddleClas's default
    ]


def _stride(value: Any, where: str) -> tuple[int, int]:
    """A stride of ``stride_list``: an int or PaddleClas's ``[h, w]`` pair."""
    pair = [value, value] if isinstance(value, int) else value
    if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(v, int) and v >= 1 for v in pair):
        return int(pair[0]), int(pair[1])
    raise ValueError(f"stride_list{where}: a stride is a positive int or an [h, w] pair of them, got {value!r}")


def set_strides(model: MobileNetV3, stride_list: Sequence[Any]) -> MobileNetV3:
    """PaddleClas's ``stride_list``: the stride of the stem conv, then of the first block of
    ``blocks3`` ... ``blocks6`` (default ``[2, 2, 2, 2, 2]``); ``[2, 1]`` halves the height only
    (the PULC text-line configs). Padding stays ``(k - 1) // 2``, as in PaddleClas, so weights
    are unchanged.

    Example:
        >>> import torch
        >>> net = set_strides(pplcnet_paddle(0.25), [2, [2, 1], [2, 1], [2, 1], [2, 1]])
        >>> net.forward_features(torch.zeros(1, 3, 32, 64)).shape
        torch.Size([1, 128, 1, 32])
    """
    if not isinstance(stride_list, (list, tuple)) or len(stride_list) != 5:
        raise ValueError(f"stride_list: 5 strides (stem, blocks3 ... blocks6), got {stride_list!r}")
    strides = [_stride(value, f"[{i}]") for i, value in enumerate(stride_list)]
    model.conv_stem.stride = strides[0]
    for stage, stride in zip(model.blocks[1:], strides[1:]):
        stage[0].conv_dw.stride = stride
    return model


def pplcnet_paddle(scale: float, use_se: bool = True, drop_rate: float = 0.2, use_last_conv: bool = True,
                   stride_list: Sequence[Any] | None = None, **kwargs: Any) -> MobileNetV3:
    """PaddleClas's ``PPLCNet_x{scale}`` as a timm ``MobileNetV3``.

    Args:
        scale: the width multiplier (0.25 ... 2.5).
        use_se: keep the SE of the last two blocks (PaddleClas's default); False removes them.
        drop_rate: dropout before the classifier (PaddleClas: 0.2).
        use_last_conv: keep the 1x1 head conv (1280 channels) and its activation and dropout
            (PaddleClas's default); False (the PULC configs) puts the classifier on the pooled
            features of the last stage, with no dropout, as PaddleClas does.
        stride_list: PaddleClas's five strides (:func:`set_strides`); None keeps ``[2, 2, 2, 2, 2]``.
        **kwargs: timm ``MobileNetV3`` arguments (``num_classes``, ``in_chans``,
            ``features_only`` ...).

    Example:
        >>> pplcnet_paddle(0.25, use_last_conv=False, num_classes=4).classifier
        Linear(in_features=128, out_features=4, bias=True)
    """
    se_layer = partial(SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=nn.ReLU, rd_round_fn=int)
    model = _create_mnv3(
        "lcnet_100", pretrained=False, block_args=decode_arch_def(_arch_def(use_se)), stem_size=16,
        round_chs_fn=partial(round_channels, multiplier=scale), num_features=1280, head_bias=False,
        act_layer=nn.Hardswish, se_layer=se_layer, drop_rate=drop_rate if use_last_conv else 0.0, **kwargs)
    if not use_last_conv and hasattr(model, "conv_head"):
        model.conv_head, model.norm_head, model.act2 = nn.Identity(), nn.Identity(), nn.Identity()
        model.reset_classifier(model.num_classes)  # sized on the pooled features
        model.paddle_dropout = 0.0  # no downscale_in_infer dropout to fold into the classifier
    return model if stride_list is None else set_strides(model, stride_list)


# PaddleClas's published ImageNet top-1 (%), PP-LCNet_en.md
_TOP1 = {0.25: 51.86, 0.35: 58.09, 0.5: 63.14, 0.75: 68.18, 1.0: 71.32, 1.5: 73.71, 2.0: 75.18, 2.5: 76.60}

ROWS: list[ModelEntry] = [
    ModelEntry(f"PPLCNet_x{scale_tag(scale)}", "PP-LCNet", partial(pplcnet_paddle, scale=scale),
               "timm:lcnet+paddle-config", top1=top1, paddle_dropout=0.2,
               note="timm MobileNetV3/LCNet blocks, PaddleClas's stages, bias-free head conv; "
                    "use_se=False drops the SE of the last two blocks")
    for scale, top1 in _TOP1.items()]
