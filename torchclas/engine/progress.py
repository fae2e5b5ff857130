"""The per-epoch progress bar (loss, lr, images/s, ETA) and the one-line epoch summary."""

from __future__ import annotations

import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..utils.progress import console

__all__ = ["console", "epoch_progress", "summary_line"]


def epoch_progress(enabled: bool = True) -> Progress:
    """A rich progress bar whose task fields ``loss``, ``lr`` and ``ips`` show in the line.

    It draws only on a terminal; in a log or CI the per-epoch summary line carries the numbers.
    """
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.5f}  {task.fields[ips]:.0f} img/s"),
        TimeRemainingColumn(), console=console, transient=True,
        disable=not enabled or not sys.stderr.isatty(),
    )


def summary_line(epoch: int, epochs: int, train: dict, evaluation: dict | None, seconds: float) -> str:
    """``epoch 3/10  train loss 0.41 top1 85.2%  lr 0.1  512 img/s  data wait 3%  eval loss 0.38
    top1 86.9% top5 99.6%  52s``, plus skipped images, skipped NaN steps and AMP overflows when
    there were any. The data wait says when loading, not compute, limits the speed."""
    text = (f"epoch {epoch}/{epochs}  train loss {train['loss']:.4f} top1 {100 * train['top1']:.2f}%"
            f"  lr {train['lr']:.5f}  {train['ips']:.0f} img/s")
    if "data_wait" in train:
        text += f"  data wait {100 * train['data_wait']:.0f}%"
    if evaluation:
        tops = " ".join(f"{key} {100 * value:.2f}%" for key, value in evaluation.items()
                        if key.startswith("top"))
        text += f"  eval loss {evaluation['loss']:.4f} {tops}"
    for key, what in (("bad_images", "bad images"), ("nonfinite_steps", "NaN/Inf steps"),
                      ("amp_overflows", "AMP overflow steps")):
        if train.get(key):
            text += f"  skipped {train[key]} {what}"
    return text + f"  {seconds:.0f}s"
