"""TNT, CvT and CSWin against PaddleClas itself: convert its random weights, compare float64 eval
logits (TNT and CSWin are fixed to their 224 input; CvT runs at any size)."""

from __future__ import annotations

import pytest

from tests.paddle.harness import max_logit_diff

pytestmark = pytest.mark.paddle

CASES = [("TNT_small", 224), ("CvT_13_224", 64), ("CSWinTransformer_tiny_224", 224)]


@pytest.mark.parametrize("name, size", CASES, ids=[c[0] for c in CASES])
def test_logits_match_paddleclas(name, size, tmp_path):
    assert max_logit_diff(name, tmp_path, size=size, dtype="float64") <= 1e-6
