"""On a CUDA GPU, end to end: the CLI trains, evaluates and resumes there, GPU eval agrees with
CPU eval on the same weights, and a one-process torchrun (NCCL) trains. Skipped without CUDA."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def run_cli(*args: str, launcher: tuple[str, ...] = ("-m", "torchclas")) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *launcher, *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def eval_top1(config: Path, weights: Path, device: str) -> float:
    done = run_cli("eval", "-c", str(config), "-o", f"Global.pretrained_model={weights}",
                   "-o", f"Global.device={device}", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["top1"]


def test_train_on_gpu_picks_bf16_and_gpu_eval_equals_cpu_eval(tiny_config, tmp_path):
    out = tmp_path / "output" / "PPLCNet_x0_25"
    done = run_cli("train", "-c", str(tiny_config), "-o", "Global.device=gpu", "-o", "Global.epochs=2",
                   "-o", "Global.precision=auto")
    assert done.returncode == 0, done.stderr[-2000:]
    log = (out / "train.log").read_text()
    expected = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    assert f"precision {expected}" in log, log[:2000]
    records = read_metrics(out / "metrics.jsonl")
    assert [(r["epoch"], r["split"]) for r in records] == [(1, "train"), (1, "eval"), (2, "train"), (2, "eval")]
    assert all(r["loss"] == r["loss"] for r in records)  # no NaN
    best = out / "best_model"
    gpu, cpu = eval_top1(tiny_config, best, "gpu"), eval_top1(tiny_config, best, "cpu")
    assert abs(gpu - cpu) <= 1 / 24 + 1e-9  # at most one of the 24 images flips between kernels


def test_resume_on_gpu_continues_the_run(tiny_config, tmp_path):
    out = tmp_path / "output" / "PPLCNet_x0_25"
    gpu = ("-o", "Global.device=gpu", "-o", "Global.epochs=3", "-o", "Global.deterministic=true")
    straight = run_cli("train", "-c", str(tiny_config), *gpu)
    assert straight.returncode == 0, straight.stderr[-2000:]
    uninterrupted = read_metrics(out / "metrics.jsonl")
    resumed = run_cli("train", "-c", str(tiny_config), *gpu, "-o", f"Global.checkpoints={out / 'epoch_1'}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "continuing at epoch 2" in resumed.stderr
    again = read_metrics(out / "metrics.jsonl")
    assert [(r["epoch"], r["split"]) for r in again] == [(r["epoch"], r["split"]) for r in uninterrupted]
    for a, b in zip(uninterrupted, again):  # deterministic kernels: the resumed run repeats the straight one
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-6, abs=1e-7)
        assert b["top1"] == a["top1"]


def test_torchrun_nccl_trains_with_decode_on_device(tiny_config, tmp_path):
    out = tmp_path / "output" / "PPLCNet_x0_25"
    done = run_cli("--standalone", "--nproc_per_node=1", "-m", "torchclas", "train", "-c", str(tiny_config),
                   "-o", "Global.device=gpu", "-o", "Global.epochs=1",
                   "-o", "DataLoader.Train.loader.decode_on_device=True",
                   launcher=("-m", "torch.distributed.run"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "device cuda" in (out / "train.log").read_text()
    assert read_metrics(out / "metrics.jsonl")[0]["num_images"] == 48


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-2), ("bf16", 6e-2), ("fp16", 2e-2)])
def test_torch_backend_on_the_gpu_matches_the_cpu(tiny_data, tmp_path, precision, tolerance):
    from torchclas.configure import config_from_dict
    from torchclas.engine.checkpoint import save_weights
    from torchclas.export import export_model
    from torchclas.inference import Predictor
    from torchclas.models import create_model
    from torchclas.testing.tiny import tiny_config_dict

    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    raw["Global"]["pretrained_model"] = str(tmp_path / "best")
    cfg = config_from_dict(raw)
    torch.manual_seed(0)
    save_weights(create_model(cfg.Arch.name, 3).eval(), tmp_path / "best.safetensors")
    export_model(cfg, tmp_path / "model.pt2", format="torch-export")
    batch = torch.randn(8, 3, 32, 32).numpy()
    cpu = Predictor(tmp_path / "best", backend="torch", config=cfg).predict_logits(batch)
    scale = abs(cpu).max()
    for model in (tmp_path / "best", tmp_path / "model.pt2"):
        gpu = Predictor(model, backend="torch", config=cfg, device="cuda", precision=precision).predict_logits(batch)
        assert gpu.dtype == cpu.dtype and gpu.shape == cpu.shape
        assert abs(gpu - cpu).max() <= tolerance * scale, (model.name, abs(gpu - cpu).max(), scale)
