"""PaddleClas .pdparams: the safe reader, the order-based converter, loading and `torchclas convert`.

These tests write .pdparams files the way ``paddle.save`` does (a pickle of
``{name: (name, ndarray)}`` plus a structure-name table); tests/paddle/ checks against
PaddleClas itself.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from torchclas.models import create_model
from torchclas.models.io.paddle_weights import (PaddleStateError, convert_paddle_state, read_pdparams,
                                             STRUCTURE_KEY)

_PADDLE_SUFFIX = {"running_mean": "_mean", "running_var": "_variance"}


def paddle_layout(model: nn.Module) -> dict[str, np.ndarray]:
    """``model``'s state in PaddleClas's layout: BN stats renamed, Linear weights [in, out]."""
    linear = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    out = {}
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        prefix, suffix = key.rsplit(".", 1)
        array = value.detach().numpy().copy()
        out[f"p.{prefix}.{_PADDLE_SUFFIX.get(suffix, suffix)}"] = array.T.copy() if key in linear else array
    return out


def save_like_paddle(state: dict[str, np.ndarray], path: Path) -> Path:
    payload = {k: (f"param_{i}", v) for i, (k, v) in enumerate(state.items())}
    payload[STRUCTURE_KEY] = {k: f"param_{i}" for i, k in enumerate(state)}
    path.write_bytes(pickle.dumps(payload, protocol=4))
    return path


def _randomise_bn(model: nn.Module) -> nn.Module:
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_reader_returns_arrays_in_file_order(tmp_path):
    state = {"conv.weight": np.ones((2, 1, 3, 3), "float32"), "bn._mean": np.zeros(2, "float32")}
    arrays = read_pdparams(save_like_paddle(state, tmp_path / "m.pdparams"))
    assert list(arrays) == ["conv.weight", "bn._mean"]
    assert arrays["conv.weight"].shape == (2, 1, 3, 3) and arrays["conv.weight"].dtype == np.float32


def test_reader_refuses_code_and_garbage(tmp_path):
    evil = tmp_path / "evil.pdparams"
    evil.write_bytes(pickle.dumps({"w": _Evil()}))
    with pytest.raises(PaddleStateError, match=r"evil.pdparams: refused to unpickle '(posix|os)\.system'"):
        read_pdparams(evil)
    junk = tmp_path / "junk.pdparams"
    junk.write_bytes(b"\x00not a pickle")
    with pytest.raises(PaddleStateError, match="junk.pdparams: not a readable .pdparams"):
        read_pdparams(junk)
    listed = tmp_path / "list.pdparams"
    listed.write_bytes(pickle.dumps([np.zeros(2)]))
    with pytest.raises(PaddleStateError, match="expected a dict of arrays, got list"):
        read_pdparams(listed)
    with pytest.raises(PaddleStateError, match="no such file"):
        read_pdparams(tmp_path / "missing.pdparams")


def _small_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 3))


def test_converter_round_trips_layouts_and_scales_the_classifier():
    torch.manual_seed(0)
    source, target = _randomise_bn(_small_net()), _small_net()
    state = convert_paddle_state(target, paddle_layout(source), classifier_scale={"5.weight": 0.8})
    target.load_state_dict(state)
    assert torch.equal(target[1].running_var, source[1].running_var)
    assert torch.allclose(target[5].weight, source[5].weight * 0.8)
    assert torch.equal(target[5].bias, source[5].bias)


def test_pplcnet_without_last_conv_has_no_head_conv_and_no_classifier_scale():
    from torchclas.models import MODEL_TABLE

    full, pulc = create_model("PPLCNet_x0_25", 4), create_model("PPLCNet_x0_25", 4, use_last_conv=False)
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    # PaddleClas's last_conv (128 -> 1280, no bias) and a 1280-wide fc, against a 128-wide fc
    assert count(full) - count(pulc) == 128 * 1280 + (1280 - 128) * 4
    assert pulc.classifier.in_features == 128 and pulc.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 4)
    entry = MODEL_TABLE["PPLCNet_x0_25"]
    assert "classifier_scale" in entry.paddle_options(full)  # PaddleClas's 0.2 downscale_in_infer dropout
    assert "classifier_scale" not in entry.paddle_options(pulc)  # PaddleClas has none without last_conv


def test_converter_names_the_pair_that_does_not_fit():
    bigger = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                           nn.Flatten(), nn.Linear(8, 3))
    with pytest.raises(PaddleStateError, match=r"cannot pair Paddle 'p.0.weight' \(4, 3, 3, 3\) with '0.weight' "
                                               r"\(8, 3, 3, 3\)"):
        convert_paddle_state(bigger, paddle_layout(_small_net()))
    with pytest.raises(PaddleStateError, match="has 8 tensors, the .pdparams 7"):
        convert_paddle_state(_small_net(), dict(list(paddle_layout(_small_net()).items())[:-1]))


def test_create_model_loads_pdparams_directly(tmp_path):
    torch.manual_seed(0)
    source = _randomise_bn(create_model("ResNet18", class_num=10)).eval()
    path = save_like_paddle(paddle_layout(source), tmp_path / "ResNet18_pretrained.pdparams")
    # a different class_num: the classifier is skipped, the backbone loads
    model = create_model("ResNet18", class_num=4, pretrained=tmp_path / "ResNet18_pretrained").eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.forward_features(x), source.forward_features(x), atol=1e-6)
    same = create_model("ResNet18", class_num=10, pretrained=path).eval()
    with torch.no_grad():
        assert torch.allclose(same(x), source(x), atol=1e-5)


def test_convert_cli_writes_safetensors(tmp_path):
    source = create_model("ResNet18", class_num=6)
    path = save_like_paddle(paddle_layout(source), tmp_path / "r18.pdparams")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torchclas", "convert", str(path), "--model", "ResNet18"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "r18.safetensors"
    assert f"-> {out}" in done.stdout
    model = create_model("ResNet18", class_num=6, pretrained=out)
    assert torch.equal(model.fc.weight, source.fc.weight)
    bad = subprocess.run(cmd[:-1] + ["ResNet18_vdd"], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1 and "unknown model 'ResNet18_vdd'" in bad.stderr and "ResNet18_vd" in bad.stderr
