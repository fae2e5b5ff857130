"""Shared fixtures: the tiny, learnable data set of ``torchclas.testing.tiny`` and a config for it."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # tests run side by side on 2 cores

import pytest
import torch
import yaml

from torchclas.testing.tiny import CLASSES, MEAN_STD, make_image, tiny_config_dict, write_dataset  # noqa: F401

torch.set_num_threads(1)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# A PaddleClas-style eval pipeline at 32x32 for the export/predictor tests.
EVAL_OPS = [
    {"DecodeImage": {"to_rgb": True, "channel_first": False}},
    {"ResizeImage": {"resize_short": 36}},
    {"CropImage": {"size": 32}},
    {"NormalizeImage": {"scale": 1.0 / 255.0, "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "order": ""}},
    {"ToCHWImage": None},
]


def seeded_checkpoint_config(root: Path, class_num: int, seed: int, **sections):
    """Random ``PPLCNet_x0_25`` weights (``torch.manual_seed(seed)``) saved as ``root/best.safetensors``,
    and the config that exports them with ``EVAL_OPS``; ``sections`` (``Infer=...``) are added."""
    from torchclas.configure import config_from_dict
    from torchclas.engine.checkpoint import save_weights
    from torchclas.models import create_model

    torch.manual_seed(seed)
    save_weights(create_model("PPLCNet_x0_25", class_num), root / "best.safetensors")
    return config_from_dict({"Global": {"pretrained_model": str(root / "best")},
                             "Arch": {"name": "PPLCNet_x0_25", "class_num": class_num},
                             "DataLoader": {"Eval": {"dataset": {"transform_ops": EVAL_OPS}}}, **sections})


# --doctest-modules (pyproject) imports every module under testpaths; this one imports PaddleClas,
# which only `make test-paddle`'s venv has (its tests import it themselves).
collect_ignore = ["paddle/reference.py"]


@pytest.fixture(autouse=True)
def _capture_logs_from_level_zero(caplog):
    """pytest shares its log-capture handler between tests, and the first onnxruntime-quantiser
    export of a session leaves it at ERROR (seen in test_precision.py), which hid the warnings
    later tests assert on; every test starts it at 0 again."""
    caplog.handler.setLevel(0)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A read-only tiny data set shared by the session (tests that corrupt data make their own)."""
    return write_dataset(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture
def tiny_config(tmp_path, tiny_data) -> Path:
    """A YAML config for the tiny data set, writing outputs under ``tmp_path/output``."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict(tiny_data, tmp_path / "output")))
    return path


def paddle_state_size(name: str, **kwargs) -> tuple[int, int]:
    """Elements and tensors of row ``name``'s state dict at class_num=1000, counted as PaddleClas
    counts its own (BN statistics included, no ``num_batches_tracked``); built on the meta device."""
    from torchclas.models import MODEL_TABLE

    with torch.device("meta"):
        model = MODEL_TABLE[name].build(num_classes=1000, **kwargs)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    return sum(v.numel() for v in state.values()), len(state)
