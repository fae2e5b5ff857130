"""Xception, Xception-DeepLab, InceptionV4 and GoogLeNet against PaddleClas itself: convert its
random weights, compare eval logits (float64 on both sides, as in test_paddle_resnet.py)."""

from __future__ import annotations

import pytest

from tests.paddle.harness import max_logit_diff

pytestmark = pytest.mark.paddle

TOLERANCE = 1e-4

# InceptionV4 needs 75 px at least; PaddleClas's GoogLeNet always runs its aux heads, which need 224 px.
SIZES = {"InceptionV4": 75, "GoogLeNet": 224}
NAMES = ["Xception41", "Xception71", "Xception41_deeplab", "InceptionV4", "GoogLeNet"]


@pytest.mark.parametrize("name", NAMES)
def test_logits_match_paddleclas(name, tmp_path):
    assert max_logit_diff(name, tmp_path, size=SIZES.get(name, 64), dtype="float64") <= TOLERANCE
