"""Mobile families against PaddleClas itself: convert its random weights, compare eval logits."""

from __future__ import annotations

import pytest
import torch

from tests.paddle.harness import max_logit_diff, paddle_reference
from torchclas.models import create_model
from torchclas.models.io.paddle_weights import convert_pdparams

pytestmark = pytest.mark.paddle

NAMES = ["MobileNetV3_small_x1_0", "MobileNetV3_large_x1_0", "MobileNetV3_large_x0_5", "MobileNetV3_small_x0_35",
         "PPLCNet_x0_25", "PPLCNet_x1_0", "PPLCNet_x2_5", "PPLCNetV2_base", "ESNet_x1_0", "ESNet_x0_25",
         "MobileNetV1", "MobileNetV1_x0_25", "MobileNetV2", "MobileNetV2_x0_25", "GhostNet_x1_0",
         "ShuffleNetV2_x1_0", "ShuffleNetV2_x0_33", "ShuffleNetV2_swish",
         "MobileNetV4_conv_small", "MobileNetV4_conv_medium", "ReXNet_1_0"]


def _tolerance(tmp_path) -> float:
    """1e-4, relative to the logits where random weights blow them up (GhostNet, ShuffleNetV2
    reach 1e2 ... 1e5, where float32 rounding alone exceeds 1e-4 absolute)."""
    import numpy as np

    return 1e-4 * max(1.0, float(np.abs(np.load(tmp_path / "ref" / "logits.npy")).max()))


@pytest.mark.parametrize("name", NAMES)
def test_logits_match_paddleclas(name, tmp_path):
    assert max_logit_diff(name, tmp_path) <= _tolerance(tmp_path)


def test_mixnet_logits_match_paddleclas(tmp_path):
    """PaddleClas's MixNet pools with a fixed 7x7 window: it needs 224 inputs."""
    assert max_logit_diff("MixNet_S", tmp_path, size=224) <= _tolerance(tmp_path)


def test_pplcnet_v2_folded_matches_paddleclas(tmp_path):
    """PaddleClas's weights converted, then folded: still PaddleClas's logits."""
    import numpy as np

    ref = paddle_reference("PPLCNetV2_small", tmp_path / "ref")
    weights = convert_pdparams(ref / "model.pdparams", "PPLCNetV2_small", tmp_path / "model.safetensors")
    model = create_model("PPLCNetV2_small", class_num=10, pretrained=weights).eval()
    model.reparameterize()
    with torch.no_grad():
        ours = model(torch.from_numpy(np.load(ref / "input.npy"))).numpy()
    assert np.abs(ours - np.load(ref / "logits.npy")).max() <= 1e-4


def test_pplcnet_stride_list_matches_paddleclas(tmp_path):
    """PULC's text-line strides ([2, 1]: height only) and no last conv, on both sides."""
    keys = {"stride_list": [2, [2, 1], [2, 1], [2, 1], [2, 1]], "use_last_conv": False}
    assert max_logit_diff("PPLCNet_x0_25", tmp_path, paddle_kwargs=keys, **keys) <= _tolerance(tmp_path)
