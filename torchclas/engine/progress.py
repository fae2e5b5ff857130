"""The per-epoch progress bar (loss, lr, images/s, ETA) and the one-line epoch summary, and the
two training hooks that show them (`ProgressBar`, `EpochSummary`)."""

from __future__ import annotations

import logging
import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..utils.progress import console

__all__ = ["console", "epoch_progress", "summary_line", "ProgressBar", "EpochSummary"]

log = logging.getLogger("torchclas")



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
    top1 86.9% top5 99.6%  52s`` (with ``TprAtFpr``: ``tpr 93.10% (fpr 0.80% at threshold
    0.4213)`` after the top-k values), plus skipped images, skipped NaN steps and AMP overflows when
    there were any, and the steps ``clip_norm`` clipped. The data wait says when loading, not
    compute, limits the speed."""
    text = (f"epoch {epoch}/{epochs}  train loss {train['loss']:.4f} top1 {100 * train['top1']:.2f}%"
            f"  lr {train['lr']:.5f}  {train['ips']:.0f} img/s")
    if "data_wait" in train:
        text += f"  data wait {100 * train['data_wait']:.0f}%"
    if evaluation:
        tops = " ".join(f"{key} {100 * value:.2f}%" for key, value in evaluation.items()
                        if key.startswith("top"))
        text += f"  eval loss {evaluation['loss']:.4f} {tops}"
        if "tpr" in evaluation:  # TprAtFpr
            text += f" tpr {100 * evaluation['tpr']:.2f}%"
            if evaluation.get("threshold") is not None:
                text += f" (fpr {100 * evaluation['fpr']:.2f}% at threshold {evaluation['threshold']:.4f})"
    for key, what in (("bad_images", "bad images"), ("nonfinite_steps", "NaN/Inf steps"),
                      ("amp_overflows", "AMP overflow steps")):
        if train.get(key):
            text += f"  skipped {train[key]} {what}"
    if train.get("clipped_steps"):
        text += f"  clipped {train['clipped_steps']} steps"
    return text + f"  {seconds:.0f}s"


class ProgressBar:
    """Hook: the progress bar of each epoch, and a debug log line every ``print_batch_step``
    batches (``Global.print_batch_step``)."""

    def __init__(self, print_every: int = 10, enabled: bool = True):
        self.print_every, self.enabled = print_every, enabled
        self.bar: Progress | None = None
        self.task = None

    def on_epoch_start(self, trainer, epoch: int) -> None:
        """Open the epoch's bar where the epoch stands (a resumed epoch starts part-way)."""
        self._close()
        self.bar = epoch_progress(enabled=self.enabled)
        self.bar.start()
        self.task = self.bar.add_task(trainer.description, total=len(trainer.train_loader),
                                      completed=trainer.progress.batches, loss=0.0, lr=trainer.state.lr(), ips=0.0)

    def on_batch_end(self, trainer, batch) -> None:
        """Advance the bar; log the running loss, lr and speed every ``print_every`` batches."""
        progress = trainer.progress
        ips = progress.seen / (time.perf_counter() - trainer.epoch_clock)
        mean = progress.loss_sum / max(progress.seen, 1)
        self.bar.update(self.task, advance=1, loss=mean, lr=trainer.state.lr(), ips=ips)
        if (batch.index + 1) % self.print_every == 0:
            log.debug("%s step %d/%d loss %.4f lr %.6f %.0f img/s", trainer.description, batch.index + 1,
                      len(trainer.train_loader), mean, trainer.state.lr(), ips)

    def on_epoch_end(self, trainer, epoch: int, stats: dict) -> None:
        """Close the bar (it is transient: the summary line stays)."""
        self._close()

    def on_train_end(self, trainer, result: dict | None) -> None:
        """Close a bar a stop or an error left open."""
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class EpochSummary:
    """Hook: the one-line summary of each epoch (`summary_line`) in the log."""

    def __init__(self):
        self.began, self.stats = 0.0, {}

    def on_epoch_start(self, trainer, epoch: int) -> None:
        """Start the epoch's clock."""
        self.began = time.perf_counter()

    def on_epoch_end(self, trainer, epoch: int, stats: dict) -> None:
        """Keep the training pass's numbers for the summary."""
        self.stats = stats

    def on_eval_end(self, trainer, epoch: int, evaluation: dict | None) -> None:
        """Log the summary once the epoch is evaluated and its checkpoints are written."""
        log.info(summary_line(epoch, trainer.settings.epochs, self.stats, evaluation,
                              time.perf_counter() - self.began))
