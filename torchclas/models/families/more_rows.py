"""Rows next to existing families: EfficientNetV2 M/L/XL, the CIFAR WideResNet, BEiTv2 and CAE.

* EfficientNetV2 M/L/XL reuse the EfficientNetV2-S builder of ``extra_cnn.py`` (timm's
  ``tf_efficientnetv2_*`` with PaddleClas's bottom/right stride-2 padding; blocks before stem).
* WideResNet is ours (``torchclas/models/wideresnet.py``): timm has no CIFAR WRN.
* BEiTv2 / CAE are timm's BEiT patched by ``torchclas/models/beit_compat.py``.
"""

from __future__ import annotations

from functools import partial

from torch import nn

from ..layers.beit import paddle_beit
from ..io.paddle_order import order_like
from ..zoo import ModelEntry
from .extra_cnn import _stem_first, tf_efficientnetv2


def _efficientnetv2_rows() -> list[ModelEntry]:
    # PaddleClas's head dropout per size (its S row uses 0.1); it publishes no top1 for M/L/XL
    drops = {"M": 0.3, "L": 0.4, "XL": 0.4}
    return [ModelEntry(f"EfficientNetV2_{tag}", "EfficientNetV2",
                       partial(tf_efficientnetv2, f"tf_efficientnetv2_{tag.lower()}"),
                       f"timm:tf_efficientnetv2_{tag.lower()}+patch",
                       kwargs=dict(drop_rate=drop, drop_path_rate=0.2), input_size=(3, 384, 384),
                       paddle_reorder=_stem_first,
                       note="stride-2 convs pad bottom/right only (PaddleClas's crop), equal to TF SAME on "
                            "even sizes; PaddleClas's backbone package exports only EfficientNetV2_S")
            for tag, drop in drops.items()]


def _wideresnet(**kwargs) -> nn.Module:
    from ..wideresnet import WideResNet

    return WideResNet(**kwargs)


def _wideresnet_rows() -> list[ModelEntry]:
    return [ModelEntry("WideResNet", "WideResNet", _wideresnet, "ours",
                       kwargs=dict(depth=28, widen_factor=2, drop_rate=0.0), input_size=(3, 32, 32),
                       note="timm has no CIFAR WRN; FixMatch's WRN-28-2 (PaddleClas's SSL configs), LeakyReLU "
                            "0.1; PaddleClas's optional projection head (proj=True, CCSSL) is not built")]


# foundation_vit.py: Paddle keys that differ from timm's BEiT, and buffers/unused parameters it saves
_FOUNDATION_RENAMES = ((r"^head\.fc_head\.", "head."),)
_FOUNDATION_DROP = r"^proj$|relative_position_index$"


def _foundation_beit(timm_name: str, **kwargs) -> nn.Module:
    """``foundation_vit.py``'s BEiT layout: bias-free patch conv, full qkv bias, final
    LayerNorm then the class token."""
    return paddle_beit(timm_name, full_qkv_bias=True, patch_bias=False, global_pool="token", **kwargs)


def _beit_rows() -> list[ModelEntry]:
    rows = []
    for name, timm_name, abs_pos in (("BEiTv2_vit_base_patch16_224", "beitv2_base_patch16_224", False),
                                     ("BEiTv2_vit_large_patch16_224", "beitv2_large_patch16_224", False),
                                     ("CAE_vit_base_patch16_224", "beitv2_base_patch16_224", True)):
        kwargs = dict(use_abs_pos_emb=abs_pos, use_rel_pos_bias=True, init_values=1e-5)
        build = partial(_foundation_beit, timm_name)
        rows.append(ModelEntry(
            name, "FoundationViT", build, f"timm:{timm_name}+patch", kwargs=kwargs,
            paddle_reorder=order_like(partial(build, **kwargs), _FOUNDATION_RENAMES, drop=_FOUNDATION_DROP),
            note="PaddleClas foundation_vit.py: per-block relative position bias and layer scale, one qkv "
                 "bias (q, k, v), bias-free patch conv; layer scale starts at 1e-5 (PaddleClas: 0); "
                 "its unused `proj` parameter is dropped on conversion"))
    for size in ("base", "large"):  # PaddleClas publishes no top1 for these (nor for the rows above)
        timm_name = f"beitv2_{size}_patch16_224"
        rows.append(ModelEntry(
            f"cae_{size}_patch16_224", "CAE", partial(paddle_beit, timm_name, sincos_pos=True),
            f"timm:{timm_name}+sincos",
            kwargs=dict(use_abs_pos_emb=True, use_rel_pos_bias=True, init_values=0.1, drop_path_rate=0.1),
            paddle_reorder=order_like(partial(paddle_beit, timm_name, sincos_pos=True, use_abs_pos_emb=True,
                                              use_rel_pos_bias=True, init_values=0.1), drop=_FOUNDATION_DROP),
            note="PaddleClas cae.py with its fine-tuning config: fixed sine-cosine position embedding "
                 "(frozen), per-block relative position bias, layer scale 0.1, mean pooling + fc_norm"))
    return rows


def rows() -> list[ModelEntry]:
    """The rows of this module's families (see the module docstring)."""
    return _efficientnetv2_rows() + _wideresnet_rows() + _beit_rows()
