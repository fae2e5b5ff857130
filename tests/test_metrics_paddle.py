"""PaddleClas metrics beyond top-k: ``TprAtFpr`` (the PULC binary classifiers' eval metric) against
hand-worked examples and a port of PaddleClas's own loop, its edge cases, distributed sums,
evaluation lists (``MetricList``), and a CLI run that keeps its best model by it."""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import tiny_config_dict
from torchclas.config.errors import ConfigError
from torchclas.configure import config_from_dict
from torchclas.engine.batches import Batch
from torchclas.metrics import METRICS, MetricList, TopkAcc, TprAtFpr, build_metrics, check_train_metrics
from torchclas.metrics.tpr_at_fpr import THRESHOLDS

PADDLECLAS_CONFIGS = Path("/work/paddleclas/ppcls/configs")


def _logits(class1_probs: list[float]) -> torch.Tensor:
    """Two-class logits whose softmax gives class 1 the probability ``p``."""
    p = torch.tensor(class1_probs, dtype=torch.float64)
    return torch.stack([torch.zeros_like(p), torch.log(p / (1 - p))], dim=1).float()


def paddle_tpr_at_fpr(logits: torch.Tensor, labels: list[int], max_fpr: float):
    """PaddleClas's ``TprAtFpr.forward`` + ``avg_info`` (ppcls/metric/metrics.py) in numpy:
    ``(max_tpr, (threshold, fpr, tpr) or None)``."""
    x = torch.softmax(logits.float(), dim=-1).numpy()
    pos = np.array([x[i][1] for i, label in enumerate(labels) if label != 0], dtype=np.float32)
    neg = np.array([x[i][1] for i, label in enumerate(labels) if label == 0], dtype=np.float32)
    max_tpr, result = 0.0, None
    for i in range(10000):
        threshold = i / 10000.
        if len(pos) == 0:
            continue
        tpr = np.sum(pos > threshold) / len(pos)
        if len(neg) == 0 and tpr > max_tpr:
            max_tpr, result = tpr, (threshold, 0.0, tpr)
        with np.errstate(all="ignore"):
            fpr = np.sum(neg > threshold) / len(neg)
        if fpr <= max_fpr and tpr > max_tpr:
            max_tpr, result = tpr, (threshold, fpr, tpr)
    return max_tpr, result


# Positives score 0.95, 0.85, 0.65, 0.35 and negatives 0.75, 0.45375, 0.2, 0.1 (off the 1e-4 grid,
# so float32 rounding cannot move a score across a threshold).
POSITIVES, NEGATIVES = [0.95005, 0.85005, 0.65005, 0.35005], [0.75005, 0.45375, 0.20005, 0.10005]


@pytest.mark.parametrize("max_fpr, expected", [
    # FPR <= 1/4: at most one negative above t, so t >= 0.45375: the first grid value is 0.4538,
    # where 3 of 4 positives are above (0.35 is not).
    (0.25, {"tpr": 0.75, "threshold": 0.4538, "fpr": 0.25}),
    # FPR 0: every negative at or under t, t >= 0.75005 -> 0.7501; positives 0.95 and 0.85 above.
    (0.0, {"tpr": 0.5, "threshold": 0.7501, "fpr": 0.0}),
    # FPR <= 1/2: t >= 0.20005 -> 0.2001; every positive is above it.
    (0.5, {"tpr": 1.0, "threshold": 0.2001, "fpr": 0.5}),
    # FPR <= 1: threshold 0 passes, and every positive is above it.
    (1.0, {"tpr": 1.0, "threshold": 0.0, "fpr": 1.0}),
])
def test_tpr_at_fpr_matches_a_hand_worked_example(max_fpr, expected):
    metric = TprAtFpr(max_fpr=max_fpr)
    logits = _logits(POSITIVES + NEGATIVES)
    labels = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0])
    metric.update(logits[:3], Batch(images=torch.empty(3, 0), labels=labels[:3]))  # the training-step seam
    metric.update({"logits": logits[3:]}, labels[3:])  # a dict of named outputs, direct labels
    assert metric.compute() == pytest.approx(expected)
    assert metric.best_key == "tpr"
    assert paddle_tpr_at_fpr(logits, labels.tolist(), max_fpr)[1] == pytest.approx(
        (expected["threshold"], expected["fpr"], expected["tpr"]))


def test_tpr_at_fpr_equals_paddleclas_loop_on_random_and_boundary_scores():
    generator = torch.Generator().manual_seed(0)
    grid = THRESHOLDS[torch.randint(1, 10000, (40,), generator=generator)].double()
    boundary = torch.stack([torch.zeros_like(grid), torch.log(grid / (1 - grid))], dim=1).float()
    for trial in range(24):
        classes = 2 + trial % 2
        logits = torch.randn(150, classes, generator=generator) * (0.5 + trial % 4)
        if classes == 2:
            logits = torch.cat([logits, boundary])  # scores within an ulp of a threshold
        labels = torch.randint(0, classes, (len(logits),), generator=generator)
        max_fpr = [0.0, 0.001, 0.01, 0.1, 0.3, 1.0][trial % 6]
        metric = TprAtFpr(max_fpr)
        for part, part_labels in zip(logits.split(16), labels.split(16)):
            metric.update(part, part_labels)
        result = metric.compute()
        max_tpr, paddle = paddle_tpr_at_fpr(logits, labels.tolist(), max_fpr)
        assert result["tpr"] == pytest.approx(max_tpr, abs=1e-12), trial
        assert (result["threshold"], result["fpr"]) == ((None, None) if paddle is None else
                                                         pytest.approx(paddle[:2], abs=1e-12)), trial


def test_three_classes_score_class_1_and_count_every_nonzero_label_as_positive():
    # class 1's probability: 0.8, 0.1 (label 2: a positive, scored low), 0.3 (a negative)
    logits = torch.log(torch.tensor([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]]))
    metric = TprAtFpr(max_fpr=0.0)
    metric.update(logits, torch.tensor([1, 2, 0]))
    assert metric.compute() == pytest.approx({"tpr": 0.5, "threshold": 0.3, "fpr": 0.0}, abs=1e-6)
    metric.reset()
    metric.update(logits, torch.nn.functional.one_hot(torch.tensor([1, 2, 0]), 3).float())  # soft labels
    assert metric.compute()["tpr"] == 0.5


def test_without_negatives_every_threshold_passes_and_a_warning_asks_for_negatives(caplog):
    metric = TprAtFpr()
    metric.update(_logits([0.9, 0.3, 0.02]), torch.tensor([1, 1, 1]))
    with caplog.at_level(logging.WARNING, logger="torchclas"):
        result = metric.compute()
    assert result == {"tpr": 1.0, "threshold": 0.0, "fpr": 0.0}  # PaddleClas: threshold 0, fpr 0.0
    assert "no negative (label 0) image" in caplog.text


def test_without_positives_tpr_is_zero_and_no_threshold(caplog):
    metric = TprAtFpr()
    metric.update(_logits([0.9, 0.1]), torch.tensor([0, 0]))
    with caplog.at_level(logging.WARNING, logger="torchclas"):
        assert metric.compute() == {"tpr": 0.0, "threshold": None, "fpr": None}
    assert "no positive (label != 0) image" in caplog.text
    empty = TprAtFpr()
    assert empty.compute() == {"tpr": 0.0, "threshold": None, "fpr": None}


def test_no_threshold_within_max_fpr_gives_tpr_zero():
    metric = TprAtFpr(max_fpr=0.0)  # the negative scores above every positive
    metric.update(_logits([0.3, 0.2, 0.9]), torch.tensor([1, 1, 0]))
    assert metric.compute() == {"tpr": 0.0, "threshold": None, "fpr": None}


def test_bad_max_fpr_and_outputs_are_named():
    with pytest.raises(ValueError, match="max_fpr must be in"):
        TprAtFpr(max_fpr=2)
    with pytest.raises(ValueError, match="class_num >= 2"):
        TprAtFpr().update(torch.zeros(2, 1), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="keys \\['Student'\\]"):
        TprAtFpr().update({"Student": torch.zeros(2, 2)}, torch.tensor([0, 1]))


def test_processes_combine_by_summing_counts_and_state_round_trips():
    generator = torch.Generator().manual_seed(3)
    logits, labels = torch.randn(64, 2, generator=generator), torch.randint(0, 2, (64,), generator=generator)
    whole, first, second = TprAtFpr(0.1), TprAtFpr(0.1), TprAtFpr(0.1)
    whole.update(logits, labels)
    first.update(logits[:40], labels[:40])
    second.update(logits[40:], labels[40:])
    other = second.state_dict()["negatives"] + second.state_dict()["positives"]
    first.all_reduce(lambda values: [a + b for a, b in zip(values, other)])  # two processes' sum
    assert first.compute() == whole.compute()
    again = TprAtFpr(0.1)
    again.load_state_dict(whole.state_dict())
    assert again.compute() == whole.compute() and int(again.positives.sum()) == int((labels != 0).sum())


def test_eval_lists_measure_every_metric_and_the_first_keeps_the_best_model():
    metrics = build_metrics([{"TprAtFpr": {"max_fpr": 0.25}}, {"TopkAcc": {"topk": [1, 2]}}], "Metric.Eval")
    assert isinstance(metrics, MetricList) and metrics.best_key == "tpr"
    logits, labels = _logits(POSITIVES + NEGATIVES), torch.tensor([1, 1, 1, 1, 0, 0, 0, 0])
    metrics.update(logits, labels)
    values = metrics.compute()
    assert values == pytest.approx({"tpr": 0.75, "threshold": 0.4538, "fpr": 0.25, "top1": 0.75, "top2": 1.0})
    metrics.reset()
    assert metrics.compute()["top1"] == 0.0
    assert build_metrics(None, "Metric.Eval").best_key == "top1"
    assert build_metrics([{"TopkAcc": {"topk": [5, 1]}}, {"TprAtFpr": None}], "Metric.Eval").best_key == "top1"


def test_tpr_at_fpr_is_refused_for_training():
    check_train_metrics([{"TopkAcc": {"topk": [1, 2]}}])
    with pytest.raises(ConfigError, match=r"Metric.Train\[0\]: TprAtFpr is an evaluation metric; list it under"):
        config_from_dict({"Arch": {"name": "PPLCNet_x0_25", "class_num": 2},
                          "Metric": {"Train": [{"TprAtFpr": {"max_fpr": 0.01}}]}})
    with pytest.raises(ConfigError, match="unknown parameter 'max_tpr'"):
        config_from_dict({"Arch": {"name": "PPLCNet_x0_25", "class_num": 2},
                          "Metric": {"Eval": [{"TprAtFpr": {"max_tpr": 0.01}}]}})


@pytest.mark.skipif(not PADDLECLAS_CONFIGS.is_dir(), reason="PaddleClas's configs are not at /work/paddleclas")
def test_every_metric_name_of_paddleclas_classification_configs_is_known():
    """ImageNet, PULC and quick_start configs, less distillation, multi-label, search and retrieval ones."""
    retrieval = {"Recallk", "mAP", "Precisionk"}  # retrieval metrics: their configs are out of scope
    missing = {}
    for part in ("ImageNet", "PULC", "quick_start"):
        for file in glob.glob(f"{PADDLECLAS_CONFIGS / part}/**/*.yaml", recursive=True):
            raw = yaml.safe_load(Path(file).read_text()) or {}
            names = [name for split in ("Train", "Eval") for entry in ((raw.get("Metric") or {}).get(split) or [])
                     for name in entry]
            if (file.endswith("search.yaml") or str(raw.get("Arch", {}).get("name", "")).startswith("Distillation")
                    or "MultiLabelDataset" in str(raw.get("DataLoader")) or retrieval & set(names)):
                continue
            missing.update({name: file for name in names if name not in METRICS})
    assert missing == {}


@pytest.mark.slow
def test_cli_training_reports_tpr_and_keeps_the_best_model_by_it(tiny_data, tmp_path):
    cfg = tiny_config_dict(tiny_data, tmp_path / "output", epochs=2)
    cfg["Metric"]["Eval"] = [{"TprAtFpr": {"max_fpr": 0.5}}, {"TopkAcc": {"topk": [1, 2]}}]
    config = tmp_path / "tpr.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "torchclas", *args], capture_output=True,  # noqa: E731
                                       text=True, env=env, timeout=600)
    done = run("train", "-c", str(config))
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "output" / "PPLCNet_x0_25"
    evals = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["split"] == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2]
    for record in evals:
        assert {"tpr", "threshold", "fpr", "top1", "top2", "loss"} <= set(record)
        assert 0.0 <= record["tpr"] <= 1.0 and math.isfinite(record["top1"])
        assert record["threshold"] is None or (record["fpr"] <= 0.5 and 0 <= record["threshold"] < 1)
    best = max(range(2), key=lambda i: (evals[i]["tpr"], -i))  # the first epoch with the highest tpr
    from safetensors import safe_open
    with safe_open(str(out / "best_model.safetensors"), "pt") as weights:
        meta = weights.metadata()
    assert json.loads(meta["epoch"]) == best + 1 and json.loads(meta["tpr"]) == pytest.approx(evals[best]["tpr"])
    assert f"best eval tpr {100 * evals[best]['tpr']:.2f}%" in done.stdout
    assert " tpr " in (out / "train.log").read_text()

    evaluated = run("eval", "-c", str(config), "-o", f"Global.pretrained_model={out / 'best_model'}", "--json")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    metrics = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert metrics["tpr"] == pytest.approx(evals[best]["tpr"])
    assert metrics["threshold"] == evals[best]["threshold"] and metrics["top1"] == pytest.approx(evals[best]["top1"])
