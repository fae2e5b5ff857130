"""PaddleClas's model keys under ``Arch``: use_fused_attn (Swin, MobileNetV4 hybrid),
layer_scale_init_value (ConvNeXt), override_params (EfficientNet / TinyNet), use_sync_bn (engine)
and stride_list (PPLCNet); each changes the model as PaddleClas's does and PaddleClas's own
configs build with them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.test_paddle_weights import paddle_layout, save_like_paddle
from torchclas.configure import config_from_dict, load_config
from torchclas.engine.build import _build_net
from torchclas.engine.distributed import DistInfo
from torchclas.models import create_model

PADDLECLAS_CONFIGS = Path("/work/paddleclas/ppcls/configs")
TEXTLINE = [2, [2, 1], [2, 1], [2, 1], [2, 1]]  # PULC textline_orientation / language_classification


def _paddleclas_arch(relative: str) -> tuple[str, dict]:
    path = PADDLECLAS_CONFIGS / relative
    if not path.exists():
        pytest.skip(f"no PaddleClas checkout at {PADDLECLAS_CONFIGS}")
    cfg = load_config(path, ["Arch.pretrained=False"])
    return cfg.Arch.name, cfg.Arch.builder_kwargs


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- use_fused_attn

def test_fused_attn_switches_swin_windows_and_keeps_the_numbers():
    kwargs = dict(img_size=64, window_size=4)
    torch.manual_seed(0)
    plain = create_model("SwinTransformer_tiny_patch4_window7_224", 3, use_fused_attn=False, **kwargs).eval()
    fused = create_model("SwinTransformer_tiny_patch4_window7_224", 3, use_fused_attn=True, **kwargs).eval()
    fused.load_state_dict(plain.state_dict())
    flags = [m.fused_attn for m in plain.modules() if hasattr(m, "fused_attn")]
    assert flags == [False] * 12  # one window attention per block: 2 + 2 + 6 + 2
    assert all(m.fused_attn for m in fused.modules() if hasattr(m, "fused_attn"))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), plain(x), atol=1e-5, rtol=1e-5)


def test_fused_attn_on_mobilenetv4_hybrid_attention():
    torch.manual_seed(0)
    model = create_model("MobileNetV4_hybrid_medium", 3, use_fused_attn=False).eval()
    attn = [m for m in model.modules() if hasattr(m, "fused_attn")]
    assert len(attn) == 8 and not any(m.fused_attn for m in attn)
    x = torch.randn(2, 160, 8, 8)  # the stride-16 stage's width, where the first attention sits
    with torch.no_grad():
        plain = attn[0](x)
        attn[0].fused_attn = True
        torch.testing.assert_close(attn[0](x), plain, atol=1e-5, rtol=1e-5)


def test_fused_attn_needs_attention_when_on():
    with torch.device("meta"):
        assert create_model("ResNet18", use_fused_attn=False) is not None
        with pytest.raises(ValueError, match="use_fused_attn: ResNet has no attention layer"):
            create_model("ResNet18", use_fused_attn=True)


@pytest.mark.parametrize("config", ["ImageNet/SwinTransformer/SwinTransformer_tiny_patch4_window7_224.yaml",
                                    "ImageNet/MobileNetV4/MobileNetV4_hybrid_medium.yaml"])
def test_paddleclas_fused_attn_configs_build(config):
    name, kwargs = _paddleclas_arch(config)
    assert kwargs["use_fused_attn"] is False
    with torch.device("meta"):
        model = create_model(name, 1000, **kwargs)
    assert not any(m.fused_attn for m in model.modules() if hasattr(m, "fused_attn"))


# ---------------------------------------------------------------- layer_scale_init_value

def test_convnext_layer_scale_init_value_sets_gamma():
    default = create_model("ConvNeXt_tiny", 3)
    gammas = [b.gamma for s in default.stages for b in s.blocks]
    assert len(gammas) == 18 and all(torch.all(g == 1e-6) for g in gammas)  # PaddleClas's default
    scaled = create_model("ConvNeXt_tiny", 3, layer_scale_init_value=0.25)
    assert all(torch.all(b.gamma == 0.25) for s in scaled.stages for b in s.blocks)
    assert _shapes(scaled) == _shapes(default)  # same parameters: PaddleClas's weights load alike
    none = create_model("ConvNeXt_tiny", 3, layer_scale_init_value=0)  # PaddleClas: <= 0, no gamma
    assert all(b.gamma is None for s in none.stages for b in s.blocks)
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(default) - count(none) == 3 * 96 + 3 * 192 + 9 * 384 + 3 * 768


def test_paddleclas_convnext_config_builds():
    name, kwargs = _paddleclas_arch("ImageNet/ConvNeXt/ConvNeXt_tiny.yaml")
    assert kwargs["layer_scale_init_value"] == 1e-6
    with torch.device("meta"):
        model = create_model(name, 1000, **kwargs)
    assert model.stages[0].blocks[0].gamma.shape == (96,)


# ---------------------------------------------------------------- override_params

def _bn(model: nn.Module) -> set[tuple[float, float]]:
    return {(m.eps, m.momentum) for m in model.modules() if isinstance(m, nn.BatchNorm2d)}


def _drop_path(model: nn.Module) -> list[float]:
    return [float(m.drop_prob) for m in model.modules() if type(m).__name__ == "DropPath"]


def test_tinynet_override_params_as_paddleclas_configs_set_them():
    with torch.device("meta"):
        default = create_model("TinyNet_A")
        tiny = create_model("TinyNet_A", override_params={"batch_norm_momentum": 0.9, "batch_norm_epsilon": 1e-5,
                                                          "depth_trunc": "round", "drop_connect_rate": 0.1})
    assert _bn(default) == {(1e-3, 0.01)}  # PaddleClas's momentum 0.99 keeps 99% of the running stats
    assert _bn(tiny) == {(1e-5, 0.1)}
    assert [len(s) for s in default.blocks] == [2, 3, 3, 4, 4, 5, 2]  # ceil(1.2 * (1, 2, 2, 3, 3, 4, 1))
    assert [len(s) for s in tiny.blocks] == [1, 2, 2, 4, 4, 5, 1]  # round(...)
    # drop connect rises linearly over the 19 blocks: rate * index / 19 (the first block's is 0: none)
    assert _drop_path(tiny) == pytest.approx([0.1 * i / 19 for i in range(1, 19)])
    assert _drop_path(default) == pytest.approx([0.2 * i / 23 for i in range(1, 23)])
    assert tiny.drop_rate == default.drop_rate == 0.2


def test_override_params_width_depth_dropout_and_errors():
    with torch.device("meta"):
        narrow = create_model("TinyNet_A", override_params={"width_coefficient": 0.5, "dropout_rate": 0.0,
                                                            "depth_coefficient": 1.0})
        small = create_model("EfficientNetB0_small", override_params={"width_coefficient": 2.0, "min_depth": 64})
        b1 = create_model("EfficientNetB1", override_params={"batch_norm_epsilon": 1e-5, "dropout_rate": 0.5})
    assert [len(s) for s in narrow.blocks] == [1, 2, 2, 3, 3, 4, 1] and narrow.drop_rate == 0.0
    assert narrow.conv_stem.out_channels == 32 and narrow.conv_head.out_channels == 1280  # TinyNet fixes both
    assert narrow.blocks[0][0].conv_pw.out_channels == 8  # round_filters(16 * 0.5)
    assert small.conv_stem.out_channels == 64 and small.conv_head.out_channels == 2560
    assert small.blocks[0][0].conv_pw.out_channels == 64  # 32 after doubling, raised to min_depth
    assert _bn(b1) == {(1e-5, 0.01)} and b1.drop_rate == 0.5
    with pytest.raises(ValueError, match=r"override_params: unknown key\(s\) \['dropout'\]"):
        create_model("TinyNet_B", override_params={"dropout": 0.1})
    with pytest.raises(ValueError, match="depth_trunc must be 'ceil' or 'round'"):
        create_model("TinyNet_B", override_params={"depth_trunc": "floor"})
    with pytest.raises(ValueError, match=r"\['width_coefficient'\] not supported on tf_efficientnet_b0"):
        create_model("EfficientNetB0", override_params={"width_coefficient": 1.1})


@pytest.mark.parametrize("tag", ["A", "E"])
def test_paddleclas_tinynet_configs_build_and_load_weights_of_their_shape(tag, tmp_path):
    name, kwargs = _paddleclas_arch(f"ImageNet/TinyNet/TinyNet_{tag}.yaml")
    torch.manual_seed(0)
    source = create_model(name, 10, **kwargs).eval()
    assert _bn(source) == {(1e-5, 0.1)}
    path = save_like_paddle(paddle_layout(source), tmp_path / "tiny.pdparams")
    model = create_model(name, 10, pretrained=path, **kwargs).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x))


# ---------------------------------------------------------------- use_sync_bn

def _sync_bn_config(device: str = "cpu", **arch) -> object:
    return config_from_dict({"Global": {"device": device},
                             "Arch": {"name": "PPLCNet_x0_25", "class_num": 3, "use_sync_bn": True, **arch}})


def test_use_sync_bn_is_no_builder_argument_and_single_process_keeps_plain_bn(caplog):
    cfg = _sync_bn_config()
    assert cfg.Arch.use_sync_bn and "use_sync_bn" not in cfg.Arch.builder_kwargs
    net = _build_net(cfg, torch.device("cpu"), DistInfo())
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in net.modules())
    with caplog.at_level(logging.WARNING):  # several CPU processes: ignored, as PaddleClas off GPU
        net = _build_net(cfg, torch.device("cpu"), DistInfo(rank=0, world_size=2))
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in net.modules())
    assert "Arch.use_sync_bn ignored: SyncBatchNorm runs on CUDA only" in caplog.text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_use_sync_bn_converts_under_ddp_on_cuda():
    net = _build_net(_sync_bn_config("gpu"), torch.device("cuda"), DistInfo(rank=0, world_size=2))
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in net.modules()) > 10
    assert not any(type(m) is nn.BatchNorm2d for m in net.modules())


@pytest.mark.parametrize("config", ["PULC/code_exists/MobileNetV3_small_x0_35.yaml",
                                    "ImageNet/EfficientNetV2/EfficientNetV2_S.yaml"])
def test_paddleclas_use_sync_bn_configs_build(config):
    name, kwargs = _paddleclas_arch(config)
    assert "use_sync_bn" not in kwargs
    with torch.device("meta"):
        create_model(name, 2, **kwargs)


# ---------------------------------------------------------------- stride_list

def test_pplcnet_stride_list_sets_stem_and_stage_strides():
    model = create_model("PPLCNet_x0_25", 3, stride_list=TEXTLINE, use_last_conv=False).eval()
    default = create_model("PPLCNet_x0_25", 3, use_last_conv=False).eval()
    assert model.conv_stem.stride == (2, 2) and model.blocks[0][0].conv_dw.stride == (1, 1)
    assert [s[0].conv_dw.stride for s in model.blocks[1:]] == [(2, 1)] * 4
    assert [s[0].conv_dw.padding for s in model.blocks] == [(1, 1)] * 4 + [(2, 2)]  # (k - 1) // 2, as Paddle
    with torch.no_grad():
        # PaddleClas's text-line input 48 x 192: height /32 (rounded up), width /2
        assert model.forward_features(torch.zeros(1, 3, 48, 192)).shape == (1, 128, 2, 96)
        assert default.forward_features(torch.zeros(1, 3, 48, 192)).shape == (1, 128, 2, 6)
        assert model(torch.zeros(2, 3, 48, 192)).shape == (2, 3)
    stem_one = create_model("PPLCNet_x0_25", 3, stride_list=[1, 2, 2, 2, 2])
    with torch.no_grad():
        assert stem_one.forward_features(torch.zeros(1, 3, 64, 64)).shape == (1, 128, 4, 4)
    assert _shapes(model) == _shapes(default)


def test_pplcnet_stride_list_loads_converted_weights(tmp_path):
    torch.manual_seed(0)
    source = create_model("PPLCNet_x0_25", 10).eval()
    path = save_like_paddle(paddle_layout(source), tmp_path / "lcnet.pdparams")
    model = create_model("PPLCNet_x0_25", 10, pretrained=path, stride_list=TEXTLINE).eval()
    for key, value in source.state_dict().items():
        if not key.startswith("classifier"):  # scaled by PaddleClas's downscale_in_infer dropout
            torch.testing.assert_close(model.state_dict()[key], value)


@pytest.mark.parametrize("strides, message", [
    ([2, 2, 2, 2], r"stride_list: 5 strides \(stem, blocks3 ... blocks6\), got \[2, 2, 2, 2\]"),
    ([2, [2, 1, 1], 2, 2, 2], r"stride_list\[1\]: a stride is a positive int or an \[h, w\] pair"),
    ([2, 2, 0, 2, 2], r"stride_list\[2\]"),
])
def test_pplcnet_stride_list_errors(strides, message):
    with pytest.raises(ValueError, match=message):
        create_model("PPLCNet_x0_25", 3, stride_list=strides)


@pytest.mark.parametrize("config, has_strides", [("PULC/textline_orientation/PPLCNet_x1_0.yaml", True),
                                                 ("PULC/language_classification/PPLCNet_x1_0.yaml", True),
                                                 ("PULC/image_orientation/PPLCNet_x1_0.yaml", False)])
def test_paddleclas_pulc_pplcnet_configs_build(config, has_strides):
    name, kwargs = _paddleclas_arch(config)
    with torch.device("meta"):
        model = create_model(name, 2, **kwargs)
    assert ("stride_list" in kwargs) == has_strides
    if has_strides:
        assert [s[0].conv_dw.stride for s in model.blocks[1:]] == [(2, 1)] * 4


# ---------------------------------------------------------------- channels_last and oneDNN (RepVGG)

def test_auto_channels_last_stays_off_on_cpu_for_strided_pointwise_convs_on_few_channels(caplog):
    """oneDNN's NHWC backward-weights of a strided 1x1 conv with fewer input channels than its
    block corrupts the heap (RepVGG_A0's stem 1x1 branch on RGB crashed training on CPU)."""
    from torchclas.engine.build import use_channels_last
    from torchclas.models.layout import onednn_nhwc_hazards

    cfg = config_from_dict({"Arch": {"name": "RepVGG_A0", "class_num": 3}})
    with torch.device("meta"):
        repvgg, resnet = create_model("RepVGG_A0", 3), create_model("ResNet18", 3)
    assert onednn_nhwc_hazards(repvgg) == ["stem.conv_1x1.conv"] and onednn_nhwc_hazards(resnet) == []
    assert not use_channels_last(cfg, repvgg, torch.device("cpu"))
    assert use_channels_last(cfg, repvgg, torch.device("cuda")) and use_channels_last(cfg, resnet, torch.device("cpu"))
    with caplog.at_level(logging.INFO):
        net = _build_net(cfg, torch.device("cpu"), DistInfo())
    assert "channels_last off" in caplog.text and "stem.conv_1x1.conv" in caplog.text
    assert net.stem.conv_1x1.conv.weight.is_contiguous()
    forced = config_from_dict({"Global": {"channels_last": True}, "Arch": {"name": "RepVGG_A0", "class_num": 3}})
    assert use_channels_last(forced, repvgg, torch.device("cpu"))  # an explicit setting is kept
