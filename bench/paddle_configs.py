"""PaddleClas's own configs through torchclas: which load, which train a step, and why the rest do not.

    python bench/paddle_configs.py --paddleclas PATH/TO/PaddleClas [--train] [--jobs 2] [--only GLOB] [--from FILE]

PATH is a PaddleClas checkout (its ``ppcls/configs/`` tree; ``fetch`` PaddlePaddle/PaddleClas).
Each config of ``ImageNet/``, ``quick_start/`` and ``PULC/`` is loaded with only its data paths
overridden (``DataLoader.*.dataset.image_root`` / ``cls_label_path`` and ``Global.infer_imgs``,
pointed at a tiny generated image list). With ``--train`` each config that loads also runs
``torchclas train`` for one epoch on that list (train + eval + checkpoint) in a subprocess, with
the batch size cut to 2 so that the big models fit a CPU step, and ``Arch.pretrained`` off (the
official weights are gigabytes over all configs; ``--pretrained`` keeps it and downloads them into
``$TORCHCLAS_HOME``); besides, only ``Global.epochs=1``, the run folder and the log interval are
set, a tab-separated copy of the list is given where a dataset's ``delimiter`` is a tab, and a
``pretrained_model`` path of the config's own that is not on this machine is set to null.
``Global.device: gpu`` (every PaddleClas config's value) runs on the CPU where there is no GPU.

Files that belong to other issues are counted apart, not tried: strategy-search files
(``search.yaml``), distillation (``Arch.name: DistillationModel``) and multi-label/attribute
datasets (``MultiLabelDataset``), retrieval (``RecModel``, ``Query``/``Gallery``). The table lists each refusal reason with its count; ``--out``
writes one JSON line per config.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import fnmatch
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from torchclas.testing.paddle_configs import data_overrides, other_issue

ROOTS = ("ImageNet", "quick_start", "PULC")
OTHER_ISSUES = {"search": "strategy search (search issue)", "distill": "distillation (distillation issue)",
                "multilabel": "multi-label / attribute (multi-label issue)",
                "retrieval": "retrieval: RecModel, Query/Gallery (a later issue)"}


def make_tiny_data(root: Path, n: int = 8, size: int = 64) -> dict[str, str]:
    """``n`` random RGB JPEGs, two classes, a PaddleClas image list (and its paths alone, for
    ``sample_list_path``) and a class-id map."""
    rng = np.random.default_rng(0)
    (root / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / "img" / f"{i}.jpg")
        lines.append(f"img/{i}.jpg {i % 2}")
    (root / "list.txt").write_text("\n".join(lines) + "\n")
    (root / "list_tab.txt").write_text("".join(line.replace(" ", "\t") + "\n" for line in lines))
    (root / "samples.txt").write_text("".join(line.split()[0] + "\n" for line in lines))  # CustomLabelDataset
    (root / "label_list.txt").write_text("0 zero\n1 one\n")
    return {"root": str(root), "list": str(root / "list.txt"), "list_tab": str(root / "list_tab.txt"),
            "samples": str(root / "samples.txt"),
            "img": str(root / "img" / "0.jpg")}


def run_overrides(raw: dict, data: dict[str, str], pretrained: bool) -> list[str]:
    """What the tiny runs change besides the data paths: a tab-separated list where a split's
    ``delimiter`` is a tab; ``Arch.pretrained`` off unless ``pretrained``; a weights path of the
    config's own (``Global.pretrained_model``, 2.0's ``pretrained_model``) that is not here, off."""
    out = []
    for split, section in (raw.get("DataLoader") or {}).items():
        dataset = (section.get("dataset") or {}) if isinstance(section, dict) else {}
        if dataset.get("delimiter") == "\t" and "cls_label_path" in dataset:
            out.append(f"DataLoader.{split}.dataset.cls_label_path={data['list_tab']}")
    if not pretrained and (raw.get("Arch") or {}).get("pretrained"):
        out.append("Arch.pretrained=False")
    for key, value in (("Global.pretrained_model", (raw.get("Global") or {}).get("pretrained_model")),
                       ("pretrained_model", raw.get("pretrained_model") if "ARCHITECTURE" in raw else None)):
        if isinstance(value, str) and "://" not in value and not Path(value).exists():
            out.append(f"{key}=null")
    return out


def try_load(path: Path, overrides: list[str]) -> list[str] | None:
    """None when the config loads, else each reason the error gives (the file name and the
    lists of valid spellings cut, so that the same reason reads the same in every config)."""
    from torchclas.configure import load_config

    try:
        load_config(path, overrides)
    except Exception as exc:  # noqa: BLE001 - the reason is what this script reports
        lines = [line.strip() for line in str(exc).strip().splitlines()]
        if len(lines) > 1 and lines[0].endswith("invalid config:"):
            lines = lines[1:]
        reasons = [re.split(r"; (valid|known|available|accepted)", line.replace(str(path) + ": ", ""))[0]
                   for line in lines]
        return [f"{type(exc).__name__}: {reason[:160]}" for reason in reasons]
    return None


def try_train(path: Path, overrides: list[str], out_dir: Path, timeout: float) -> tuple[str | None, float]:
    """Train one epoch through the CLI; None or the last error line, and the seconds it took."""
    cmd = [sys.executable, "-m", "torchclas", "train", "-c", str(path), "-o", f"Global.output_dir={out_dir}",
           "-o", "Global.epochs=1", "-o", "Global.print_batch_step=1"]
    for override in overrides:
        cmd += ["-o", override]
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout:.0f} s", time.perf_counter() - start
    finally:
        written = any(out_dir.rglob("latest.safetensors"))
        shutil.rmtree(out_dir, ignore_errors=True)  # checkpoints of the big models run to gigabytes
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        return (lines[-1][:200] if lines else f"exit {done.returncode}"), seconds
    if not written:
        return "no checkpoint written", seconds
    return None, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paddleclas", required=True, help="a PaddleClas checkout (holds ppcls/configs)")
    parser.add_argument("--train", action="store_true", help="also train one tiny epoch per loading config")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default=None, help="glob on the path under ppcls/configs")
    parser.add_argument("--from", dest="listed", default=None,
                        help="a file naming the configs to try, one path under ppcls/configs per line")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--pretrained", action="store_true", help="keep Arch.pretrained (downloads weights)")
    parser.add_argument("--out", default=None, help="write one JSON line per config here")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    tree = Path(args.paddleclas) / "ppcls" / "configs"
    paths = sorted(p for root in ROOTS for p in (tree / root).rglob("*.yaml"))
    if args.only:
        paths = [p for p in paths if fnmatch.fnmatch(str(p.relative_to(tree)), args.only)]
    if args.listed:
        wanted = set(Path(args.listed).read_text().split())
        paths = [p for p in paths if str(p.relative_to(tree)) in wanted]
    work = Path(tempfile.mkdtemp(prefix="paddle_configs_"))
    data = make_tiny_data(work / "data")

    rows: list[dict] = []
    to_train = []
    for path in paths:
        rel = str(path.relative_to(tree))
        raw = yaml.safe_load(path.read_text()) or {}
        issue = other_issue(path, raw)
        row = {"config": rel, "root": rel.split("/")[0], "issue": issue}
        if issue is None:
            overrides = data_overrides(raw, data["root"], {"Train": data["list"]}, data["img"],
                                       2 if args.train else None, sample_list=data["samples"])
            overrides += run_overrides(raw, data, args.pretrained)
            row["load_error"] = try_load(path, overrides)
            if row["load_error"] is None and args.train:
                to_train.append((row, path, overrides))
        rows.append(row)

    if to_train:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(try_train, path, overrides, work / "runs" / str(i), args.timeout): row
                       for i, (row, path, overrides) in enumerate(to_train)}
            for future in concurrent.futures.as_completed(futures):
                row = futures[future]
                row["train_error"], row["seconds"] = future.result()
                state = "ok" if row["train_error"] is None else row["train_error"]
                print(f"  {row['config']}: {state} ({row['seconds']:.0f} s)", file=sys.stderr, flush=True)

    if args.out:
        Path(args.out).write_text("".join(json.dumps(row) + "\n" for row in rows))
    report(rows, args.train)


def report(rows: list[dict], trained: bool) -> None:
    """Print the counts per root and the refusal reasons with their counts."""
    print("| root | configs | other issue | this issue | load | " + ("train 1 epoch |" if trained else ""))
    print("|---|---|---|---|---|" + ("---|" if trained else ""))
    for root in ROOTS + ("all",):
        sel = [r for r in rows if root in ("all", r["root"])]
        mine = [r for r in sel if r["issue"] is None]
        loaded = [r for r in mine if r.get("load_error") is None]
        line = f"| {root} | {len(sel)} | {len(sel) - len(mine)} | {len(mine)} | {len(loaded)} |"
        if trained:
            line += f" {sum(1 for r in loaded if r.get('train_error') is None)} |"
        print(line)
    for kind in ("load_error", "train_error"):
        reasons = collections.Counter(reason for r in rows if r.get(kind)
                                      for reason in (r[kind] if kind == "load_error" else [r[kind]]))
        if reasons:
            print(f"\n| {kind.replace('_', ' ')} | configs |\n|---|---|")
            for reason, count in reasons.most_common():
                print(f"| {reason.replace('|', '/')} | {count} |")
    others = collections.Counter(r["issue"] for r in rows if r["issue"])
    print("\n| left to another issue | configs |\n|---|---|")
    for issue, count in others.most_common():
        print(f"| {OTHER_ISSUES[issue]} | {count} |")


if __name__ == "__main__":
    main()
