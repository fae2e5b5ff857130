"""Every shipped PaddleClas-format config under ``configs/`` (laid out as PaddleClas lays its
``ppcls/configs/`` tree) loads with every key implemented, and trains one tiny epoch through the
CLI with only its data paths (and batch size) overridden: train + eval + checkpoint."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from torchclas.configure import load_config, unimplemented_keys
from torchclas.testing.paddle_configs import data_overrides

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SHIPPED = sorted(p for p in CONFIGS.rglob("*.yaml") if "quickstart" not in p.parts)


def _overrides(path: Path, data: Path) -> list[str]:
    raw = yaml.safe_load(path.read_text())
    lists = {"Train": data / "train_list.txt", "Eval": data / "val_list.txt"}
    return data_overrides(raw, data, lists, data / "val" / "0000.png", batch_size=4)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_loads_with_every_key_implemented(path, tiny_data):
    cfg = load_config(path, _overrides(path, tiny_data))
    assert unimplemented_keys(cfg) == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_trains_one_tiny_epoch(path, tiny_data, tmp_path):
    out = tmp_path / "output"
    cmd = [sys.executable, "-m", "torchclas", "train", "-c", str(path), "-o", f"Global.output_dir={out}",
           "-o", "Global.epochs=1", "-o", "Global.device=cpu"]
    for override in _overrides(path, tiny_data):
        cmd += ["-o", override]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    run = next(out.iterdir())
    assert (run / "latest.safetensors").is_file()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in records} == {"train", "eval"}
    assert all(math.isfinite(r["loss"]) for r in records if "loss" in r)
    if yaml.safe_load(path.read_text()).get("Global", {}).get("use_visualdl"):
        assert list(run.glob("events.out.tfevents.*")), "use_visualdl: no TensorBoard event file"


def test_device_gpu_runs_on_the_cpu_without_a_gpu(caplog, monkeypatch):
    """Every PaddleClas config says ``device: gpu``; without a GPU it runs on the CPU, warned."""
    from torchclas.engine.runtime import select_device

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with caplog.at_level("WARNING"):
        assert select_device("gpu").type == "cpu"
    assert "no CUDA GPU is available: running on the CPU" in caplog.text
    with pytest.raises(RuntimeError, match="'cuda' but no CUDA GPU"):
        select_device("cuda")
