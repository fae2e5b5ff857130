"""Shared code of the ``paddle`` tests: run PaddleClas in its own venv, convert, compare logits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from torchclas.models import create_model
from torchclas.models.io.paddle_weights import convert_pdparams

ROOT = Path(__file__).resolve().parents[2]
PADDLE_PYTHON = Path(os.environ.get("TORCHCLAS_PADDLE_PYTHON", ROOT / ".venv-paddle/bin/python")).absolute()
REFERENCE = Path(__file__).with_name("reference.py")


def paddle_reference(model: str, out: Path, size: int = 64, class_num: int = 10,
                     paddle_kwargs: dict | None = None, dtype: str = "float32") -> Path:
    """Run ``reference.py`` in the Paddle venv; returns the folder with its three files."""
    if not PADDLE_PYTHON.exists():
        pytest.skip(f"no Paddle venv at {PADDLE_PYTHON}: run `make test-paddle`")
    cmd = [str(PADDLE_PYTHON), str(REFERENCE), model, str(out), "--size", str(size),
           "--class-num", str(class_num), "--kwargs", json.dumps(paddle_kwargs or {}), "--dtype", dtype]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=out.parent, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def max_logit_diff(name: str, tmp_path: Path, size: int = 64, paddle_name: str | None = None,
                   paddle_kwargs: dict | None = None, dtype: str = "float32", **model_kwargs) -> float:
    """Convert PaddleClas's random ``paddle_name`` (default ``name``) weights into our ``name``
    and return the max abs difference of the two models' eval logits on the same input.

    ``dtype="float64"`` runs both models in double precision (same float32-valued weights):
    random deep nets amplify float32 rounding (~1e-6 relative, Paddle and PyTorch alike) to
    ~1e-3 on logits of ~1e3, which would hide an architectural difference of that size.
    """
    ref = paddle_reference(paddle_name or name, tmp_path / "ref", size=size, paddle_kwargs=paddle_kwargs,
                           dtype=dtype)
    weights = convert_pdparams(ref / "model.pdparams", name, tmp_path / "model.safetensors", **model_kwargs)
    model = create_model(name, class_num=10, pretrained=weights, **model_kwargs).eval().to(getattr(torch, dtype))
    with torch.no_grad():
        ours = model(torch.from_numpy(np.load(ref / "input.npy"))).numpy()
    return float(np.abs(ours - np.load(ref / "logits.npy")).max())


if __name__ == "__main__":
    sys.exit("import this module from the paddle tests")
