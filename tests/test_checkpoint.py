"""Checkpoints: a save/load round trip restores model, optimizer, scheduler, epoch, extra and RNG."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

from torchclas.config.schema import LRConfig, OptimizerConfig, RegularizerConfig
from torchclas.utils.files import atomic_write
from torchclas.engine.checkpoint import (load_checkpoint, rng_state, save_checkpoint,
                                         save_weights, set_rng_state, state_path)
from torchclas.optim import build_lr_scheduler, build_optimizer

LR = LRConfig(name="Cosine", learning_rate=0.1, warmup_epoch=1)
OPT = OptimizerConfig(momentum=0.9, lr=LR, regularizer=RegularizerConfig(coeff=1e-3))


def _setup(seed: int):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = build_optimizer(OPT, model)
    scheduler = build_lr_scheduler(LR, optimizer, epochs=3, steps_per_epoch=4)
    return model, optimizer, scheduler


def _train_steps(model, optimizer, scheduler, n: int) -> None:
    model.train()
    for _ in range(n):
        x = torch.randn(4, 4)
        loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 0]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def test_round_trip_restores_training_state(tmp_path):
    model, optimizer, scheduler = _setup(0)
    _train_steps(model, optimizer, scheduler, 5)
    path = tmp_path / "ckpt" / "latest.safetensors"
    save_checkpoint(path, model, optimizer, scheduler, epoch=2, extra={"best_top1": 0.75, "run": "a"})
    assert path.is_file() and state_path(path) == tmp_path / "ckpt" / "latest.state.pt"
    assert state_path(path).is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["latest.manifest.json", "latest.safetensors",
                                                             "latest.state.pt"]

    model2, optimizer2, scheduler2 = _setup(1)
    assert not torch.equal(model2[0].weight, model[0].weight)
    state = load_checkpoint(tmp_path / "ckpt" / "latest", model2, optimizer2, scheduler2)
    assert state["epoch"] == 2 and state["extra"] == {"best_top1": 0.75, "run": "a"}
    for (key, a), b in zip(model.state_dict().items(), model2.state_dict().values()):
        assert torch.equal(a, b), key  # includes BatchNorm running stats
    momentum = [optimizer.state[p]["momentum_buffer"] for p in model.parameters()]
    momentum2 = [optimizer2.state[p]["momentum_buffer"] for p in model2.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(momentum, momentum2))
    assert scheduler2.last_epoch == scheduler.last_epoch == 5
    assert optimizer2.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])

    # continuing both runs gives the same weights
    torch.manual_seed(3)
    _train_steps(model, optimizer, scheduler, 2)
    torch.manual_seed(3)
    _train_steps(model2, optimizer2, scheduler2, 2)
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)
    assert optimizer2.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])


def test_weights_file_is_plain_safetensors_with_metadata(tmp_path):
    model, optimizer, scheduler = _setup(0)
    path = tmp_path / "best.safetensors"
    save_checkpoint(path, model, optimizer, scheduler, epoch=4, extra={"top1": 0.5})
    with safe_open(str(path), "pt") as f:
        assert set(f.keys()) == set(model.state_dict())
        meta = f.metadata()
    assert {k: json.loads(v) for k, v in meta.items()} == {"epoch": 4, "top1": 0.5}


def test_rng_state_restored(tmp_path):
    model, optimizer, scheduler = _setup(0)
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(6)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, optimizer, scheduler, epoch=1)
    after_save = (torch.rand(3), random.random(), np.random.rand(2), np.random.randn())
    torch.rand(100), random.random(), np.random.rand(7)  # move every generator on
    load_checkpoint(path, model, optimizer, scheduler)
    again = (torch.rand(3), random.random(), np.random.rand(2), np.random.randn())
    assert torch.equal(after_save[0], again[0])
    assert after_save[1] == again[1]
    assert np.array_equal(after_save[2], again[2]) and after_save[3] == again[3]


def test_rng_state_with_cached_gaussian():
    np.random.seed(0)
    np.random.randn()  # numpy caches the second gaussian of a pair
    state = rng_state()
    expected = np.random.randn(3)
    np.random.seed(99)
    set_rng_state(state)
    assert np.array_equal(np.random.randn(3), expected)


def test_load_weights_only_without_optimizer(tmp_path):
    model, optimizer, scheduler = _setup(0)
    save_checkpoint(tmp_path / "c.safetensors", model, optimizer, scheduler, epoch=7)
    other = _setup(1)[0]
    assert load_checkpoint(tmp_path / "c.safetensors", other)["epoch"] == 7
    assert torch.equal(other[3].weight, model[3].weight)


def test_missing_state_file_names_the_file(tmp_path):
    model, optimizer, scheduler = _setup(0)
    save_weights(model, tmp_path / "only.safetensors")
    with pytest.raises(FileNotFoundError, match=r"training state not found: '.*only\.state\.pt'"):
        load_checkpoint(tmp_path / "only", model, optimizer, scheduler)


def test_corrupt_state_file_names_the_file(tmp_path):
    model, optimizer, scheduler = _setup(0)
    save_checkpoint(tmp_path / "c.safetensors", model, optimizer, scheduler, epoch=1)
    (tmp_path / "c.state.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"c\.state\.pt: different from its manifest"):
        load_checkpoint(tmp_path / "c.safetensors", model, optimizer, scheduler)
    (tmp_path / "c.manifest.json").unlink()  # an older checkpoint without a manifest
    with pytest.raises(ValueError, match=r"c\.state\.pt: not a valid training-state file"):
        load_checkpoint(tmp_path / "c.safetensors", model, optimizer, scheduler)


def test_atomic_write_keeps_old_file_when_write_fails(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old contents")

    def failing(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(b"half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, failing)
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_atomic_write_replaces_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "file.txt"
    atomic_write(target, lambda tmp: open(tmp, "w").write("one"))
    atomic_write(target, lambda tmp: open(tmp, "w").write("two"))
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]
