"""PaddleClas's ResNet family on timm's ResNet builder: the patches and blocks timm lacks.

timm's ``ResNet`` covers PaddleClas's stems (7x7 or three 3x3 convs), ``vd`` shortcuts (2x2
average pool before the 1x1 conv), ResNeXt widths and SE placement. What differs, and lives
here:

* PaddleClas's ResNet18/34 (and SE_ResNet18/34_vd) give the first block of the first stage a
  1x1 conv + BN shortcut (64 -> 64) that timm omits (:func:`add_first_shortcut`).
* PaddleClas's SE is two ``Linear`` layers (``int(C / 16)`` hidden, with bias); timm's is two
  1x1 convs with the hidden width rounded to 8 (:class:`~.layers.paddle_se.PaddleSE`).
* Res2Net: timm's ``Bottle2neck`` treats the first block of stage 1 as a "first" block (no
  hierarchical adds, 3x3 pool on the last split) and pools with padding counted; PaddleClas
  adds hierarchically there and never counts padding (:class:`PaddleBottle2neck`).
* The ``va`` variant (stride in the first 1x1 conv) is not in timm (:func:`move_stride_to_conv1`).
* ``layer_type: DiverseBranchBlock`` (PaddleClas's ``ResNet18_dbb``) makes every conv+BN of the
  blocks a :class:`~.layers.dbb.DiverseBranchBlock` (:func:`apply_dbb`); the stem and the
  shortcuts stay plain, as in PaddleClas. ``use_first_short_conv: false`` drops the 1x1 shortcut
  of ResNet18/34's first block (PaddleClas's "official resnet_vb").

``ROWS``: ResNet (va/vb/vc/vd), SE-ResNet, ResNeXt (+ SE, _vd, WSL) and Res2Net under
PaddleClas's names; the ``paddle`` tests (tests/paddle/test_paddle_resnet.py) convert
PaddleClas's weights for them. Top-1 accuracies are PaddleClas's (docs/en/models/*), percent.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import timm
import torch
from torch import nn

from .entry import ModelEntry
from .layers.dbb import DiverseBranchBlock
from .layers.paddle_se import PaddleSE

__all__ = ["PaddleBottle2neck", "add_first_shortcut", "move_stride_to_conv1", "apply_dbb", "LAYER_TYPES",
           "build_resnet", "build_res2net", "VERSIONS", "ROWS"]

# PaddleClas's ResNet versions (docs FAQ): stem and where the stride / shortcut pooling sit.
VERSIONS = {
    "va": dict(stem_type="", avg_down=False),
    "vb": dict(stem_type="", avg_down=False),
    "vc": dict(stem_type="deep", stem_width=32, avg_down=False),
    "vd": dict(stem_type="deep", stem_width=32, avg_down=True),
}
# PaddleClas's 200-layer nets are (3, 12, 48, 3); timm's resnet200 is (3, 24, 36, 3).
_PADDLE_LAYERS = {200: (3, 12, 48, 3)}


class PaddleBottle2neck(nn.Module):
    """PaddleClas's Res2Net bottleneck, as a block for timm's ``ResNet``.

    The 1x1 conv output is cut into ``scale`` splits; split ``s`` goes through its own 3x3
    conv after adding the previous split's output (except the first split, and in strided
    blocks, where every split is independent); the last split passes unchanged, or through a
    3x3 average pool (padding not counted) in strided blocks.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 cardinality: int = 1, base_width: int = 26, scale: int = 4, dilation: int = 1,
                 act_layer: type[nn.Module] = nn.ReLU, norm_layer: type[nn.Module] = nn.BatchNorm2d,
                 drop_path: nn.Module | None = None, device=None, dtype=None, **_: Any):
        super().__init__()
        if dilation != 1:
            raise ValueError("Res2Net (PaddleClas): dilation / output_stride < 32 is not supported")
        dd = dict(device=device, dtype=dtype)
        width = int(math.floor(planes * (base_width / 64.0))) * cardinality
        self.scale, self.stride = scale, stride
        self.conv1 = nn.Conv2d(inplanes, width * scale, 1, bias=False, **dd)
        self.bn1 = norm_layer(width * scale, **dd)
        self.branches = nn.ModuleList(nn.Sequential(
            nn.Conv2d(width, width, 3, stride, 1, groups=cardinality, bias=False, **dd),
            norm_layer(width, **dd), act_layer(inplace=True)) for _ in range(scale - 1))
        self.pool = nn.AvgPool2d(3, stride, 1, count_include_pad=False) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(width * scale, planes * self.expansion, 1, bias=False, **dd)
        self.bn3 = norm_layer(planes * self.expansion, **dd)
        self.act = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path if drop_path is not None else nn.Identity()

    def zero_init_last(self) -> None:
        """Zero the last BN's scale (timm's ``zero_init_last`` protocol)."""
        nn.init.zeros_(self.bn3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Bottleneck with hierarchical 3x3 convs over channel splits."""
        splits = torch.chunk(self.act(self.bn1(self.conv1(x))), self.scale, dim=1)
        outs: list[torch.Tensor] = []
        for s, branch in enumerate(self.branches):
            outs.append(branch(splits[s] if s == 0 or self.stride > 1 else splits[s] + outs[-1]))
        outs.append(self.pool(splits[-1]))
        out = self.drop_path(self.bn3(self.conv3(torch.cat(outs, dim=1))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.act(out + shortcut)


def _stages(model: nn.Module) -> list[nn.Module]:
    return [getattr(model, f"layer{i}") for i in range(1, 5) if hasattr(model, f"layer{i}")]


def add_first_shortcut(model: nn.Module) -> nn.Module:
    """Give ``layer1[0]`` a 1x1 conv + BN shortcut, as PaddleClas's ResNet18/34 have."""
    block = model.layer1[0]
    if block.downsample is None:
        channels = block.conv1.in_channels
        conv = block.conv1
        block.downsample = nn.Sequential(
            nn.Conv2d(channels, block.conv2.out_channels, 1, bias=False, device=conv.weight.device,
                      dtype=conv.weight.dtype),
            type(block.bn2)(block.conv2.out_channels, device=conv.weight.device, dtype=conv.weight.dtype))
    return model


def move_stride_to_conv1(model: nn.Module) -> nn.Module:
    """ResNet ``va``: strided bottlenecks stride in their first 1x1 conv instead of the 3x3."""
    for stage in _stages(model):
        for block in stage:
            if block.conv2.stride != (1, 1):
                block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
    return model


_BLOCK_CONVS = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))
LAYER_TYPES = ("ConvBNLayer", "DiverseBranchBlock")


def apply_dbb(model: nn.Module) -> nn.Module:
    """Make each conv+BN of the residual blocks a DiverseBranchBlock (its BN slot an Identity)."""
    for stage in _stages(model):
        for block in stage:
            for conv_name, bn_name in _BLOCK_CONVS:
                conv = getattr(block, conv_name, None)
                if conv is None:
                    continue
                dbb = DiverseBranchBlock(conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0],
                                         conv.groups).to(device=conv.weight.device, dtype=conv.weight.dtype)
                for m in dbb.modules():  # timm's ResNet init; the identity-based 1x1 conv starts at 0
                    if type(m) is nn.Conv2d:
                        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                setattr(block, conv_name, dbb)
                setattr(block, bn_name, nn.Identity())
    return model


def build_resnet(depth: int, version: str = "vb", use_se: bool = False, cardinality: int = 1,
                 base_width: int = 64, stem_width: int | None = None, last_stage_stride: int = 2,
                 layer_type: str = "ConvBNLayer", use_first_short_conv: bool = True, **kwargs: Any) -> nn.Module:
    """PaddleClas's ResNet / ResNeXt / SE-ResNe(X)t of ``depth`` and ``version`` on timm's ResNet.

    Args:
        depth: 18, 34, 50, 101, 152 or 200.
        version: ``va``, ``vb`` (PaddleClas's plain ``ResNet50``), ``vc`` or ``vd`` (see VERSIONS).
        use_se: PaddleClas's SE in every block (``SE_ResNet50_vd`` is ``ResNet50_vd`` with it).
        cardinality, base_width: ResNeXt groups and width per group (``32x4d``: 32, 4).
        stem_width: width of the first two 3x3 stem convs (``vc``/``vd``: 32; SE_ResNeXt_vd: 64).
        last_stage_stride: 1 for PaddleClas's ``ResNet50_last_stage_stride1`` (no dilation).
        layer_type: ``ConvBNLayer``, or ``DiverseBranchBlock`` for DBB blocks (``reparameterize``
            folds them to one conv each).
        use_first_short_conv: ResNet18/34 only: false drops the first block's 1x1 shortcut.
        **kwargs: timm ``ResNet`` arguments (``num_classes``, ``drop_rate``, ``features_only`` ...).

    Example:
        >>> model = build_resnet(50, "vd", use_se=True, num_classes=10)  # SE_ResNet50_vd
    """
    if version not in VERSIONS:
        raise ValueError(f"ResNet version '{version}': expected one of {sorted(VERSIONS)}")
    if layer_type not in LAYER_TYPES:
        raise ValueError(f"ResNet layer_type '{layer_type}': expected one of {', '.join(LAYER_TYPES)}")
    if not use_first_short_conv and depth not in (18, 34):
        raise ValueError(f"use_first_short_conv=False: only ResNet18/34 have a first-block shortcut to drop "
                         f"(ResNet{depth}'s first block changes the width)")
    if last_stage_stride != 2 and (version not in ("va", "vb") or last_stage_stride != 1):
        raise ValueError(f"last_stage_stride={last_stage_stride}: only 1 (with va/vb) or 2 is defined")
    arch = dict(VERSIONS[version], cardinality=cardinality, base_width=base_width)
    if depth in _PADDLE_LAYERS:
        arch["layers"] = _PADDLE_LAYERS[depth]
    if stem_width is not None:
        arch["stem_width"] = stem_width
    if use_se:
        arch["block_args"] = {**kwargs.pop("block_args", {}), "attn_layer": PaddleSE}
    model = timm.create_model(f"resnet{depth}", pretrained=False, **{**arch, **kwargs})
    if depth in (18, 34) and use_first_short_conv:
        add_first_shortcut(model)
    if layer_type == "DiverseBranchBlock":
        apply_dbb(model)
    if version == "va":
        move_stride_to_conv1(model)
    if last_stage_stride == 1:
        block = model.layer4[0]
        strided = block.conv1 if version == "va" else block.conv2
        strided.stride = (1, 1)
        block.downsample[0].stride = (1, 1)  # the shortcut's 1x1 conv
        model.feature_info[-1]["reduction"] //= 2
    return model


def build_res2net(depth: int, width: int, scale: int, vd: bool = False, **kwargs: Any) -> nn.Module:
    """PaddleClas's Res2Net (``vd``: deep stem + average-pool shortcut) with
    :class:`PaddleBottle2neck` blocks on timm's ResNet.

    Example:
        >>> model = build_res2net(50, width=26, scale=4, vd=True, num_classes=10)
    """
    arch = dict(VERSIONS["vd" if vd else "vb"], block=PaddleBottle2neck, base_width=width,
                block_args={"scale": scale})
    if depth in _PADDLE_LAYERS:
        arch["layers"] = _PADDLE_LAYERS[depth]
    return timm.create_model(f"resnet{depth}", pretrained=False, **{**arch, **kwargs})


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
_RES2NET_TOP1 = {"Res2Net50_26w_4s": 79.3, "Res2Net50_14w_8s": 79.5, "Res2Net50_vd_26w_4s": 79.8,
                 "Res2Net101_vd_26w_4s": 80.6, "Res2Net200_vd_26w_4s": 81.2}
_FIRST_SHORTCUT = "; adds PaddleClas's 1x1 conv+BN shortcut on layer1[0] (64->64)"
_SE_NOTE = "; PaddleClas SE (Linear C->C/16->C, ReLU, sigmoid) after the last BN of every block"


def _resnet_row(name: str, family: str, depth: int, version: str, note: str, **kwargs) -> ModelEntry:
    patch = "+patch" if depth in (18, 34) or version == "va" or kwargs.get("use_se") else ""
    if depth in (18, 34) and kwargs.get("use_first_short_conv", True):
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
    out.append(_resnet_row("ResNet18_dbb", "ResNet", 18, "vb",
                           "ResNet18 with layer_type=DiverseBranchBlock, use_first_short_conv=False "
                           "(ImageNet/ResNet/ResNet18_dbb.yaml): every block conv trains as a DBB (4 branches); "
                           "reparameterize() folds each into one conv", layer_type="DiverseBranchBlock",
                           use_first_short_conv=False))
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


def _res2net_rows() -> list[ModelEntry]:
    out = []
    for name, depth, width, scale, vd in (("Res2Net50_26w_4s", 50, 26, 4, False),
                                          ("Res2Net50_14w_8s", 50, 14, 8, False),
                                          ("Res2Net50_vd_26w_4s", 50, 26, 4, True),
                                          ("Res2Net101_vd_26w_4s", 101, 26, 4, True),
                                          ("Res2Net200_vd_26w_4s", 200, 26, 4, True)):
        out.append(ModelEntry(name, "Res2Net_vd" if vd else "Res2Net", partial(build_res2net, depth, width, scale, vd),
                              f"timm:resnet{depth}{'d' if vd else ''}+ours(block)", top1=_RES2NET_TOP1[name],
                              note="our PaddleBottle2neck: timm's Bottle2neck differs in stage 1's first block "
                                   "and pools counting padding"))
    return out


ROWS: list[ModelEntry] = _resnet_rows() + _resnext_rows() + _res2net_rows()
