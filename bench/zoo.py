"""Speed and size of a spread of zoo models, and PaddleClas-style accuracy curves.

For each model (random weights, class_num=1000, folded for inference: RepVGG_A0 runs as plain
3x3 convs): parameters, GFLOPs (multiply-accumulates, as PaddleClas counts), batch-1 latency
(ms, median) and batch-16 throughput (images/s), with torch eager fp32 and onnxruntime on CPU.
Writes ``results.csv`` (``torchclas benchmark`` format) and the three curves of
``torchclas plot-zoo`` (accuracy = PaddleClas's published top-1) into ``--out``.

    python bench/zoo.py                                   # every model, all cores
    python bench/zoo.py --only PPLCNet_x0_25 --repeats 2  # a quick check

Models not in the table yet are skipped with a message.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from torchclas.zoo.benchmark import BenchmarkRow, benchmark_models  # noqa: E402
from torchclas.models import MODEL_TABLE  # noqa: E402
from torchclas.zoo.plot import plot_zoo  # noqa: E402

MODELS = ("ResNet18_vd", "ResNet50_vd", "ResNet101_vd", "MobileNetV3_small_x1_0", "MobileNetV3_large_x1_0",
          "PPLCNet_x0_25", "PPLCNet_x1_0", "PPLCNet_x2_5", "PPHGNet_tiny", "RepVGG_A0",
          "ViT_small_patch16_224", "SwinTransformer_tiny_patch4_window7_224")


def summary_table(rows: list[BenchmarkRow], batches: list[int], backends: list[str]) -> Table:
    """One line per model: size, published top-1, latency at the first batch, img/s at the last."""
    first, last = batches[0], batches[-1]
    table = Table(title=f"zoo benchmark ({rows[0].device}, {rows[0].threads} threads)")
    for column in ("model", "params (M)", "GFLOPs", "top1"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for backend in backends:
        table.add_column(f"{backend} b{first} ms", justify="right")
        table.add_column(f"{backend} b{last} img/s", justify="right")
    by_key = {(r.model, r.backend, r.batch): r for r in rows}
    for name in dict.fromkeys(r.model for r in rows):
        some = next(r for r in rows if r.model == name)
        top1 = MODEL_TABLE[name].top1
        cells = [name, f"{some.params / 1e6:.2f}", f"{some.flops / 1e9:.3f}", "" if top1 is None else f"{top1:.2f}"]
        for backend in backends:
            latency, throughput = by_key.get((name, backend, first)), by_key.get((name, backend, last))
            cells.append(f"{latency.latency_ms:.2f}" if latency and not latency.error else "error")
            cells.append(f"{throughput.throughput:.1f}" if throughput and not throughput.error else "error")
        table.add_row(*cells)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=None, help="comma-separated subset of the models")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--size", type=int, default=None, help="input side (default each model's)")
    parser.add_argument("--backend", nargs="+", default=["torch", "onnxruntime"])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time budget per measurement")
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "bench_zoo")
    args = parser.parse_args()

    wanted = args.only.split(",") if args.only else list(MODELS)
    console = Console()
    if not console.is_terminal:  # a log file: keep model names whole
        console.width = 200
    for name in wanted:
        if name not in MODEL_TABLE:
            console.print(f"skipped {name}: not in the model table yet")
    names = [n for n in wanted if n in MODEL_TABLE]
    if not names:
        raise SystemExit("no model to benchmark")

    def progress(row: BenchmarkRow) -> None:
        result = f"{row.latency_ms:.2f} ms" if not row.error else f"ERROR {row.error}"
        console.print(f"{row.model} {row.backend} batch {row.batch}: {result}")

    results = args.out / "results.csv"
    rows = benchmark_models(names, out=results, progress=progress, batches=args.batch, size=args.size,
                            backends=args.backend, threads=args.threads, warmup=args.warmup,
                            repeats=args.repeats, max_seconds=args.max_seconds)
    console.print(summary_table(rows, args.batch, args.backend))
    console.print(f"wrote {results}")
    try:
        written = plot_zoo(results, args.out, backend=args.backend[0], batch=args.batch[0])
        console.print("wrote " + ", ".join(str(p) for p in written.values()))
    except ValueError as exc:  # e.g. no benchmarked model has a published top-1
        console.print(f"no plots: {exc}")


if __name__ == "__main__":
    main()
