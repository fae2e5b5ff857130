"""Evaluation reports: the confusion matrix, per-class accuracy, its PNG and files, ``torchclas eval``'s
per-class output, and the warning for a top-k above the class count."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from torchclas.configure import config_from_dict
from torchclas.engine.eval_report import write_eval_report
from torchclas.metrics import ConfusionMatrix, TopkAcc, per_class_accuracy, top_confusions
from torchclas.metrics.plot import plot_confusion_matrix


def logits_for(predicted: list[int], classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(predicted), classes).float() * 5 - 1


# true:      0  0  0  0  1  1  1  2  2  2  2  2
PREDICTED = [0, 0, 1, 2, 1, 1, 0, 2, 2, 2, 1, 1]
LABELS = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2]


def test_confusion_matrix_counts_hand_made_predictions():
    matrix = ConfusionMatrix(4)  # class 3 never occurs
    for lo, hi in ((0, 5), (5, 12)):  # two batches add up
        matrix.update(logits_for(PREDICTED[lo:hi], 4), SimpleNamespace(labels=torch.tensor(LABELS[lo:hi])))
    assert matrix.counts.tolist() == [[2, 1, 1, 0], [1, 2, 0, 0], [0, 2, 3, 0], [0, 0, 0, 0]]
    assert matrix.total == 12 and matrix.counts.dtype == torch.int64
    # soft (Mixup) targets count as their largest class
    soft = ConfusionMatrix(2)
    soft.update(torch.tensor([[2.0, 1.0], [2.0, 1.0]]), torch.tensor([[0.3, 0.7], [0.9, 0.1]]))
    assert soft.counts.tolist() == [[1, 0], [1, 0]]
    matrix.reset()
    assert matrix.total == 0 and matrix.counts.sum() == 0


def test_confusion_matrix_skips_outputs_that_are_not_logits(caplog):
    matrix = ConfusionMatrix(3)
    matrix.update({"Student": torch.zeros(2, 3)}, torch.tensor([0, 1]))
    assert matrix.total == 0 and "dict" in matrix.skipped
    other = ConfusionMatrix(3)
    other.update(torch.zeros(2, 5), torch.tensor([0, 1]))
    assert other.total == 0 and "(2, 5)" in other.skipped and "class_num=3" in caplog.text


def test_per_class_accuracy_values():
    counts = torch.tensor([[2, 1, 1, 0], [1, 2, 0, 0], [0, 2, 3, 0], [0, 0, 0, 0]])
    rows = per_class_accuracy(counts, ["a", "b", "c", "d"])
    assert [r["images"] for r in rows] == [4, 3, 5, 0]
    assert [r["correct"] for r in rows] == [2, 2, 3, 0]
    assert [r["accuracy"] for r in rows] == [0.5, pytest.approx(2 / 3), 0.6, None]
    assert [r["precision"] for r in rows] == [pytest.approx(2 / 3), 0.4, 0.75, None]
    assert [r["confused_with"] for r in rows] == ["b", "a", "b", None]  # "a" over "c" for class a: first id wins
    assert top_confusions(counts, 3) == [(2, 1, 2), (0, 1, 1), (0, 2, 1)]
    with pytest.raises(ValueError, match="2 names for 4 classes"):
        per_class_accuracy(counts, ["a", "b"])


@pytest.mark.parametrize("classes", [3, 40, 150])
def test_confusion_matrix_png_is_written_and_readable(tmp_path, classes):
    generator = torch.Generator().manual_seed(classes)
    counts = torch.randint(0, 3, (classes, classes), generator=generator) + 20 * torch.eye(classes, dtype=torch.int64)
    path = plot_confusion_matrix(counts, [f"class {i}" for i in range(classes)], tmp_path / "cm.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 300
        colours = len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0))
    assert colours > 50  # a drawing, not a blank page
    assert path.stat().st_size > 10_000


def test_write_eval_report_files(tmp_path):
    matrix = ConfusionMatrix(3)
    matrix.update(logits_for(PREDICTED, 3), torch.tensor(LABELS))
    report = write_eval_report(matrix, ["red", "green", "blue"], tmp_path)
    assert [r["accuracy"] for r in report["per_class"]] == [0.5, pytest.approx(2 / 3), 0.6]
    document = json.loads((tmp_path / "per_class.json").read_text())
    assert document["images"] == 12 and document["per_class"] == report["per_class"]
    assert document["top_confusions"][0] == {"true": "blue", "predicted": "green", "images": 2}
    with open(tmp_path / "per_class.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["name"], r["images"], float(r["accuracy"])) for r in rows] == [("red", "4", 0.5),
                                                                            ("green", "3", pytest.approx(2 / 3)),
                                                                            ("blue", "5", 0.6)]
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 5_000
    assert write_eval_report(ConfusionMatrix(3), ["a", "b", "c"], tmp_path / "none") is None  # nothing counted


@pytest.mark.slow
def test_eval_cli_reports_per_class_accuracy(tiny_config, tmp_path):
    from torchclas.engine.checkpoint import save_weights
    from torchclas.models import create_model

    torch.manual_seed(0)
    save_weights(create_model("PPLCNet_x0_25", 3), tmp_path / "weights.safetensors")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "torchclas", "eval", "-c", str(tiny_config),
            "-o", f"Global.pretrained_model={tmp_path / 'weights'}"]
    done = subprocess.run([*args, "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    rows = metrics["per_class"]
    assert [r["name"] for r in rows] == ["red", "green", "blue"]  # Infer.PostProcess.class_id_map_file
    assert sum(r["images"] for r in rows) == metrics["num_images"] == 24
    assert sum(r["correct"] for r in rows) / 24 == pytest.approx(metrics["top1"])
    out = tmp_path / "output" / "PPLCNet_x0_25"
    assert metrics["report"]["confusion_matrix.png"] == str(out / "confusion_matrix.png")
    assert json.loads((out / "per_class.json").read_text())["per_class"] == rows
    with Image.open(out / "confusion_matrix.png") as image:
        assert min(image.size) >= 300
    # the table, into another folder
    shown = subprocess.run([*args, "--report-dir", str(tmp_path / "report")], capture_output=True, text=True,
                           env={**env, "COLUMNS": "200"}, timeout=600)
    assert shown.returncode == 0, shown.stderr
    assert "per-class accuracy" in shown.stdout and "green" in shown.stdout
    assert (tmp_path / "report" / "per_class.csv").is_file()


@pytest.mark.slow
def test_training_ends_with_the_last_evaluation_report(tiny_config, tmp_path):
    from torchclas.configure import load_config
    from torchclas.engine import train

    cfg = load_config(tiny_config, ["Global.epochs=1"])
    result = train(cfg)
    out = tmp_path / "output" / "PPLCNet_x0_25"
    document = json.loads((out / "per_class.json").read_text())
    assert document["images"] == result["eval"]["num_images"] == 24
    correct = sum(r["correct"] for r in document["per_class"])
    assert correct / 24 == pytest.approx(result["eval"]["top1"])
    assert (out / "confusion_matrix.png").is_file() and (out / "per_class.csv").is_file()


def tiny_raw(topk, metric_train=None) -> dict:
    raw = {"Arch": {"name": "PPLCNet_x0_25", "class_num": 3}, "Metric": {"Eval": [{"TopkAcc": {"topk": topk}}]}}
    raw["Metric"]["Train"] = metric_train or [{"TopkAcc": {"topk": [1, 2]}}]
    return raw


def test_topk_above_class_count_warns_with_key_and_class_num(caplog):
    with caplog.at_level("WARNING"):
        config_from_dict(tiny_raw([1, 5]), source="tiny.yaml")
    assert ("tiny.yaml: Metric.Eval[0].TopkAcc.topk: top-5 with class_num 3 always reads 100% (every image has "
            "its class among the top 5 of 3 scores); use k <= 3") in caplog.text
    assert "Metric.Train" not in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        config_from_dict(tiny_raw([1, 3]))
    assert "TopkAcc" not in caplog.text  # k == class_num is fine
    caplog.clear()
    raw = tiny_raw([1, 2])
    del raw["Metric"]["Train"]  # not set: top-1/top-5 is measured, and named as the default
    with caplog.at_level("WARNING"):
        config_from_dict(yaml.safe_load(yaml.safe_dump(raw)))
    assert "Metric.Train (not set, so TopkAcc.topk [1, 5]): top-5 with class_num 3" in caplog.text
    # the value itself stays under its name, as PaddleClas reports it: 100%
    metric = TopkAcc(5)
    metric.update(torch.tensor([[0.1, 0.2, 0.7]]), torch.tensor([0]))
    assert metric.compute() == {"top5": 1.0}


def test_report_that_cannot_be_written_is_logged_and_training_goes_on(tmp_path, caplog):
    """A full disk (here: the run folder is a file) at the end of training: the report is named in
    an error line, and the hook returns instead of failing the run."""
    from torchclas.engine.eval_report import EvalReportHook

    confusion = ConfusionMatrix(2)
    confusion.update(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), SimpleNamespace(labels=torch.tensor([0, 0])))
    blocked = tmp_path / "run"
    blocked.write_text("not a folder")
    trainer = SimpleNamespace(eval_confusion=confusion, settings=SimpleNamespace(epochs=3))
    with caplog.at_level("ERROR"):
        EvalReportHook(blocked, ["a", "b"]).on_eval_end(trainer, 3, {"top1": 0.5})
    assert f"could not write the evaluation report in {blocked}" in caplog.text
