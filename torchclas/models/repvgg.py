"""RepVGG: timm's ByobNet RepVGG configs, which match PaddleClas's ``model_zoo/repvgg.py``.

Both build a stride-2 RepVGG block as the stem (``min(64, 64·w₀)`` channels) and four stages of
RepVGG blocks (3×3 conv+BN, 1×1 conv+BN and, when shape allows, an identity BN, summed; then
SE for D2se; then ReLU), global average pooling and one Linear. Per block, both register the
identity BN, then the 3×3 branch, then the 1×1 branch; PaddleClas registers D2se's SE first,
timm last (``_se_after_branches`` reorders). Grouped rows use ``groups`` on every second block
of each stage, which equals PaddleClas's even global layer indices for the B depths
(4, 6, 16, 1). RepVGG_B1g2 is not a timm config; it is timm's B1 blocks with groups=2.

The model class adds ``reparameterize()`` (fold every block into one 3×3 conv, in place).
Top-1 values: PaddleClas docs/zh_CN/models/ImageNet1k/RepVGG.md (B2g4, B3, B3g4 are its
200-epoch weights; the older English page lists 120-epoch numbers).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from timm.models import build_model_with_cfg
from timm.models.byobnet import ByobNet, ByoModelCfg, _rep_vgg_bcfg

from .entry import ModelEntry
from .reparam import reparameterize_model

__all__ = ["RepVGG", "repvgg_config", "build_repvgg", "ROWS"]

_B_DEPTHS = (4, 6, 16, 1)
# suffix -> (timm name: pretrained cfg, depths, width factors, groups, PaddleClas top-1 %)
_VARIANTS = {
    "A0": ("repvgg_a0", (2, 4, 14, 1), (0.75, 0.75, 0.75, 2.5), 0, 71.31),
    "A1": ("repvgg_a1", (2, 4, 14, 1), (1, 1, 1, 2.5), 0, 73.80),
    "A2": ("repvgg_a2", (2, 4, 14, 1), (1.5, 1.5, 1.5, 2.75), 0, 75.71),
    "B0": ("repvgg_b0", _B_DEPTHS, (1, 1, 1, 2.5), 0, 74.50),
    "B1": ("repvgg_b1", _B_DEPTHS, (2, 2, 2, 4), 0, 77.73),
    "B2": ("repvgg_b2", _B_DEPTHS, (2.5, 2.5, 2.5, 5), 0, 78.13),
    "B1g2": ("repvgg_b1", _B_DEPTHS, (2, 2, 2, 4), 2, 77.32),
    "B1g4": ("repvgg_b1g4", _B_DEPTHS, (2, 2, 2, 4), 4, 76.75),
    "B2g4": ("repvgg_b2g4", _B_DEPTHS, (2.5, 2.5, 2.5, 5), 4, 78.81),
    "B3": ("repvgg_b3", _B_DEPTHS, (3, 3, 3, 5), 0, 80.31),
    "B3g4": ("repvgg_b3g4", _B_DEPTHS, (3, 3, 3, 5), 4, 80.05),
    "D2se": ("repvgg_d2se", (8, 14, 24, 1), (2.5, 2.5, 2.5, 5), 0, 83.39),
}


class RepVGG(ByobNet):
    """timm's ByobNet with a whole-model ``reparameterize()``.

    Example:
        >>> model = create_model("RepVGG_A0").eval()  # doctest: +SKIP
        >>> model.reparameterize()  # every block is now one 3x3 conv + ReLU  # doctest: +SKIP
    """

    def reparameterize(self) -> None:
        """Fold every RepVGG block's branches into one 3×3 conv with bias, in place."""
        reparameterize_model(self)


def repvgg_config(depths: tuple[int, ...], widths: tuple[float, ...], groups: int = 0,
                  se: bool = False) -> ByoModelCfg:
    """The ByobNet config of PaddleClas's ``RepVGG(num_blocks, width_multiplier, groups, use_se)``."""
    extra: dict[str, Any] = {}
    if se:  # PaddleClas's SEBlock: C -> C//16 -> C with biases, ReLU, sigmoid
        extra = {"attn_layer": "se", "attn_kwargs": {"rd_ratio": 1 / 16, "rd_divisor": 1}}
    return ByoModelCfg(blocks=_rep_vgg_bcfg(d=depths, wf=widths, groups=groups), stem_type="rep",
                       stem_chs=min(64, int(64 * widths[0])), **extra)


def build_repvgg(timm_name: str, cfg: ByoModelCfg, **kwargs: Any) -> RepVGG:
    """:class:`RepVGG` of ``cfg`` through timm's builder (``timm_name`` gives the default config)."""
    return build_model_with_cfg(RepVGG, timm_name, pretrained=False, model_cfg=cfg,
                                feature_cfg={"flatten_sequential": True}, **kwargs)


def _se_after_branches(keys: list[str]) -> list[str]:
    """PaddleClas registers a block's SE before its branches; timm after them."""
    blocks: dict[str, int] = {}

    def block_of(key: str) -> str:
        return re.split(r"\.se\.|\.rbr_", key)[0]

    for key in keys:
        blocks.setdefault(block_of(key), len(blocks))
    return sorted(keys, key=lambda k: (blocks[block_of(k)], ".se." in k))


def _rows() -> list[ModelEntry]:
    """RepVGG A0–A2, B0–B3 (grouped g2/g4) and D2se."""
    out = []
    for suffix, (timm_name, depths, widths, groups, top1) in _VARIANTS.items():
        se = suffix.endswith("se")
        cfg = repvgg_config(depths, widths, groups, se)
        backend = f"timm:{timm_name}" if suffix != "B1g2" else "timm:byobnet(repvgg_b1 blocks, groups=2)"
        note = "timm ByobNet subclass adding reparameterize(); train-time branches as PaddleClas"
        if se:
            note += "; folded, keeps the SE (PaddleClas's re_parameterize() forward drops it)"
        out.append(ModelEntry(f"RepVGG_{suffix}", "RepVGG", partial(build_repvgg, timm_name, cfg), backend, top1=top1,
                              paddle_reorder=_se_after_branches if se else None, note=note))
    return out


ROWS: list[ModelEntry] = _rows()
