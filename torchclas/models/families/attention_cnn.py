"""VAN, RedNet and PeleeNet rows: all ours, since neither timm nor torchvision has them.

VAN (``torchclas/models/van.py``) and PeleeNet (``peleenet.py``) register their layers in
PaddleClas's order; RedNet (``rednet.py``) registers its stem first where PaddleClas adds it
after the classifier, so its rows carry a ``paddle_reorder``.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..rednet import stem_first
from ..zoo import ModelEntry

_VAN = {  # name: (embed dims, depths, top1); every VAN has MLP ratios (8, 8, 4, 4)
    "VAN_B0": ((32, 64, 160, 256), (3, 3, 5, 2), 75.35), "VAN_B1": ((64, 128, 320, 512), (2, 2, 4, 2), 81.02),
    "VAN_B2": ((64, 128, 320, 512), (3, 3, 12, 3), 82.80), "VAN_B3": ((64, 128, 320, 512), (3, 5, 27, 3), 83.89)}

_REDNET_TOP1 = {26: 75.95, 38: 77.47, 50: 78.33, 101: 78.94, 152: 79.17}


def _van(embed_dims: tuple[int, ...], depths: tuple[int, ...]) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        from ..van import VAN

        return VAN(embed_dims=embed_dims, mlp_ratios=(8, 8, 4, 4), depths=depths, **kwargs)
    return build


def _rednet(depth: int) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        from ..rednet import RedNet

        return RedNet(depth=depth, **kwargs)
    return build


def _peleenet(**kwargs: Any) -> nn.Module:
    from ..peleenet import PeleeNet

    return PeleeNet(**kwargs)


def rows() -> list[ModelEntry]:
    """The rows of this module's families (see the module docstring)."""
    van = [ModelEntry(name, "VAN", _van(dims, depths), "ours", top1=top1,
                      note="timm has no VAN; BatchNorm in the blocks, LayerNorm (eps 1e-6) after each stage "
                           "and a token mean before the head, as in PaddleClas")
           for name, (dims, depths, top1) in _VAN.items()]
    rednet = [ModelEntry(f"RedNet{depth}", "RedNet", _rednet(depth), "ours", top1=top1, paddle_reorder=stem_first,
                         note="timm has no involution; unfold-based 7x7 involutions as in PaddleClas, whose stem "
                              "is registered after the classifier (paddle_reorder)")
              for depth, top1 in _REDNET_TOP1.items()]
    peleenet = [ModelEntry("PeleeNet", "PeleeNet", _peleenet, "ours", top1=71.53,
                           note="timm has no PeleeNet; PaddleClas's two-way dense layers, dropout 0.05 before "
                                "the classifier")]
    return van + rednet + peleenet
