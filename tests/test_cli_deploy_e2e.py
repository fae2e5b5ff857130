"""End-to-end deployment CLI: export in every format and precision, infer one model and an ensemble."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from torchclas.configure import config_from_dict
from torchclas.engine.checkpoint import save_weights

from conftest import tiny_config_dict
from test_cli_e2e import run_cli
from test_inference_backends import calibrated_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_data):
    root = tmp_path_factory.mktemp("deploy")
    raw = tiny_config_dict(tiny_data, root / "out")
    save_weights(calibrated_model(config_from_dict(raw)), root / "best.safetensors")
    (root / "cfg.yaml").write_text(yaml.safe_dump(raw))
    return root, tiny_data


def export(root, out, *extra):
    done = run_cli("export", "-c", str(root / "cfg.yaml"), "-o", f"Global.pretrained_model={root / 'best'}",
                   "--out", str(out), *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout


def results(done):
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_export_formats_and_infer_agree(project, tmp_path):
    root, data = project
    assert "onnx fp32" in export(root, tmp_path / "m.onnx")
    assert "openvino fp32" in export(root, tmp_path / "m.xml", "--format", "openvino")
    assert "torch-export fp32" in export(root, tmp_path / "m.pt2", "--format", "torch-export")
    answers = {}
    for name in ("m.onnx", "m.xml", "m.pt2"):
        answers[name] = results(run_cli("infer", str(tmp_path / name), str(data / "val" / "001*.png"), "--json",
                                        "--threads", "1"))
        assert len(answers[name]) == 10
    assert [r["class_ids"][0] for r in answers["m.xml"]] == [r["class_ids"][0] for r in answers["m.onnx"]]
    assert [r["class_ids"][0] for r in answers["m.pt2"]] == [r["class_ids"][0] for r in answers["m.onnx"]]
    piped = subprocess.run([sys.executable, "-m", "torchclas", "infer", str(tmp_path / "m.onnx"), "-", "--json"],
                           input=(data / "val" / "0010.png").read_bytes(), capture_output=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    from_stdin = json.loads(piped.stdout.decode().strip().splitlines()[-1])
    assert from_stdin["filename"] == "<bytes>" and from_stdin["class_ids"] == answers["m.onnx"][0]["class_ids"]


def test_int8_export_reports_agreement_and_max_drop_refuses(project, tmp_path):
    root, data = project
    out = export(root, tmp_path / "q.onnx", "--precision", "int8", "--calibration", str(data / "train"),
                 "--max-drop", "100", "--int8-target", "100", "--int8-check-size", "20", "--int8-max-float-blocks", "1")
    assert "int8: top-1 agrees with fp32 on" in out and "of 24 images" in out
    assert "int8: 1 block(s) kept in fp32 to reach --int8-target 100.0% on 20 check images" in out
    refused = run_cli("export", "-c", str(root / "cfg.yaml"), "-o", f"Global.pretrained_model={root / 'best'}",
                      "--out", str(tmp_path / "r.onnx"), "--precision", "int8", "--calibration",
                      str(data / "train"), "--max-drop", "-100")
    assert refused.returncode == 1 and "drops top-1 by" in refused.stderr and "--max-drop -100" in refused.stderr
    assert not (tmp_path / "r.onnx").exists()
    assert len(results(run_cli("infer", str(tmp_path / "q.onnx"), str(data / "val_list.txt"), "--json", "--no-spin"))) == 24


def test_infer_ensemble_with_weights(project, tmp_path):
    root, data = project
    export(root, tmp_path / "a.onnx")
    export(root, tmp_path / "b.xml", "--format", "openvino")
    image = str(data / "val" / "0002.png")
    single, = results(run_cli("infer", str(tmp_path / "a.onnx"), image, "--json", "--topk", "3"))
    fused, = results(run_cli("infer", str(tmp_path / "a.onnx"), str(tmp_path / "b.xml"), image, "--json",
                             "--topk", "3", "--weights", "1", "2"))
    assert fused["class_ids"] == single["class_ids"]  # the same model twice: the same probabilities
    assert fused["scores"] == pytest.approx(single["scores"], abs=1e-4)
    bad = run_cli("infer", str(tmp_path / "a.onnx"), str(tmp_path / "b.xml"), image, "--weights", "1")
    assert bad.returncode == 1 and "--weights has 1 values for 2 models" in bad.stderr
