"""The training commands: ``data`` (prepare a dataset), ``train`` and ``eval``."""

from __future__ import annotations

import argparse
import json
import signal
from typing import Any, Callable

from .common import add_config_args, load

__all__ = ["add_commands", "COMMANDS"]


def add_commands(sub: Any) -> None:
    """The ``data``, ``train`` and ``eval`` sub-commands."""
    data = sub.add_parser("data", help="prepare a dataset as PNG files + PaddleClas file lists")
    data.add_argument("dataset", choices=["fashion-mnist"])
    data.add_argument("--out", required=True, help="output folder")
    data.add_argument("--source", default=None, help="folder holding the four idx(.gz) files")
    data.add_argument("--limit", type=int, default=None, help="at most this many images per split")

    for name, text in (("train", "train a model"), ("eval", "evaluate a checkpoint on DataLoader.Eval")):
        cmd = sub.add_parser(name, help=text)
        add_config_args(cmd)
        if name == "eval":
            cmd.add_argument("--json", action="store_true", help="print one JSON object last")
            cmd.add_argument("--report-dir", default=None, metavar="DIR",
                             help="where per_class.json/.csv and confusion_matrix.png go "
                                  "(default: the run folder, Global.output_dir/<Arch.name>)")
        else:
            cmd.add_argument("--nproc", type=int, default=1, metavar="N",
                             help="train in N local processes (torchrun + DDP; batch_size is per process)")
            cmd.add_argument("--resume", action="store_true",
                             help="continue from the newest complete checkpoint in the run folder "
                                  "(= -o Global.checkpoints=auto; starts fresh when there is none)")



def _cmd_data(args: argparse.Namespace) -> None:
    from ..data.fashion_mnist import DEFAULT_SOURCE, prepare_fashion_mnist

    summary = prepare_fashion_mnist(args.out, source=args.source or DEFAULT_SOURCE, limit=args.limit)
    state = "already prepared" if summary.get("skipped") else "prepared"
    print(f"Fashion-MNIST {state} in {summary['out_dir']}: {summary['train']} train, "
          f"{summary['val']} val images (train_list.txt, val_list.txt, label_list.txt)")


def _cmd_train(args: argparse.Namespace) -> None:
    import os

    from ..engine import train

    if args.resume:
        args.override.append("Global.checkpoints=auto")
    cfg = load(args)  # a bad config fails here, once, not in every process
    if args.nproc > 1:
        from ..engine.distributed import launch

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
    best, key = result["best_top1"], result.get("best_metric", "top1")
    print(f"done: {result['output_dir']}" + (f"  best eval {key} {100 * best:.2f}% (epoch "
                                               f"{result['best_epoch']})" if best >= 0 else ""))


def _print_resume(args: argparse.Namespace, signal_name: str, checkpoint: str) -> None:
    command = ["torchclas train -c", args.config, *(f"-o {o}" for o in args.override
                                                   if o != "Global.checkpoints=auto")]
    if args.nproc > 1:
        command.append(f"--nproc {args.nproc}")
    print(f"stopped by {signal_name}: checkpoint {checkpoint}\nresume with: {' '.join(command)} --resume")


def _cmd_eval(args: argparse.Namespace) -> None:
    from ..engine import evaluate

    metrics = evaluate(load(args), report_dir=args.report_dir)
    if args.json:
        print(json.dumps(metrics))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="evaluation")
    values = {k: v for k, v in metrics.items() if k not in ("per_class", "report")}
    for key in values:
        table.add_column(key)
    table.add_row(*[f"{100 * v:.2f}%" if k.startswith("top") else f"{v:.4f}" if isinstance(v, float)
                    else str(v) for k, v in values.items()])
    console.print(table)
    if metrics.get("per_class"):
        console.print(_per_class_table(metrics["per_class"]))
        console.print(f"per-class accuracy: {metrics['report']['per_class.csv']}  "
                      f"confusion matrix: {metrics['report']['confusion_matrix.png']}")


def _per_class_table(rows: list[dict], shown: int = 30) -> Any:
    """Per-class accuracy as a rich table: every class up to ``shown``, else the ``shown`` worst."""
    from rich.table import Table

    percent = lambda v: "-" if v is None else f"{100 * v:.2f}%"  # noqa: E731
    worst = sorted(rows, key=lambda r: (r["accuracy"] if r["accuracy"] is not None else 2.0, r["id"]))
    picked = rows if len(rows) <= shown else worst[:shown]
    title = "per-class accuracy" if len(rows) <= shown else f"per-class accuracy: the {shown} worst of {len(rows)}"
    table = Table(title=title)
    for column in ("id", "class", "images", "accuracy", "precision", "most confused with"):
        table.add_column(column, justify="right" if column in ("id", "images", "accuracy", "precision") else "left")
    for row in picked:
        table.add_row(str(row["id"]), row["name"], str(row["images"]), percent(row["accuracy"]),
                      percent(row["precision"]), row["confused_with"] or "")
    return table


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {"data": _cmd_data, "train": _cmd_train, "eval": _cmd_eval}
