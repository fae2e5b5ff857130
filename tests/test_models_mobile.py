"""Mobile families: PaddleClas's structural facts, switches, folding and parameter counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchclas.models import MODEL_TABLE, create_model
from torchclas.models.mobilenet_v3 import PaddleHardSigmoid
from torchclas.models.pplcnet_v2 import RepDepthwiseSeparable, drop_unused_fold_conv

# PaddleClas's parameter count at class_num=1000 (its parameters include BN mean/variance),
# measured with `sum(p.numel() for p in model.parameters())` in the Paddle venv.
PADDLE_PARAMS = {
    "MobileNetV1_x0_25": 475544, "MobileNetV2_x0_25": 1527856, "MobileNetV2_x0_75": 2654864,
    "MobileNetV3_small_x0_35": 1670226, "MobileNetV3_small_x1_0": 2952102, "MobileNetV3_large_x1_0": 5504638,
    "MobileNetV3_large_x1_25": 7473948, "PPLCNet_x0_25": 1523936, "PPLCNet_x2_5": 9044920,
    "ESNet_x0_75": 3866657, "GhostNet_x1_3": 7383718, "ShuffleNetV2_x0_33": 652264, "ShuffleNetV2_x2_0": 7427712,
    "MixNet_M": 5056094, "ReXNet_1_3": 7610901, "MobileNetV4_conv_small": 3799112,
}
# PP-LCNetV2: PaddleClas also holds the unused folded conv of each re-parameterisable block.
PPLCNETV2_PARAMS = {"PPLCNetV2_small": 4217160, "PPLCNetV2_base": 6841192, "PPLCNetV2_large": 10779400}
MOBILE_FAMILIES = {"MobileNetV1", "MobileNetV2", "MobileNetV3", "MobileNetV4", "PP-LCNet", "PP-LCNetV2", "ESNet",
                   "GhostNet", "ShuffleNetV2", "MixNet", "ReXNet"}


def _paddle_count(model: nn.Module) -> int:
    stats = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    return sum(p.numel() for p in model.parameters()) + stats


def _meta(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return MODEL_TABLE[name].build(num_classes=1000, **kwargs)


@pytest.mark.parametrize("name", sorted(PADDLE_PARAMS))
def test_param_count_equals_paddleclas(name):
    assert _paddle_count(_meta(name)) == PADDLE_PARAMS[name]


@pytest.mark.parametrize("name", sorted(PPLCNETV2_PARAMS))
def test_pplcnet_v2_param_count_equals_paddleclas_minus_unused_conv(name):
    model = _meta(name)
    unused = sum(b.dw_conv_list[0].conv.weight.numel() + b.dw_conv_list[0].conv.out_channels
                 for b in model.modules() if isinstance(b, RepDepthwiseSeparable) and b.dw_conv_list is not None)
    assert _paddle_count(model) + unused == PPLCNETV2_PARAMS[name]


def test_mobile_rows_have_the_timm_interface():
    names = [n for n, row in MODEL_TABLE.items() if row.family in MOBILE_FAMILIES]
    assert len(names) == 58
    first_of_family = {MODEL_TABLE[n].family: n for n in reversed(names)}  # tests/test_models.py builds all
    for name in first_of_family.values():
        model = _meta(name)
        assert model.get_classifier().in_features > 0, name
        assert model.feature_info[-1]["reduction"] == 32, name


@pytest.mark.parametrize("name", ["MobileNetV2_x0_25", "PPLCNetV2_small", "ESNet_x0_25", "GhostNet_x0_5",
                                  "ShuffleNetV2_x0_25", "MobileNetV3_small_x0_35", "PPLCNet_x0_25"])
def test_small_variants_run_and_reset_classifier(name):
    model = create_model(name, class_num=7).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert model(x).shape == (1, 7)
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    assert pooled.shape == (1, model.get_classifier().in_features)
    model.reset_classifier(3)
    with torch.no_grad():
        assert model(x).shape == (1, 3)


def test_mobilenet_v3_se_width_gate_and_first_block():
    model = _meta("MobileNetV3_large_x1_0")
    first = model.blocks[0][0]
    assert first.conv_pw.out_channels == 16  # expand conv even at expansion 1
    se = model.blocks[2][0].se  # 72-wide expansion: PaddleClas reduces to 72 // 4, timm to 24
    assert (se.conv_reduce.in_channels, se.conv_reduce.out_channels) == (72, 18)
    assert isinstance(se.gate, PaddleHardSigmoid)
    assert model.conv_head.bias is None and model.conv_head.out_channels == 1280
    assert _meta("MobileNetV3_small_x1_0").conv_head.out_channels == 1280  # timm's small: 1024


def test_paddle_hard_sigmoid_slope():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0])
    assert torch.allclose(PaddleHardSigmoid()(x), torch.tensor([0.0, 0.3, 0.5, 0.7, 1.0]))


def test_pplcnet_head_conv_has_no_bias_and_se_on_last_blocks():
    model = _meta("PPLCNet_x1_0")
    assert model.conv_head.bias is None
    with_se = [i for i, stage in enumerate(model.blocks) for b in stage if not isinstance(b.se, nn.Identity)]
    assert with_se == [4, 4]


@pytest.mark.parametrize("name, se_blocks", [("PPLCNet_x0_5", 2), ("MobileNetV3_small_x1_0", 9),
                                             ("MobileNetV3_large_x1_0", 8)])
def test_use_se_switch(name, se_blocks):
    def count_se(model):
        return sum(1 for m in model.modules() if hasattr(m, "se") and not isinstance(m.se, nn.Identity))
    assert count_se(_meta(name)) == count_se(_meta(name, use_se=True)) == se_blocks
    assert count_se(_meta(name, use_se=False)) == 0
    model = create_model(name, class_num=4, use_se=False).eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 4)


def test_paddle_dropout_rows():
    dropout = {n for n, r in MODEL_TABLE.items() if r.family in MOBILE_FAMILIES and r.paddle_dropout == 0.2}
    assert {"MobileNetV3_large_x1_0", "PPLCNet_x1_0", "PPLCNetV2_base", "ESNet_x1_0"} <= dropout
    assert "GhostNet_x1_0" not in dropout  # its dropout is the usual upscale-in-train kind


def _randomise_bn(model: nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1, generator=gen)
            m.running_var.uniform_(0.5, 1.5, generator=gen)
            m.weight.data.normal_(1, 0.1, generator=gen)
            m.bias.data.normal_(0, 0.1, generator=gen)


def test_pplcnet_v2_reparameterize_matches_branches():
    torch.manual_seed(0)
    model = create_model("PPLCNetV2_small", class_num=10).eval()
    _randomise_bn(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        model.reparameterize()
        after = model(x)
    folded = [b for b in model.modules() if isinstance(b, RepDepthwiseSeparable) and isinstance(b.dw_conv, nn.Conv2d)]
    assert len(folded) == 6 and all(b.dw_conv_list is None for b in folded)
    assert folded[0].dw_conv.kernel_size == (5, 5) and folded[0].dw_conv.bias is not None
    assert torch.allclose(before, after, atol=1e-5)


def test_timm_reparameterize_model_folds_pplcnet_v2():
    from timm.utils import reparameterize_model

    block = RepDepthwiseSeparable(16, 16, 1, dw_size=5, use_rep=True, use_shortcut=True).eval()
    _randomise_bn(block)
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        before = block(x)
        wrapped = reparameterize_model(nn.Sequential(block))
        assert torch.allclose(before, wrapped(x), atol=1e-5)
    assert len(wrapped[0].dw_conv.weight.shape) == 4 and wrapped[0].dw_conv_list is None


def test_drop_unused_fold_conv_keeps_conv_bn_keys():
    keys = ["stages.2.0.dw_conv_list.0.conv.weight", "stages.2.0.dw_conv.weight", "stages.2.0.dw_conv.bias",
            "stem.1.dw_conv.conv.weight", "stem.1.dw_conv.bn.weight"]
    assert drop_unused_fold_conv(keys) == [keys[0], keys[3], keys[4]]


def test_mobilenet_v3_features_only():
    model = create_model("MobileNetV3_large_x1_0", class_num=0, features_only=True, out_indices=(1, 2, 3, 4))
    shapes = [f.shape[1] for f in model(torch.randn(1, 3, 64, 64))]
    assert shapes == [24, 40, 112, 960]  # as timm: the last stage is the 960-wide 1x1 conv
