"""Runs that never lose work, in process: graceful stops, mid-epoch resume, NaN rollback, disk
errors. Each run trains the tiny data set for real; faults are injected through a loss entry
(the table users extend) or by making the disk refuse writes."""

from __future__ import annotations

import errno
import math

import pytest
import torch
import yaml
from safetensors.torch import load_file

from conftest import tiny_config_dict
from torchclas.configure import load_config
from torchclas.engine import checkpoint as checkpoint_module
from torchclas.engine import recovery, train
from torchclas.engine.manifest import verify
from torchclas.engine.recovery import TrainingDiverged
from torchclas.losses import LOSSES
from torchclas.testing.faults import FaultyLoss

TIMING = {"ips", "data_wait"}


@pytest.fixture
def faulty(monkeypatch):
    monkeypatch.setitem(LOSSES, "FaultyLoss", FaultyLoss)
    FaultyLoss.schedule()
    return FaultyLoss


def _config(tmp_path, tiny_data, name: str, epochs: int = 2, **globals_):
    cfg = tiny_config_dict(tiny_data, tmp_path / name, epochs=epochs)
    cfg["Loss"]["Train"] = [{"FaultyLoss": {"weight": 1.0}}]
    cfg["Global"].update(globals_)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _weights(run) -> dict[str, torch.Tensor]:
    return load_file(str(run / "PPLCNet_x0_25" / "latest.safetensors"))


def _metrics(run) -> list[dict]:
    import json

    lines = (run / "PPLCNet_x0_25" / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


TRICKS = {  # -o overrides, as a user would give them
    "plain": [],
    "ema": ["EMA.decay=0.9"],
    "accum": ["Global.accum_steps=2"],
    "lr_mult_clip": ["Arch.lr_mult_list=[0.0,0.4,0.4,0.8,0.8,1.0]", "Optimizer.clip_norm=0.5"],
    "amp_bf16": ["AMP.dtype=bfloat16"],
    "amp_fp16_scaler": ["AMP.dtype=float16", "AMP.scale_loss=1024.0"],
    "workers": ["DataLoader.Train.loader.num_workers=1"],
    "mixup": ["DataLoader.Train.dataset.batch_transform_ops=[{MixupOperator: {alpha: 0.2}}]"],
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_sigterm_mid_epoch_then_resume_is_bit_exact(faulty, tmp_path, tiny_data, trick):
    straight = train(load_config(_config(tmp_path, tiny_data, "straight"), TRICKS[trick]))
    assert "stopped" not in straight
    faulty.schedule(sigterm_at={4})  # epoch 1 has 6 batches: stop after batch 4
    config = _config(tmp_path, tiny_data, "killed")
    stopped = train(load_config(config, TRICKS[trick]))
    assert stopped["stopped"] == "SIGTERM"
    out = tmp_path / "killed" / "PPLCNet_x0_25"
    manifest = verify(out / "latest")
    assert (manifest["epoch"], manifest["batch"]) == (0, 4)
    assert not (out / "metrics.jsonl").exists() or (out / "metrics.jsonl").read_text() == ""

    resumed = train(load_config(config, [*TRICKS[trick], "Global.checkpoints=auto"]))
    assert "stopped" not in resumed and resumed["epoch"] == 2
    _assert_same_weights(_weights(tmp_path / "straight"), _weights(tmp_path / "killed"))
    assert _metrics(tmp_path / "straight") == _metrics(tmp_path / "killed")


def test_save_steps_and_sigterm_at_epoch_end(faulty, tmp_path, tiny_data):
    faulty.schedule(sigterm_at={6})  # the last batch of epoch 1: the epoch finishes, evaluates, saves, stops
    config = _config(tmp_path, tiny_data, "run", epochs=3, save_steps=2)
    stopped = train(load_config(config))
    out = tmp_path / "run" / "PPLCNet_x0_25"
    assert stopped["stopped"] == "SIGTERM"
    assert (verify(out / "latest")["epoch"], verify(out / "latest")["batch"]) == (1, 0)
    assert [(r["epoch"], r["split"]) for r in _metrics(tmp_path / "run")] == [(1, "train"), (1, "eval")]
    done = train(load_config(config, ["Global.checkpoints=auto"]))
    assert done["epoch"] == 3
    assert [r["epoch"] for r in _metrics(tmp_path / "run")] == [1, 1, 2, 2, 3, 3]


def test_nan_steps_are_skipped_and_counted(faulty, tmp_path, tiny_data):
    faulty.schedule(nan_at={2})
    result = train(load_config(_config(tmp_path, tiny_data, "run", epochs=1)))
    assert result["train"]["nonfinite_steps"] == 1
    assert math.isfinite(result["train"]["loss"])
    assert all(torch.isfinite(t).all() for t in _weights(tmp_path / "run").values())


def test_nan_streak_rolls_back_with_lower_lr(faulty, tmp_path, tiny_data):
    faulty.schedule(nan_at=range(8, 11))  # epoch 2, batches 2-4: 3 in a row
    config = _config(tmp_path, tiny_data, "run", epochs=2, nan_patience=3, nan_lr_factor=0.25)
    result = train(load_config(config))
    assert result["epoch"] == 2
    log = (tmp_path / "run" / "PPLCNet_x0_25" / "train.log").read_text()
    assert "rolled back to" in log and "learning rate x0.25" in log
    assert "Images: " in log and ".png" in log  # the non-finite batches are named
    records = _metrics(tmp_path / "run")
    assert [(r["epoch"], r["split"]) for r in records] == [(1, "train"), (1, "eval"), (2, "train"), (2, "eval")]
    assert records[2]["nonfinite_steps"] == 0  # the redone epoch 2 ran clean
    state = torch.load(tmp_path / "run" / "PPLCNet_x0_25" / "latest.state.pt", weights_only=True)
    assert state["scheduler"]["scale"] == 0.25


def test_nan_without_checkpoint_stops_with_clear_error(faulty, tmp_path, tiny_data):
    faulty.schedule(nan_at=range(1, 100))
    config = _config(tmp_path, tiny_data, "run", epochs=1, nan_patience=2)
    with pytest.raises(TrainingDiverged, match=r"NaN/Inf in 2 optimizer steps in a row.*no checkpoint of "
                                               r"this run to roll back to.*Optimizer\.lr\.learning_rate"):
        train(load_config(config))


def test_nan_rollbacks_are_bounded(faulty, tmp_path, tiny_data):
    faulty.schedule(nan_at=range(7, 1000))  # everything after epoch 1 diverges
    config = _config(tmp_path, tiny_data, "run", epochs=2, nan_patience=2, nan_max_rollbacks=2)
    with pytest.raises(TrainingDiverged, match=r"2 rollback\(s\) already \(Global\.nan_max_rollbacks\)"):
        train(load_config(config))


def test_too_little_disk_space_fails_before_training(faulty, tmp_path, tiny_data, monkeypatch):
    class Usage:
        free = 1024

    monkeypatch.setattr(recovery.shutil, "disk_usage", lambda path: Usage)
    with pytest.raises(OSError, match=r"has 0\.0 MiB free; the checkpoints of this run need about"):
        train(load_config(_config(tmp_path, tiny_data, "run")))
    assert faulty.calls == 0
    assert not (tmp_path / "run" / "PPLCNet_x0_25" / "metrics.jsonl").exists()


def test_failed_checkpoint_write_keeps_previous_and_goes_on(faulty, tmp_path, tiny_data, monkeypatch, caplog):
    real_save, calls = torch.save, []

    def refusing_save(obj, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # epoch 2's checkpoint: the disk is full
            open(path, "wb").write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.torch, "save", refusing_save)
    result = train(load_config(_config(tmp_path, tiny_data, "run", epochs=3, save_interval=100)))
    assert result["epoch"] == 3
    assert "could not write checkpoint" in caplog.text and "the previous one is intact" in caplog.text
    out = tmp_path / "run" / "PPLCNet_x0_25"
    assert verify(out / "latest")["epoch"] == 3
    assert not list(out.glob(".*.pending"))


def test_amp_overflows_are_skipped_by_the_scaler_and_counted(tmp_path, tiny_data):
    cfg = tiny_config_dict(tiny_data, tmp_path / "run", epochs=1)
    cfg["AMP"] = {"dtype": "float16", "scale_loss": 2.0 ** 40}  # fp16 gradients overflow at first
    path = tmp_path / "amp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = train(load_config(path))
    assert result["train"]["amp_overflows"] >= 1
    assert result["train"]["nonfinite_steps"] == 0  # the loss itself stayed finite
    assert all(torch.isfinite(t).all() for t in _weights(tmp_path / "run").values())
