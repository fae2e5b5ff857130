"""ResNet family against PaddleClas itself: convert its random weights, compare eval logits.

Both sides run in float64 (``dtype="float64"``): with PaddleClas's random weights and random BN
statistics a deep ResNet's logits reach ~1e3 and float32 rounding alone (1e-6 relative, in
Paddle and PyTorch alike: each is ~2e-3 from the float64 result on ResNet50_vd) would exceed
the 1e-4 tolerance; in float64 an exact architecture agrees to ~1e-8.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.paddle.harness import max_logit_diff, paddle_reference
from torchclas.models import create_model
from torchclas.models.io.paddle_weights import convert_pdparams

pytestmark = pytest.mark.paddle

TOLERANCE = 1e-4

NAMES = ["ResNet18", "ResNet34", "ResNet50", "ResNet18_vd", "ResNet34_vd", "ResNet50_vd", "ResNet101_vd",
         "ResNet50_vc", "SE_ResNet18_vd", "SE_ResNet50_vd", "ResNeXt50_32x4d",
         "ResNeXt50_vd_32x4d", "ResNeXt50_vd_64x4d", "SE_ResNeXt50_32x4d", "SE_ResNeXt50_vd_32x4d",
         "Res2Net50_26w_4s", "Res2Net50_14w_8s", "Res2Net50_vd_26w_4s", "ResNeSt50_fast_1s1x64d", "ResNeSt50",
         "RegNetX_200MF", "RegNetX_4GF", "ResNeXt101_32x8d_wsl", "ResNet50_last_stage_stride1",
         "ResNet50_adaptive_max_pool2d"]


@pytest.mark.parametrize("name", NAMES)
def test_logits_match_paddleclas(name, tmp_path):
    assert max_logit_diff(name, tmp_path, dtype="float64") <= TOLERANCE


def test_odd_input_size_matches_paddleclas(tmp_path):
    """At 72x72 the vd shortcut pools see odd sizes (9, 5): ceil mode, padding not counted."""
    assert max_logit_diff("ResNet50_vd", tmp_path, size=72, dtype="float64") <= TOLERANCE


@pytest.mark.parametrize("ours, paddle", [("ResNet50_vd", "SE_ResNet50_vd"), ("ResNet34_vd", "SE_ResNet34_vd")])
def test_use_se_switch_is_paddleclas_se_resnet_vd(ours, paddle, tmp_path):
    assert max_logit_diff(ours, tmp_path, paddle_name=paddle, dtype="float64", use_se=True) <= TOLERANCE


def test_resnet50_vb_is_paddleclas_resnet50(tmp_path):
    assert max_logit_diff("ResNet50_vb", tmp_path, paddle_name="ResNet50", dtype="float64") <= TOLERANCE


def test_resnet200_vd_matches_paddleclas_relative_to_its_logits(tmp_path):
    """66 blocks with random BN statistics blow the logits up to ~1e13; in float64 ours agree
    with PaddleClas's to ~1e-11 of them (an absolute 1e-4 would ask for 1e-17)."""
    ref = paddle_reference("ResNet200_vd", tmp_path / "ref", dtype="float64")
    weights = convert_pdparams(ref / "model.pdparams", "ResNet200_vd", tmp_path / "model.safetensors")
    model = create_model("ResNet200_vd", class_num=10, pretrained=weights).eval().double()
    with torch.no_grad():
        ours = model(torch.from_numpy(np.load(ref / "input.npy"))).numpy()
    theirs = np.load(ref / "logits.npy")
    assert np.abs(ours - theirs).max() <= 1e-9 * np.abs(theirs).max()


def test_resnet18_dbb_matches_paddleclas(tmp_path):
    """ImageNet/ResNet/ResNet18_dbb.yaml's model: ResNet18 with layer_type DiverseBranchBlock and
    use_first_short_conv False (the DBB branches in PaddleClas's registration order)."""
    assert max_logit_diff("ResNet18_dbb", tmp_path, paddle_name="ResNet18", dtype="float64",
                          paddle_kwargs={"layer_type": "DiverseBranchBlock", "use_first_short_conv": False}
                          ) <= TOLERANCE
