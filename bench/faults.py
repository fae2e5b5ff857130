"""Fault injection, counted: does every fault end the way the docs say?

Rows (target: every one 100%):

* ``SIGKILL``: ``--seeds`` runs of the tiny data set, each killed ``--kills`` times (half of the
  kills inside a checkpoint commit), resumed until done; handled = the final weights and
  metrics equal an uninterrupted run bit for bit.
* ``corrupt image kinds``: every kind ``torchclas.testing.corrupt_images`` writes, read by a
  file-list dataset; handled = decoded correctly (valid exotic formats) or skipped with its path
  and reason (broken ones), and in strict mode the run stops naming the file.
* ``NaN/Inf loss``: losses forced to NaN (one step; a streak past ``nan_patience``; a streak
  after a mid-epoch checkpoint) and a real divergence (the LR jumps to 1e20 after epoch 1);
  handled = the run finishes with finite weights after skipping/rolling back, or, with no
  checkpoint to roll back to, stops with the documented error.
* ``AMP overflow``: float16 with an absurd initial loss scale; handled = overflows counted,
  skipped by the scaler, finite weights.

    python bench/faults.py --kills 6 --seeds 3

Runs are ``torchclas train`` processes (SIGKILL) or in-process ``torchclas.train`` calls, on
data made under ``--out``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
import yaml
from rich.console import Console
from rich.table import Table
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from torchclas.configure import load_config  # noqa: E402
from torchclas.config.loader import apply_overrides  # noqa: E402
from torchclas.engine import train  # noqa: E402
from torchclas.engine.recovery import TrainingDiverged  # noqa: E402
from torchclas.losses import LOSSES  # noqa: E402
from torchclas.testing.faults import FaultyLoss, compare_runs, train_cli, train_with_kills  # noqa: E402
from torchclas.testing.tiny import tiny_config_dict, write_dataset  # noqa: E402

ARCH = "PPLCNet_x0_25"


def _write_config(out: Path, data: Path, name: str, overrides: list[str] = (), epochs: int = 3) -> Path:
    """The tiny config with ``-o``-style ``overrides`` applied, written to ``out/name.yaml``."""
    cfg = apply_overrides(tiny_config_dict(data, out / name, epochs=epochs), list(overrides))
    path = out / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def bench_kills(out: Path, data: Path, kills: int, seeds: int) -> list[tuple[str, int, int]]:
    """SIGKILL rows: (what, injected, handled)."""
    straight_cfg = _write_config(out, data, "straight", ["Global.save_steps=1"], epochs=8)
    subprocess.run(train_cli(straight_cfg), check=True, capture_output=True)
    sent = during = resumed = identical = finished = 0
    for seed in range(seeds):
        name = f"killed_{seed}"
        config = _write_config(out, data, name, ["Global.save_steps=1"], epochs=8)
        report = train_with_kills(config, out / name / ARCH, kills=kills, seed=seed, max_delay=1.5)
        sent, during, resumed = sent + report.kills, during + report.during_write, resumed + report.resumes
        finished += report.finished
        same = report.finished and compare_runs(out / "straight" / ARCH, out / name / ARCH)
        identical += bool(same) and same["identical"] and same["metrics_equal"]
    return [("SIGKILL at a random moment or inside a commit", sent, sent if finished == seeds else 0),
            ("  of them inside a checkpoint commit", during, during if finished == seeds else 0),
            ("  runs resumed (kills + final run)", resumed, resumed if finished == seeds else 0),
            ("  runs ending bit-identical to an uninterrupted run", seeds, identical)]


def _finite_run(out: Path, name: str) -> bool:
    weights = load_file(str(out / name / ARCH / "latest.safetensors"))
    return all(bool(torch.isfinite(t).all()) for t in weights.values())


def _nan_case(out: Path, data: Path, name: str, at: set[int], expect: str, overrides: list[str]) -> bool:
    FaultyLoss.schedule(nan_at=at)
    config = _write_config(out, data, name, ["Loss.Train=[{FaultyLoss: {weight: 1.0}}]", *overrides])
    try:
        result = train(load_config(config))
    except TrainingDiverged as exc:
        return expect == "stops" and "Optimizer.lr.learning_rate" in str(exc)
    return expect == "recovers" and math.isfinite(result["train"]["loss"]) and _finite_run(out, name)


def bench_nan(out: Path, data: Path) -> list[tuple[str, int, int]]:
    """NaN rows: each case is one injection."""
    LOSSES["FaultyLoss"] = FaultyLoss
    cases = [
        ("one NaN step (skipped)", "recovers", {2}, []),
        ("NaN streak past nan_patience (rollback)", "recovers", set(range(8, 12)), ["Global.nan_patience=3"]),
        ("NaN streak after a mid-epoch checkpoint", "recovers", set(range(10, 14)),
         ["Global.nan_patience=3", "Global.save_steps=2"]),
        ("NaN streak with nothing to roll back to", "stops", set(range(1, 10_000)), ["Global.nan_patience=2"]),
    ]
    handled = sum(_nan_case(out, data, f"nan_{i}", at, expect, extra)
                  for i, (_, expect, at, extra) in enumerate(cases))
    lr = "Optimizer.lr={name: Piecewise, decay_epochs: [1], values: [0.05, 1.0e+20]}"
    diverged = _nan_case(out, data, "diverge", set(), "recovers",
                         [lr, "Global.nan_patience=2", "Global.nan_lr_factor=1.0e-7"])
    return [("NaN/Inf loss injected (4 kinds)", len(cases), handled),
            ("real divergence: LR 1e20 after epoch 1", 1, int(diverged))]


def bench_amp(out: Path, data: Path) -> list[tuple[str, int, int]]:
    """AMP row: float16 with initial loss scale 2^40 overflows until the scaler backs off."""
    config = _write_config(out, data, "amp", ["AMP.dtype=float16", f"AMP.scale_loss={2.0 ** 40}"], epochs=1)
    result = train(load_config(config))
    overflows = result["train"]["amp_overflows"]
    return [("AMP float16 overflow steps (counted, skipped)", overflows,
             overflows if _finite_run(out, "amp") else 0)]


def _corrupt_case_handled(case, dataset, strict_root: Path) -> bool:
    """One corrupt/exotic image: decoded right, or skipped with its reason, or dropped as missing;
    and in strict mode the dataset stops naming the file."""
    from torchclas.data.datasets import BadImageError, BadSample, FileListDataset
    from torchclas.testing.corrupt_images import CLASS_NUM

    if case.outcome == "missing":
        return (case.line, str(case.path)) in [(n, str(p)) for n, p in dataset.missing_files]
    index = [Path(p) for p, _ in dataset.samples].index(case.path)
    sample = dataset[index]
    if case.outcome == "decodes":
        return not isinstance(sample, BadSample) and case.check_decoded(sample[0]) is None
    if not (isinstance(sample, BadSample) and case.reason in sample.reason):
        return False
    one = strict_root / f"strict_{case.kind}.txt"  # this image alone, read in strict mode
    one.write_text(f"{case.path.relative_to(strict_root)} {case.label}\n")
    try:
        FileListDataset(str(strict_root), str(one), strict=True, class_num=CLASS_NUM)[0]
    except BadImageError as exc:
        return str(case.path) in str(exc)
    return False


def bench_corrupt(out: Path) -> list[tuple[str, int, int]]:
    """Corrupt-image rows (``torchclas.testing.corrupt_images``): each image kind, each bad list line."""
    from torchclas.data.datasets import FileListDataset, read_file_list
    from torchclas.testing.corrupt_images import (CLASS_NUM, LIST_FILE, write_bad_lists,
                                                  write_corrupt_dataset)

    root = out / "corrupt"
    cases = write_corrupt_dataset(root)
    dataset = FileListDataset(str(root), str(root / LIST_FILE), class_num=CLASS_NUM)
    images = [(case.kind, _corrupt_case_handled(case, dataset, root)) for case in cases]
    lists = []
    for case in write_bad_lists(root):
        try:
            read_file_list(str(case.path), str(root), case.bad.delimiter, class_num=CLASS_NUM)
            lists.append(False)
        except ValueError as exc:
            lists.append(f":{case.line}:" in str(exc) and case.bad.error in str(exc))
    return [("corrupt / exotic image kinds", len(images), sum(ok for _, ok in images)),
            *((f"  {kind}", 1, int(ok)) for kind, ok in images),
            ("bad list-file lines (named with file:line)", len(lists), sum(lists))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=6, help="SIGKILLs per run")
    parser.add_argument("--seeds", type=int, default=3, help="killed runs (different moments)")
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "bench_faults")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    data = write_dataset(args.out / "data")
    torch.set_num_threads(1)
    rows = [*bench_kills(args.out, data, args.kills, args.seeds), *bench_corrupt(args.out),
            *bench_nan(args.out, data), *bench_amp(args.out, data)]
    table = Table(title="fault injection (tiny data set, PPLCNet_x0_25, CPU)")
    for column in ("fault", "injected", "handled as stated", "rate"):
        table.add_column(column, justify="left" if column == "fault" else "right")
    for what, injected, handled in rows:
        table.add_row(what, str(injected), str(handled), f"{100 * handled / max(injected, 1):.0f}%")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
