"""``torchclas`` command line: each command is a thin shell over the library function of its name.

    torchclas data fashion-mnist --out data/fashion_mnist
    torchclas train  -c CONFIG [-o Key.path=value ...] [--nproc N] [--resume]
    torchclas eval   -c CONFIG -o Global.pretrained_model=PATH [--json]
    torchclas export -c CONFIG -o Global.pretrained_model=PATH --out model.onnx [--format onnx|torch-export|openvino]
    torchclas infer  MODEL [MODEL...] INPUT... [--weights W...] [--topk 5] [--backend onnxruntime|openvino|torch]
                     [--precision fp32|bf16|int8] [--threads N] [--threshold 0.5] [-c CONFIG] [--json]
    torchclas predict-folder MODEL [MODEL...] DIR --out preds.jsonl [--resume] [--workers 2]
    torchclas convert MODEL.pdparams --model ResNet50_vd [--out MODEL.safetensors]
    torchclas models [PATTERN] [--json]
    torchclas benchmark MODEL... [--batch 1 16] [--size 224] [--backend torch onnxruntime] [--out results.csv]
    torchclas plot-zoo RESULTS_CSV [--out DIR] [--accuracy FILE]

Exit status 0 on success; on failure a one-line error on stderr and status 1 (2 for usage).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import Any, Callable

__all__ = ["main", "build_parser"]

log = logging.getLogger("torchclas")


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="YAML config (PaddleClas format)")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="Key.path=value",
                        help="override a config key; repeatable")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="torchclas", description="Image classification toolkit "
                                     "for PyTorch that reads PaddleClas configs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every print_batch_step line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="prepare a dataset as PNG files + PaddleClas file lists")
    data.add_argument("dataset", choices=["fashion-mnist"])
    data.add_argument("--out", required=True, help="output folder")
    data.add_argument("--source", default=None, help="folder holding the four idx(.gz) files")
    data.add_argument("--limit", type=int, default=None, help="at most this many images per split")

    for name, text in (("train", "train a model"), ("eval", "evaluate a checkpoint on DataLoader.Eval")):
        cmd = sub.add_parser(name, help=text)
        _add_config_args(cmd)
        if name == "eval":
            cmd.add_argument("--json", action="store_true", help="print one JSON object last")
        else:
            cmd.add_argument("--nproc", type=int, default=1, metavar="N",
                             help="train in N local processes (torchrun + DDP; batch_size is per process)")
            cmd.add_argument("--resume", action="store_true",
                             help="continue from the newest complete checkpoint in the run folder "
                                  "(= -o Global.checkpoints=auto; starts fresh when there is none)")

    export = sub.add_parser("export", help="export a checkpoint to ONNX with preprocessing metadata")
    _add_config_args(export)
    export.add_argument("--out", required=True, help="output file: .onnx, .pt2 (torch-export) or .xml (openvino)")
    export.add_argument("--format", default="onnx", choices=["onnx", "torch-export", "openvino"])
    export.add_argument("--opset", type=int, default=17)
    export.add_argument("--multilabel", action="store_true", default=None,
                        help="store as multi-label (sigmoid scores; default: from Loss.Train)")
    export.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "int8"])
    export.add_argument("--calibration", default=None, metavar="DIR", help="int8: folder of calibration images")
    export.add_argument("--calibration-size", type=int, default=128, help="int8: at most this many images")
    export.add_argument("--calibration-method", default="minmax", choices=["minmax", "percentile", "entropy"])
    export.add_argument("--eval-list", default=None, metavar="FILE",
                        help="bf16/int8: 'path [label]' list to measure top-1 agreement on "
                             "(default DataLoader.Eval's list)")
    export.add_argument("--eval-size", type=int, default=1000, help="bf16/int8: at most this many eval images")
    export.add_argument("--max-drop", type=float, default=1.0,
                        help="bf16/int8: refuse an export whose top-1 drops more than this many points")

    infer = sub.add_parser("infer", help="classify images with exported models (several: an ensemble)")
    infer.add_argument("paths", nargs="+", metavar="MODEL... INPUT",
                       help="one or more models (.onnx, .xml, .pt2, or a checkpoint with -c), then images, "
                            "folders, globs or list files")
    infer.add_argument("-c", "--config", default=None, help="config for a checkpoint's model")
    infer.add_argument("-o", "--override", action="append", default=[], metavar="Key.path=value")
    _add_predictor_args(infer)
    infer.add_argument("--weights", type=float, nargs="+", default=None,
                       help="ensemble weights, one per model (default equal)")
    infer.add_argument("--json", action="store_true", help="one JSON object per image")

    folder = sub.add_parser("predict-folder", help="predict every image under a folder into a JSON-lines file")
    folder.add_argument("models", nargs="+", metavar="MODEL", help="one or more models (several: an ensemble)")
    folder.add_argument("dir", help="the image folder (recursive)")
    folder.add_argument("--out", required=True, help="output .jsonl, one result per line, written as it goes")
    folder.add_argument("--resume", action="store_true", help="skip the images already in --out")
    folder.add_argument("--workers", type=int, default=2, help="decoding processes (0: in the main process)")
    folder.add_argument("--no-progress", action="store_true")
    folder.add_argument("-c", "--config", default=None, help="config for a checkpoint's model")
    folder.add_argument("-o", "--override", action="append", default=[], metavar="Key.path=value")
    folder.add_argument("--weights", type=float, nargs="+", default=None, help="ensemble weights")
    _add_predictor_args(folder)

    convert = sub.add_parser("convert", help="convert PaddleClas .pdparams weights to safetensors")
    convert.add_argument("weights", help="PaddleClas .pdparams file")
    convert.add_argument("--model", required=True, help="PaddleClas model name, e.g. ResNet50_vd")
    convert.add_argument("--out", default=None, help="output .safetensors (default: next to the input)")
    _add_zoo_commands(sub)
    return parser


def _add_predictor_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--topk", type=int, default=None)
    cmd.add_argument("--backend", default=None, choices=["onnxruntime", "openvino", "torch"],
                     help="default: from the file (onnxruntime for .onnx; openvino for bf16)")
    cmd.add_argument("--precision", default=None, choices=["fp32", "bf16", "int8", "fp16"],
                     help="default: the file's own")
    cmd.add_argument("--device", default="cpu", choices=["cpu", "cuda", "tensorrt"])
    cmd.add_argument("--threads", type=int, default=None)
    cmd.add_argument("--batch-size", type=int, default=16)
    cmd.add_argument("--threshold", type=float, default=0.5, help="multi-label models: score to report a class")


def _add_zoo_commands(sub: Any) -> None:
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


def _load(args: argparse.Namespace):
    from .config import load_config

    return load_config(args.config, args.override)


def _cmd_data(args: argparse.Namespace) -> None:
    from .data.fashion_mnist import DEFAULT_SOURCE, prepare_fashion_mnist

    summary = prepare_fashion_mnist(args.out, source=args.source or DEFAULT_SOURCE, limit=args.limit)
    state = "already prepared" if summary.get("skipped") else "prepared"
    print(f"Fashion-MNIST {state} in {summary['out_dir']}: {summary['train']} train, "
          f"{summary['val']} val images (train_list.txt, val_list.txt, label_list.txt)")


def _cmd_train(args: argparse.Namespace) -> None:
    import os

    from .engine import train

    if args.resume:
        args.override.append("Global.checkpoints=auto")
    cfg = _load(args)  # a bad config fails here, once, not in every process
    if args.nproc > 1:
        from .engine.distributed import launch

        overrides = [part for override in args.override for part in ("-o", override)]
        status = launch(args.nproc, ["train", "-c", args.config, *overrides])
        if status > 128:
            _print_resume(args, signal.Signals(status - 128).name, "the run folder's latest")
        elif status != 0:
            raise RuntimeError(f"distributed training with {args.nproc} processes failed "
                               "(the failing process's error is printed above)")
        return
    if args.nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {args.nproc}")
    result = train(cfg)
    if os.environ.get("RANK", "0") != "0":
        return
    if result.get("stopped"):
        if "LOCAL_RANK" not in os.environ:  # under torchrun the launcher says it, with --nproc
            _print_resume(args, result["stopped"], result["checkpoint"])
        return
    best = result["best_top1"]
    print(f"done: {result['output_dir']}" + (f"  best eval top1 {100 * best:.2f}% (epoch "
                                               f"{result['best_epoch']})" if best >= 0 else ""))


def _print_resume(args: argparse.Namespace, signal_name: str, checkpoint: str) -> None:
    command = ["torchclas train -c", args.config, *(f"-o {o}" for o in args.override
                                                   if o != "Global.checkpoints=auto")]
    if args.nproc > 1:
        command.append(f"--nproc {args.nproc}")
    print(f"stopped by {signal_name}: checkpoint {checkpoint}\nresume with: {' '.join(command)} --resume")


def _cmd_eval(args: argparse.Namespace) -> None:
    from .engine import evaluate

    metrics = evaluate(_load(args))
    if args.json:
        print(json.dumps(metrics))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="evaluation")
    for key in metrics:
        table.add_column(key)
    table.add_row(*[f"{100 * v:.2f}%" if k.startswith("top") else f"{v:.4f}" if isinstance(v, float)
                    else str(v) for k, v in metrics.items()])
    Console().print(table)


def _cmd_export(args: argparse.Namespace) -> None:
    from .export import export_model

    info = export_model(_load(args), args.out, format=args.format, precision=args.precision, opset=args.opset,
                        multilabel=args.multilabel, calibration=args.calibration,
                        calibration_size=args.calibration_size, calibration_method=args.calibration_method,
                        eval_list=args.eval_list,
                        eval_size=args.eval_size, max_drop=args.max_drop)
    print(f"exported {info['path']} ({info['format']} {info['precision']}, input {info['input_size']}, "
          f"{info['class_num']} classes{', re-parameterised' if info['reparameterized'] else ''}, "
          f"max |fp32 {info['format']} - torch| = {info['max_abs_diff']:.2e})")
    report = info["agreement"]
    if report:
        accuracy = (f", top-1 {report['top1']:.2f}% vs {report['top1_fp32']:.2f}% in fp32"
                    if report["top1"] is not None else "")
        print(f"{info['precision']}: top-1 agrees with fp32 on {report['agreement']:.2f}% of "
              f"{report['images']} images{accuracy} (drop {report['drop']:.2f} points, --max-drop {args.max_drop})")


def _split_models(paths: list[str]) -> tuple[list[str], list[str]]:
    """Leading model files, then inputs: ``infer m1.onnx m2.onnx img.png`` fuses two models."""
    from pathlib import Path

    model_suffixes = (".onnx", ".xml", ".pt2", ".safetensors", ".pdparams")
    count = 1
    while count < len(paths) - 1 and Path(paths[count]).suffix.lower() in model_suffixes:
        count += 1
    if len(paths) < 2:
        raise ValueError("infer needs a model and at least one image, folder, glob or list file")
    return paths[:count], paths[count:]


def _predictor(args: argparse.Namespace, models: list[str]):
    from .inference import Predictor

    config = _load(args) if args.config else None
    return Predictor(models if len(models) > 1 else models[0], backend=args.backend, config=config,
                     topk=args.topk, threads=args.threads, batch_size=args.batch_size,
                     precision=args.precision, device=args.device, threshold=args.threshold,
                     weights=getattr(args, "weights", None))


def _cmd_infer(args: argparse.Namespace) -> None:
    models, inputs = _split_models(args.paths)
    predictor = _predictor(args, models)
    # "-" reads one encoded image from stdin: `cat a.jpg | torchclas infer m.onnx -`
    sources = [sys.stdin.buffer.read() if entry == "-" else entry for entry in inputs]
    failed = total = 0
    for batch in predictor.predict_batches(sources if len(sources) > 1 else sources[0]):
        for result in batch:
            total += 1
            failed += "error" in result
            print(json.dumps(result) if args.json else _format_result(result), flush=True)
    if failed:
        log.warning("%d of %d images could not be read", failed, total)


def _cmd_predict_folder(args: argparse.Namespace) -> None:
    from .inference.folder import predict_folder

    summary = predict_folder(_predictor(args, args.models), args.dir, args.out, resume=args.resume,
                             workers=args.workers, progress=not args.no_progress, topk=args.topk)
    for filename, error in summary["errors"]:
        log.warning("unreadable %s: %s", filename, error)
    print(f"wrote {summary['out']}: {summary['predicted']} predicted ({len(summary['errors'])} unreadable), "
          f"{summary['skipped']} already there, {summary['images_per_second']:.1f} img/s")


def _format_result(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"{result['filename']}: ERROR {result['error']}"
    pairs = ", ".join(f"{name} ({cid}) {score:.3f}" for cid, name, score in
                      zip(result["class_ids"], result["label_names"], result["scores"]))
    return f"{result['filename']}: {pairs}"


def _cmd_convert(args: argparse.Namespace) -> None:
    from .config.errors import closest
    from .models import MODEL_TABLE
    from .models.paddle_weights import convert_pdparams

    if args.model not in MODEL_TABLE:
        raise ValueError(f"unknown model '{args.model}'{closest(args.model, MODEL_TABLE)}")
    out = convert_pdparams(args.weights, args.model, args.out)
    print(f"converted {args.weights} -> {out} ({args.model}); use it as Global.pretrained_model")


def _cmd_models(args: argparse.Namespace) -> None:
    from .models import list_models
    from .models.analysis import load_stats, model_info

    names = list_models(args.pattern)
    if not names:
        raise ValueError(f"no model matches '{args.pattern}'")
    missing = [n for n in names if n not in load_stats()]
    if missing:
        log.warning("%d model(s) are not in zoo_stats.json, counting them now (python -m "
                    "torchclas.models.analysis --write-stats stores them): %s", len(missing), ", ".join(missing[:5]))
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
    from .benchmark import benchmark_models, rows_table

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
    from .plot_zoo import plot_zoo

    written = plot_zoo(args.results, args.out, accuracy_file=args.accuracy, backend=args.backend,
                       batch=args.batch)
    print("wrote " + ", ".join(str(path) for path in written.values()))


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "convert": _cmd_convert, "data": _cmd_data, "train": _cmd_train, "eval": _cmd_eval,
    "export": _cmd_export, "infer": _cmd_infer, "predict-folder": _cmd_predict_folder,
    "models": _cmd_models, "benchmark": _cmd_benchmark, "plot-zoo": _cmd_plot_zoo,
}


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    from .engine.progress import console

    logger = logging.getLogger("torchclas")
    logger.setLevel(logging.DEBUG)
    if console.is_terminal:
        handler: logging.Handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    else:  # logs and CI: one unwrapped line per message
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("torchclas: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, KeyError) as exc:
        message = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"torchclas {args.command}: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
