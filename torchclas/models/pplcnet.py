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
from typing import Any

from timm.models._efficientnet_blocks import SqueezeExcite
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.mobilenetv3 import MobileNetV3, _create_mnv3
from torch import nn

from .entry import ModelEntry, scale_tag

__all__ = ["pplcnet_paddle", "ROWS"]


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


def pplcnet_paddle(scale: float, use_se: bool = True, drop_rate: float = 0.2, use_last_conv: bool = True,
                   **kwargs: Any) -> MobileNetV3:
    """PaddleClas's ``PPLCNet_x{scale}`` as a timm ``MobileNetV3``.

    Args:
        scale: the width multiplier (0.25 ... 2.5).
        use_se: keep the SE of the last two blocks (PaddleClas's default); False removes them.
        drop_rate: dropout before the classifier (PaddleClas: 0.2).
        use_last_conv: keep the 1x1 head conv (1280 channels) and its activation and dropout
            (PaddleClas's default); False (the PULC configs) puts the classifier on the pooled
            features of the last stage, with no dropout, as PaddleClas does.
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
    return model


# PaddleClas's published ImageNet top-1 (%), PP-LCNet_en.md
_TOP1 = {0.25: 51.86, 0.35: 58.09, 0.5: 63.14, 0.75: 68.18, 1.0: 71.32, 1.5: 73.71, 2.0: 75.18, 2.5: 76.60}

ROWS: list[ModelEntry] = [
    ModelEntry(f"PPLCNet_x{scale_tag(scale)}", "PP-LCNet", partial(pplcnet_paddle, scale=scale),
               "timm:lcnet+paddle-config", top1=top1, paddle_dropout=0.2,
               note="timm MobileNetV3/LCNet blocks, PaddleClas's stages, bias-free head conv; "
                    "use_se=False drops the SE of the last two blocks")
    for scale, top1 in _TOP1.items()]
