"""HarDNet, FasterNet, EfficientNetV2, TinyNet and MobileNeXt rows against PaddleClas itself: convert its random
weights, compare eval logits (float64 on both sides, as in test_paddle_resnet.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.paddle.harness import max_logit_diff

pytestmark = pytest.mark.paddle

TOLERANCE = 1e-4


@pytest.mark.parametrize("name", ["HarDNet68", "HarDNet39_ds", "HarDNet68_ds", "HarDNet85", "FasterNet_T0",
                                  "FasterNet_T2", "TinyNet_A", "TinyNet_E",
                                  "MobileNeXt_x1_0", "MobileNeXt_x0_35"])
def test_logits_match_paddleclas(name, tmp_path):
    assert max_logit_diff(name, tmp_path, size=64, dtype="float64") <= TOLERANCE


def test_efficientnetv2_s_logits_match_paddleclas(tmp_path):
    """Paddle keeps BatchNorm's epsilon as a float32 (1e-3 -> 1.00000005e-3) even in float64, and
    this 40-block random net amplifies that 5e-11 difference to ~2% of its ~2e4 logits; with the
    same float32 epsilon the difference is float64 rounding, amplified to ~1e-7 of the logit scale."""
    diff = max_logit_diff("EfficientNetV2_S", tmp_path, size=64, dtype="float64",
                          bn_eps=float(np.float32(1e-3)))
    assert diff <= TOLERANCE * np.abs(np.load(tmp_path / "ref" / "logits.npy")).max()


# MicroNet needs its own reference run. With reference.py's random BatchNorm statistics its
# random body contracts the input's influence ~10x per block (both samples' logits agree to 1e-8),
# so early layers would go untested: here the statistics are set from a calibration batch (BN
# momentum 0 for one train-mode pass) and the Linears get std fan_in ** -0.5 (PaddleClas: 0.01).
# Paddle's ``to(float64)`` also casts the shift-max channel indices, which are cast back.
_MICRONET_REFERENCE = """
import sys, numpy as np, paddle
from paddleclas.ppcls.arch import backbone
name, out = sys.argv[1], sys.argv[2]
paddle.seed(0)
rng = np.random.default_rng(0)
model = getattr(backbone, name)(class_num=10)
for key, t in model.state_dict().items():
    if key.endswith("weight") and len(t.shape) == 2:
        t.set_value(rng.normal(0, t.shape[0] ** -0.5, t.shape).astype("float32"))
model.to(dtype="float64")
for layer in model.sublayers():
    if hasattr(layer, "index"):
        layer.index = layer.index.astype("int64")
    if isinstance(layer, (paddle.nn.BatchNorm1D, paddle.nn.BatchNorm2D)):
        layer._momentum = 0.0
model.train()
model(paddle.to_tensor(rng.normal(size=(4, 3, 64, 64))))
for t in model.state_dict().values():  # float32 values, so the float32 conversion stays exact
    t.set_value(t.numpy().astype("float32").astype("float64"))
model.eval()
x = rng.normal(size=(2, 3, 64, 64)).astype("float32").astype("float64")
paddle.save(model.state_dict(), out + "/model.pdparams")
np.save(out + "/input.npy", x)
np.save(out + "/logits.npy", model(paddle.to_tensor(x)).numpy())
"""


@pytest.mark.parametrize("name", ["MicroNet_M0", "MicroNet_M3"])
def test_micronet_logits_match_paddleclas(name, tmp_path):
    import subprocess

    import torch

    from tests.paddle.harness import PADDLE_PYTHON
    from torchclas.models import create_model
    from torchclas.models.io.paddle_weights import convert_pdparams

    if not PADDLE_PYTHON.exists():
        pytest.skip(f"no Paddle venv at {PADDLE_PYTHON}")
    result = subprocess.run([str(PADDLE_PYTHON), "-c", _MICRONET_REFERENCE, name, str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = convert_pdparams(tmp_path / "model.pdparams", name, tmp_path / "model.safetensors")
    model = create_model(name, class_num=10, pretrained=weights).eval().double()
    for module in model.modules():  # Paddle's float32 epsilon (see the EfficientNetV2 test)
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.eps = float(np.float32(1e-5))
    with torch.no_grad():
        ours = model(torch.from_numpy(np.load(tmp_path / "input.npy"))).numpy()
    theirs = np.load(tmp_path / "logits.npy")
    assert np.abs(theirs[0] - theirs[1]).max() > 0.1  # the logits depend on the input
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_tinynet_override_params_match_paddleclas(tmp_path):
    """The TinyNet configs' override_params (round depths, BN eps 1e-5): Paddle keeps the epsilon
    as a float32, so ours gets the same float32 value (see the EfficientNetV2 test)."""
    override = {"batch_norm_momentum": 0.9, "depth_trunc": "round", "drop_connect_rate": 0.1}
    diff = max_logit_diff("TinyNet_A", tmp_path, size=64, dtype="float64",
                          paddle_kwargs={"override_params": {**override, "batch_norm_epsilon": 1e-5}},
                          override_params={**override, "batch_norm_epsilon": float(np.float32(1e-5))})
    assert diff <= TOLERANCE * max(1.0, np.abs(np.load(tmp_path / "ref" / "logits.npy")).max())
