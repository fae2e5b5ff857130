"""Training and input-pipeline speed, torchclas against PaddleClas, in one run on this machine.

    python bench/speed.py                                   # both tables, 2 threads, 3 rounds
    python bench/speed.py --models PPLCNet_x1_0 --rounds 1 --skip-pipeline

* ``training step``: images/s of forward + backward + SGD-momentum step on random 224x224 data,
  batch 32, ``--threads`` threads: PaddleClas 2.6 dygraph fp32 (oneDNN) in its own venv, and
  torchclas eager fp32, fp32 channels_last, bf16 autocast + channels_last (all convolutions, then
  with the depthwise ones kept in fp32), and what torchclas's fast defaults pick on this machine
  (``Global.precision: auto``, ``channels_last: auto``, ``AMP.custom_black_list`` unset,
  ``Optimizer.fused`` unset); ``--compile`` adds the fast defaults under ``torch.compile``.
* ``input pipeline``: images/s of decode + RandCropImage 224 + RandFlipImage + NormalizeImage on
  500x375 and 1024x768 JPEGs (scikit-learn's sample photographs, re-encoded), 2 worker processes:
  PaddleClas's ops (cv2) against torchclas's loader (torchvision.io decode, transforms.v2 on uint8),
  normalising per image in the workers or per batch after the workers, and (the default) also
  decoding JPEGs at the DCT scale the crop allows (``loader.fast_decode``).
* ``data wait``: the share of a real ``torchclas.train`` epoch of ResNet18_vd at 224 spent waiting
  for the loader (``metrics.jsonl``'s ``data_wait``).

Each round runs every configuration once; the tables show the median over rounds (the machine is
noisy, so both sides see the same load). The Paddle venv (``--paddle-venv``, default
``.venv-paddle``; paddlepaddle==3.3.1 and paddleclas==2.6.0 from PyPI, ~2 min) is
not a project dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from torchclas.configure import load_config  # noqa: E402
from torchclas.config.schema import AMPConfig, Config  # noqa: E402
from torchclas.data.loader import build_dataloader  # noqa: E402
from torchclas.engine.fast_defaults import resolve_precision  # noqa: E402
from torchclas.models.layout import is_conv_net  # noqa: E402
from torchclas.engine.precision import float32_ops, keep_float32  # noqa: E402
from torchclas.models import create_model  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from paddle_env import ensure_paddle_venv  # noqa: E402

PADDLE = ROOT / "bench" / "paddle_speed.py"
NORMALIZE = {"scale": "1.0/255.0", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "order": ""}
# row key -> (label, torch_train_ips keys); None: what the fast defaults pick here
TRAIN_VARIANTS = {
    "fp32": ("torchclas eager fp32", dict(precision="fp32", channels_last=False)),
    "fp32_cl": ("torchclas fp32 + channels_last", dict(precision="fp32", channels_last=True)),
    "bf16_cl": ("torchclas bf16 autocast + channels_last", dict(precision="bf16", channels_last=True)),
    "bf16_dw": ("torchclas bf16 + CL, depthwise convs in fp32",
                dict(precision="bf16", channels_last=True, float32_ops=("depthwise_conv2d",))),
    "auto": ("torchclas fast defaults (auto, fused SGD)", None),
}
# (late_normalize, fast_decode) -> row name of the input-pipeline table
VARIANTS = {(False, False): "torchclas, full decode, normalised per image in the workers",
            (True, False): "torchclas, full decode, uint8 from the workers, normalised per batch",
            (True, True): "torchclas default: + JPEG decoded at the crop's DCT scale"}
TRAIN_OPS = [{"DecodeImage": {"to_rgb": True, "channel_first": False}}, {"RandCropImage": {"size": 224}},
             {"RandFlipImage": {"flip_code": 1}}, {"NormalizeImage": NORMALIZE}]


def paddle(python: Path, *args: str, threads: int = 1) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([str(python), str(PADDLE), *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _auto_choice(name: str, threads: int) -> tuple[str, bool, int, str]:
    """What ``Global.precision: auto``, ``num_threads`` unset and ``channels_last: auto`` pick for
    ``name`` here: (precision, channels_last, threads, why)."""
    cfg = Config.model_validate({"Arch": {"name": name}})
    torch.set_num_threads(threads)  # the probe runs on this many threads when it has no choice to make
    resolved, why = resolve_precision(cfg, torch.device("cpu"), max_threads=threads)
    return (resolved.Global.precision, is_conv_net(create_model(name, 1000)),
            resolved.Global.num_threads or threads, why)


def torch_train_ips(name: str, precision: str, channels_last: bool, batch: int, steps: int, threads: int,
                    float32_ops: tuple[str, ...] = (), fused: bool = False, compile: bool = False) -> float:
    """Images/s of torchclas training steps (median step after two warm-up steps).

    ``float32_ops``: layers kept in float32 under bf16 autocast (``AMP.custom_black_list``);
    ``fused``: torch's fused SGD kernel; ``compile``: ``torch.compile`` (inductor) of the model."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_model(name, 1000)
    keep_float32(model, list(float32_ops))
    x = torch.randn(batch, 3, 224, 224)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4,
                                **({"fused": True} if fused else {}))
    model.train()
    run = torch.compile(model) if compile else model
    times = []
    for _ in range(steps + (2 if compile else 0)):
        began = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = torch.nn.functional.cross_entropy(run(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - began)
    kept = sorted(times[4 if compile else 2:])
    return batch / kept[len(kept) // 2]


def torch_pipeline_ips(paths: list[str], workers: int, seconds: float, folder: Path, late: bool = True,
                       fast_decode: bool = True) -> float:
    """Images/s of torchclas's training loader over ``paths`` repeated (``workers`` processes),
    normalised batches included (``late``: uint8 from the workers, normalised in this process;
    ``fast_decode``: JPEGs decoded at the DCT scale the crop allows)."""
    listing = folder / "speed_list.txt"
    listing.write_text("".join(f"{p} 0\n" for p in paths * 64))
    split = Config.model_validate({"Arch": {"name": "ResNet18_vd"}, "DataLoader": {"Train": {
        "dataset": {"name": "ImageNetDataset", "image_root": "/", "cls_label_path": str(listing),
                    "transform_ops": TRAIN_OPS},
        "sampler": {"batch_size": 32, "shuffle": True},
        "loader": {"num_workers": workers, "persistent_workers": True, "late_normalize": late,
                   "fast_decode": fast_decode}}}}).DataLoader.Train
    loader = build_dataloader(split, seed=0, class_num=1)
    torch.set_num_threads(1)
    done, began, epoch = 0, None, 0
    while True:
        loader.batch_sampler.set_epoch(epoch)
        for images, _, _ in loader:
            if began is None:  # the first batch pays the workers' start-up
                began = time.perf_counter()
                continue
            done += images.shape[0]
            if time.perf_counter() - began > seconds:
                return done / (time.perf_counter() - began)
        epoch += 1


def data_wait(photo: str, folder: Path) -> dict:
    """One real training epoch of ResNet18_vd at 224 on 192 JPEGs with the fast defaults and one
    loader worker: its data-wait share and img/s."""
    from torchclas.engine import train

    listing = folder / "wait_list.txt"
    listing.write_text("".join(f"{photo} {i % 10}\n" for i in range(192)))
    cfg = {"Global": {"output_dir": str(folder / "wait_run"), "epochs": 1, "device": "cpu", "eval_during_train": False,
                      "seed": 0},
           "Arch": {"name": "ResNet18_vd", "class_num": 10},
           "DataLoader": {"Train": {"dataset": {"name": "ImageNetDataset", "image_root": "/",
                                                "cls_label_path": str(listing), "transform_ops": TRAIN_OPS},
                                    "sampler": {"batch_size": 32, "shuffle": True},
                                    "loader": {"num_workers": 1}}}}
    path = folder / "wait.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = train(load_config(path))
    ran = yaml.safe_load((folder / "wait_run" / "ResNet18_vd" / "config.yaml").read_text())["Global"]
    return {"data_wait": result["train"]["data_wait"], "ips": result["train"]["ips"],
            "choice": f"{ran['precision']}, {ran['num_threads']} thread(s)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["ResNet18_vd", "PPLCNet_x1_0"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="per input-pipeline measurement")
    parser.add_argument("--paddle-venv", type=Path, default=ROOT / ".venv-paddle")
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "bench_speed")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--compile", action="store_true", help="add a torch.compile row (~1 min per model and round)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    python = ensure_paddle_venv(args.paddle_venv)
    console = Console(width=140)
    if not args.skip_train:
        console.print(train_table(args, python))
    if not args.skip_pipeline:
        photos = paddle(python, "photos", str(args.out / "photos"))
        console.print(pipeline_table(args, python, photos))
        wait = data_wait(photos["500x375"][0], args.out)
        console.print(f"data wait in a real ResNet18_vd epoch (224, batch 32, 1 loader worker, fast defaults: "
                      f"{wait['choice']}): {100 * wait['data_wait']:.1f}% of the epoch, {wait['ips']:.1f} img/s")


def train_table(args: argparse.Namespace, python: Path) -> Table:
    rows: dict[tuple, list[float]] = {}
    choices = {name: _auto_choice(name, args.threads) for name in args.models}
    variants = dict(TRAIN_VARIANTS)
    if args.compile:
        variants["compiled"] = ("torchclas fast defaults + torch.compile (inductor)", None)
    for _ in range(args.rounds):
        for name in args.models:
            rows.setdefault((name, "paddle"), []).append(
                paddle(python, "train", name, "--batch", str(args.batch), "--steps", str(args.steps),
                       "--threads", str(args.threads), threads=args.threads)["ips"])
            precision, cl, threads, _ = choices[name]
            auto = dict(precision=precision, channels_last=cl, threads=threads, fused=True,
                        float32_ops=tuple(float32_ops(_amp(precision), torch.device("cpu"))))
            for key, (_, keys) in variants.items():
                run = {"threads": args.threads, **(keys or dict(auto, compile=key == "compiled"))}
                rows.setdefault((name, key), []).append(torch_train_ips(name, batch=args.batch, steps=args.steps, **run))
    table = Table(title=f"training step, img/s (224x224, batch {args.batch}, {args.threads} threads, "
                        f"median of {args.rounds} rounds; ratio to PaddleClas)")
    table.add_column("runtime")
    for name in args.models:
        table.add_column(name, justify="right")
    base = {name: statistics.median(rows[(name, "paddle")]) for name in args.models}
    table.add_row("PaddleClas 2.6 dygraph fp32 (oneDNN)", *(f"{base[n]:.1f}" for n in args.models))
    for key, (label, keys) in variants.items():
        suffix = {n: "" if keys else f", {choices[n][0]}{' CL' if choices[n][1] else ''} {choices[n][2]} thr"
                  for n in args.models}
        table.add_row(label, *(_cell(rows[(n, key)], base[n]) + suffix[n] for n in args.models))
    return table


def _amp(precision: str) -> AMPConfig | None:
    return AMPConfig(dtype="bfloat16") if precision == "bf16" else None


def pipeline_table(args: argparse.Namespace, python: Path, photos: dict) -> Table:
    rows: dict[tuple, list[float]] = {}
    for _ in range(args.rounds):
        for size, paths in photos.items():
            rows.setdefault((size, "paddle"), []).append(
                paddle(python, "ops", *paths, "--workers", "2", "--seconds", str(args.seconds))["ips"])
            for late, fast in VARIANTS:
                rows.setdefault((size, late, fast), []).append(
                    torch_pipeline_ips(paths, 2, args.seconds, args.out, late, fast))
    table = Table(title=f"input pipeline, 2 loader workers, img/s (decode + RandCropImage 224 + flip + normalize; "
                        f"median of {args.rounds} rounds)")
    table.add_column("pipeline")
    for size in photos:
        table.add_column(f"{size} JPEG", justify="right")
    base = {size: statistics.median(rows[(size, "paddle")]) for size in photos}
    table.add_row("PaddleClas ops (cv2)", *(f"{base[s]:.0f}" for s in photos))
    for late, fast in VARIANTS:
        table.add_row(VARIANTS[(late, fast)], *(_cell(rows[(s, late, fast)], base[s], 0) for s in photos))
    return table


def _cell(values: list[float], base: float, digits: int = 1) -> str:
    value = statistics.median(values)
    return f"{value:.{digits}f} ({value / base:.1f}x)"


if __name__ == "__main__":
    main()
