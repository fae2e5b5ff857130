"""Classic and GPU-server CNN rows: VGG, AlexNet, SqueezeNet, InceptionV3, DarkNet53,
CSPDarkNet53, DenseNet, DPN, EfficientNet, PP-HGNet(V2), DLA, StarNet.

timm builds these families with PaddleClas's layer shapes in PaddleClas's registration order
(patched where a row's note says so); VGG, AlexNet and SqueezeNet are ours
(``torchclas/models/{vgg,alexnet,squeezenet}.py``) because neither timm nor torchvision
matches PaddleClas's layers or pooling exactly.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from torch import nn

from ..zoo import ModelEntry, timm_row


def _own(cls: type, **fixed: Any) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        return cls(**{**fixed, **kwargs})
    return build


def _classic_rows() -> list[ModelEntry]:
    from ..alexnet import AlexNet
    from ..squeezenet import SqueezeNet
    from ..vgg import VGG

    out = [ModelEntry(f"VGG{d}", "VGG", _own(VGG, depth=d), "ours", top1=top1,
                      note="bias-free convs, three Linear layers; Paddle's downscale-in-infer dropouts")
           for d, top1 in ((11, 69.3), (13, 70.0), (16, 72.0), (19, 72.6))]
    out.append(ModelEntry("AlexNet", "AlexNet", _own(AlexNet), "ours", top1=56.7,
                          note="torchvision's shapes; Paddle's downscale-in-infer dropouts"))
    for tag, version, top1 in (("1_0", "1.0", 59.6), ("1_1", "1.1", 60.1)):
        out.append(ModelEntry(f"SqueezeNet{tag}", "SqueezeNet", _own(SqueezeNet, version=version), "ours",
                              top1=top1, note="floor-mode max-pools (torchvision rounds up)"))
    return out


def _effnet_b0_small(**kwargs: Any) -> nn.Module:
    """EfficientNet-B0 without SE blocks and with symmetric padding (PaddleClas's B0_small)."""
    from timm.layers import get_act_layer
    from timm.models._efficientnet_builder import decode_arch_def, round_channels
    from timm.models.efficientnet import _create_effnet

    arch_def = [["ds_r1_k3_s1_e1_c16"], ["ir_r2_k3_s2_e6_c24"], ["ir_r2_k5_s2_e6_c40"], ["ir_r3_k3_s2_e6_c80"],
                ["ir_r3_k5_s1_e6_c112"], ["ir_r4_k5_s2_e6_c192"], ["ir_r1_k3_s1_e6_c320"]]
    return _create_effnet("efficientnet_b0", block_args=decode_arch_def(arch_def), num_features=1280,
                          stem_size=32, round_chs_fn=round_channels, act_layer=get_act_layer("swish"),
                          norm_layer=partial(nn.BatchNorm2d, eps=1e-3), **kwargs)


def _inception_v3(**kwargs: Any) -> nn.Module:
    """timm's Inception-V3 with PaddleClas's BatchNorm epsilon (1e-5; timm's is 1e-3)."""
    import timm

    return _set_bn_eps(timm.create_model("inception_v3", pretrained=False, **kwargs), 1e-5)


def _set_bn_eps(model: nn.Module, eps: float) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eps = eps
    return model


def _dpn(timm_name: str) -> Callable[..., nn.Module]:
    """timm's DPN with PaddleClas's head (pool, then a Linear classifier; timm: a 1x1 conv) and BN eps."""
    def build(num_classes: int = 1000, **kwargs: Any) -> nn.Module:
        import timm
        from timm.layers import SelectAdaptivePool2d

        model = timm.create_model(timm_name, pretrained=False, num_classes=num_classes, **kwargs)

        def reset_classifier(num_classes: int, global_pool: str | None = None) -> None:
            model.num_classes = num_classes
            model.global_pool = SelectAdaptivePool2d(pool_type=global_pool or "avg", flatten=True)
            model.classifier = nn.Linear(model.num_features, num_classes) if num_classes else nn.Identity()
            model.flatten = nn.Identity()

        if hasattr(model, "classifier"):  # not for features_only models
            model.reset_classifier = reset_classifier
            reset_classifier(num_classes)
        return _set_bn_eps(model, 1e-5)
    return build


def _densenet264(**kwargs: Any) -> nn.Module:
    from timm.models.densenet import _create_densenet

    # densenet264d's registered cfg (metadata only); its deep stem is a kwarg we leave off
    return _create_densenet("densenet264d", growth_rate=32, block_config=(6, 12, 64, 48), pretrained=False,
                            **kwargs)


_EFFNET = {  # name: (input size, dropout, top1)
    "B0": (224, 0.2, 77.4), "B1": (240, 0.2, 79.2), "B2": (260, 0.3, 79.9), "B3": (300, 0.3, 81.2),
    "B4": (380, 0.4, 82.9), "B5": (456, 0.4, 83.6), "B6": (528, 0.5, 84.0), "B7": (600, 0.5, 84.3)}


def _efficientnet_rows() -> list[ModelEntry]:
    out = []
    for tag, (size, drop, top1) in _EFFNET.items():
        out.append(timm_row(f"EfficientNet{tag}", "EfficientNet", f"tf_efficientnet_{tag.lower()}",
                            kwargs=dict(drop_rate=drop, drop_path_rate=0.2), input_size=(3, size, size),
                            top1=top1, note="TF 'SAME' padding (PaddleClas computes it for the native size)"))
    out.append(ModelEntry("EfficientNetB0_small", "EfficientNet", _effnet_b0_small, "timm:efficientnet+config",
                          kwargs=dict(drop_rate=0.2, drop_path_rate=0.2), top1=75.8,
                          note="timm EfficientNet from a B0 arch_def without SE; symmetric padding, BN eps 1e-3"))
    return out


def _hgnet_rows() -> list[ModelEntry]:
    out = [timm_row("PPHGNet_tiny", "PP-HGNet", "hgnet_tiny", top1=79.83),
           timm_row("PPHGNet_small", "PP-HGNet", "hgnet_small", top1=81.51),
           timm_row("PPHGNet_base", "PP-HGNet", "hgnet_base", kwargs=dict(drop_rate=0.2), paddle_dropout=0.2,
                    top1=85.00, note="top1 of the SSLD weights (the only ones published)")]
    v2_top1 = (77.77, 79.18, 81.74, 82.98, 83.57, 84.75, 86.30)
    for i, top1 in enumerate(v2_top1):
        out.append(timm_row(f"PPHGNetV2_B{i}", "PP-HGNetV2", f"hgnetv2_b{i}", top1=top1,
                            note="top1 of the SSLD stage-2 weights; learnable affine blocks in B0-B3 as PaddleClas"))
    return out


def _dense_rows() -> list[ModelEntry]:
    out = [timm_row(f"DenseNet{d}", "DenseNet", f"densenet{d}", top1=top1)
           for d, top1 in ((121, 75.7), (161, 78.6), (169, 76.8), (201, 77.6))]
    out.append(ModelEntry("DenseNet264", "DenseNet", _densenet264, "timm:densenet+config", top1=78.0,
                          note="timm DenseNet, growth 32, blocks (6, 12, 64, 48), plain stem (not densenet264d)"))
    return out


def _dpn_rows() -> list[ModelEntry]:
    top1 = {68: 76.8, 92: 79.9, 98: 80.6, 107: 80.9, 131: 80.7}
    return [ModelEntry(f"DPN{d}", "DPN", _dpn(f"dpn{d}"), f"timm:dpn{d}+patch", top1=acc,
                       note="Linear classifier after pooling (timm: 1x1 conv); BatchNorm eps 1e-5 (timm: 1e-3)")
            for d, acc in top1.items()]


def _dla_rows() -> list[ModelEntry]:
    top1 = {"34": 76.03, "46_c": 63.21, "46x_c": 64.36, "60": 76.10, "60x": 77.53, "60x_c": 66.45,
            "102": 78.93, "102x": 78.10, "102x2": 78.85, "169": 78.09}
    return [timm_row(f"DLA{tag}", "DLA", f"dla{tag}", top1=acc) for tag, acc in top1.items()]


def rows() -> list[ModelEntry]:
    """The rows of this module's families (see the module docstring)."""
    out = _classic_rows()
    out += [ModelEntry("InceptionV3", "Inception", _inception_v3, "timm:inception_v3+patch",
                       kwargs=dict(drop_rate=0.2), paddle_dropout=0.2, input_size=(3, 299, 299), top1=79.1,
                       note="BatchNorm eps set to 1e-5 (timm: 1e-3)"),
            timm_row("DarkNet53", "DarkNet", "darknet53", kwargs=dict(act_layer="relu"), input_size=(3, 256, 256),
                     top1=78.0, note="ReLU (timm's darknet53 uses LeakyReLU)"),
            timm_row("CSPDarkNet53", "CSPNet", "cspdarknet53", input_size=(3, 256, 256))]
    out += _dense_rows() + _dpn_rows() + _efficientnet_rows() + _hgnet_rows() + _dla_rows()
    out += [timm_row(f"StarNet_S{i}", "StarNet", f"starnet_s{i}") for i in range(1, 5)]
    return out
