"""EfficientNetV2 M/L/XL, WideResNet (ours), BEiTv2 and CAE rows
(models/efficientnet_v2.py, wideresnet.py, foundation_vit.py, cae.py).

Sizes are PaddleClas's state dicts at class_num=1000 (elements, tensors; BN statistics included),
measured in the Paddle venv, less what conversion drops: the BEiT models' per-block
``relative_position_index`` buffers (197 x 197 each) and foundation_vit.py's unused ``proj``
(embed_dim x 512).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import paddle_state_size
from torchclas.models import MODEL_TABLE, create_model
from torchclas.models.layers.beit import sincos_pos_embed
from torchclas.models.efficientnet_v2 import BottomRightPadConv2d
from torchclas.models.wideresnet import WideResNet

_INDEX = 197 * 197  # one relative_position_index buffer

PADDLE_COUNTS = {
    "EfficientNetV2_M": (54_431_388, 963), "EfficientNetV2_L": (119_027_848, 1331),
    "EfficientNetV2_XL": (208_896_832, 1712), "WideResNet": (1_598_936, 130),
    "BEiTv2_vit_base_patch16_224": (87_398_356 - 12 * _INDEX - 768 * 512, 199 - 13),
    "BEiTv2_vit_large_patch16_224": (305_909_824 - 24 * _INDEX - 1024 * 512, 391 - 25),
    "CAE_vit_base_patch16_224": (87_549_652 - 12 * _INDEX - 768 * 512, 200 - 13),
    "cae_base_patch16_224": (87_147_988 - 12 * _INDEX, 212 - 12),
    "cae_large_patch16_224": (305_563_712 - 24 * _INDEX, 416 - 24),
}


@pytest.mark.parametrize("name", sorted(PADDLE_COUNTS))
def test_state_size_matches_paddleclas(name):
    assert paddle_state_size(name) == PADDLE_COUNTS[name]


@pytest.mark.parametrize("tag, depths, head_drop", [("M", [3, 5, 5, 7, 14, 18, 5], 0.3),
                                                    ("XL", [4, 8, 8, 16, 24, 32, 8], 0.4)])
def test_efficientnetv2_sizes_use_paddleclas_blocks_and_padding(tag, depths, head_drop):
    with torch.device("meta"):
        model = create_model(f"EfficientNetV2_{tag}")
    assert [len(stage) for stage in model.blocks] == depths
    assert model.conv_head.out_channels == 1280 and model.drop_rate == head_drop
    padded = [m for m in model.modules() if isinstance(m, BottomRightPadConv2d)]
    assert len(padded) == 5 and model.conv_stem in padded  # the stem and the 4 stride-2 stages' first convs


def test_wideresnet_interface_and_training():
    model = create_model("WideResNet", class_num=5)
    x = torch.randn(2, 3, 32, 32)
    model.train()(x).square().mean().backward()
    # bn1 of the widening blocks of stages 2 and 3 is computed but unused, as in PaddleClas
    unused = {"block2.layer.0.bn1.weight", "block2.layer.0.bn1.bias",
              "block3.layer.0.bn1.weight", "block3.layer.0.bn1.bias"}
    assert {n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()} == unused
    assert model.block2.layer[0].bn1.num_batches_tracked.item() == 1
    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, 128, 8, 8)
        assert model.forward_head(features, pre_logits=True).shape == (2, 128)
        assert model.get_classifier().in_features == 128
        model.reset_classifier(3)
        assert model(x).shape == (2, 3)
    modules = dict(model.named_modules())
    assert all(info["module"] in modules for info in model.feature_info)
    assert [(i["num_chs"], i["reduction"]) for i in model.feature_info] == [(32, 1), (64, 2), (128, 4)]
    assert {m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == {0.001}
    assert {m.negative_slope for m in model.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}


def test_wideresnet_first_block_activates_before_both_branches():
    block = WideResNet(depth=10, widen_factor=2).block1.layer[0].eval()
    x = torch.randn(1, 16, 4, 4)
    with torch.no_grad():
        act = block.relu1(block.bn1(x))
        expected = block.shortcut(act) + block.conv2(block.relu2(block.bn2(block.conv1(act))))
        assert torch.allclose(block(x), expected)
    with pytest.raises(ValueError, match=r"WideResNet depth 27: expected 6n \+ 4"):
        WideResNet(depth=27)


def test_foundation_beit_has_one_qkv_bias_and_no_patch_bias():
    model = create_model("BEiTv2_vit_base_patch16_224", class_num=5, img_size=32, depth=2, embed_dim=64,
                         num_heads=2)
    attn = model.blocks[0].attn
    assert attn.q_bias is None and attn.qkv.bias.shape == (192,)
    assert model.patch_embed.proj.bias is None and model.pos_embed is None
    assert model.global_pool == "token" and isinstance(model.fc_norm, nn.Identity)
    assert attn.relative_position_bias_table.shape == (3 * 3 + 3, 2)  # (2*2-1)^2 + 3 for a 2x2 grid
    x = torch.randn(2, 3, 32, 32)
    model.train()(x).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():  # the bias of k shifts every logit of a query alike: softmax ignores it
        model.blocks[0].gamma_1.fill_(1.0)
        before = model.eval().forward_features(x)
        attn.qkv.bias[64:128] += 1.0
        assert torch.allclose(model.forward_features(x), before, atol=1e-5)
        attn.qkv.bias[:64] += 1.0
        assert not torch.allclose(model.forward_features(x), before, atol=1e-2)
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, 64)


def test_foundation_reorder_maps_paddle_names():
    keys = ["patch_embed.proj.weight", "pos_embed", "cls_token", "proj"]
    for i in range(12):
        keys += [f"blocks.{i}.norm1.weight", f"blocks.{i}.norm1.bias", f"blocks.{i}.attn.relative_position_bias_table",
                 f"blocks.{i}.attn.relative_position_index", f"blocks.{i}.attn.qkv.weight",
                 f"blocks.{i}.attn.qkv.bias", f"blocks.{i}.attn.proj.weight", f"blocks.{i}.attn.proj.bias",
                 f"blocks.{i}.gamma_1", f"blocks.{i}.gamma_2", f"blocks.{i}.norm2.weight", f"blocks.{i}.norm2.bias",
                 f"blocks.{i}.mlp.fc1.weight", f"blocks.{i}.mlp.fc1.bias", f"blocks.{i}.mlp.fc2.weight",
                 f"blocks.{i}.mlp.fc2.bias"]
    keys += ["norm.weight", "norm.bias", "head.fc_head.weight", "head.fc_head.bias"]
    ordered = MODEL_TABLE["CAE_vit_base_patch16_224"].paddle_reorder(keys)
    assert ordered[:3] == ["cls_token", "pos_embed", "patch_embed.proj.weight"]  # timm: own parameters first
    assert ordered[3:7] == ["blocks.0.gamma_1", "blocks.0.gamma_2", "blocks.0.norm1.weight", "blocks.0.norm1.bias"]
    assert ordered[-4:] == ["norm.weight", "norm.bias", "head.fc_head.weight", "head.fc_head.bias"]
    assert len(ordered) == len(keys) - 13  # the unused proj and 12 index buffers


def test_cae_position_table_is_paddles_fixed_sincos():
    table = sincos_pos_embed((3, 2), 8)  # omega = (1, 1/100) for dim 8
    assert table.shape == (1, 7, 8) and not table[0, 0].any()
    # patch 3 = (w index 1, h index 0): Paddle's meshgrid(w, h) puts w outermost
    expected = torch.tensor([1.0, 0.01]).sin().tolist() + torch.tensor([1.0, 0.01]).cos().tolist()
    assert table[0, 1 + 3, :4].tolist() == pytest.approx(expected)
    assert table[0, 1 + 1, 4:6].tolist() == pytest.approx(torch.tensor([1.0, 0.01]).sin().tolist())  # h = 1
    with pytest.raises(ValueError, match="dim 6 is not a multiple of 4"):
        sincos_pos_embed((2, 2), 6)
    model = create_model("cae_base_patch16_224", class_num=5, depth=1)
    assert not model.pos_embed.requires_grad
    assert torch.equal(model.pos_embed.detach(), sincos_pos_embed((14, 14), 768))
    assert isinstance(model.norm, nn.Identity) and model.fc_norm.eps == 1e-6
    assert model.blocks[0].gamma_1.detach().eq(0.1).all() and model.blocks[0].attn.q_bias is not None
