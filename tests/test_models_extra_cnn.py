"""HarDNet, MobileNeXt and MicroNet (ours), FasterNet, EfficientNetV2-S and TinyNet rows
(models/hardnet.py, mobilenext.py, micronet.py, fasternet.py, efficientnet_v2.py, efficientnet.py).

Parameter counts are PaddleClas's state dicts at class_num=1000 (elements, tensors; BatchNorm
statistics included), measured in the Paddle venv; ours drop ``num_batches_tracked``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchclas.models import create_model
from torchclas.models.efficientnet_v2 import _stem_first
from torchclas.models.fasternet import _FASTERNET_RENAMES
from torchclas.models.hardnet import HarDBlock, _link
from torchclas.models.micronet import DynamicShiftMax, HardSigmoid, MicroNet
from torchclas.models.mobilenext import SandglassBlock
from tests.conftest import paddle_state_size

PADDLE_COUNTS = {
    "HarDNet39_ds": (3505044, 372), "HarDNet68_ds": (4203202, 657), "HarDNet68": (17577960, 337),
    "HarDNet85": (36690304, 422), "FasterNet_T0": (3915180, 114), "FasterNet_T1": (7610856, 114),
    "FasterNet_T2": (15006120, 114), "FasterNet_S": (31222248, 149), "FasterNet_M": (53587416, 219),
    "FasterNet_L": (93553128, 219), "EfficientNetV2_S": (21612360, 672), "TinyNet_A": (7856232, 439),
    "TinyNet_B": (5233002, 439), "TinyNet_C": (2662684, 311), "TinyNet_D": (2478786, 292),
    "TinyNet_E": (2234718, 254), "MobileNeXt_x0_35": (1936344, 372), "MobileNeXt_x0_5": (2181600, 372),
    "MobileNeXt_x0_75": (2807424, 372), "MobileNeXt_x1_0": (3588440, 372), "MobileNeXt_x1_4": (6200424, 372),
    "MicroNet_M0": (1027082, 192), "MicroNet_M1": (1787533, 192), "MicroNet_M2": (2409652, 256),
    "MicroNet_M3": (2650736, 276),
}


@pytest.mark.parametrize("name", sorted(PADDLE_COUNTS))
def test_state_size_matches_paddleclas(name):
    assert paddle_state_size(name) == PADDLE_COUNTS[name]


def test_harmonic_links_and_widths():
    # layer 4 reads layers 3 (width 14), 2 (24) and 0 (the input); its width is 14 * 1.7**2 rounded to even
    assert _link(4, 64, 14, 1.7) == (40, 14 + 24 + 64, [3, 2, 0])
    block = HarDBlock(64, 14, 1.7, 4)
    assert block.links == [[0], [1, 0], [2], [3, 2, 0]]
    out = block(torch.randn(1, 64, 8, 8))
    assert out.shape == (1, block.out_chs, 8, 8) and block.out_chs == 14 + 14 + 40  # layers 1, 3, 4


@pytest.mark.parametrize("name, width, depthwise", [("HarDNet39_ds", 1024, True), ("HarDNet68", 1024, False)])
def test_hardnet_interface_and_training(name, width, depthwise):
    model = create_model(name, class_num=5)
    x = torch.randn(2, 3, 64, 64)
    model.train()(x).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, width, 2, 2)
        assert model.forward_head(features, pre_logits=True).shape == (2, width)
        assert model.get_classifier().in_features == width
        model.reset_classifier(3)
        assert model(x).shape == (2, 3)
    modules = dict(model.named_modules())
    assert all(info["module"] in modules for info in model.feature_info)
    assert [i["reduction"] for i in model.feature_info] == [4, 8, 16, 32]
    assert model.feature_info[-1]["num_chs"] == width
    assert any(isinstance(m, nn.MaxPool2d) for m in model.modules()) != depthwise
    assert {type(m) for m in model.modules()} >= {nn.ReLU6, nn.BatchNorm2d}


def test_hardnet_rejects_unknown_arch():
    from torchclas.models.hardnet import HarDNet

    with pytest.raises(ValueError, match=r"HarDNet arch 50: expected one of \[39, 68, 85\]"):
        HarDNet(arch=50)


def test_fasternet_paddle_names_map_to_timm():
    def rename(key: str) -> str:
        for pattern, repl in _FASTERNET_RENAMES:
            key = re.sub(pattern, repl, key)
        return key

    assert rename("stages.4.blocks.3.mlp.1._mean") == "stages.2.blocks.3.mlp.1.running_mean"
    assert rename("stages.3.reduction.weight") == "stages.2.downsample.reduction.weight"
    assert rename("avgpool_pre_head.1.weight") == "conv_head.weight"
    assert rename("head.bias") == "classifier.bias"


def test_efficientnetv2_stem_moves_first_and_pads_like_paddleclas():
    assert _stem_first(["_blocks.0.w", "_stem._norm.weight", "_head.w"]) == \
        ["_stem._norm.weight", "_blocks.0.w", "_head.w"]
    model = create_model("EfficientNetV2_S", class_num=3).eval()
    stem = model.conv_stem
    for size in (9, 10):  # PaddleClas pads bottom/right only, also at odd sizes (TF SAME would not)
        x = torch.randn(1, 3, size, size)
        expected = F.conv2d(F.pad(x, (0, 2, 0, 2)), stem.weight, None, 2)
        assert torch.allclose(stem(x), expected) and expected.shape[-1] == (size + 1) // 2
    assert {m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == {1e-3}


def test_tinynet_depths_round_up_and_head_is_1280():
    with torch.device("meta"):
        tiny_a, tiny_e = create_model("TinyNet_A"), create_model("TinyNet_E")
    assert [len(stage) for stage in tiny_a.blocks] == [2, 3, 3, 4, 4, 5, 2]  # ceil(1.2 * (1, 2, 2, 3, 3, 4, 1))
    assert tiny_e.conv_head.out_channels == 1280 and tiny_e.conv_stem.out_channels == 32
    assert {m.eps for m in tiny_a.modules() if isinstance(m, nn.BatchNorm2d)} == {1e-3}


def test_sandglass_block_residual_only_between_equal_widths():
    x = torch.randn(1, 32, 8, 8)
    same = SandglassBlock(32, 32, 1, 6).eval()
    assert same.identity and same(x).shape == (1, 32, 8, 8)
    convs = [m for m in same.conv if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size[0], c.groups) for c in convs] == [(3, 32), (1, 1), (1, 1), (3, 32)]
    assert sum(isinstance(m, nn.ReLU6) for m in same.conv) == 2  # after the first dw and the expanding 1x1
    kept = SandglassBlock(32, 32, 1, 6, keep_3x3=True)
    assert not kept.identity and len(kept.conv) == len(same.conv)
    down = SandglassBlock(32, 48, 2, 6).eval()
    assert not down.identity and down(x).shape == (1, 48, 4, 4)
    assert down.conv[0].out_channels == 16  # 32 // 6 < 48 / 6, so ceil(8) rounded up to 16


def test_mobilenext_interface_and_training():
    model = create_model("MobileNeXt_x0_35", class_num=5)
    x = torch.randn(2, 3, 64, 64)
    model.train()(x).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, 1280, 2, 2)  # the last block stays 1280 wide below width 1.0
        assert model.forward_head(features, pre_logits=True).shape == (2, 1280)
        model.reset_classifier(3)
        assert model(x).shape == (2, 3)
    modules = dict(model.named_modules())
    assert [i["reduction"] for i in model.feature_info] == [2, 4, 8, 16, 32]
    assert all(info["module"] in modules for info in model.feature_info)
    assert model.feature_info[-1]["num_chs"] == 1280


def test_dynamic_shift_max_rolls_groups_and_channels():
    # 8 channels in 2 groups of 4: channel c of group g reads channel (c + 1) % 4 of group (g + 1) % 2
    act = DynamicShiftMax(8, 2, two_branches=True, init_a=(1.0, 1.0), init_b=(0.0, 0.0), groups=(0, 2))
    assert act.index.tolist() == [5, 6, 7, 4, 1, 2, 3, 0]
    assert act.fc[2].out_features == 32 and "index" not in act.state_dict()
    expanded = DynamicShiftMax(8, 2, False, (1.0, 0.0), (0.0, 0.0), groups=(0, 2), expansion=True)
    assert expanded.index.tolist() == [3, 2, 5, 4, 7, 6, 1, 0]  # 4 groups of 2
    with torch.no_grad():  # gate 0.5 everywhere → a = init_a = 1, b = init_b = 0: the identity
        act.fc[2].weight.zero_()
        act.fc[2].bias.zero_()
        x = torch.randn(1, 8, 3, 3)
        assert torch.equal(act(x), x)


def test_paddle_hard_sigmoid_slope():
    assert HardSigmoid()(torch.tensor([-4.0, 0.0, 3.0])).tolist() == pytest.approx([0.0, 0.5, 1.0])
    # Paddle's slope is the float32 nearest 0.1666667, not 1/6
    assert HardSigmoid()(torch.tensor([1.0], dtype=torch.float64)).item() == 0.5 + float(np.float32(0.1666667))


def test_micronet_interface_and_training():
    model = create_model("MicroNet_M0", class_num=5)
    x = torch.randn(2, 3, 64, 64)
    model.train()(x).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, 384, 2, 2)
        assert model.forward_head(features, pre_logits=True).shape == (2, 640)
        assert model.get_classifier().in_features == 640
        model.reset_classifier(3)
        assert model(x).shape == (2, 3)
    assert [i["reduction"] for i in model.feature_info] == [2, 4, 8, 16, 32]
    modules = dict(model.named_modules())
    assert all(info["module"] in modules for info in model.feature_info)
    with pytest.raises(ValueError, match=r"MicroNet variant 'M9': expected one of \['M0', 'M1', 'M2', 'M3'\]"):
        MicroNet(variant="M9")
