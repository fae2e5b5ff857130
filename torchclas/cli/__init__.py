"""``torchclas`` command line: each command is a thin shell over the library function of its name,
one module per command group (`train`: data/train/eval; `deploy`: export/infer/predict-folder;
`zoo`: models/benchmark/plot-zoo/convert).

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
import logging
import sys
from typing import Callable

from . import deploy, train, zoo

__all__ = ["main", "build_parser", "COMMANDS"]

log = logging.getLogger("torchclas")

GROUPS = (train, deploy, zoo)
COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    name: command for group in GROUPS for name, command in group.COMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="torchclas", description="Image classification toolkit "
                                     "for PyTorch that reads PaddleClas configs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every print_batch_step line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    from ..utils.progress import console

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
