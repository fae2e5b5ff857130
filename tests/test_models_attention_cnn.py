"""VAN, RedNet and PeleeNet rows (models/van.py, rednet.py, peleenet.py).

Parameter counts are PaddleClas's state dicts at class_num=1000 (elements, tensors; BatchNorm
statistics included), measured in the Paddle venv; ours drop ``num_batches_tracked``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchclas.models import create_model
from torchclas.models.peleenet import TwoWayDenseLayer
from torchclas.models.rednet import Involution, RedNet, stem_first
from tests.conftest import paddle_state_size

PADDLE_COUNTS = {
    "VAN_B0": (4113224, 372), "VAN_B1": (13874600, 294), "VAN_B2": (26604328, 580), "VAN_B3": (44811688, 1022),
    "RedNet26": (9264318, 211), "RedNet38": (12430138, 295), "RedNet50": (15595958, 379),
    "RedNet101": (25762502, 736), "RedNet152": (34142134, 1093), "PeleeNet": (2811976, 567),
}


@pytest.mark.parametrize("name", sorted(PADDLE_COUNTS))
def test_state_size_matches_paddleclas(name):
    assert paddle_state_size(name) == PADDLE_COUNTS[name]


def _check_interface(model: nn.Module, width: int, map_size: int, reductions: list[int]) -> None:
    """Train step reaches every parameter; eval features, pre-logits, classifier reset, feature_info."""
    x = torch.randn(2, 3, 64, 64)
    model.train()(x).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, width, map_size, map_size)
        assert model.forward_head(features, pre_logits=True).shape == (2, width)
        assert model.get_classifier().in_features == width
        model.reset_classifier(3)
        assert model(x).shape == (2, 3)
    modules = dict(model.named_modules())
    assert all(info["module"] in modules for info in model.feature_info)
    assert [i["reduction"] for i in model.feature_info] == reductions
    assert model.feature_info[-1]["num_chs"] == width


def test_van_interface_and_training():
    model = create_model("VAN_B0", class_num=5, drop_path_rate=0.1)
    _check_interface(model, 256, 2, [4, 8, 16, 32])
    blocks = [b for stage in model.stages for b in stage.blocks]
    assert [getattr(b.drop_path, "drop_prob", 0.0) for b in blocks] == pytest.approx(
        torch.linspace(0, 0.1, 13).tolist())
    assert {m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)} == {1e-6}
    assert torch.all(blocks[0].layer_scale_1 == 1e-2) and blocks[0].layer_scale_1.shape == (32, 1, 1)
    lka = blocks[0].attn.spatial_gating_unit.conv_spatial
    assert (lka.kernel_size, lka.dilation, lka.padding, lka.groups) == ((7, 7), (3, 3), (9, 9), 32)


def test_van_stage_norm_is_over_channels():
    model = create_model("VAN_B0", class_num=5).eval()
    stage = model.stages[0]
    with torch.no_grad():
        out = stage(torch.randn(1, 3, 16, 16))
    # the LayerNorm (weight 1, bias 0) normalises each pixel's channel vector
    assert torch.allclose(out.mean(1), torch.zeros(1, 4, 4), atol=1e-5)
    assert torch.allclose(out.var(1, unbiased=False), torch.ones(1, 4, 4), atol=1e-3)


def _involution_by_loops(inv: Involution, x: torch.Tensor) -> torch.Tensor:
    """Out[c, i, j] = sum over the k x k window at (i * s, j * s) of kernel[g(c), tap, i, j] * x."""
    k, s = inv.kernel_size, inv.stride
    kernel = inv.conv2(inv.conv1(F.avg_pool2d(x, s) if s > 1 else x))
    pad = F.pad(x, [(k - 1) // 2] * 4)
    height, width = kernel.shape[-2:]
    out = torch.zeros(x.shape[0], inv.channels, height, width, dtype=x.dtype)
    for c in range(inv.channels):
        g = c // inv.group_channels
        for tap in range(k * k):
            dy, dx = divmod(tap, k)
            window = pad[:, c, dy:dy + s * height:s, dx:dx + s * width:s]
            out[:, c] += kernel[:, g * k * k + tap] * window
    return out


@pytest.mark.parametrize("kernel_size, stride", [(3, 1), (7, 2)])
def test_involution_applies_a_per_pixel_kernel_per_group(kernel_size, stride):
    torch.manual_seed(0)
    inv = Involution(32, kernel_size, stride).eval().double()
    x = torch.randn(2, 32, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        out = inv(x)
        assert out.shape == (2, 32, 8 // stride, 8 // stride)
        assert inv.conv2.out_channels == kernel_size ** 2 * 2  # 32 channels: 2 groups of 16
        assert torch.allclose(out, _involution_by_loops(inv, x), atol=1e-10)


def test_rednet_interface_training_and_stem_order():
    model = create_model("RedNet26", class_num=5)
    _check_interface(model, 2048, 2, [2, 4, 8, 16, 32])
    assert [len(getattr(model.stages, f"layer{i}")) for i in range(1, 5)] == [1, 2, 4, 1]
    assert list(model.state_dict())[0] == "stages.stem.0.conv.weight"
    keys = ["layer1.0.conv1.weight", "fc.weight", "fc.bias", "stem.0.conv.weight", "stem.2._mean"]
    assert stem_first(keys) == ["stem.0.conv.weight", "stem.2._mean", "layer1.0.conv1.weight", "fc.weight",
                                "fc.bias"]
    with pytest.raises(ValueError, match=r"RedNet depth 34: expected one of \[26, 38, 50, 101, 152\]"):
        RedNet(depth=34)


def test_peleenet_interface_and_training():
    model = create_model("PeleeNet", class_num=5)
    _check_interface(model, 704, 2, [4, 8, 16, 32])
    assert [i["num_chs"] for i in model.feature_info] == [128, 256, 512, 704]
    assert model.head[-1].p == 0.05


def test_peleenet_dense_layer_widths():
    layer = TwoWayDenseLayer(128, 32, 2)  # bottleneck 16 * 2 = 32, two branches of 16
    assert (layer.branch1a.conv.out_channels, layer.branch2c.conv.out_channels) == (32, 16)
    assert layer(torch.randn(1, 128, 4, 4)).shape == (1, 160, 4, 4)
    capped = TwoWayDenseLayer(32, 32, 4)  # 64 > 32 / 2, so PaddleClas caps it at int(32 / 8) * 4
    assert capped.branch1a.conv.out_channels == 16
