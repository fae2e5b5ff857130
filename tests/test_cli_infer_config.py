"""``torchclas infer -c CONFIG`` with no image (PaddleClas's tools/infer.py: ``Infer.infer_imgs``,
``Infer.PostProcess``) answers as the exported model does through ``torchclas infer model.onnx``."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
import yaml

from torchclas.configure import config_from_dict
from torchclas.data import build_dataloader
from torchclas.engine.checkpoint import save_weights
from torchclas.models import create_model

from conftest import tiny_config_dict
from test_cli_e2e import run_cli

pytestmark = pytest.mark.slow


def calibrated_weights(raw: dict, class_num: int, path: Path) -> torch.Tensor:
    """Random weights whose BN statistics are the eval images' (spread-out scores), saved to
    ``path``; returns the softmax scores of the eval images."""
    torch.manual_seed(5)
    model = create_model(raw["Arch"]["name"], class_num)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a plain average over the calibration batch
    loader = build_dataloader(config_from_dict(raw).DataLoader.Eval, seed=0, strict=True, pin_memory=False,
                              class_num=3)
    with torch.no_grad():
        images = torch.cat([x for x, _, _ in loader])
        model.train()(images)
        probs = model.eval()(images).softmax(-1)
    save_weights(model, path)
    return probs


def json_lines(done) -> list[dict]:
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("post", ["ThreshOutput", "Topk"])
def test_config_infer_equals_exported_model_infer(post, tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    if post == "ThreshOutput":  # a binary classifier, as PULC's
        raw["Arch"]["class_num"] = 2
        probs = calibrated_weights(raw, 2, tmp_path / "best.safetensors")
        p1 = sorted(probs[:, 1].tolist())
        threshold = round((p1[len(p1) // 2 - 1] + p1[len(p1) // 2]) / 2, 6)  # half the images on each side
        raw["Infer"]["PostProcess"] = {"name": "ThreshOutput", "threshold": threshold,
                                       "label_0": "nobody", "label_1": "someone"}
    else:
        calibrated_weights(raw, 3, tmp_path / "best.safetensors")
    raw["Infer"].update(infer_imgs=str(tiny_data / "val"), batch_size=5)
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(raw))
    weights = f"Global.pretrained_model={tmp_path / 'best'}"

    from_config = json_lines(run_cli("infer", "-c", str(config), "-o", weights, "--json"))
    exported = run_cli("export", "-c", str(config), "-o", weights, "--out", str(tmp_path / "m.onnx"))
    assert exported.returncode == 0, exported.stderr
    from_onnx = json_lines(run_cli("infer", str(tmp_path / "m.onnx"), str(tiny_data / "val"), "--json"))

    assert len(from_config) == len(from_onnx) == 24
    assert [r["filename"] for r in from_config] == [r["filename"] for r in from_onnx]
    for ours, onnx in zip(from_config, from_onnx):
        assert (ours["class_ids"], ours["label_names"]) == (onnx["class_ids"], onnx["label_names"])
        assert ours["scores"] == pytest.approx(onnx["scores"], abs=1e-4)
    if post == "ThreshOutput":
        names = [r["label_names"] for r in from_config]
        assert names.count(["someone"]) == names.count(["nobody"]) == 12
        assert all(r["class_ids"] == [1] and r["scores"][0] >= threshold or r["class_ids"] == [0]
                   and r["scores"][0] > 1 - threshold for r in from_config)
    else:
        assert all(len(r["class_ids"]) == 2 and r["label_names"][0] in ("red", "green", "blue")
                   for r in from_config)
        return

    # without --json: one PaddleClas result dict per image
    printed = run_cli("infer", "-c", str(config), "-o", weights, "-o",
                      f"Infer.infer_imgs={tiny_data / 'val' / '0005.png'}")
    assert printed.returncode == 0, printed.stderr
    line, = [ast.literal_eval(x) for x in printed.stdout.splitlines() if x.startswith("{")]
    assert list(line) == ["class_ids", "scores", "file_name", "label_names"]
    assert line["file_name"] == str(tiny_data / "val" / "0005.png")
    assert line["class_ids"] == from_config[5]["class_ids"]


def test_config_infer_without_infer_imgs_is_a_clear_error(tiny_config, tmp_path):
    done = run_cli("infer", "-c", str(tiny_config), "-o", f"Global.pretrained_model={tmp_path / 'best'}")
    assert done.returncode == 1
    assert "Infer.infer_imgs is not set" in done.stderr
    bare = run_cli("infer")
    assert bare.returncode == 1 and "-c CONFIG with Global.pretrained_model and Infer.infer_imgs" in bare.stderr
