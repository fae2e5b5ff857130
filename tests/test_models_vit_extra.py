"""TNT, CvT and CSWin rows: PaddleClas state-dict sizes, the TNT pixel-position layout, CvT's
PaddleClas quirks, and small forward/backward passes."""

from __future__ import annotations

import pytest
import torch

from torchclas.models import MODEL_TABLE, create_model
from torchclas.models.cswin import CSWinTransformer
from torchclas.models.cvt import ConvAttention, CvT, QuickGELU

# Elements of PaddleClas's state dict at class_num=1000 (its parameters() incl. BN running
# statistics), measured in its own venv.
PADDLE_STATE_SIZE = {
    "TNT_small": 23_768_584, "TNT_base": 65_428_680,
    "CvT_13_224": 20_023_208, "CvT_13_384": 20_023_208, "CvT_21_224": 31_664_552,
    "CvT_21_384": 31_664_552, "CvT_W24_384": 277_330_792,
    "CSWinTransformer_tiny_224": 22_320_552, "CSWinTransformer_small_224": 34_643_304,
    "CSWinTransformer_base_224": 77_382_184, "CSWinTransformer_base_384": 77_382_184,
    "CSWinTransformer_large_224": 173_262_664, "CSWinTransformer_large_384": 173_262_664,
}


def test_every_row_is_counted():
    assert {n for n, r in MODEL_TABLE.items() if r.family in ("TNT", "CvT", "CSWinTransformer")} == set(PADDLE_STATE_SIZE)


@pytest.mark.parametrize("name", sorted(PADDLE_STATE_SIZE))
def test_state_size_matches_paddleclas(name):
    with torch.device("meta"):
        model = create_model(name, class_num=1000)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert sum(v.numel() for v in state.values()) == PADDLE_STATE_SIZE[name]


def test_tnt_pixel_pos_is_paddle_layout_and_added_per_pixel():
    model = create_model("TNT_small", class_num=3).eval()
    assert model.pixel_pos.shape == (1, 16, 24)
    assert list(model.state_dict()).index("pixel_pos") == list(model.state_dict()).index("patch_pos") + 1
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        base = model.pixel_embed(x, torch.zeros_like(model.pixel_pos))
        shifted = model.pixel_embed(x, model.pixel_pos)
    torch.testing.assert_close(shifted - base, model.pixel_pos.expand_as(base), rtol=0, atol=1e-5)


def test_tnt_forward_backward_and_features():
    model = create_model("TNT_small", class_num=5, depth=2)
    logits = model(torch.randn(1, 3, 224, 224))
    logits.sum().backward()
    assert logits.shape == (1, 5) and model.pixel_pos.grad.abs().sum() > 0
    assert model.get_classifier().in_features == 384
    features = create_model("TNT_small", class_num=5, depth=2, features_only=True, out_indices=(1,))
    assert features(torch.randn(1, 3, 224, 224))[0].shape == (1, 384, 14, 14)


def test_cvt_quirks():
    model = create_model("CvT_13_224", class_num=10)
    attn = model.stage2.blocks[0].attn
    assert isinstance(attn, ConvAttention) and attn.scale == pytest.approx(384 ** -0.5)
    assert isinstance(model.stage2.blocks[0].mlp.act, QuickGELU)
    assert model.stage0.cls_token is None and model.stage2.cls_token.shape == (1, 1, 384)
    assert attn.conv_proj_k.conv.stride == (2, 2) and attn.conv_proj_q.conv.stride == (1, 1)
    x = torch.linspace(-3, 3, 7)
    torch.testing.assert_close(QuickGELU()(x), x * torch.sigmoid(1.702 * x))
    with pytest.raises(ValueError, match="'99'"):
        CvT("99")


def test_cvt_forward_backward_features_and_head():
    model = create_model("CvT_13_224", class_num=4)
    x = torch.randn(2, 3, 64, 64)
    logits = model(x)
    logits.sum().backward()
    assert logits.shape == (2, 4) and model.stage0.patch_embed.proj.weight.grad is not None
    assert [i["reduction"] for i in model.feature_info] == [4, 8, 16]
    maps = {}
    for info in model.feature_info:
        model.get_submodule(info["module"]).register_forward_hook(
            lambda _m, _i, out, key=info["module"]: maps.__setitem__(key, out.shape))
    model.eval()(x[:1])
    assert list(maps.values()) == [(1, 64, 16, 16), (1, 192, 8, 8), (1, 384, 4, 4)]
    assert model.forward_head(model.forward_features(x[:1]), pre_logits=True).shape == (1, 384)
    model.reset_classifier(0)
    assert model(x[:1]).shape == (1, 384) and model.get_classifier().__class__.__name__ == "Identity"


def test_cswin_stripes_forward_backward():
    model = CSWinTransformer(img_size=64, embed_dim=16, depths=(1, 1, 1, 1), splits=(1, 2, 2, 2),
                             num_heads=(2, 2, 4, 4), num_classes=3)
    first, last = model.stages[0].blocks[0], model.stages[3].blocks[0]
    assert [(a.h_split, a.w_split) for a in first.attns] == [(16, 1), (1, 16)]
    assert [(a.h_split, a.w_split) for a in last.attns] == [(2, 2)]
    logits = model(torch.randn(2, 3, 64, 64))
    logits.sum().backward()
    assert logits.shape == (2, 3) and first.attns[1].get_v.weight.grad.abs().sum() > 0
    assert [i["num_chs"] for i in model.feature_info] == [16, 32, 64, 128]
    assert model.get_classifier().in_features == 128
