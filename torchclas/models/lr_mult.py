"""Per-parameter LR multipliers PaddleClas builds into its models: ``Arch.lr_mult_list`` (one
multiplier per stage) and PP-HGNetV2's learnable-affine blocks.

PaddleClas gives every parameter of a stage ``ParamAttr(learning_rate=lr_mult_list[i])``; only
three families take the list: PPLCNet (6: stem ``conv1``, ``blocks2``..``blocks6``), ResNet and
ResNet_vd (5: the stem, then the 4 stages) and PPHGNetV2 (5: the stem, then the 4 stages). The
head (last conv, fc) always trains at the full LR. Here the same stages are named by our
(timm-layout) parameter names; the optimizer turns the multipliers into param groups.
"""

from __future__ import annotations

import re
from typing import Sequence

from torch import nn

__all__ = ["STAGE_PREFIXES", "check_lr_mult_list", "param_lr_mults", "LAB_LR"]

_RESNETS = {f"ResNet{d}{v}" for d in (18, 34, 50, 101, 152) for v in ("", "_vd")} | {"ResNet200_vd"}
STAGE_PREFIXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "PPLCNet": (("conv_stem.", "bn1."), ("blocks.0.",), ("blocks.1.",), ("blocks.2.",), ("blocks.3.",),
                ("blocks.4.",)),
    "ResNet": (("conv1.", "bn1."), ("layer1.",), ("layer2.",), ("layer3.",), ("layer4.",)),
    "PPHGNetV2": (("stem.",), ("stages.0.",), ("stages.1.",), ("stages.2.",), ("stages.3.",)),
}
"""The parameter-name prefixes of each stage, by the family that takes ``lr_mult_list``."""

LAB_LR = 0.01
"""PP-HGNetV2's ``LearnableAffineBlock`` trains at ``lr_mult * lab_lr`` (PaddleClas's default 0.01)."""


def _family(name: str) -> str | None:
    if re.fullmatch(r"PPLCNet_x\d_\d+", name):
        return "PPLCNet"
    if name in _RESNETS:
        return "ResNet"
    if re.fullmatch(r"PPHGNetV2_B\d", name):
        return "PPHGNetV2"
    return None


def check_lr_mult_list(name: str, values: Sequence[float] | None) -> None:
    """Raise naming ``Arch.lr_mult_list`` when model ``name`` takes none or the length is wrong.

    Example:
        >>> check_lr_mult_list("PPLCNet_x0_25", [0.0, 0.4, 0.4, 0.8, 0.8, 1.0])
        >>> check_lr_mult_list("ResNet50_vd", [1.0, 1.0])
        Traceback (most recent call last):
        ...
        ValueError: Arch.lr_mult_list: ResNet50_vd takes 5 multipliers (its stem and 4 stages), got 2
    """
    if values is None:
        return
    family = _family(name)
    if family is None:
        raise ValueError(f"Arch.lr_mult_list: PaddleClas's {name} takes no lr_mult_list (PPLCNet_*, "
                         "ResNet*/ResNet*_vd and PPHGNetV2_* do)")
    stages = len(STAGE_PREFIXES[family])
    if len(values) != stages:
        raise ValueError(f"Arch.lr_mult_list: {name} takes {stages} multipliers (its stem and {stages - 1} "
                         f"stages), got {len(values)}")
    if any(value < 0 for value in values):
        raise ValueError(f"Arch.lr_mult_list: multipliers must be >= 0, got {list(values)}")


def param_lr_mults(name: str, model: nn.Module, lr_mult_list: Sequence[float] | None = None) -> dict[str, float]:
    """LR multiplier of each parameter of model ``name`` that does not train at the full LR.

    ``lr_mult_list[i]`` for the parameters of stage ``i`` (see ``STAGE_PREFIXES``); PP-HGNetV2's
    learnable-affine ``lab`` parameters also get ``LAB_LR``, lr_mult_list or not, as in
    PaddleClas. Parameters left out train at the full LR (the head).

    Example:
        >>> from torchclas.models import create_model
        >>> mults = param_lr_mults("PPLCNet_x0_25", create_model("PPLCNet_x0_25", class_num=3),
        ...                        [0.0, 0.4, 0.4, 0.8, 0.8, 1.0])
        >>> mults["conv_stem.weight"], mults["blocks.3.0.conv_pw.weight"], "classifier.weight" in mults
        (0.0, 0.8, False)
    """
    check_lr_mult_list(name, lr_mult_list)
    family = _family(name)
    names = [n for n, _ in model.named_parameters()]
    mults: dict[str, float] = {}
    if lr_mult_list is not None and family is not None:
        for prefixes, mult in zip(STAGE_PREFIXES[family], lr_mult_list):
            stage = [n for n in names if n.startswith(prefixes)]
            if not stage:
                raise ValueError(f"Arch.lr_mult_list: no parameter of {name} starts with {' or '.join(prefixes)}; "
                                 f"its names start with: {', '.join(sorted({n.split('.')[0] for n in names}))}")
            mults.update({n: float(mult) for n in stage if mult != 1.0})
    if family == "PPHGNetV2":
        for n in names:
            if ".lab." in n:
                mults[n] = mults.get(n, 1.0) * LAB_LR
    return mults
