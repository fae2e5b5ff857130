"""``torchclas`` command line: each command is a thin shell over the library function of its name.

    torchclas data fashion-mnist --out data/fashion_mnist
    torchclas train  -c CONFIG [-o Key.path=value ...] [--nproc N]
    torchclas eval   -c CONFIG -o Global.pretrained_model=PATH [--json]
    torchclas export -c CONFIG -o Global.pretrained_model=PATH --out model.onnx
    torchclas infer  MODEL IMAGE_OR_FOLDER... [--topk 5] [--backend onnxruntime|torch] [-c CONFIG] [--json]

Exit status 0 on success; on failure a one-line error on stderr and status 1 (2 for usage).
"""

from __future__ import annotations

import argparse
import json
import logging
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

    export = sub.add_parser("export", help="export a checkpoint to ONNX with preprocessing metadata")
    _add_config_args(export)
    export.add_argument("--out", required=True, help="output .onnx path")
    export.add_argument("--opset", type=int, default=17)

    infer = sub.add_parser("infer", help="classify images with an exported model or a checkpoint")
    infer.add_argument("model", help=".onnx file, or a .safetensors checkpoint (needs -c)")
    infer.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    infer.add_argument("-c", "--config", default=None, help="config for a checkpoint's model")
    infer.add_argument("-o", "--override", action="append", default=[], metavar="Key.path=value")
    infer.add_argument("--topk", type=int, default=None)
    infer.add_argument("--backend", default=None, choices=["onnxruntime", "torch"])
    infer.add_argument("--threads", type=int, default=None)
    infer.add_argument("--json", action="store_true", help="one JSON object per image")
    return parser


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

    cfg = _load(args)  # a bad config fails here, once, not in every process
    if args.nproc > 1:
        from .engine.distributed import launch

        overrides = [part for override in args.override for part in ("-o", override)]
        if launch(args.nproc, ["train", "-c", args.config, *overrides]) != 0:
            raise RuntimeError(f"distributed training with {args.nproc} processes failed "
                               "(the failing process's error is printed above)")
        return
    if args.nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {args.nproc}")
    result = train(cfg)
    if os.environ.get("RANK", "0") != "0":
        return
    best = result["best_top1"]
    print(f"done: {result['output_dir']}" + (f"  best eval top1 {100 * best:.2f}% (epoch "
                                               f"{result['best_epoch']})" if best >= 0 else ""))


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
    from .export import export_onnx

    info = export_onnx(_load(args), args.out, opset=args.opset)
    print(f"exported {info['path']} (input {info['input_size']}, {info['class_num']} classes, "
          f"max |onnx - torch| = {info['max_abs_diff']:.2e})")


def _cmd_infer(args: argparse.Namespace) -> None:
    from .inference import Predictor

    config = _load(args) if args.config else None
    predictor = Predictor(args.model, backend=args.backend, config=config, topk=args.topk,
                          threads=args.threads)
    results = predictor.predict(args.inputs if len(args.inputs) > 1 else args.inputs[0])
    failed = 0
    for result in results:
        failed += "error" in result
        print(json.dumps(result) if args.json else _format_result(result))
    if failed:
        log.warning("%d of %d images could not be read", failed, len(results))


def _format_result(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"{result['filename']}: ERROR {result['error']}"
    pairs = ", ".join(f"{name} ({cid}) {score:.3f}" for cid, name, score in
                      zip(result["class_ids"], result["label_names"], result["scores"]))
    return f"{result['filename']}: {pairs}"


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "data": _cmd_data, "train": _cmd_train, "eval": _cmd_eval, "export": _cmd_export, "infer": _cmd_infer,
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
