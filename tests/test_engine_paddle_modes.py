"""PaddleClas's engine modes: ``Global.start_eval_epoch`` and ``Global.train_mode: progressive``."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from torchclas.config import parse_config
from torchclas.config.errors import ConfigError
from torchclas.configure import config_from_dict
from torchclas.engine import train
from torchclas.engine.progressive import ProgressiveHook, stage_of, stage_split
from torchclas.engine.trainer import Trainer
from torchclas.testing.tiny import tiny_config_dict


def _records(out, arch="PPLCNet_x0_25"):
    lines = (out / arch / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_start_eval_epoch_skips_earlier_evaluations_but_not_the_last(tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path, epochs=5)
    raw["Global"].update(start_eval_epoch=2, eval_interval=2)
    result = train(config_from_dict(raw))
    evaluated = [r["epoch"] for r in _records(tmp_path) if r["split"] == "eval"]
    assert evaluated == [2, 4, 5]  # from epoch 2, every 2nd, and the last
    assert result["best_epoch"] in (2, 4, 5)


def test_start_eval_epoch_is_a_validated_global_key(tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path)
    raw["Global"]["start_eval_epoch"] = -1
    with pytest.raises(ConfigError, match="start_eval_epoch"):
        config_from_dict(raw)


def test_stages_follow_paddleclas_milestones():
    # PaddleClas: stones = int(epochs * (i + 1) / 4); stage = how many stones the epoch is past
    assert [stage_of(e, 350) for e in (1, 87, 88, 175, 176, 262, 263, 350)] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [stage_of(e, 4) for e in range(1, 5)] == [0, 1, 2, 3]


def _progressive_config(data, out, epochs=4):
    raw = tiny_config_dict(data, out, epochs=epochs)
    raw["Global"]["train_mode"] = "progressive"
    raw["DataLoader"]["Train"]["dataset"]["transform_ops"][1] = {
        "RandCropImage": {"size": 16, "progress_size": [16, 20, 24, 28], "scale": [0.5, 1.0]}}
    return raw


def test_progressive_training_grows_the_train_image_size_by_stage(tiny_data, tmp_path, monkeypatch, caplog):
    seen: dict[int, set] = {}
    step = Trainer.step

    def spy(self, batch, group, sync):
        seen.setdefault(self.epoch, set()).add(tuple(batch.images.shape[-2:]))
        return step(self, batch, group, sync)

    monkeypatch.setattr(Trainer, "step", spy)
    with caplog.at_level(logging.INFO, logger="torchclas"):
        result = train(config_from_dict(_progressive_config(tiny_data, tmp_path)))
    assert seen == {1: {(16, 16)}, 2: {(20, 20)}, 3: {(24, 24)}, 4: {(28, 28)}}
    assert torch.isfinite(torch.tensor(result["train"]["loss"]))
    assert "progressive training: stage 4/4 from epoch 4 (size=28, dropout unchanged)" in caplog.text


def test_progressive_hook_sets_the_model_dropout_and_magnitude_of_each_stage(tiny_data, tmp_path):
    raw = _progressive_config(tiny_data, tmp_path, epochs=8)
    raw["DataLoader"]["Train"]["dataset"]["transform_ops"].insert(
        2, {"RandAugmentV2": {"num_layers": 2, "magnitude": 1, "progress_magnitude": [1, 3, 5, 7]}})
    split = parse_config(raw).DataLoader.Train  # the shape only: RandAugmentV2 is another op's issue
    built = []
    hook = ProgressiveHook(split, lambda s: built.append(s) or f"loader{len(built)}", epochs=8)
    net = nn.Linear(2, 2)
    net.progressive_drop_rates, net.drop_rate = [0.1, 0.2, 0.3, 0.4], 0.1
    trainer = SimpleNamespace(train_loader=None, state=SimpleNamespace(net=net))
    drops = []
    for epoch in range(1, 9):
        hook.on_epoch_setup(trainer, epoch)
        drops.append(net.drop_rate)
    assert drops == [0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4]
    assert len(built) == 4 and trainer.train_loader == "loader4"  # rebuilt once per stage
    ops = built[2].dataset.transform_ops
    assert ops[1]["RandCropImage"]["size"] == 24 and ops[2]["RandAugmentV2"]["magnitude"] == 5
    assert split.dataset.transform_ops[1]["RandCropImage"]["size"] == 16  # the config is left alone


def test_progressive_needs_a_staged_op_and_four_values(tiny_data, tmp_path):
    plain = config_from_dict(tiny_config_dict(tiny_data, tmp_path)).DataLoader.Train
    with pytest.raises(ConfigError, match="progress_size"):
        stage_split(plain, 0)
    raw = _progressive_config(tiny_data, tmp_path)
    raw["DataLoader"]["Train"]["dataset"]["transform_ops"][1]["RandCropImage"]["progress_size"] = [16, 20]
    with pytest.raises(ConfigError, match=r"RandCropImage.progress_size: progressive training needs 4 values"):
        stage_split(config_from_dict(raw).DataLoader.Train, 0)
