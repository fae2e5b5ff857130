"""Fault injection for whole training runs: SIGKILL a real ``torchclas train`` process at random
moments (some of them inside a checkpoint commit), resume it until it finishes, and compare the
result with an uninterrupted run.

Used by the fault suite (``make faults``, and a short form in ``make test``) and by
``bench/faults.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from safetensors.torch import load_file
from torch import nn

__all__ = ["KillReport", "FaultyLoss", "train_cli", "train_with_kills", "compare_runs", "TIMING_KEYS"]

# metrics.jsonl keys that measure time, not the run's result
TIMING_KEYS = ("ips", "data_wait")


class FaultyLoss(nn.Module):
    """Cross-entropy that, on chosen calls (1-based, counted over the whole process), sends
    this process SIGTERM or returns NaN: put it in ``torchclas.losses.LOSSES`` and name it in
    ``Loss.Train`` to inject those faults into a real run.

    Example:
        >>> from torchclas.losses import LOSSES
        >>> LOSSES["FaultyLoss"] = FaultyLoss
        >>> FaultyLoss.schedule(nan_at=range(8, 12))  # 4 NaN steps in a row from the 8th batch
        >>> # ... train(config) with Loss.Train: [{FaultyLoss: {}}] ...
        >>> del LOSSES["FaultyLoss"]; FaultyLoss.schedule()
    """

    sigterm_at: frozenset[int] = frozenset()
    nan_at: frozenset[int] = frozenset()
    calls = 0

    def __init__(self, weight: float = 1.0):
        super().__init__()
        self.weight = weight

    @classmethod
    def schedule(cls, sigterm_at=(), nan_at=()) -> None:
        """Reset the call count and choose the calls that fault."""
        cls.calls, cls.sigterm_at, cls.nan_at = 0, frozenset(sigterm_at), frozenset(nan_at)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        FaultyLoss.calls += 1
        loss = nn.functional.cross_entropy(logits, labels)
        if FaultyLoss.calls in FaultyLoss.sigterm_at:
            os.kill(os.getpid(), signal.SIGTERM)
        return loss * float("nan") if FaultyLoss.calls in FaultyLoss.nan_at else loss


@dataclass
class KillReport:
    """What ``train_with_kills`` did: kills sent (and how many landed inside a checkpoint
    commit), resumed runs, and whether the last run finished with exit status 0."""

    kills: int = 0
    during_write: int = 0
    resumes: int = 0
    finished: bool = False
    log: list[str] = field(default_factory=list)


def train_cli(config: str | Path, overrides: Sequence[str] = (), resume: bool = False) -> list[str]:
    """The command line of ``torchclas train`` for ``config`` in this Python."""
    command = [sys.executable, "-m", "torchclas", "train", "-c", str(config)]
    for override in overrides:
        command += ["-o", override]
    return command + (["--resume"] if resume else [])


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _commit_in_progress(run: Path) -> bool:
    """True while a checkpoint's pending files (or its manifest's temp file) exist."""
    return any(run.glob(".*.pending")) or any(run.glob(".*.manifest.json.tmp"))


def _started(run: Path) -> bool:
    """Training has begun: the run's log says so."""
    log = run / "train.log"
    return log.is_file() and "training " in log.read_text(errors="replace")


def _run_until_kill(command: list[str], run: Path, mode: str, delay: float, timeout: float) -> tuple[bool, bool]:
    """Start ``command``; SIGKILL it ``delay`` s after training began (``mode="time"``) or at the
    first checkpoint commit seen after that (``mode="write"``). Returns (killed, inside a commit)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    began, deadline = None, time.monotonic() + timeout
    try:
        while process.poll() is None:
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"{' '.join(command)} ran past {timeout} s")
            if began is None and _started(run):
                began = now
            if began is not None and now - began >= delay:
                writing = _commit_in_progress(run)
                if mode == "time" or writing:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    return True, writing
            time.sleep(0.0005 if began is not None else 0.02)
        if process.returncode != 0:
            raise RuntimeError(f"train exited {process.returncode}: {process.stderr.read().decode()[-2000:]}")
        return False, False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()


def train_with_kills(config: str | Path, run: str | Path, kills: int, seed: int = 0,
                     overrides: Sequence[str] = (), max_delay: float = 3.0,
                     timeout: float = 600.0) -> KillReport:
    """Train ``config``, SIGKILLing the process ``kills`` times and resuming with ``--resume``.

    Half the kills (alternating) wait for a checkpoint commit to be in progress; the others
    land at a random moment up to ``max_delay`` s into training. After the kills a last resumed
    run trains to the end.

    Args:
        config: the YAML config (use ``Global.save_steps`` so that there are commits to hit).
        run: the run folder (``Global.output_dir/<Arch.name>``), watched for commits.
        kills: how many SIGKILLs to send.
        seed: seeds the choice of moments.
        overrides: ``-o`` overrides for every run.

    Example:
        >>> report = train_with_kills("tiny.yaml", "out/PPLCNet_x0_25", kills=4)  # doctest: +SKIP
        >>> report.finished, report.kills  # doctest: +SKIP
        (True, 4)
    """
    rng, run, report = random.Random(seed), Path(run), KillReport()
    for attempt in range(kills):
        mode = "write" if attempt % 2 else "time"
        delay = rng.uniform(0.0, max_delay)
        killed, writing = _run_until_kill(train_cli(config, overrides, resume=attempt > 0), run, mode,
                                          delay, timeout)
        report.resumes += attempt > 0
        report.log.append(f"run {attempt + 1}: {mode} kill after {delay:.2f} s: "
                          + ("killed" + (" inside a commit" if writing else "") if killed else "finished"))
        if not killed:
            report.finished = True
            return report
        report.kills += 1
        report.during_write += writing
    done = subprocess.run(train_cli(config, overrides, resume=True), capture_output=True, text=True,
                          env=_env(), timeout=timeout)
    report.resumes += 1
    report.finished = done.returncode == 0
    report.log.append(f"last run: exit {done.returncode}" + (f": {done.stderr[-2000:]}" if done.returncode else ""))
    return report


def compare_runs(a: str | Path, b: str | Path) -> dict[str, object]:
    """Compare two finished run folders: weights of ``latest`` and ``best_model`` tensor by
    tensor, and ``metrics.jsonl`` without its timing keys.

    Returns ``{"identical": bool, "max_abs_diff": float, "metrics_equal": bool}``.
    """
    a, b, worst, identical = Path(a), Path(b), 0.0, True
    for name in ("latest.safetensors", "best_model.safetensors"):
        left, right = load_file(str(a / name)), load_file(str(b / name))
        if left.keys() != right.keys():
            return {"identical": False, "max_abs_diff": float("inf"), "metrics_equal": False}
        for key in left:
            identical &= torch.equal(left[key], right[key])
            if left[key].is_floating_point() and left[key].numel():
                worst = max(worst, float((left[key].double() - right[key].double()).abs().max()))
    return {"identical": identical, "max_abs_diff": worst, "metrics_equal": _metrics(a) == _metrics(b)}


def _metrics(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS} for line in lines]
