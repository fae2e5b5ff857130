"""bench/gpu_speed.py runs end to end on a CPU, so a GPU session's few minutes are not spent on a broken script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_gpu_speed_bench_runs_on_cpu(tmp_path):
    out = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_speed.py"), "--device", "cpu",
                           "--model", "PPLCNet_x0_25", "--size", "32", "--batch", "4", "--images", "16",
                           "--steps", "2", "--workers", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert set(figures) == {"synthetic", "cpu_workers", "on_device"}
    assert all(row["ips"] > 0 for row in figures.values())
    assert 0 <= figures["on_device"]["data_wait"] <= 1
    assert "decode_on_device (nvJPEG)" in done.stdout
