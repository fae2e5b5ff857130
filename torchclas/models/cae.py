"""CAE rows (``cae_*_patch16_224``): timm's BEiT as PaddleClas's ``cae.py`` with its fine-tuning
config: fixed sine-cosine position embedding (frozen), per-block relative position bias, layer
scale 0.1, mean pooling + fc_norm (:func:`~torchclas.models.layers.beit.paddle_beit`).

``CAE_vit_base_patch16_224`` (``foundation_vit.py``'s layout) is in ``foundation_vit.py``.
"""

from __future__ import annotations

from functools import partial

from .entry import ModelEntry
from .io.paddle_order import order_like
from .layers.beit import paddle_beit

__all__ = ["ROWS"]

_DROP = r"^proj$|relative_position_index$"  # buffers / unused parameters PaddleClas saves


def _rows() -> list[ModelEntry]:
    rows = []
    for size in ("base", "large"):  # PaddleClas publishes no top1 for these (nor for the BEiTv2 rows)
        timm_name = f"beitv2_{size}_patch16_224"
        rows.append(ModelEntry(
            f"cae_{size}_patch16_224", "CAE", partial(paddle_beit, timm_name, sincos_pos=True),
            f"timm:{timm_name}+sincos",
            kwargs=dict(use_abs_pos_emb=True, use_rel_pos_bias=True, init_values=0.1, drop_path_rate=0.1),
            paddle_reorder=order_like(partial(paddle_beit, timm_name, sincos_pos=True, use_abs_pos_emb=True,
                                              use_rel_pos_bias=True, init_values=0.1), drop=_DROP),
            note="PaddleClas cae.py with its fine-tuning config: fixed sine-cosine position embedding "
                 "(frozen), per-block relative position bias, layer scale 0.1, mean pooling + fc_norm"))
    return rows


ROWS: list[ModelEntry] = _rows()
