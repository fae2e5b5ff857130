"""Transformer / hybrid rows: PaddleClas parameter counts, the old ViT-S attention scale,
parameter-order maps, and small forward/backward passes."""

from __future__ import annotations

import pytest
import torch

from torchclas.models import MODEL_TABLE, create_model
from torchclas.models.vit import EmbedDimScaledAttention
from torchclas.models.io.paddle_order import drop_keys, order_like, tokens_first

# Trainable parameters of PaddleClas's model at class_num=1000 (measured in its own venv:
# its parameters() minus BN running statistics, which Paddle counts as parameters).
PADDLE_PARAMS = {
    "ViT_small_patch16_224": 48_754_408,
    "ViT_base_patch32_384": 88_297_192,
    "DeiT_tiny_distilled_patch16_224": 5_910_800,
    "SwinTransformer_tiny_patch4_window7_224": 28_288_354,
    "SwinTransformerV2_tiny_patch4_window8_256": 28_347_154,
    "LeViT_128S": 7_391_290,
    "ConvNeXt_tiny": 28_589_128,
    "MobileViT_S": 5_578_632,
    "MobileViTV2_x1_0": 4_901_841,
    "PVT_V2_B2_Linear": 22_553_512,
    "alt_gvt_small": 24_060_776,
    "NextViT_small_224": 31_763_368,
    # PaddleClas also holds CLIP's unused 768x512 text projection ``proj`` (88_618_216 with it).
    "CLIP_vit_base_patch32_224": 88_618_216 - 768 * 512,
}


@pytest.mark.parametrize("name", sorted(PADDLE_PARAMS))
def test_param_count_matches_paddleclas(name):
    with torch.device("meta"):
        model = create_model(name, class_num=1000)
    assert sum(p.numel() for p in model.parameters()) == PADDLE_PARAMS[name]


def test_vit_small_is_the_old_vit_s_with_embed_dim_scale():
    model = create_model("ViT_small_patch16_224", class_num=10, img_size=32)
    attn = model.blocks[0].attn
    assert isinstance(attn, EmbedDimScaledAttention)
    assert (len(model.blocks), model.embed_dim, attn.num_heads, attn.qkv.bias) == (8, 768, 8, None)
    assert attn.scale == pytest.approx(768 ** -0.5)
    assert model.blocks[0].mlp.fc1.out_features == 2304
    assert model.norm.eps == 1e-5


@pytest.mark.parametrize("fused", [True, False])
def test_embed_dim_scaled_attention_maths(fused):
    torch.manual_seed(0)
    attn = EmbedDimScaledAttention(64, num_heads=4).eval()
    attn.fused_attn = fused
    x = torch.randn(2, 5, 64)
    q, k, v = attn.qkv(x).reshape(2, 5, 3, 4, 16).permute(2, 0, 3, 1, 4)
    weights = torch.softmax(q @ k.transpose(-2, -1) * 64 ** -0.5, dim=-1)
    expected = attn.proj((weights @ v).transpose(1, 2).reshape(2, 5, 64))
    head_dim_scaled = torch.softmax(q @ k.transpose(-2, -1) * 16 ** -0.5, dim=-1)
    timm_default = attn.proj((head_dim_scaled @ v).transpose(1, 2).reshape(2, 5, 64))
    with torch.no_grad():
        torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(attn(x), timm_default, atol=1e-4)


def test_order_maps():
    assert tokens_first("cls_token", "pos_embed")(["pos_embed", "cls_token", "a.w"]) == ["cls_token", "pos_embed", "a.w"]
    assert drop_keys(r"idx$")(["a.idx", "a.w"]) == ["a.w"]
    reorder = order_like(lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2)),
                         renames=[(r"^norm\.", "1."), (r"^fc\.", "0.")], drop=r"buf$")
    assert reorder(["norm.weight", "norm.bias", "fc.weight", "fc.bias", "x.buf"]) == \
        ["fc.weight", "fc.bias", "norm.weight", "norm.bias"]
    with pytest.raises(ValueError, match="'other.weight'"):
        reorder(["other.weight"])


@pytest.mark.parametrize("name", ["SwinTransformer_tiny_patch4_window7_224", "ConvNeXt_tiny", "pcpvt_small"])
def test_reorder_pairs_every_paddle_key_with_ours(name):
    """The order maps rename PaddleClas's keys onto ours one to one (shapes are checked by the
    converter and by the ``paddle`` tests)."""
    row = MODEL_TABLE[name]
    with torch.device("meta"):
        ours = list(row.build(num_classes=1000).state_dict())
    paddle_style = {
        "SwinTransformer_tiny_patch4_window7_224": ["layers.0.downsample.reduction.weight",
                                                    "layers.0.downsample.norm.weight", "head.weight",
                                                    "layers.1.blocks.0.attn.relative_position_index"],
        "ConvNeXt_tiny": ["downsample_layers.1.1.weight", "stages.0.0.dwconv.weight", "norm.weight", "head.weight",
                          "downsample_layers.0.0.weight"],
        "pcpvt_small": ["norm.weight", "pos_block.0.proj.0.weight", "blocks.0.0.norm1.weight"],
    }[name]
    reordered = row.paddle_reorder(paddle_style)
    assert len(reordered) == len(paddle_style) - (1 if "Swin" in name else 0)  # Swin's index buffer dropped
    positions = [ours.index(k) for k in _our_names(name, reordered)]
    assert positions == sorted(positions)


def _our_names(name: str, keys: list[str]) -> list[str]:
    table = {"layers.0.downsample.reduction.weight": "layers.1.downsample.reduction.weight",
             "layers.0.downsample.norm.weight": "layers.1.downsample.norm.weight", "head.weight": "head.fc.weight",
             "downsample_layers.1.1.weight": "stages.1.downsample.1.weight",
             "stages.0.0.dwconv.weight": "stages.0.blocks.0.conv_dw.weight",
             "downsample_layers.0.0.weight": "stem.0.weight"}
    if name == "ConvNeXt_tiny":
        table |= {"norm.weight": "head.norm.weight"}
    return [table.get(k, k) for k in keys]


@pytest.mark.parametrize("name, kwargs, size", [
    ("ViT_small_patch16_224", dict(img_size=32), 32),
    ("DeiT_tiny_distilled_patch16_224", dict(img_size=32), 32),
    ("SwinTransformer_tiny_patch4_window7_224", dict(img_size=64, window_size=4), 64),
    ("LeViT_128S", dict(img_size=64), 64),
    ("MobileViT_XXS", {}, 64),
    ("PVT_V2_B0", {}, 64),
    ("CLIP_vit_base_patch16_224", dict(img_size=32, depth=2), 32),
])
def test_small_forward_backward(name, kwargs, size):
    torch.manual_seed(0)
    model = create_model(name, class_num=5, **kwargs)
    logits = model(torch.randn(2, 3, size, size))
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_clip_base_patch16_reads_first_patch_token():
    model = create_model("CLIP_vit_base_patch16_224", class_num=3, img_size=32, depth=1).eval()
    tokens = torch.randn(1, 5, 768)
    torch.testing.assert_close(model.pool(tokens), tokens[:, 1])
    assert model.patch_embed.proj.bias is None and model.norm_pre.eps == 1e-5


def test_rows_have_paddle_resolution_and_top1():
    assert MODEL_TABLE["ViT_base_patch16_384"].input_size == (3, 384, 384)
    assert MODEL_TABLE["SwinTransformerV2_tiny_patch4_window8_256"].input_size == (3, 256, 256)
    assert MODEL_TABLE["MobileViT_XXS"].input_size == (3, 256, 256)
    assert all(MODEL_TABLE[n].top1 for n in ("ViT_base_patch16_224", "DeiT_tiny_patch16_224", "LeViT_128S"))
