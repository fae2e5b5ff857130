"""The fault-injection suite, run for real: training processes SIGKILLed at random moments (some
inside a checkpoint commit), stopped by SIGTERM and Ctrl-C, and resumed; the result must equal an
uninterrupted run bit for bit (CPU, same threads).

``make test`` runs a short form; ``make faults`` sets ``TORCHCLAS_FAULT_KILLS`` and
``TORCHCLAS_FAULT_SEEDS`` higher.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import yaml

from torchclas.testing.faults import compare_runs, train_cli, train_with_kills
from torchclas.testing.tiny import tiny_config_dict

pytestmark = [pytest.mark.slow, pytest.mark.faults]

KILLS = int(os.environ.get("TORCHCLAS_FAULT_KILLS", "4"))
SEEDS = range(int(os.environ.get("TORCHCLAS_FAULT_SEEDS", "1")))
ARCH = "PPLCNet_x0_25"


def _config(tmp_path, tiny_data, name: str, epochs: int = 8, workers: int = 0) -> tuple:
    cfg = tiny_config_dict(tiny_data, tmp_path / name, epochs=epochs)
    cfg["Global"]["save_steps"] = 1
    cfg["DataLoader"]["Train"]["loader"]["num_workers"] = workers
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, tmp_path / name / ARCH


def _straight(tmp_path, tiny_data, **kwargs):
    config, run = _config(tmp_path, tiny_data, "straight", **kwargs)
    done = subprocess.run(train_cli(config), capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    return run


def _training_seconds(run) -> float:
    """How long a finished run trained: its train.log's first line to its last write."""
    log = run / "train.log"
    return log.stat().st_mtime - (run / "config.yaml").stat().st_mtime


def _kill_delays(run) -> float:
    """The longest random kill delay: 1.5 s, or less where training is so fast that ``KILLS``
    delays in a row would outlast it (the killed run would finish before its last kill)."""
    return min(1.5, _training_seconds(run) / (KILLS + 2))


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_random_moments_resumes_to_identical_weights(tmp_path, tiny_data, seed):
    straight = _straight(tmp_path, tiny_data)
    config, run = _config(tmp_path, tiny_data, "killed")
    report = train_with_kills(config, run, kills=KILLS, seed=seed, max_delay=_kill_delays(straight))
    assert report.finished, report.log
    assert report.kills == KILLS, report.log
    assert report.during_write >= KILLS // 2, report.log
    assert compare_runs(straight, run) == {"identical": True, "max_abs_diff": 0.0, "metrics_equal": True}


def _start_and_signal(config, run, sig, group: bool = False) -> subprocess.CompletedProcess:
    process = subprocess.Popen(train_cli(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=group)
    deadline = time.monotonic() + 300
    while not (run / "latest.manifest.json").is_file():  # training has committed a step
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.01)
    os.killpg(process.pid, sig) if group else process.send_signal(sig)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("sig, workers", [(signal.SIGTERM, 0), (signal.SIGINT, 1)])
def test_stop_signal_saves_exits_0_and_resumes_identically(tmp_path, tiny_data, sig, workers):
    straight = _straight(tmp_path, tiny_data, epochs=4, workers=workers)
    config, run = _config(tmp_path, tiny_data, "stopped", epochs=4, workers=workers)
    # Ctrl-C in a terminal reaches the whole process group, loader workers included
    stopped = _start_and_signal(config, run, sig, group=sig == signal.SIGINT)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped by {sig.name}" in stopped.stdout and "--resume" in stopped.stdout
    assert "saving a checkpoint" in stopped.stderr
    resumed = subprocess.run(train_cli(config, resume=True), capture_output=True, text=True, timeout=600,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr
    assert compare_runs(straight, run) == {"identical": True, "max_abs_diff": 0.0, "metrics_equal": True}


def test_sigterm_to_a_distributed_launcher_stops_all_processes_and_resumes(tmp_path, tiny_data):
    def run(config, *extra):
        return subprocess.run(train_cli(config) + ["--nproc", "2", *extra], capture_output=True, text=True,
                              timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})

    straight_cfg, straight = _config(tmp_path, tiny_data, "straight", epochs=4)
    assert run(straight_cfg).returncode == 0
    config, run_dir = _config(tmp_path, tiny_data, "stopped", epochs=4)
    process = subprocess.Popen(train_cli(config) + ["--nproc", "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 300
    while not (run_dir / "latest.manifest.json").is_file():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "resume with:" in out and "--nproc 2 --resume" in out
    resumed = run(config, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr
    result = compare_runs(straight, run_dir)
    assert result == {"identical": True, "max_abs_diff": 0.0, "metrics_equal": True}  # gloo sums 2 ranks exactly


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MiB tmpfs (needs root and mount rights: skipped elsewhere), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder) -> None:
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        except OSError:
            pass


def test_read_only_output_folder_fails_before_training(tmp_path, tiny_data, small_disk):
    (small_disk / "out").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    cfg = tiny_config_dict(tiny_data, small_disk / "out", epochs=1)
    config = tmp_path / "ro.yaml"
    config.write_text(yaml.safe_dump(cfg))
    done = subprocess.run(train_cli(config), capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1
    assert "Global.output_dir: cannot write to" in done.stderr and "Read-only file system" in done.stderr
    assert "training PPLCNet" not in done.stderr


def test_disk_filling_up_mid_run_keeps_the_last_checkpoint(tmp_path, tiny_data, small_disk):
    cfg = tiny_config_dict(tiny_data, small_disk / "out", epochs=12)
    cfg["Global"]["save_interval"] = 1000
    config = tmp_path / "full.yaml"
    config.write_text(yaml.safe_dump(cfg))
    run = small_disk / "out" / ARCH
    process = subprocess.Popen(train_cli(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    while not (run / "latest.manifest.json").is_file():
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.01)
    _fill(small_disk)  # another program takes all the space
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err  # the run went on
    assert "could not write checkpoint" in err and "No space left on device" in err
    assert "the previous one is intact" in err
    from torchclas.engine.manifest import verify

    saved = verify(run / "latest")["epoch"]
    assert 1 <= saved < 12
    (small_disk / "filler").unlink()  # space again: the same command resumes from it
    resumed = subprocess.run(train_cli(config, resume=True), capture_output=True, text=True, timeout=300,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr
    assert f"continuing at epoch {saved + 1}" in resumed.stderr
    assert verify(run / "latest")["epoch"] == 12
