"""End-to-end: the CLI as a new user runs it, on the tiny data set, in a temp folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import tiny_config_dict, write_dataset

pytestmark = pytest.mark.slow


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torchclas", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_train_eval_export_infer(tiny_config, tiny_data, tmp_path):
    out = tmp_path / "output" / "PPLCNet_x0_25"
    done = run_cli("train", "-c", str(tiny_config), "-o", "Global.epochs=1")
    assert done.returncode == 0, done.stderr
    for name in ("best_model.safetensors", "latest.safetensors", "latest.state.pt", "config.yaml",
                 "metrics.jsonl", "train.log"):
        assert (out / name).is_file(), name
    records = read_metrics(out / "metrics.jsonl")
    assert [(r["epoch"], r["split"]) for r in records] == [(1, "train"), (1, "eval")]
    assert {"loss", "top1", "top5"} <= set(records[1]) or {"loss", "top1", "top2"} <= set(records[1])
    assert yaml.safe_load((out / "config.yaml").read_text())["Global"]["epochs"] == 1

    best = str(out / "best_model")  # without extension, as PaddleClas users write it
    evaluated = run_cli("eval", "-c", str(tiny_config), "-o", f"Global.pretrained_model={best}", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert metrics["num_images"] == 24
    assert metrics["top1"] == pytest.approx(records[1]["top1"])

    onnx_path = tmp_path / "model.onnx"
    exported = run_cli("export", "-c", str(tiny_config), "-o", f"Global.pretrained_model={best}",
                       "--out", str(onnx_path))
    assert exported.returncode == 0, exported.stderr
    assert onnx_path.is_file()

    inferred = run_cli("infer", str(onnx_path), str(tiny_data / "val"), "--json")
    assert inferred.returncode == 0, inferred.stderr
    results = [json.loads(line) for line in inferred.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 24
    assert set(results[0]) >= {"filename", "class_ids", "scores", "label_names"}
    assert len(results[0]["class_ids"]) == 2  # Infer.PostProcess.topk travels in the ONNX metadata
    # infer's top-1 on the eval list equals eval's top-1
    labels = {Path(line.split()[0]).name: int(line.split()[1])
              for line in (tiny_data / "val_list.txt").read_text().splitlines()}
    correct = sum(r["class_ids"][0] == labels[Path(r["filename"]).name] for r in results)
    assert correct / len(results) == pytest.approx(metrics["top1"])

    torch_backend = run_cli("infer", best, str(tiny_data / "val" / "0000.png"), "-c", str(tiny_config),
                            "--backend", "torch", "--json")
    assert torch_backend.returncode == 0, torch_backend.stderr
    first = json.loads(torch_backend.stdout.strip().splitlines()[-1])
    onnx_first = next(r for r in results if r["filename"].endswith("0000.png"))
    assert first["class_ids"] == onnx_first["class_ids"]
    assert first["scores"] == pytest.approx(onnx_first["scores"], abs=1e-4)


def test_resume_matches_uninterrupted_run(tiny_config, tmp_path):
    out = tmp_path / "output" / "PPLCNet_x0_25"
    straight = run_cli("train", "-c", str(tiny_config), "-o", "Global.epochs=3")
    assert straight.returncode == 0, straight.stderr
    uninterrupted = read_metrics(out / "metrics.jsonl")
    assert (out / "epoch_1.safetensors").is_file() and (out / "epoch_1.state.pt").is_file()
    # Resume as if the run had died after epoch 1 (path given without extension).
    resumed = run_cli("train", "-c", str(tiny_config), "-o", "Global.epochs=3",
                      "-o", f"Global.checkpoints={out / 'epoch_1'}")
    assert resumed.returncode == 0, resumed.stderr
    assert "continuing at epoch 2" in resumed.stderr
    again = read_metrics(out / "metrics.jsonl")
    assert [(r["epoch"], r["split"]) for r in again] == [(r["epoch"], r["split"]) for r in uninterrupted]
    for a, b in zip(uninterrupted, again):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-6, abs=1e-7)
        assert b["top1"] == a["top1"]


def test_config_typo_fails_before_training(tiny_config, tmp_path):
    done = run_cli("train", "-c", str(tiny_config), "-o", "DataLoader.Train.sampler.batch_sise=4")
    assert done.returncode == 1
    assert "DataLoader.Train.sampler.batch_sise" in done.stderr and "batch_size" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "output").exists()  # nothing started


def test_wrong_type_names_key_value_and_type(tiny_config):
    done = run_cli("train", "-c", str(tiny_config), "-o", "Global.epochs=many")
    assert done.returncode == 1
    assert "Global.epochs" in done.stderr and "'many'" in done.stderr and "integer" in done.stderr


def test_corrupt_image_is_skipped_and_counted(tmp_path):
    data = write_dataset(tmp_path / "data", n_train=12, n_val=6)
    (data / "train" / "0003.png").write_bytes(b"this is not a png")
    (data / "train" / "0005.png").unlink()
    cfg = tiny_config_dict(data, tmp_path / "output", epochs=1)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = run_cli("train", "-c", str(path))
    assert done.returncode == 0, done.stderr
    assert "0003.png" in done.stderr and "0005.png" in done.stderr
    assert "1 of 12 listed images not found, left out" in done.stderr  # found up front, not per epoch
    train_record = read_metrics(tmp_path / "output" / "PPLCNet_x0_25" / "metrics.jsonl")[0]
    assert train_record["bad_images"] == 1 and train_record["num_images"] == 10

    cfg["Global"]["strict_data"] = True
    path.write_text(yaml.safe_dump(cfg))
    strict = run_cli("train", "-c", str(path))
    assert strict.returncode == 1
    assert "0005.png': file not found (listed at" in strict.stderr
