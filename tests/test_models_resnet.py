"""ResNet family rows: PaddleClas's variants, switches and parameter counts (no Paddle needed)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchclas.models import create_model, regnet, resnest, resnet
from torchclas.models.layers.paddle_se import PaddleSE
from torchclas.models.resnest import PaddleResNeStBottleneck
from torchclas.models.resnet import PaddleBottle2neck, build_resnet

ROWS = [row.name for family in (resnet, resnest, regnet) for row in family.ROWS]

# sum of trainable parameters of PaddleClas's own model at class_num=1000, measured in the
# Paddle venv (`backbone.<name>(class_num=1000)`, parameters without stop_gradient).
PADDLE_PARAMS = {
    "ResNet18": 11_693_736, "ResNet34": 21_801_896, "ResNet50": 25_557_032, "ResNet18_vd": 11_712_968,
    "ResNet50_vd": 25_576_264, "ResNet200_vd": 74_738_504, "ResNet50_vc": 25_576_264,
    "SE_ResNet18_vd": 11_802_048, "SE_ResNet50_vd": 28_107_256, "ResNeXt101_vd_64x4d": 83_474_504,
    "SE_ResNeXt50_vd_32x4d": 27_687_768, "SENet154_vd": 121_737_048, "Res2Net50_26w_4s": 25_699_120,
    "Res2Net200_vd_26w_4s": 76_215_536, "ResNeSt50_fast_1s1x64d": 26_216_904, "ResNeSt50": 27_481_352,
    "RegNetX_200MF": 2_684_792, "RegNetX_32GF": 107_811_560, "ResNeXt101_32x48d_wsl": 828_411_176,
}


def _params(name: str, **kwargs) -> int:
    with torch.device("meta"):
        model = create_model(name, class_num=1000, **kwargs)
    return sum(p.numel() for p in model.parameters())


def _meta(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return create_model(name, **kwargs)


@pytest.mark.parametrize("name", ROWS)
def test_every_row_builds_with_paddleclas_parameter_count(name):
    model = _meta(name, class_num=1000)
    assert model.get_classifier().out_features == 1000
    assert model.feature_info[-1]["num_chs"] == model.get_classifier().in_features
    if name in PADDLE_PARAMS:
        assert sum(p.numel() for p in model.parameters()) == PADDLE_PARAMS[name]


def test_va_vb_vc_vd_differ_where_paddleclas_faq_says():
    va, vb, vc, vd = (_meta(f"ResNet50_{v}") for v in ("va", "vb", "vc", "vd"))
    assert (va.layer2[0].conv1.stride, va.layer2[0].conv2.stride) == ((2, 2), (1, 1))
    assert (vb.layer2[0].conv1.stride, vb.layer2[0].conv2.stride) == ((1, 1), (2, 2))
    assert isinstance(vb.conv1, nn.Conv2d) and vb.conv1.kernel_size == (7, 7)
    stem = [m.out_channels for m in vc.conv1 if isinstance(m, nn.Conv2d)]
    assert stem == [32, 32, 64] and vc.layer2[0].downsample[0].stride == (2, 2)
    pool, conv = vd.layer2[0].downsample[0], vd.layer2[0].downsample[1]
    assert isinstance(pool, nn.AvgPool2d) and pool.ceil_mode and not pool.count_include_pad
    assert conv.stride == (1, 1) and isinstance(vd.layer1[0].downsample[0], nn.Identity)
    assert _params("ResNet50_va") == _params("ResNet50_vb") == PADDLE_PARAMS["ResNet50"]


@pytest.mark.parametrize("name", ["ResNet18", "ResNet34_vd", "SE_ResNet18_vd"])
def test_resnet18_34_have_paddleclas_first_block_shortcut(name):
    conv = _meta(name).layer1[0].downsample[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (64, 64, (1, 1), (1, 1))


def test_use_se_switch_builds_se_resnet_vd():
    switched, named = _meta("ResNet50_vd", use_se=True), _meta("SE_ResNet50_vd")
    assert [(k, v.shape) for k, v in switched.state_dict().items()] == \
        [(k, v.shape) for k, v in named.state_dict().items()]
    se = _meta("ResNet18_vd", use_se=True).layer1[0].se
    assert isinstance(se, PaddleSE) and se.fc1.out_features == 4  # int(64 / 16): timm would round up to 8
    assert _meta("ResNet50").layer1[0].se is None


def test_paddle_se_scales_channels_by_sigmoid_of_two_linears():
    se = PaddleSE(32)
    x = torch.randn(2, 32, 4, 4)
    expected = torch.sigmoid(se.fc2(torch.relu(se.fc1(x.mean((2, 3))))))[:, :, None, None] * x
    torch.testing.assert_close(se(x), expected)


def test_res2net_block_follows_paddleclas():
    model = _meta("Res2Net50_vd_26w_4s")
    first, strided = model.layer1[0], model.layer2[0]
    assert isinstance(first, PaddleBottle2neck) and isinstance(first.pool, nn.Identity)  # hierarchical, no pool
    assert isinstance(strided.pool, nn.AvgPool2d) and not strided.pool.count_include_pad
    assert [b[0].out_channels for b in first.branches] == [26, 26, 26]


def test_resnest_block_follows_paddleclas():
    model = _meta("ResNeSt50")
    block = model.layer2[0]
    assert isinstance(block, PaddleResNeStBottleneck) and block.conv2.fc1.bias is None
    assert block.conv2.fc2.bias is not None and not block.avd_last.count_include_pad
    assert not block.downsample[0].ceil_mode
    fast = _meta("ResNeSt50_fast_1s1x64d").layer2[0]
    assert isinstance(fast.avd_first, nn.AvgPool2d) and isinstance(fast.avd_last, nn.Identity)


@pytest.mark.parametrize("name", ["ResNet18_vd", "Res2Net50_14w_8s", "ResNeSt50_fast_1s1x64d"])
def test_small_rows_run_forward_and_backward(name):
    model = create_model(name, class_num=3)
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    assert all(p.grad is not None for p in model.parameters())


def test_variant_models():
    model = create_model("ResNet50_last_stage_stride1").eval()
    assert model.forward_features(torch.randn(1, 3, 64, 64)).shape == (1, 2048, 4, 4)
    assert model.feature_info[-1]["reduction"] == 16
    assert _meta("ResNet50_adaptive_max_pool2d").global_pool.pool_type == "max"


def test_timm_features_only_still_works():
    model = create_model("ResNet18_vd", features_only=True, out_indices=(1, 4))
    maps = model(torch.randn(1, 3, 64, 64))
    assert [m.shape[1] for m in maps] == [64, 512]


def test_bad_version_is_refused():
    with pytest.raises(ValueError, match="version 've'"):
        build_resnet(50, "ve")
    with pytest.raises(ValueError, match="last_stage_stride=1"):
        build_resnet(50, "vd", last_stage_stride=1)
