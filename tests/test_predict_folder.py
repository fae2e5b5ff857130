"""predict-folder: streams results as JSON lines, resumes after a kill, lists unreadable files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from torchclas.export import export_model
from torchclas.inference import Predictor
from torchclas.inference.folder import predict_folder, read_done

from conftest import seeded_checkpoint_config


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    cfg = seeded_checkpoint_config(root, class_num=3, seed=2, Infer={"PostProcess": {"topk": 2}})
    export_model(cfg, root / "m.onnx")
    return root / "m.onnx"


def make_folder(root, count: int, bad: tuple[int, ...] = ()):
    rng = np.random.default_rng(0)
    (root / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = root / ("sub" if i % 3 == 0 else "") / f"{i:04d}.png"
        if i in bad:
            path.write_bytes(b"not a png at all")
        else:
            Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
    return root


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("workers", [0, 2])
def test_results_match_predict_and_bad_files_are_listed(model, tmp_path, workers):
    images = make_folder(tmp_path / "imgs", 11, bad=(4,))
    predictor = Predictor(model, batch_size=4)
    summary = predict_folder(predictor, images, tmp_path / "p.jsonl", workers=workers, progress=False)
    assert summary["total"] == summary["predicted"] == 11 and summary["skipped"] == 0
    assert [name for name, _ in summary["errors"]] == [str(images / "0004.png")]
    lines = read_lines(tmp_path / "p.jsonl")
    want = predictor.predict(images)
    assert [r["filename"] for r in lines] == [r["filename"] for r in want]
    for got, ref in zip(lines, want):
        assert got.get("class_ids") == ref.get("class_ids") and ("error" in got) == ("error" in ref)
        if "scores" in got:
            np.testing.assert_allclose(got["scores"], ref["scores"], atol=1e-6)


def test_resume_skips_done_images_and_drops_a_half_line(model, tmp_path):
    images = make_folder(tmp_path / "imgs", 9)
    predictor = Predictor(model, batch_size=2)
    full = tmp_path / "full.jsonl"
    predict_folder(predictor, images, full, workers=0, progress=False)
    lines = full.read_text().splitlines(keepends=True)
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(lines[:4]) + lines[4][:17])  # killed while writing line 5
    assert len(read_done(partial)) == 4 and partial.read_text() == "".join(lines[:4])
    partial.write_text("".join(lines[:4]) + lines[4][:17])
    summary = predict_folder(predictor, images, partial, resume=True, workers=0, progress=False)
    assert summary["skipped"] == 4 and summary["predicted"] == 5
    assert read_lines(partial) == read_lines(full)
    again = predict_folder(predictor, images, partial, resume=True, workers=0, progress=False)
    assert again["predicted"] == 0 and read_lines(partial) == read_lines(full)


def test_existing_output_needs_resume_and_garbage_is_named(model, tmp_path):
    images = make_folder(tmp_path / "imgs", 2)
    (tmp_path / "p.jsonl").write_text('{"filename": "x"}\n')
    with pytest.raises(FileExistsError, match="p.jsonl exists; pass --resume"):
        predict_folder(Predictor(model), images, tmp_path / "p.jsonl", progress=False)
    (tmp_path / "p.jsonl").write_text('{"filename": "x"}\nhello\n')
    with pytest.raises(ValueError, match=r"p.jsonl:2: not a predict-folder result line"):
        predict_folder(Predictor(model), images, tmp_path / "p.jsonl", resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        predict_folder(Predictor(model), tmp_path / "nope", tmp_path / "q.jsonl", progress=False)


@pytest.mark.slow
def test_cli_killed_run_resumes_and_loses_nothing(model, tmp_path):
    images = make_folder(tmp_path / "imgs", 400, bad=(398,))  # sorted late: after the kill
    out = tmp_path / "p.jsonl"
    cmd = [sys.executable, "-m", "torchclas", "predict-folder", str(model), str(images), "--out", str(out),
           "--batch-size", "2", "--workers", "1", "--threads", "1", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or len(out.read_bytes().splitlines()) < 20):
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    written = out.read_bytes().count(b"\n")  # complete lines; a half-written one is dropped on resume
    assert 20 <= written < 400, "the run finished before it could be killed"
    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    lines = read_lines(out)
    assert sorted(r["filename"] for r in lines) == sorted(str(p) for p in images.rglob("*.png"))
    assert f"{400 - written} predicted (1 unreadable), {written} already there" in resumed.stdout
    assert "unreadable" in resumed.stderr and "0398.png" in resumed.stderr
    assert [r["filename"] for r in lines if "error" in r] == [str(images / "0398.png")]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "pass --resume" in again.stderr
