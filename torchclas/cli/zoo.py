"""The model-zoo commands of the CLI: ``models``, ``benchmark``, ``plot-zoo`` and ``convert``."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any, Callable

__all__ = ["add_commands", "COMMANDS"]

log = logging.getLogger("torchclas")


def add_commands(sub: Any) -> None:
    """The model-zoo sub-commands: models, benchmark, plot-zoo and convert."""
    models = sub.add_parser("models", help="list the model table with params, FLOPs and top-1")
    models.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern, e.g. 'ResNet*'")
    models.add_argument("--json", action="store_true", help="one JSON object per model")

    bench = sub.add_parser("benchmark", help="measure latency and throughput of models (random weights)")
    bench.add_argument("models", nargs="+", metavar="MODEL")
    bench.add_argument("--batch", type=int, nargs="+", default=[1], help="batch sizes (default 1)")
    bench.add_argument("--size", type=int, default=None, help="input side (default the model's)")
    bench.add_argument("--backend", nargs="+", default=["torch", "onnxruntime"],
                       choices=["torch", "onnxruntime"])
    bench.add_argument("--threads", type=int, default=None, help="CPU threads (default torch's setting)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda")
    bench.add_argument("--warmup", type=int, default=5)
    bench.add_argument("--repeats", type=int, default=20, help="timed passes (fewer past --max-seconds)")
    bench.add_argument("--max-seconds", type=float, default=30.0, help="time budget per measurement")
    bench.add_argument("--out", default=None, help="CSV file of the results")

    plot = sub.add_parser("plot-zoo", help="draw accuracy vs latency / params / FLOPs from a benchmark CSV")
    plot.add_argument("results", help="CSV written by `torchclas benchmark --out`")
    plot.add_argument("--out", default=".", help="folder of the PNGs")
    plot.add_argument("--accuracy", default=None, help="CSV with columns model, top1 (your own eval)")
    plot.add_argument("--backend", default=None, help="whose latency to plot (default torch)")
    plot.add_argument("--batch", type=int, default=None, help="whose latency to plot (default the smallest)")

    convert = sub.add_parser("convert", help="convert PaddleClas .pdparams weights to safetensors")
    convert.add_argument("weights", help="PaddleClas .pdparams file")
    convert.add_argument("--model", required=True, help="PaddleClas model name, e.g. ResNet50_vd")
    convert.add_argument("--out", default=None, help="output .safetensors (default: next to the input)")


def _cmd_convert(args: argparse.Namespace) -> None:
    from ..config.errors import closest
    from ..models import MODEL_TABLE
    from ..models.io.paddle_weights import convert_pdparams

    if args.model not in MODEL_TABLE:
        raise ValueError(f"unknown model '{args.model}'{closest(args.model, MODEL_TABLE)}")
    out = convert_pdparams(args.weights, args.model, args.out)
    print(f"converted {args.weights} -> {out} ({args.model}); use it as Global.pretrained_model")


def _cmd_models(args: argparse.Namespace) -> None:
    from ..models import list_models
    from ..zoo.analysis import load_stats, model_info

    names = list_models(args.pattern)
    if not names:
        raise ValueError(f"no model matches '{args.pattern}'")
    missing = [n for n in names if n not in load_stats()]
    if missing:
        log.warning("%d model(s) are not in zoo_stats.json, counting them now (python -m "
                    "torchclas.zoo.analysis --write-stats stores them): %s", len(missing), ", ".join(missing[:5]))
    infos = [model_info(name) for name in names]
    if args.json:
        for info in infos:
            print(json.dumps(info))
        return
    from rich.table import Table

    table = Table(title=f"{len(infos)} models")
    for column in ("name", "family", "params (M)", "GFLOPs", "input", "backend", "top1"):
        table.add_column(column, justify="right" if column in ("params (M)", "GFLOPs", "top1") else "left")
    for i in infos:
        table.add_row(i["name"], i["family"], f"{i['params'] / 1e6:.2f}", f"{i['flops'] / 1e9:.3f}",
                      "x".join(map(str, i["input_size"][1:])), i["backend"],
                      "" if i["top1"] is None else f"{i['top1']:.2f}")
    _wide_console().print(table)


def _wide_console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a pipe or a log file: do not cut model names at 80 columns
        console.width = 200
    return console


def _cmd_benchmark(args: argparse.Namespace) -> None:
    from ..zoo.benchmark import benchmark_models, rows_table

    def progress(row: Any) -> None:
        result = f"{row.latency_ms:.2f} ms, {row.throughput:.1f} img/s" if not row.error else f"ERROR {row.error}"
        log.info("%s %s batch %d: %s", row.model, row.backend, row.batch, result)

    rows = benchmark_models(args.models, out=args.out, progress=progress, batches=args.batch, size=args.size,
                            backends=args.backend, threads=args.threads, warmup=args.warmup,
                            repeats=args.repeats, max_seconds=args.max_seconds, device=args.device)
    _wide_console().print(rows_table(rows))
    if args.out:
        print(f"wrote {args.out}")


def _cmd_plot_zoo(args: argparse.Namespace) -> None:
    from ..zoo.plot import plot_zoo

    written = plot_zoo(args.results, args.out, accuracy_file=args.accuracy, backend=args.backend,
                       batch=args.batch)
    print("wrote " + ", ".join(str(path) for path in written.values()))


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "convert": _cmd_convert, "models": _cmd_models, "benchmark": _cmd_benchmark, "plot-zoo": _cmd_plot_zoo,
}
