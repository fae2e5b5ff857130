"""ResNet family rows: ResNet (va/vb/vc/vd), SE-ResNet, ResNeXt (+ SE, _vd, WSL), Res2Net,
ResNeSt and RegNetX under PaddleClas's names.

Every row is timm's ``ResNet`` (or ``RegNet``) configured to PaddleClas's exact architecture;
what timm lacks is patched in ``torchclas/models/resnet_variants.py`` and ``resnest.py``. The
``paddle`` tests (tests/paddle/test_paddle_resnet.py) convert PaddleClas's weights for them.
Top-1 accuracies are PaddleClas's (docs/en/models/*), percent.
"""

from __future__ import annotations

from functools import partial

from ..resnest import RESNEST, build_resnest
from ..resnet_variants import build_res2net, build_resnet
from ..zoo import ModelEntry, timm_row

_RESNET_TOP1 = {"ResNet18": 71.0, "ResNet34": 74.6, "ResNet50": 76.5, "ResNet101": 77.6, "ResNet152": 78.3,
                "ResNet18_vd": 72.3, "ResNet34_vd": 76.0, "ResNet50_vd": 79.1, "ResNet101_vd": 80.2,
                "ResNet152_vd": 80.6, "ResNet200_vd": 80.9, "ResNet50_vc": 78.4,
                "SE_ResNet18_vd": 73.3, "SE_ResNet34_vd": 76.5, "SE_ResNet50_vd": 79.5}
_RESNEXT_TOP1 = {"ResNeXt50_32x4d": 77.8, "ResNeXt50_vd_32x4d": 79.6, "ResNeXt50_64x4d": 78.4,
                 "ResNeXt50_vd_64x4d": 80.1, "ResNeXt101_32x4d": 78.7, "ResNeXt101_vd_32x4d": 80.3,
                 "ResNeXt101_64x4d": 78.4, "ResNeXt101_vd_64x4d": 80.8, "ResNeXt152_32x4d": 79.0,
                 "ResNeXt152_vd_32x4d": 80.7, "ResNeXt152_64x4d": 79.5, "ResNeXt152_vd_64x4d": 81.1,
                 "SE_ResNeXt50_32x4d": 78.4, "SE_ResNeXt50_vd_32x4d": 80.2, "SE_ResNeXt101_32x4d": 79.39,
                 "SENet154_vd": 81.4, "ResNeXt101_32x8d_wsl": 82.6, "ResNeXt101_32x16d_wsl": 84.2,
                 "ResNeXt101_32x32d_wsl": 85.0, "ResNeXt101_32x48d_wsl": 85.4}
_OTHER_TOP1 = {"Res2Net50_26w_4s": 79.3, "Res2Net50_14w_8s": 79.5, "Res2Net50_vd_26w_4s": 79.8,
               "Res2Net101_vd_26w_4s": 80.6, "Res2Net200_vd_26w_4s": 81.2, "ResNeSt50_fast_1s1x64d": 80.35,
               "ResNeSt50": 81.02, "RegNetX_4GF": 78.5}
_FIRST_SHORTCUT = "; adds PaddleClas's 1x1 conv+BN shortcut on layer1[0] (64->64)"
_SE_NOTE = "; PaddleClas SE (Linear C->C/16->C, ReLU, sigmoid) after the last BN of every block"


def _resnet_row(name: str, family: str, depth: int, version: str, note: str, **kwargs) -> ModelEntry:
    patch = "+patch" if depth in (18, 34) or version == "va" or kwargs.get("use_se") else ""
    if depth in (18, 34):
        note += _FIRST_SHORTCUT
    if kwargs.get("use_se"):
        note += _SE_NOTE
    top1 = {**_RESNET_TOP1, **_RESNEXT_TOP1}.get(name)
    return ModelEntry(name, family, partial(build_resnet, depth, version), f"timm:resnet{depth}{patch}",
                      kwargs=kwargs, top1=top1, note=note.lstrip("; "))


def _resnet_rows() -> list[ModelEntry]:
    out = []
    for depth in (18, 34, 50, 101, 152):
        out.append(_resnet_row(f"ResNet{depth}", "ResNet", depth, "vb", "vb: 7x7 stem, stride in the 3x3 conv"))
    for depth in (18, 34, 50, 101, 152, 200):
        out.append(_resnet_row(f"ResNet{depth}_vd", "ResNet_vd", depth, "vd",
                               "vd: three 3x3 stem convs (32,32,64), 2x2 avg-pool before the 1x1 shortcut conv; "
                               "use_se=True gives SE_ResNet*_vd"))
    out += [
        _resnet_row("ResNet50_va", "ResNet", 50, "va", "va (not a PaddleClas model): stride 2 in the first 1x1 "
                    "conv of strided bottlenecks"),
        _resnet_row("ResNet50_vb", "ResNet", 50, "vb", "vb: the same architecture as PaddleClas's ResNet50 "
                    "(legendary_models/resnet.py, version='vb': stride in the 3x3 conv)"),
        _resnet_row("ResNet50_vc", "ResNet_vc", 50, "vc", "vc: vb + three 3x3 stem convs (32,32,64)"),
        _resnet_row("ResNet50_last_stage_stride1", "ResNet", 50, "vb",
                    "ResNet50 with stride 1 (no dilation) in the first block of the last stage",
                    last_stage_stride=1),
        _resnet_row("ResNet50_adaptive_max_pool2d", "ResNet", 50, "vb",
                    "ResNet50 with global max pooling", global_pool="max"),
    ]
    for depth in (18, 34, 50):
        out.append(_resnet_row(f"SE_ResNet{depth}_vd", "SE_ResNet_vd", depth, "vd", "vd", use_se=True))
    return out


def _resnext_rows() -> list[ModelEntry]:
    out = []
    for depth in (50, 101, 152):
        for groups in (32, 64):
            for version, tag in (("vb", ""), ("vd", "_vd")):
                out.append(_resnet_row(f"ResNeXt{depth}{tag}_{groups}x4d", f"ResNeXt{tag}", depth, version,
                                       version, cardinality=groups, base_width=4))
    out += [
        _resnet_row("SE_ResNeXt50_32x4d", "SE_ResNeXt", 50, "vb", "vb", use_se=True, cardinality=32, base_width=4),
        _resnet_row("SE_ResNeXt101_32x4d", "SE_ResNeXt", 101, "vb", "vb", use_se=True, cardinality=32,
                    base_width=4),
        _resnet_row("SE_ResNeXt50_vd_32x4d", "SE_ResNeXt_vd", 50, "vd", "vd with a 64-wide stem (64,64,128)",
                    use_se=True, cardinality=32, base_width=4, stem_width=64),
        _resnet_row("SENet154_vd", "SE_ResNeXt_vd", 152, "vd", "SE-ResNeXt152 64x4d, vd with a 64-wide stem",
                    use_se=True, cardinality=64, base_width=4, stem_width=64),
    ]
    for width in (8, 16, 32, 48):
        out.append(_resnet_row(f"ResNeXt101_32x{width}d_wsl", "ResNeXt101_wsl", 101, "vb",
                               "torchvision-style ResNeXt (WSL weights)", cardinality=32, base_width=width))
    return out


def _res2net_resnest_regnet_rows() -> list[ModelEntry]:
    out = []
    for name, depth, width, scale, vd in (("Res2Net50_26w_4s", 50, 26, 4, False),
                                          ("Res2Net50_14w_8s", 50, 14, 8, False),
                                          ("Res2Net50_vd_26w_4s", 50, 26, 4, True),
                                          ("Res2Net101_vd_26w_4s", 101, 26, 4, True),
                                          ("Res2Net200_vd_26w_4s", 200, 26, 4, True)):
        out.append(ModelEntry(name, "Res2Net_vd" if vd else "Res2Net", partial(build_res2net, depth, width, scale, vd),
                              f"timm:resnet{depth}{'d' if vd else ''}+ours(block)", top1=_OTHER_TOP1[name],
                              note="our PaddleBottle2neck: timm's Bottle2neck differs in stage 1's first block "
                                   "and pools counting padding"))
    for name, (timm_name, _) in RESNEST.items():
        out.append(ModelEntry(name, "ResNeSt", partial(build_resnest, name), f"timm:{timm_name}+ours(block)",
                              top1=_OTHER_TOP1.get(name),
                              note="our PaddleResNeStBottleneck: timm's has a bias in the attention fc1, "
                                   "counts padding in the avd pool and ceil-pools the shortcut"))
    for paddle_tag, timm_tag in (("200MF", "002"), ("400MF", "004"), ("600MF", "006"), ("800MF", "008"),
                                 ("1600MF", "016"), ("3200MF", "032"), ("4GF", "040"), ("6400MF", "064"),
                                 ("8GF", "080"), ("12GF", "120"), ("16GF", "160"), ("32GF", "320")):
        name = f"RegNetX_{paddle_tag}"
        out.append(timm_row(name, "RegNet", f"regnetx_{timm_tag}", top1=_OTHER_TOP1.get(name)))
    return out


def rows() -> list[ModelEntry]:
    """Every ResNet-family row."""
    return _resnet_rows() + _resnext_rows() + _res2net_resnest_regnet_rows()
