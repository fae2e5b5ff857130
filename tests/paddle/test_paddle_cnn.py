"""Classic and GPU-server CNN rows against PaddleClas itself: convert its random weights,
compare eval logits (float64 on both sides, as in test_paddle_resnet.py)."""

from __future__ import annotations

import pytest

from tests.paddle.harness import max_logit_diff

pytestmark = pytest.mark.paddle

TOLERANCE = 1e-4

# VGG and AlexNet need 224 px: PaddleClas's first Linear expects a 7x7 (6x6) map.
SIZES = {"VGG11": 224, "AlexNet": 224, "InceptionV3": 96}
NAMES = ["VGG11", "AlexNet", "SqueezeNet1_0", "SqueezeNet1_1", "InceptionV3", "DarkNet53", "CSPDarkNet53",
         "DenseNet121", "DPN68", "EfficientNetB0", "EfficientNetB0_small", "PPHGNet_tiny", "PPHGNetV2_B0",
         "PPHGNetV2_B4", "DLA34", "DLA60x_c", "StarNet_S1"]


@pytest.mark.parametrize("name", NAMES)
def test_logits_match_paddleclas(name, tmp_path):
    assert max_logit_diff(name, tmp_path, size=SIZES.get(name, 64), dtype="float64") <= TOLERANCE
