"""TensorBoard event files (``Global.use_visualdl`` / ``Global.tensorboard``), read back with
TensorBoard's own reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from torchclas.data.transforms import NormalizeImage
from torchclas.engine.tensorboard_log import TensorBoardHook, display_images

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torchclas", *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)


def read_events(folder: Path):
    events = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def scalars(events, tag: str) -> list[tuple[int, float]]:
    return [(s.step, s.value) for s in events.Scalars(tag)]


def records(out: Path, split: str) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["split"] == split]


@pytest.mark.slow
def test_training_writes_curves_equal_to_metrics_jsonl_and_resume_appends(tiny_config, tmp_path):
    out = tmp_path / "output" / "PPLCNet_x0_25"
    done = run_cli("train", "-c", str(tiny_config), "-o", "Global.use_visualdl=True",
                   "-o", "Global.print_batch_step=2")
    assert done.returncode == 0, done.stderr
    assert "not implemented" not in done.stderr
    assert len(list(out.glob("events.out.tfevents.*"))) == 1  # in the run folder: `--logdir output/` names it
    events = read_events(out)
    train, evaluation = records(out, "train"), records(out, "eval")
    steps = 6  # 48 images, batch 8
    # per step: every print_batch_step=2 batches, on a global batch axis
    assert [s for s, _ in scalars(events, "train_step/loss")] == [2, 4, 6, 8, 10, 12]
    assert {"train_step/lr", "train_step/top1", "train_step/ips", "train_step/data_wait"} <= set(events.Tags()["scalars"])
    # the step at an epoch's last batch carries the epoch's running mean: the epoch record's loss
    assert scalars(events, "train_step/loss")[2][1] == pytest.approx(train[0]["loss"], rel=1e-6)
    # per epoch: at each epoch's last batch, the values metrics.jsonl has
    for split, recs in (("train", train), ("eval", evaluation)):
        for key in ("loss", "top1") + (("lr", "ips", "data_wait") if split == "train" else ()):
            got = scalars(events, f"{split}/{key}")
            assert [s for s, _ in got] == [steps, 2 * steps], (split, key)
            assert [v for _, v in got] == pytest.approx([r[key] for r in recs], rel=1e-6, abs=1e-7), (split, key)
    # the first batch as an image grid: 8 images of 32x32, 8 a row, 2 px padding
    (image,) = events.Images("train/first_batch")
    assert (image.step, image.width, image.height) == (1, 8 * 34 + 2, 36)
    with Image.open(__import__("io").BytesIO(image.encoded_image_string)) as grid:
        pixels = np.asarray(grid.convert("RGB"), dtype=np.float32)
    assert pixels.shape == (36, 274, 3) and pixels[2:34, 2:34].std() > 10  # an image, not a flat square

    # Redo epoch 2 from the epoch-1 checkpoint, switched on by our own key: the events of the
    # first run's epoch 2 are purged, those of epoch 1 kept, each step once.
    first_epoch1 = scalars(events, "train/loss")[0]
    resumed = run_cli("train", "-c", str(tiny_config), "-o", "Global.tensorboard=True", "-o", "Global.print_batch_step=2",
                      "-o", f"Global.checkpoints={out / 'epoch_1'}")
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(out.glob("events.out.tfevents.*"))) == 2
    events = read_events(out)
    train, evaluation = records(out, "train"), records(out, "eval")
    assert scalars(events, "train/loss")[0] == first_epoch1
    assert [s for s, _ in scalars(events, "train_step/loss")] == [2, 4, 6, 8, 10, 12]
    for split, recs in (("train", train), ("eval", evaluation)):
        got = scalars(events, f"{split}/loss")
        assert [s for s, _ in got] == [steps, 2 * steps]
        assert [v for _, v in got] == pytest.approx([r["loss"] for r in recs], rel=1e-6, abs=1e-7)
    assert len(events.Images("train/first_batch")) == 2  # each process shows its first batch (step 1, then 7)
    assert [i.step for i in events.Images("train/first_batch")] == [1, 7]


def test_resume_mid_epoch_purges_the_steps_redone(tmp_path):
    loader = [None] * 6
    state = SimpleNamespace(start_epoch=1, resume_progress=None)
    trainer = SimpleNamespace(train_loader=loader, state=state, epoch=1)
    hook = TensorBoardHook(tmp_path, print_every=1, fresh=True)
    hook.on_train_start(trainer)
    for step in range(1, 13):
        hook.writer.add_scalar("x", float(step), step)
    hook.on_train_end(trainer, None)
    # died at epoch 2 batch 5; the checkpoint was at batch 4: steps 11 and 12 are redone
    state.start_epoch, state.resume_progress = 2, {"batches": 4}
    hook = TensorBoardHook(tmp_path, print_every=1, fresh=False)
    hook.on_train_start(trainer)
    hook.writer.add_scalar("y", 1.0, 11)  # "x" is not logged again: only purge_step hides its 11, 12
    hook.on_train_end(trainer, None)
    events = read_events(tmp_path)
    assert scalars(events, "x") == [(s, float(s)) for s in range(1, 11)] and scalars(events, "y") == [(11, 1.0)]
    # a fresh run starts the log anew
    TensorBoardHook(tmp_path, print_every=1, fresh=True).on_train_start(trainer)
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1


def test_display_images_undoes_normalize():
    pixels = torch.randint(0, 256, (2, 3, 5, 7), dtype=torch.uint8)
    normalize = NormalizeImage(scale="1.0/255.0", mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    shown = display_images(normalize(pixels), normalize)
    assert shown.shape == (2, 3, 5, 7) and shown.dtype == torch.float32
    assert torch.allclose(shown, pixels.float() / 255, atol=1e-5)
    # pixel-scaled mean/std (scale 1), and a padding 4th channel dropped
    normalize = NormalizeImage(scale=1.0, mean=[123.7, 116.3, 103.5], std=[58.4, 57.1, 57.4], channel_num=4)
    shown = display_images(normalize(pixels), normalize)
    assert shown.shape == (2, 3, 5, 7) and torch.allclose(shown, pixels.float() / 255, atol=1e-5)
    assert torch.equal(display_images(pixels, None), pixels.float() / 255)
