"""Training speed on one GPU: synthetic data against real JPEG decoding, in one run.

    python bench/gpu_speed.py                              # ResNet50_vd, 224, batch 256, on cuda
    python bench/gpu_speed.py --device cpu --model PPLCNet_x0_25 --size 64 --batch 8 --images 64 --steps 4

Rows (images/s; the issue's H100 figures: >= 3,000 img/s synthetic, >= 90% of that with JPEGs):

* ``synthetic``: forward + backward + fused SGD-momentum step on one random batch kept on the
  device, bf16 autocast + channels_last (what ``Global.precision: auto`` picks on a bf16 GPU),
  cudnn.benchmark on; ``--compile`` adds ``torch.compile`` (inductor) and its CUDA-graph mode
  (``reduce-overhead``) as rows of their own, and the two real-data rows below again with
  ``Global.compile: true``.
* ``JPEG, CPU workers``: a real ``torchclas.train`` epoch over ``--images`` 500x375 JPEGs
  (repeated), decoded and cropped by ``--workers`` loader processes (``loader.fast_decode``);
* ``JPEG, decode_on_device``: the same epoch with the workers only reading files and nvJPEG
  decoding each batch on the GPU (``loader.decode_on_device``);
* ``--ddp N``: the decode-on-device epoch again under ``torchrun --nproc_per_node N`` (NCCL).

``--only ROW ...`` runs the rows named, in that order. Each real-data row is the second of two
epochs (the first pays worker start-up and cuDNN's algorithm search), with its ``data wait``
share of the epoch. No download: the JPEGs are
generated here. Runs on a CPU too, for checking the script, with the ``--device cpu`` line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from torchclas.configure import load_config  # noqa: E402
from torchclas.engine import train  # noqa: E402
from torchclas.models import create_model  # noqa: E402

ROWS = ("synthetic", "cpu_workers", "on_device", "ddp", "compile default", "compile reduce-overhead",
        "cpu_workers compiled", "on_device compiled")
JPEG_FREE = ("synthetic", "compile default", "compile reduce-overhead")
NORMALIZE = {"scale": "1.0/255.0", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "order": ""}


def write_jpegs(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` photo-like 500x375 JPEGs (smooth colour fields, shapes, texture), quality 90."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:375, :500]
    paths = []
    for i in range(count):
        low = rng.uniform(0, 255, (14, 18, 3)).astype(np.uint8)
        image = np.asarray(Image.fromarray(low).resize((500, 375), Image.BICUBIC)).astype(np.float32)
        for _ in range(8):
            cy, cx, r = rng.uniform(0, 375), rng.uniform(0, 500), rng.uniform(10, 120)
            image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
        image += 10 * np.sin(xx / rng.uniform(2, 6))[..., None] + rng.normal(0, 5, image.shape)
        buffer = io.BytesIO()
        Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
        paths.append(folder / f"{i:04d}.jpg")
        paths[-1].write_bytes(buffer.getvalue())
    return paths


def synthetic_ips(args: argparse.Namespace, compile_mode: str | None = None) -> float:
    """Images/s of training steps on one random batch on the device (median step)."""
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    model = create_model(args.model, 1000).to(device, memory_format=torch.channels_last).train()
    x = torch.randn(args.batch, 3, args.size, args.size, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (args.batch,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, fused=True)
    run = model if compile_mode is None else torch.compile(model, mode=compile_mode)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for _ in range(args.steps + 3):
        began = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(run(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        times.append(time.perf_counter() - began)
    kept = sorted(times[3:])
    return args.batch / kept[len(kept) // 2]


def run_config(args: argparse.Namespace, listing: Path, out: Path, decode_on_device: bool,
               compile_model: bool = False) -> Path:
    """A two-epoch training config over ``listing`` at the bench's model, size and batch."""
    cfg = {"Global": {"output_dir": str(out), "epochs": 2, "device": args.device, "eval_during_train": False,
                      "seed": 0, "image_shape": [3, args.size, args.size], "save_interval": 2,
                      "compile": compile_model},
           "Arch": {"name": args.model, "class_num": 1000},
           "Optimizer": {"name": "Momentum", "momentum": 0.9, "lr": {"name": "Cosine", "learning_rate": 0.1}},
           "DataLoader": {"Train": {
               "dataset": {"name": "ImageNetDataset", "image_root": "/", "cls_label_path": str(listing),
                           "transform_ops": [{"DecodeImage": {"to_rgb": True}}, {"RandCropImage": {"size": args.size}},
                                             {"RandFlipImage": {"flip_code": 1}}, {"NormalizeImage": NORMALIZE}]},
               "sampler": {"batch_size": args.batch, "shuffle": True, "drop_last": True},
               "loader": {"num_workers": args.workers, "decode_on_device": decode_on_device,
                          "prefetch_factor": 4}}}}
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(cfg))
    return path


def last_epoch(out: Path, model: str) -> dict:
    """The last ``metrics.jsonl`` train record of a run: its img/s and data-wait share."""
    records = [json.loads(line) for line in (out / model / "metrics.jsonl").read_text().splitlines() if line]
    record = [r for r in records if r.get("split") == "train"][-1]
    return {"ips": record["ips"], "data_wait": record.get("data_wait", float("nan"))}


def jpeg_listing(args: argparse.Namespace, work: Path) -> Path:
    """A label file of ``args.images`` samples over at most 512 generated JPEGs."""
    paths = write_jpegs(work / "jpegs", min(args.images, 512))
    listing = work / "list.txt"
    listing.write_text("".join(f"{paths[i % len(paths)]} {i % 1000}\n" for i in range(args.images)))
    return listing


def jpeg_epoch(args: argparse.Namespace, listing: Path, out: Path, on_device: bool, ddp: int = 0,
               compile_model: bool = False) -> dict:
    """The second epoch of a real training run over ``listing`` (in this process, or under torchrun)."""
    config = run_config(args, listing, out, on_device, compile_model)
    if ddp:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ddp}",
                        "-m", "torchclas", "train", "-c", str(config)], check=True, env=env)
    else:
        train(load_config(config))
    return last_epoch(out, args.model)


def measure(figures: dict[str, dict], key: str, row, json_path: Path | None) -> None:
    """Run one row into ``figures``; a row that fails is reported with its error and the rest still run."""
    try:
        figures[key] = row()
    except Exception as error:  # noqa: BLE001 - the bench reports every row it can
        figures[key] = {"error": f"{type(error).__name__}: {error}"[:400]}
    print(f"row {key}: {figures[key]}", flush=True)
    if json_path:
        json_path.write_text(json.dumps(figures, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="ResNet50_vd")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--images", type=int, default=20480, help="JPEG samples per epoch (512 files repeated)")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    parser.add_argument("--compile", action="store_true",
                        help="add the torch.compile rows (synthetic default and reduce-overhead; real data)")
    parser.add_argument("--ddp", type=int, default=0, help="add a torchrun row with this many processes (NCCL)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--only", nargs="+", choices=ROWS, help="these rows only, in this order")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run with --device cpu (and small sizes) to check the script")
    rows = {  # in this order; the compile rows last, each compile takes a minute or two
        "synthetic": lambda: {"ips": synthetic_ips(args)},
        "cpu_workers": lambda: jpeg_epoch(args, listing, work / "cpu_workers", False),
        "on_device": lambda: jpeg_epoch(args, listing, work / "on_device", True),
        "ddp": lambda: jpeg_epoch(args, listing, work / "ddp", True, max(args.ddp, 1)),
        "compile default": lambda: {"ips": synthetic_ips(args, "default")},
        "compile reduce-overhead": lambda: {"ips": synthetic_ips(args, "reduce-overhead")},
        "cpu_workers compiled": lambda: jpeg_epoch(args, listing, work / "cpu_compiled", False, compile_model=True),
        "on_device compiled": lambda: jpeg_epoch(args, listing, work / "on_device_compiled", True, compile_model=True),
    }
    wanted = args.only or [key for key in rows if (args.ddp or key != "ddp")
                           and (args.compile or "compile" not in key)]
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        listing = jpeg_listing(args, work) if any(key not in JPEG_FREE for key in wanted) else None
        for key in wanted:
            measure(figures, key, rows[key], args.json)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    table = Table(title=f"{args.model} training, img/s ({args.size}x{args.size}, batch {args.batch}, bf16 autocast + "
                        f"channels_last, {gpu}, {args.workers} loader workers; ratio to synthetic)")
    for column in ("data", "img/s", "x synthetic", "data wait"):
        table.add_column(column, justify="left" if column == "data" else "right")
    labels = {"synthetic": "synthetic (one batch on the device)", "compile default": "synthetic + torch.compile",
              "compile reduce-overhead": "synthetic + torch.compile CUDA graphs",
              "cpu_workers": "JPEG, CPU workers decode (fast_decode)", "on_device": "JPEG, decode_on_device (nvJPEG)",
              "ddp": f"JPEG, decode_on_device, torchrun x{max(args.ddp, 1)} (NCCL)",
              "cpu_workers compiled": "JPEG, CPU workers, Global.compile", "on_device compiled":
              "JPEG, decode_on_device, Global.compile"}
    base = figures.get("synthetic", {}).get("ips", float("nan"))
    for key, row in figures.items():
        if "error" in row:
            table.add_row(labels[key], row["error"][:60], "", "")
            continue
        wait = row.get("data_wait")
        table.add_row(labels[key], f"{row['ips']:.0f}", f"{row['ips'] / base:.2f}",
                      "" if wait is None else f"{100 * wait:.1f}%")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
