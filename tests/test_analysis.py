"""Model analysis: params/FLOPs counting, the stats file, `torchclas models / benchmark / plot-zoo`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from torch import nn

from torchclas.models import MODEL_TABLE, ModelEntry, list_models
from torchclas.zoo.analysis import (count_flops, count_params, deploy_form, load_stats, measure, model_info,
                                    write_stats)
from torchclas.zoo.benchmark import BenchmarkRow, read_csv, time_passes, write_csv
from torchclas.zoo.plot import PLOTS, accuracy_table, plot_zoo


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torchclas", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def needs(*names: str):
    """Skip when another part of the table has not landed yet."""
    missing = [n for n in names if n not in MODEL_TABLE]
    return pytest.mark.skipif(bool(missing), reason=f"not in the model table: {missing}")


# --- counting --------------------------------------------------------------------------------

def test_resnet18_params_and_macs_match_the_published_numbers():
    model = timm.create_model("resnet18", num_classes=1000)
    assert count_params(model) == 11_689_512
    assert count_flops(model, (3, 224, 224)) == 1_814_073_344  # timm/torchvision: 1.82 GMACs


def test_flops_are_multiply_accumulates_of_convs_and_linears():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert count_flops(conv, (3, 4, 4)) == 8 * 16 * 27
    assert count_flops(nn.Sequential(nn.Flatten(), nn.Linear(12, 5)), (3, 2, 2), batch=2) == 2 * 12 * 5


def test_attention_is_counted_on_cpu_as_on_meta():
    # torch's counter has no formula for the fused CPU attention kernel; count_flops routes around it.
    with torch.device("meta"):
        on_meta = timm.create_model("vit_tiny_patch16_224", num_classes=10)
    on_cpu = timm.create_model("vit_tiny_patch16_224", num_classes=10)
    flops = count_flops(on_cpu, (3, 224, 224))
    assert flops == count_flops(on_meta, (3, 224, 224))
    assert flops > 1.07e9  # 1.08 GMACs (timm's table); without attention it would be 1.01


@pytest.mark.parametrize("name", ["PPLCNet_x0_25", "ResNet18_vd", "RepVGG_A0"])
def test_meta_device_count_equals_the_real_count(name):
    if name not in MODEL_TABLE:
        pytest.skip(f"{name} not in the model table")
    assert measure(name, device="meta") == measure(name, device="cpu")


@needs("RepVGG_A0")
def test_deploy_form_folds_repvgg_to_paddleclas_deploy_size():
    stats = measure("RepVGG_A0")
    assert stats.params == 9_108_968
    assert stats.deploy_params == 8_309_384  # PaddleClas's RepVGG table: 8.31 M (deploy form)
    model = deploy_form(MODEL_TABLE["RepVGG_A0"].build(num_classes=1000))
    assert count_params(model) == stats.deploy_params


def test_deploy_form_leaves_plain_models_alone():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    assert deploy_form(model) is model and count_params(model) == 112


# --- the stats file --------------------------------------------------------------------------

def test_stats_file_has_every_row_at_its_input_size():
    # Fails when rows were added or resized without: python -m torchclas.zoo.analysis --write-stats
    stats = load_stats()
    missing = sorted(set(MODEL_TABLE) - set(stats))
    assert not missing, f"{len(missing)} rows lack stats, e.g. {missing[:10]}"
    resized = [n for n, row in MODEL_TABLE.items() if tuple(stats[n].input_size) != tuple(row.input_size)]
    assert not resized
    assert not set(stats) - set(MODEL_TABLE)


@pytest.mark.parametrize("name", ["PPLCNet_x1_0", "ResNet50_vd", "MobileNetV3_large_x1_0"])
def test_stored_stats_equal_a_fresh_count(name):
    if name not in load_stats():
        pytest.skip(f"{name} not in zoo_stats.json")
    assert load_stats()[name] == measure(name)


def test_write_stats_counts_matching_rows_and_reports_failures(tmp_path, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("no such layer")
    name = "PPLCNet_x0_25_broken"
    monkeypatch.setitem(MODEL_TABLE, name, ModelEntry(name, "PP-LCNet", broken, "ours"))
    path = tmp_path / "stats.json"
    counted, failures = write_stats("pplcnet_x0_25*", path)  # case-insensitive
    assert set(counted) == {"PPLCNet_x0_25"}
    assert failures == {name: "RuntimeError: no such layer"}
    stored = json.loads(path.read_text())
    assert stored == {"PPLCNet_x0_25": {"params": 1_521_184, "flops": counted["PPLCNet_x0_25"].flops,
                                        "input_size": [3, 224, 224]}}
    with pytest.raises(ValueError, match="no model matches"):
        write_stats("NoSuchNet*", path)


def test_model_info_fields_and_unknown_name():
    info = model_info("PPLCNet_x0_25")
    assert info["name"] == "PPLCNet_x0_25" and info["family"] == "PP-LCNet"
    assert info["params"] == 1_521_184 and 16e6 < info["flops"] < 18e6  # PaddleClas: 1.5 M, 18 M
    assert info["input_size"] == [3, 224, 224]
    with pytest.raises(ValueError, match="PPLCNet_x0_25"):
        model_info("PPLCNet_x0_255")


# --- benchmark and plots (library) -----------------------------------------------------------

def test_time_passes_stops_at_repeats_or_budget():
    calls = []
    assert len(time_passes(lambda: calls.append(1), warmup=2, repeats=4)) == 4 and len(calls) == 6
    slow = time_passes(lambda: torch.ones(1).add_(1) and __import__("time").sleep(0.02), warmup=0,
                       repeats=100, max_seconds=0.05)
    assert 3 <= len(slow) < 10


def _results_csv(path: Path, extra: dict | None = None) -> Path:
    rows = []
    for name, latency, params, flops in (("PPLCNet_x0_25", 1.0, 1.5e6, 18e6), ("PPLCNet_x1_0", 2.0, 3e6, 161e6),
                                         ("ResNet50_vd", 9.0, 25.6e6, 4.3e9), ("ResNet18_vd", 4.0, 11.7e6, 2e9)):
        if name in MODEL_TABLE:
            rows.append(BenchmarkRow(name, MODEL_TABLE[name].family, "torch", "cpu", 1, 224, 1, int(params),
                                     int(flops), latency, latency, 1000 / latency, 1.0, 5))
    write_csv(rows, path)
    if extra:  # a user's own top1 column
        records = list(csv.DictReader(path.open()))
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*records[0], "top1"])
            writer.writeheader()
            writer.writerows({**r, "top1": extra.get(r["model"], "")} for r in records)
    return path


def test_accuracy_sources_in_order(tmp_path):
    results = _results_csv(tmp_path / "r.csv", extra={"PPLCNet_x1_0": "0.70"})
    accuracy = tmp_path / "acc.csv"
    accuracy.write_text("model,top1\nPPLCNet_x0_25,49.5\n")
    found = accuracy_table(read_csv(results), accuracy)
    assert found["PPLCNet_x0_25"] == 49.5  # --accuracy file
    assert found["PPLCNet_x1_0"] == pytest.approx(70.0)  # the CSV's column, a fraction read as %
    if MODEL_TABLE["ResNet50_vd"].top1 is not None:
        assert found["ResNet50_vd"] == MODEL_TABLE["ResNet50_vd"].top1  # published
    accuracy.write_text("model,acc\nPPLCNet_x0_25,49.5\n")
    with pytest.raises(ValueError, match="no 'top1' column"):
        accuracy_table(read_csv(results), accuracy)


def test_plot_zoo_refuses_results_without_measurements(tmp_path):
    path = tmp_path / "r.csv"
    write_csv([BenchmarkRow("PPLCNet_x0_25", "PP-LCNet", "torch", "cpu", 1, 32, 1, 1, 1, error="boom")], path)
    with pytest.raises(ValueError, match="no successful measurement"):
        plot_zoo(path, tmp_path)


# --- the CLI ---------------------------------------------------------------------------------

def test_cli_models_json():
    done = run_cli("models", "PPLCNet*", "--json")
    assert done.returncode == 0, done.stderr
    infos = [json.loads(line) for line in done.stdout.splitlines()]
    assert [i["name"] for i in infos] == list_models("PPLCNet*")
    for info in infos:
        assert {"name", "family", "params", "flops", "input_size", "backend", "top1", "note"} <= set(info)
        assert info["params"] > 1e6 and info["flops"] > 1e7
    assert run_cli("models", "NoSuchNet*").returncode == 1


def test_cli_benchmark_writes_both_backends(tmp_path):
    out = tmp_path / "x.csv"
    done = run_cli("benchmark", "PPLCNet_x0_25", "--batch", "1", "2", "--size", "32", "--repeats", "2",
                   "--warmup", "1", "--threads", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = read_csv(out)
    assert [(r["backend"], r["batch"]) for r in rows] == [("torch", 1), ("torch", 2), ("onnxruntime", 1),
                                                           ("onnxruntime", 2)]
    for row in rows:
        assert row["error"] is None and row["latency_ms"] > 0 and row["repeats"] == 2
        assert row["params"] == 1_521_184 and row["size"] == 32
        assert row["throughput"] == pytest.approx(1000 * row["batch"] / row["latency_ms"], rel=1e-3)
    assert "unknown model 'PPLCNet_x0_255'" in run_cli("benchmark", "PPLCNet_x0_255").stderr


def test_cli_plot_zoo_writes_three_pngs(tmp_path):
    results = _results_csv(tmp_path / "r.csv")
    accuracy = tmp_path / "acc.csv"
    accuracy.write_text("model,top1\n" + "".join(f"{r['model']},{60 + i}\n" for i, r in enumerate(read_csv(results))))
    done = run_cli("plot-zoo", str(results), "--out", str(tmp_path / "plots"), "--accuracy", str(accuracy))
    assert done.returncode == 0, done.stderr
    for stem in PLOTS:
        png = tmp_path / "plots" / f"{stem}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
