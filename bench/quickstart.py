"""Train the shipped quickstart on the full Fashion-MNIST and print: model, epochs, wall minutes,
images/s, test top-1, and whether the target (>= 93.0% top-1 in <= 10 minutes) is met.

    python bench/quickstart.py                       # the shipped config as it is
    python bench/quickstart.py -o Global.epochs=5    # any override, as with torchclas train

It prepares the data (``torchclas data fashion-mnist``) when missing, runs ``torchclas train``
in a subprocess (wall time includes start-up, every epoch's evaluation and checkpoints) and
reads the run's ``metrics.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "quickstart" / "fashion_mnist.yaml"
TARGET_TOP1, TARGET_MINUTES = 0.93, 10.0


def torchclas(*args: str) -> list[str]:
    return [sys.executable, "-m", "torchclas", *args]


def prepare_data(config: Path) -> None:
    raw = yaml.safe_load(config.read_text())
    root = Path(raw["DataLoader"]["Train"]["dataset"]["image_root"])
    root = root if root.is_absolute() else ROOT / root
    if not (root / "val_list.txt").is_file():
        subprocess.run(torchclas("data", "fashion-mnist", "--out", str(root)), check=True, cwd=ROOT)


def run(config: Path, overrides: list[str], output: Path) -> dict:
    args = torchclas("train", "-c", str(config), "-o", f"Global.output_dir={output}")
    for item in overrides:
        args += ["-o", item]
    start = time.perf_counter()
    subprocess.run(args, check=True, cwd=ROOT, env={**os.environ})
    minutes = (time.perf_counter() - start) / 60
    resolved = yaml.safe_load(next(output.glob("*/config.yaml")).read_text())
    records = [json.loads(line) for line in next(output.glob("*/metrics.jsonl")).read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    evals = [r for r in records if r["split"] == "eval"]
    return {"model": resolved["Arch"]["name"], "epochs": len(train), "minutes": minutes,
            "ips": sum(r["ips"] for r in train) / len(train), "top1": evals[-1]["top1"] if evals else float("nan"),
            "data_wait": sum(r.get("data_wait", 0) for r in train) / len(train)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", type=Path, default=CONFIG)
    parser.add_argument("-o", "--override", action="append", default=[])
    parser.add_argument("--output", type=Path, default=ROOT / "output" / "bench_quickstart")
    args = parser.parse_args()
    prepare_data(args.config)
    row = run(args.config, args.override, args.output)
    table = Table(title=f"quickstart on Fashion-MNIST ({os.cpu_count()} cores)")
    for column in ("model", "epochs", "wall min", "images/s (train)", "data wait", "test top-1", "target"):
        table.add_column(column)
    met = row["top1"] >= TARGET_TOP1 and row["minutes"] <= TARGET_MINUTES
    table.add_row(row["model"], str(row["epochs"]), f"{row['minutes']:.1f}", f"{row['ips']:.0f}",
                  f"{100 * row['data_wait']:.1f}%", f"{100 * row['top1']:.2f}%",
                  f"{'met' if met else 'missed'} (>= {100 * TARGET_TOP1:.1f}% in <= {TARGET_MINUTES:.0f} min)")
    Console().print(table)


if __name__ == "__main__":
    main()
