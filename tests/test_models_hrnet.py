"""HRNet rows (models/hrnet.py): sizes, head, SE, widths (no Paddle needed).

State sizes are PaddleClas's ``HRNet(width=w, has_se=...)`` at class_num=1000, measured in the
Paddle venv: elements and tensors of its state dict (BN statistics included), so ours is the
state dict without ``num_batches_tracked``.
"""

from __future__ import annotations

import pytest
import torch
from timm.models.hrnet import cfg_cls
from timm.models.resnet import BasicBlock, Bottleneck
from torch import nn

from torchclas.models import MODEL_TABLE, create_model
from torchclas.models.hrnet import hrnet_stage_widths
from torchclas.models.layers.paddle_se import PaddleSE

PADDLE_STATE_SIZES = {  # name: (elements, tensors)
    "HRNet_W18_C": (21346380, 1627), "HRNet_W30_C": (37779660, 1627), "HRNet_W32_C": (41303464, 1627),
    "HRNet_W40_C": (57641320, 1627), "HRNet_W44_C": (67155832, 1627), "HRNet_W48_C": (77567400, 1627),
    "HRNet_W60_C": (114184440, 1627), "HRNet_W64_C": (128184232, 1627), "SE_HRNet_W64_C": (129119392, 2075),
}


def _meta(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return create_model(name, **kwargs)


def test_every_hrnet_row_is_listed():
    assert sorted(n for n in MODEL_TABLE if "HRNet" in n) == sorted(PADDLE_STATE_SIZES)


@pytest.mark.parametrize("name", sorted(PADDLE_STATE_SIZES))
def test_state_size_matches_paddleclas(name):
    state = {k: v for k, v in _meta(name, class_num=1000).state_dict().items()
             if not k.endswith("num_batches_tracked")}
    assert (sum(v.numel() for v in state.values()), len(state)) == PADDLE_STATE_SIZES[name]


def test_head_convs_have_no_bias_like_paddleclas():
    model = _meta("HRNet_W18_C")
    head_convs = [m[0] for m in model.downsamp_modules] + [model.final_layer[0]]
    assert [c.out_channels for c in head_convs] == [256, 512, 1024, 2048]
    assert all(c.bias is None for c in head_convs)
    assert model.get_classifier().in_features == 2048


def test_fuse_upsamples_with_nearest():
    modes = {m.mode for m in _meta("HRNet_W18_C").modules() if isinstance(m, nn.Upsample)}
    assert modes == {"nearest"}


def test_width_override_reproduces_timms_own_configs():
    for width in (18, 32, 48):
        own = cfg_cls[f"hrnet_w{width}"]
        assert hrnet_stage_widths(width) == {f"stage{s}": own[f"stage{s}"] for s in (2, 3, 4)}
    assert hrnet_stage_widths(60)["stage4"]["num_channels"] == (60, 120, 240, 480)


def test_se_sits_in_every_block_after_the_shortcut():
    model = _meta("SE_HRNet_W64_C")
    blocks = [m for m in model.modules() if isinstance(m, (BasicBlock, Bottleneck))]
    assert len(blocks) == 112 and all(isinstance(b.se, PaddleSE) for b in blocks)
    assert (model.layer1[0].se.fc1.in_features, model.layer1[0].se.fc1.out_features) == (256, 16)
    keys = [k for k in model.state_dict() if k.startswith("layer1.0.")]
    assert keys.index("layer1.0.downsample.0.weight") < keys.index("layer1.0.se.fc1.weight")
    assert not any(isinstance(b.se, PaddleSE) for b in _meta("HRNet_W64_C").modules()
                   if isinstance(b, (BasicBlock, Bottleneck)))


def test_w18_forward_backward_and_classifier_reset():
    torch.manual_seed(0)
    model = create_model("HRNet_W18_C", class_num=10)
    x = torch.randn(2, 3, 64, 64)
    logits = model(x)
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    logits.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval().reset_classifier(3)
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, 2048, 2, 2)
        assert model.forward_head(features, pre_logits=True).shape == (2, 2048)
        assert model(x).shape == (2, 3)


def test_features_only_gives_branch_maps():
    model = create_model("SE_HRNet_W64_C", width=18, features_only=True, out_indices=(1, 2, 3, 4)).eval()
    with torch.no_grad():
        maps = model(torch.randn(1, 3, 64, 64))
    assert [tuple(m.shape[1:]) for m in maps] == [(128, 16, 16), (256, 8, 8), (512, 4, 4), (1024, 2, 2)]
    assert any(isinstance(m, PaddleSE) for m in model.modules())
