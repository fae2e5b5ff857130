"""EfficientNetV2-M, WideResNet, BEiTv2 and CAE rows against PaddleClas itself (float64 both sides).

``reference.py`` cannot build these: PaddleClas's backbone package exports neither
EfficientNetV2_M nor a ``class_num`` WideResNet, ``cae.py`` needs its config keys, and the BEiT
models start with zero layer scales, biases and relative-position tables, which would leave most
of the network untested. The reference below builds from the model_zoo module and gives every
constant float tensor random values (non-constant ones, such as CAE's sine-cosine position
table, keep PaddleClas's).
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from tests.paddle.harness import PADDLE_PYTHON
from torchclas.models import create_model
from torchclas.models.io.paddle_weights import convert_pdparams, read_pdparams

pytestmark = pytest.mark.paddle

TOLERANCE = 1e-4

_REFERENCE = """
import importlib, json, sys, numpy as np, paddle
module, builder, out, size, kwargs, randomize = sys.argv[1:4] + [int(sys.argv[4]), sys.argv[5], sys.argv[6] == "1"]
paddle.seed(0)
rng = np.random.default_rng(0)
model = getattr(importlib.import_module("paddleclas.ppcls.arch.backbone." + module), builder)(**json.loads(kwargs))
state = model.state_dict()
for name, t in state.items():
    if t.dtype != paddle.float32:
        continue
    if name.endswith("_mean"):
        t.set_value(rng.normal(0, 0.1, t.shape).astype("float32"))
    elif name.endswith("_variance"):
        t.set_value(rng.uniform(0.5, 1.5, t.shape).astype("float32"))
    elif name[:-len("weight")] + "_mean" in state:  # BN scale < 1 keeps deep random nets moderate
        t.set_value(rng.uniform(0.8, 1.0, t.shape).astype("float32"))
    elif randomize and float(np.ptp(t.numpy())) == 0.0:  # zeros / ones / constants from PaddleClas's init
        t.set_value(rng.normal(float(t.numpy().flat[0]), 0.2, t.shape).astype("float32"))
    elif randomize and name.endswith("weight") and len(t.shape) == 2:  # Paddle Linear: (in, out)
        t.set_value(rng.normal(0, t.shape[0] ** -0.5, t.shape).astype("float32"))
paddle.save(model.state_dict(), out + "/model.pdparams")
model.to(dtype="float64")
for layer in model.sublayers():  # Paddle casts integer buffers too
    if getattr(layer, "relative_position_index", None) is not None:
        layer.relative_position_index = layer.relative_position_index.astype("int64")
model.eval()
x = rng.normal(size=(2, 3, size, size)).astype("float32").astype("float64")
np.save(out + "/input.npy", x)
np.save(out + "/logits.npy", model(paddle.to_tensor(x)).numpy())
"""

_CAE_CONFIG = dict(enable_linear_eval=False, model_key="model|module|state_dict", pretrained=False,
                   model_ema=dict(enable_model_ema=False), use_abs_pos_emb=False, use_rel_pos_bias=True,
                   init_values=0.1, sin_pos_emb=True, use_mean_pooling=True, lin_probe=False, drop_path_rate=0.1)


def _paddle_and_ours(name: str, module: str, builder: str, tmp_path, size: int, paddle_kwargs: dict,
                     eps: float | None = None, randomize: bool = True, **model_kwargs) -> tuple[np.ndarray, np.ndarray]:
    """PaddleClas's float64 logits and ours from its converted random weights (``randomize``:
    constant tensors get random values and Linear weights std ``fan_in ** -0.5``)."""
    if not PADDLE_PYTHON.exists():
        pytest.skip(f"no Paddle venv at {PADDLE_PYTHON}")
    result = subprocess.run([str(PADDLE_PYTHON), "-c", _REFERENCE, module, builder, str(tmp_path), str(size),
                             json.dumps(paddle_kwargs), str(int(randomize))],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = convert_pdparams(tmp_path / "model.pdparams", name, tmp_path / "model.safetensors", **model_kwargs)
    model = create_model(name, class_num=10, pretrained=weights, **model_kwargs).eval().double()
    if eps is not None:  # Paddle keeps BatchNorm's epsilon a float32 even in float64
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eps = eps
    with torch.no_grad():
        ours = model(torch.from_numpy(np.load(tmp_path / "input.npy"))).numpy()
    return ours, np.load(tmp_path / "logits.npy")


def test_efficientnetv2_m_logits_match_paddleclas(tmp_path):
    """A 57-block random net (EfficientNetV2_S is tested in tests/paddle/test_paddle_extra_cnn.py):
    BN scales in [0.8, 1] keep it well conditioned (with scales of 1 its logits reach ~1e7 and the
    rounding of its float32-held parameters is amplified past any useful bound)."""
    ours, theirs = _paddle_and_ours("EfficientNetV2_M", "model_zoo.efficientnet_v2", "EfficientNetV2_M", tmp_path,
                                    64, dict(class_num=10), randomize=False, bn_eps=float(np.float32(1e-3)))
    assert np.abs(theirs[0] - theirs[1]).max() > 1e-2  # the logits depend on the input
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_wideresnet_logits_match_paddleclas(tmp_path):
    ours, theirs = _paddle_and_ours("WideResNet", "model_zoo.wideresnet", "WideResNet", tmp_path, 32,
                                    dict(depth=28, widen_factor=2, dropout=0.0, num_classes=10),
                                    eps=float(np.float32(1e-5)))
    assert np.abs(theirs[0] - theirs[1]).max() > 1e-2  # the logits depend on the input
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parametrize("name", ["BEiTv2_vit_base_patch16_224", "CAE_vit_base_patch16_224"])
def test_foundation_beit_logits_match_paddleclas(name, tmp_path):
    ours, theirs = _paddle_and_ours(name, "model_zoo.foundation_vit", name, tmp_path, 224, dict(class_num=10))
    assert np.abs(theirs[0] - theirs[1]).max() > 1e-2
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_cae_logits_and_sincos_table_match_paddleclas(tmp_path):
    ours, theirs = _paddle_and_ours("cae_base_patch16_224", "model_zoo.cae", "cae_base_patch16_224", tmp_path,
                                    224, dict(class_num=10, **_CAE_CONFIG))
    assert np.abs(theirs[0] - theirs[1]).max() > 1e-2
    assert np.abs(ours - theirs).max() <= TOLERANCE
    # the position table came from PaddleClas's file above; ours must build the same one itself
    table = create_model("cae_base_patch16_224", class_num=10).pos_embed.detach().numpy()
    assert np.abs(table - read_pdparams(tmp_path / "model.pdparams")["pos_embed"]).max() < 1e-6
