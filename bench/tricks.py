"""Which training trick helps on Fashion-MNIST, and what each precision/layout switch costs.

Two tables:

* ``recipes``: the quickstart model and schedule, trained once per recipe and seed, each recipe the
  quickstart config plus one trick (label smoothing off, mixup, cutmix, cutout, random erasing,
  AutoAugment, RandAugment, GridMask, HideAndSeek, EMA); test top-1 (mean of the seeds) and
  training images/s, with the difference to the quickstart baseline.
* ``throughput``: one training epoch of the quickstart model in fp32, bf16 autocast,
  channels_last, both, and torch.compile; images/s (for compile, of the second epoch, so the
  compile time is left out).

    python bench/tricks.py recipes --epochs 4 --train-limit 10000 --seeds 2
    python bench/tricks.py recipes --only baseline,mixup --epochs 10     # full data
    python bench/tricks.py throughput --train-limit 1024

Every run is ``torchclas train`` in a subprocess with a generated config (under ``--out``); the
numbers come from its ``metrics.jsonl``.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "quickstart" / "fashion_mnist.yaml"


def _train_ops(cfg: dict) -> list:
    return cfg["DataLoader"]["Train"]["dataset"]["transform_ops"]


def _before_normalize(op: dict) -> Callable[[dict], None]:
    """Insert a uint8 op (AutoAugment, RandAugment) just before NormalizeImage."""
    def edit(cfg: dict) -> None:
        ops = _train_ops(cfg)
        ops.insert(next(i for i, o in enumerate(ops) if "NormalizeImage" in o), op)
    return edit


def _after_normalize(op: dict) -> Callable[[dict], None]:
    """Append a float op (Cutout, RandomErasing, GridMask, HideAndSeek), PaddleClas's order."""
    return lambda cfg: _train_ops(cfg).append(op)


def _batch_op(op: dict) -> Callable[[dict], None]:
    def edit(cfg: dict) -> None:
        cfg["DataLoader"]["Train"]["dataset"]["batch_transform_ops"] = [op]
    return edit


def _set(path: str, value) -> Callable[[dict], None]:
    def edit(cfg: dict) -> None:
        *parents, last = path.split(".")
        node = cfg
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return edit


RECIPES: dict[str, Callable[[dict], None]] = {
    "baseline": lambda cfg: None,  # the quickstart recipe: flip + label smoothing 0.1
    "no_label_smoothing": lambda cfg: cfg["Loss"]["Train"][0]["CELoss"].update(epsilon=0.0),
    "mixup": _batch_op({"MixupOperator": {"alpha": 0.2}}),
    "cutmix": _batch_op({"CutmixOperator": {"alpha": 1.0}}),
    "cutout": _after_normalize({"Cutout": {"n_holes": 1, "length": 8}}),
    "random_erasing": _after_normalize({"RandomErasing": {"EPSILON": 0.5, "sl": 0.02, "sh": 0.4, "r1": 0.3,
                                                          "mean": [0.0]}}),
    "autoaugment": _before_normalize({"AutoAugment": None}),
    "randaugment": _before_normalize({"RandAugment": {"num_layers": 2, "magnitude": 5}}),
    "gridmask": _after_normalize({"GridMask": {"d1": 12, "d2": 28, "rotate": 1, "ratio": 0.5, "mode": 0,
                                               "prob": 0.8}}),
    "hide_and_seek": _after_normalize({"HideAndSeek": None}),
    "ema": _set("EMA", {"decay": 0.99}),  # ~100-step average: a short run has a few hundred steps
}
RECIPES["random_erasing+ema"] = lambda cfg: (RECIPES["random_erasing"](cfg), RECIPES["ema"](cfg))


def _batch_32(cfg: dict) -> None:
    """Batch 32 with the linear-scaling rule (lr × 32/128): 4× the optimizer steps per epoch."""
    cfg["DataLoader"]["Train"]["sampler"]["batch_size"] = 32
    cfg["Optimizer"]["lr"]["learning_rate"] *= 32 / 128


RECIPES["batch_32"] = _batch_32
RECIPES["batch_32+ema"] = lambda cfg: (_batch_32(cfg), RECIPES["ema"](cfg))

THROUGHPUT: dict[str, Callable[[dict], None]] = {
    "fp32": _set("Global.channels_last", False),
    "bf16 autocast": lambda cfg: (_set("Global.channels_last", False)(cfg), _set("AMP", {"level": "O1"})(cfg)),
    "channels_last": _set("Global.channels_last", True),
    "channels_last + bf16": _set("AMP", {"level": "O1"}),
    "torch.compile": lambda cfg: (_set("Global.channels_last", False)(cfg), _set("Global.compile", True)(cfg)),
    "torch.compile + channels_last": _set("Global.compile", True),
}


def _base_config(out: Path, epochs: int, train_limit: int | None, seed: int) -> dict:
    cfg = yaml.safe_load(CONFIG.read_text())
    for split in ("Train", "Eval"):
        dataset = cfg["DataLoader"][split]["dataset"]
        dataset["image_root"] = str(ROOT / dataset["image_root"])
        dataset["cls_label_path"] = str(ROOT / dataset["cls_label_path"])
    if train_limit:
        lines = Path(cfg["DataLoader"]["Train"]["dataset"]["cls_label_path"]).read_text().splitlines()
        subset = out / f"train_list_{train_limit}.txt"
        subset.write_text("\n".join(lines[:train_limit]) + "\n")
        cfg["DataLoader"]["Train"]["dataset"]["cls_label_path"] = str(subset)
    cfg["Global"].update(epochs=epochs, seed=seed, save_interval=10_000, eval_interval=epochs)
    return cfg


def run(cfg: dict, name: str, out: Path, reuse: bool = False) -> list[dict]:
    """Train ``cfg`` in a subprocess under ``out/name``; returns its metrics.jsonl records.

    With ``reuse``, a finished run of the same config in that folder is read instead of re-run.
    """
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    cfg = copy.deepcopy(cfg)
    cfg["Global"]["output_dir"] = str(folder)
    path, done = folder / "config.yaml", folder / "records.json"
    text = yaml.safe_dump(cfg, sort_keys=False)
    if reuse and done.is_file() and path.is_file() and path.read_text() == text:
        return json.loads(done.read_text())
    path.write_text(text)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "torchclas", "train", "-c", str(path)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    records = [json.loads(line) for line in next(folder.glob("*/metrics.jsonl")).read_text().splitlines()]
    records.append({"split": "wall", "seconds": time.perf_counter() - started})
    done.write_text(json.dumps(records))
    return records


def bench_recipes(args: argparse.Namespace) -> Table:
    """Train every recipe for every seed; a table of mean test top-1, its spread and images/s."""
    names = args.only.split(",") if args.only else list(RECIPES)
    rows = {}
    for name in names:
        top1s, ips, minutes = [], [], []
        for seed in range(args.seeds):
            cfg = _base_config(args.out, args.epochs, args.train_limit, seed=42 + seed)
            RECIPES[name](cfg)
            records = run(cfg, f"{name}_seed{seed}", args.out, args.reuse)
            top1s.append(100 * [r for r in records if r["split"] == "eval"][-1]["top1"])
            ips.append(statistics.median(r["ips"] for r in records if r["split"] == "train"))
            minutes.append(records[-1]["seconds"] / 60)
            print(f"{name} seed {seed}: top1 {top1s[-1]:.2f}%  {ips[-1]:.0f} img/s", flush=True)
        rows[name] = (top1s, statistics.median(ips), sum(minutes))
    base = statistics.mean(rows["baseline"][0]) if "baseline" in rows else None
    table = Table(title=f"Fashion-MNIST, quickstart model, {args.epochs} epochs, "
                        f"{args.train_limit or 'all'} train images, {args.seeds} seed(s)")
    for column in ("recipe", "test top-1 (mean)", "per seed", "vs baseline", "train img/s", "minutes"):
        table.add_column(column)
    for name, (top1s, ips, minutes) in rows.items():
        mean = statistics.mean(top1s)
        delta = f"{mean - base:+.2f}" if base is not None else "-"
        table.add_row(name, f"{mean:.2f}%", " ".join(f"{t:.2f}" for t in top1s), delta, f"{ips:.0f}",
                      f"{minutes:.1f}")
    return table


def bench_throughput(args: argparse.Namespace) -> Table:
    """Training images/s for each precision/layout/compile setting (compile: its second epoch)."""
    table = Table(title=f"quickstart model training throughput, {args.train_limit} images/epoch, batch 128, "
                        "1 compute thread + 1 loader worker")
    for column in ("setting", "train img/s", "vs fp32", "first epoch s"):
        table.add_column(column)
    fp32 = None
    for name, edit in THROUGHPUT.items():
        compiled = "compile" in name
        cfg = _base_config(args.out, 2 if compiled else 1, args.train_limit, seed=0)
        cfg["Global"]["eval_during_train"] = False
        edit(cfg)
        records = run(cfg, "throughput_" + name.replace(" ", "_").replace("+", "and"), args.out)
        train = [r for r in records if r["split"] == "train"]
        ips = train[-1]["ips"]
        fp32 = fp32 or ips
        table.add_row(name, f"{ips:.0f}", f"{ips / fp32:.2f}×", f"{train[0]['num_images'] / train[0]['ips']:.0f}")
        print(f"{name}: {ips:.0f} img/s", flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", choices=["recipes", "throughput"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-limit", type=int, default=10_000, help="first N train images (0 = all)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--only", default=None, help="comma-separated recipe names")
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "bench_tricks")
    parser.add_argument("--reuse", action="store_true", help="read finished runs of the same config")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = bench_recipes(args) if args.table == "recipes" else bench_throughput(args)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
