"""MobileViTV3, UniFormer and DSNet rows: PaddleClas state-dict sizes, the blocks' PaddleClas
quirks, and small forward/backward passes."""

from __future__ import annotations

import pytest
import torch

from torchclas.models import MODEL_TABLE, create_model
from torchclas.models.dsnet import DSNet, MixBlock, paddle_bilinear
from torchclas.models.mobilevit_v3 import MobileViTV3, MobileViTV3Block, MobileViTV3BlockV2
from torchclas.models.uniformer import CBlock, SABlock, UniFormer

# Elements of PaddleClas's state dict at class_num=1000 (its parameters() incl. BN running
# statistics), measured in its own venv.
PADDLE_STATE_SIZE = {
    "MobileViTV3_XXS": 1_254_840, "MobileViTV3_XS": 2_502_520, "MobileViTV3_S": 5_781_928,
    "MobileViTV3_XXS_L2": 1_150_680, "MobileViTV3_XS_L2": 2_269_480, "MobileViTV3_S_L2": 5_187_880,
    "MobileViTV3_x0_5": 1_437_761, "MobileViTV3_x0_75": 3_011_305, "MobileViTV3_x1_0": 5_154_961,
    "UniFormer_small": 21_549_096, "UniFormer_small_plus": 24_039_016, "UniFormer_small_plus_dim64": 24_039_016,
    "UniFormer_base": 49_782_952, "UniFormer_base_ls": 49_802_920,
    "DSNet_tiny": 10_548_392, "DSNet_small": 23_034_376, "DSNet_base": 49_411_976,
}


def test_every_row_is_counted():
    assert {n for n, r in MODEL_TABLE.items() if r.family in ("MobileViTV3", "UniFormer", "DSNet")} \
        == set(PADDLE_STATE_SIZE)


@pytest.mark.parametrize("name", sorted(PADDLE_STATE_SIZE))
def test_state_size_matches_paddleclas(name):
    with torch.device("meta"):
        model = create_model(name, class_num=1000)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert sum(v.numel() for v in state.values()) == PADDLE_STATE_SIZE[name]


def _forward_backward(model: torch.nn.Module, size: int, classes: int) -> torch.Tensor:
    logits = model(torch.randn(2, 3, size, size))
    logits.sum().backward()
    assert logits.shape == (2, classes)
    return logits


def _feature_shapes(model: torch.nn.Module, x: torch.Tensor) -> list[tuple[int, ...]]:
    shapes = []
    for info in model.feature_info:
        model.get_submodule(info["module"]).register_forward_hook(
            lambda _m, _i, out: shapes.append(tuple(out.shape)))
    with torch.no_grad():
        model.eval()(x)
    return shapes


def test_mobilevit_v3_v1_block_fuses_local_and_global_and_adds_input():
    block = MobileViTV3Block(in_chs=16, transformer_dim=24, depth=1).eval()
    assert block.conv_kxk.conv.groups == 16 and block.conv_fusion.conv.kernel_size == (1, 1)
    assert block.conv_fusion.conv.in_channels == 16 + 24
    assert all(isinstance(m.bn.act, torch.nn.SiLU) for m in (block.conv_kxk, block.conv_proj, block.conv_fusion))
    assert isinstance(block.transformer[0].mlp.act, torch.nn.SiLU)
    for module in (block.conv_proj, block.conv_fusion):  # zero the fusion: the block is the identity
        torch.nn.init.zeros_(module.bn.weight)
    x = torch.randn(1, 16, 6, 5)  # odd width: interpolated to the patch grid and back
    torch.testing.assert_close(block(x), x)


def test_mobilevit_v3_v2_block_shapes_and_patch_check():
    block = MobileViTV3BlockV2(in_chs=32, attn_dim=16, depth=1)
    assert block.conv_proj.conv.in_channels == 32 and block.conv_proj.conv.out_channels == 32
    assert block(torch.randn(1, 32, 4, 6)).shape == (1, 32, 4, 6)
    with pytest.raises(ValueError, match="5x5"):
        block(torch.randn(1, 32, 5, 5))


@pytest.mark.parametrize("name, exp_width", [("MobileViTV3_XXS", 512), ("MobileViTV3_x0_5", 256)])
def test_mobilevit_v3_forward_backward_and_features(name, exp_width):
    model = create_model(name, class_num=5)
    _forward_backward(model, 64, 5)
    assert model.get_classifier().in_features == exp_width == model.num_features
    assert model.conv_1.conv.weight.grad is not None
    shapes = _feature_shapes(model, torch.randn(1, 3, 64, 64))
    assert [s[2] for s in shapes] == [32, 16, 8, 4, 2]
    assert [s[1] for s in shapes] == [i["num_chs"] for i in model.feature_info]
    model.reset_classifier(0)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, exp_width)
    with pytest.raises(ValueError, match="'XXL'"):
        MobileViTV3("XXL")


def test_uniformer_blocks_and_layer_scale():
    model = create_model("UniFormer_base_ls", class_num=3, depth=(1, 1, 1, 1))
    assert isinstance(model.blocks2[0], CBlock) and isinstance(model.blocks3[0], SABlock)
    assert model.blocks3[0].attn.num_heads == 5 and model.blocks4[0].attn.num_heads == 8
    assert torch.all(model.blocks4[0].gamma_2 == 1e-6)
    keys = list(model.state_dict())
    # own parameters come before sub-modules in both frameworks' state dicts (PaddleClas's too)
    assert keys.index("blocks3.0.gamma_2") + 1 == keys.index("blocks3.0.pos_embed.weight")
    assert keys.index("patch_embed4.proj_conv.bias") < keys.index("blocks1.0.pos_embed.weight")
    assert create_model("UniFormer_small", class_num=3).blocks3[0].gamma_1 is None
    assert create_model("UniFormer_small_plus", class_num=3).blocks4[0].attn.num_heads == 16


@pytest.mark.parametrize("name", ["UniFormer_small", "UniFormer_small_plus"])
def test_uniformer_forward_backward_and_features(name):
    model = create_model(name, class_num=4, depth=(1, 1, 1, 1))
    _forward_backward(model, 64, 4)
    assert model.get_classifier().in_features == 512
    assert _feature_shapes(model, torch.randn(1, 3, 64, 64)) == [(1, 64, 16, 16), (1, 128, 8, 8),
                                                                  (1, 320, 4, 4), (1, 512, 2, 2)]
    assert model.forward_head(model.forward_features(torch.randn(1, 3, 64, 64)), pre_logits=True).shape == (1, 512)


def test_dsnet_block_splits_channels_and_downsamples_attention():
    block = MixBlock(dim=16, num_heads=2, downsample=4).eval()
    assert block.dim_sa == block.dim_conv == 8 and block.channel_up.out_features == 24
    assert block(torch.randn(1, 16, 8, 8)).shape == (1, 16, 8, 8)
    model = DSNet(depth=(1, 1, 1, 1), num_classes=2)
    assert [b[0].downsample for b in (model.blocks1, model.blocks2, model.blocks3, model.blocks4)] == [8, 4, 2, 2]


def test_dsnet_resize_to_one_takes_first_row_like_paddle():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert paddle_bilinear(x, (1, 1)).item() == 0.0
    torch.testing.assert_close(paddle_bilinear(x, (1, 4)), x[:, :, :1])
    torch.testing.assert_close(paddle_bilinear(x, (2, 2)), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))


def test_dsnet_forward_backward_and_features():
    model = create_model("DSNet_tiny", class_num=3)
    _forward_backward(model, 64, 3)
    assert model.blocks1[0].channel_up.weight.grad.abs().sum() > 0
    assert [s[1:] for s in _feature_shapes(model, torch.randn(1, 3, 64, 64))] == [(64, 16, 16), (128, 8, 8),
                                                                                 (320, 4, 4), (512, 2, 2)]
    model.reset_classifier(0)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 512)
    assert isinstance(create_model("UniFormer_small", class_num=0).get_classifier(), torch.nn.Identity)
    assert isinstance(UniFormer(num_classes=0).head, torch.nn.Identity)
