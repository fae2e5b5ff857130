"""HRNet rows against PaddleClas itself: convert its random weights, compare eval logits in
float64 (as test_paddle_cnn.py).

Random-weight HRNets blow up: their 64 px logits reach ~1e9 (every fuse sums up to four
unnormalised branches, 8 times over), so the tolerance is relative to the largest logit:
float64 rounding leaves ~1e-11, a wrong layer or order gives ~1.

PaddleClas's ``HRNet_W60_C`` and ``SE_HRNet_W64_C`` builders raise ``KeyError`` (their
``MODEL_URLS`` entries are missing), so those rows are checked against its ``HRNet`` class,
exposed to ``reference.py`` under the name ``HRNetClass``; SE runs at width 18 to stay small.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.paddle import harness
from tests.paddle.harness import max_logit_diff

pytestmark = pytest.mark.paddle

RELATIVE_TOLERANCE = 1e-9


def _relative_diff(diff: float, tmp_path: Path) -> float:
    """``diff`` over the largest PaddleClas logit (at least 1), read from the reference run."""
    return diff / max(1.0, float(np.abs(np.load(tmp_path / "ref" / "logits.npy")).max()))


_EXPOSE_HRNET_CLASS = """
import runpy, sys
from paddleclas.ppcls.arch import backbone
from paddleclas.ppcls.arch.backbone.legendary_models import hrnet
backbone.HRNetClass = lambda **kw: hrnet.HRNet(stages_pattern=hrnet.MODEL_STAGES_PATTERN["HRNet"], **kw)
sys.argv = sys.argv[1:]  # reference.py and its arguments
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _reference_with_hrnet_class(model: str, out: Path, size: int = 64, class_num: int = 10,
                                paddle_kwargs: dict | None = None, dtype: str = "float32") -> Path:
    """``harness.paddle_reference``, with PaddleClas's ``HRNet`` class reachable as ``HRNetClass``."""
    if not harness.PADDLE_PYTHON.exists():
        pytest.skip(f"no Paddle venv at {harness.PADDLE_PYTHON}: run `make test-paddle`")
    cmd = [str(harness.PADDLE_PYTHON), "-c", _EXPOSE_HRNET_CLASS, str(harness.REFERENCE), model, str(out),
           "--size", str(size), "--class-num", str(class_num), "--kwargs", json.dumps(paddle_kwargs or {}),
           "--dtype", dtype]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=out.parent, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", ["HRNet_W18_C", "HRNet_W48_C"])
def test_logits_match_paddleclas(name, tmp_path):
    diff = max_logit_diff(name, tmp_path, size=64, dtype="float64")
    assert _relative_diff(diff, tmp_path) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize("name, paddle_kwargs, our_kwargs", [
    ("SE_HRNet_W64_C", {"width": 18, "has_se": True}, {"width": 18}),
    ("HRNet_W60_C", {"width": 60}, {}),
])
def test_rows_without_paddleclas_builder_match_its_hrnet_class(name, paddle_kwargs, our_kwargs, tmp_path,
                                                               monkeypatch):
    monkeypatch.setattr(harness, "paddle_reference", _reference_with_hrnet_class)
    diff = max_logit_diff(name, tmp_path, size=64, paddle_name="HRNetClass", paddle_kwargs=paddle_kwargs,
                          dtype="float64", **our_kwargs)
    assert _relative_diff(diff, tmp_path) <= RELATIVE_TOLERANCE
