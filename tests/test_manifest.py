"""Checkpoint commits: a kill at any point leaves the new or the previous checkpoint complete."""

from __future__ import annotations

import json
import os
import time

import pytest
import torch
from torch import nn

from torchclas.config.schema import LRConfig, OptimizerConfig
from torchclas.engine.checkpoint import load_checkpoint, save_checkpoint
from torchclas.engine.manifest import (CheckpointError, commit_files, find_newest, manifest_path,
                                       pending_path, verify)
from torchclas.optim import build_lr_scheduler, build_optimizer


def _model(seed: int):
    torch.manual_seed(seed)
    model = nn.Linear(4, 3)
    optimizer = build_optimizer(OptimizerConfig(momentum=0.9, lr=LRConfig(learning_rate=0.1)), model)
    return model, optimizer, build_lr_scheduler(LRConfig(learning_rate=0.1), optimizer, 2, 4)


def _write(text: str):
    return lambda tmp: open(tmp, "w").write(text)


def test_commit_writes_files_and_manifest(tmp_path):
    a, b = tmp_path / "ck.a", tmp_path / "ck.b"
    manifest = commit_files(tmp_path / "ck", {a: _write("one"), b: _write("two")}, {"epoch": 3})
    assert manifest == tmp_path / "ck.manifest.json"
    assert a.read_text() == "one" and b.read_text() == "two"
    body = json.loads(manifest.read_text())
    assert body["epoch"] == 3 and body["files"]["ck.a"]["bytes"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.a", "ck.b", "ck.manifest.json"]
    assert verify(tmp_path / "ck")["epoch"] == 3


def test_failed_write_keeps_previous_checkpoint(tmp_path):
    a, b = tmp_path / "ck.a", tmp_path / "ck.b"
    commit_files(tmp_path / "ck", {a: _write("old-a"), b: _write("old-b")}, {"epoch": 1})

    def fail(tmp):
        open(tmp, "w").write("partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        commit_files(tmp_path / "ck", {a: _write("new-a"), b: fail}, {"epoch": 2})
    assert verify(tmp_path / "ck")["epoch"] == 1
    assert a.read_text() == "old-a" and b.read_text() == "old-b"
    assert not pending_path(a).exists() and not pending_path(b).exists()


def test_kill_after_manifest_rolls_forward(tmp_path):
    """A commit killed mid-rename: the manifest names the new content; verify finishes it."""
    a, b = tmp_path / "ck.a", tmp_path / "ck.b"
    commit_files(tmp_path / "ck", {a: _write("old-a"), b: _write("old-b")}, {"epoch": 1})
    commit_files(tmp_path / "ck2", {tmp_path / "x": _write("new-a"), tmp_path / "y": _write("new-b")},
                 {"epoch": 2})
    # recreate the state "manifest for new content written, only the first file renamed"
    body = json.loads(manifest_path(tmp_path / "ck2").read_text())
    body["files"] = {"ck.a": body["files"]["x"], "ck.b": body["files"]["y"]}
    manifest_path(tmp_path / "ck").write_text(json.dumps(body))
    os.replace(tmp_path / "x", a)
    os.replace(tmp_path / "y", pending_path(b))
    assert verify(tmp_path / "ck")["epoch"] == 2
    assert a.read_text() == "new-a" and b.read_text() == "new-b" and not pending_path(b).exists()


def test_altered_or_missing_file_is_named(tmp_path):
    a, b = tmp_path / "ck.a", tmp_path / "ck.b"
    commit_files(tmp_path / "ck", {a: _write("aaa"), b: _write("bbb")}, {})
    b.write_text("bbx")
    with pytest.raises(CheckpointError, match=r"ck\.b: different from its manifest"):
        verify(tmp_path / "ck")
    b.unlink()
    with pytest.raises(CheckpointError, match=r"ck\.b: missing"):
        verify(tmp_path / "ck")
    manifest_path(tmp_path / "ck").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"ck\.manifest\.json: unreadable manifest"):
        verify(tmp_path / "ck")


def test_find_newest_skips_incomplete(tmp_path):
    model, optimizer, scheduler = _model(0)
    save_checkpoint(tmp_path / "epoch_1", model, optimizer, scheduler, epoch=1)
    time.sleep(0.01)
    save_checkpoint(tmp_path / "latest", model, optimizer, scheduler, epoch=2,
                    progress={"batches": 3})
    name, body = find_newest(tmp_path)
    assert name == tmp_path / "latest" and (body["epoch"], body["batch"]) == (2, 3)
    (tmp_path / "latest.state.pt").write_bytes(b"torn")
    name, body = find_newest(tmp_path)
    assert name == tmp_path / "epoch_1" and body["epoch"] == 1
    assert find_newest(tmp_path / "nothing-here") is None


def test_load_checkpoint_verifies_and_restores_progress(tmp_path):
    model, optimizer, scheduler = _model(0)
    save_checkpoint(tmp_path / "latest", model, optimizer, scheduler, epoch=0,
                    progress={"batches": 2, "loss_sum": 1.5})
    other, optimizer2, scheduler2 = _model(1)
    state = load_checkpoint(tmp_path / "latest", other, optimizer2, scheduler2)
    assert state["progress"] == {"batches": 2, "loss_sum": 1.5}
    assert torch.equal(other.weight, model.weight)
