"""TensorBoard event files of a training run (``Global.use_visualdl`` or ``Global.tensorboard``).

`TensorBoardHook` writes them into the run folder itself, so ``tensorboard --logdir output/``
lists each run under its model name. Every value is logged at the global batch step
``(epoch - 1) * batches_per_epoch + batches``, per-epoch values at their epoch's last batch:

- ``train_step/*``: every ``Global.print_batch_step`` batches, the epoch's running loss and
  train metrics, the lr, img/s and the fraction of time spent waiting for data;
- ``train/*``: the epoch's record as ``metrics.jsonl`` has it (loss, top-k, lr, ips, data_wait
  and the skip counters); ``eval/*``: the evaluation's (loss, top-k);
- ``train/first_batch``: the run's first training batch as an image grid, de-normalised with the
  ``NormalizeImage`` of ``DataLoader.Train``.

A resumed run appends: the writer opens with ``purge_step`` at the first step it redoes, so
TensorBoard hides what the interrupted run logged past its checkpoint.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from ..config.schema import Config
from ..data.transforms import NormalizeImage

__all__ = ["TensorBoardHook", "tensorboard_enabled", "train_normalize", "display_images"]

log = logging.getLogger("torchclas")

EVENT_FILES = "events.out.tfevents.*"
_GRID_IMAGES = 64
_NOT_CURVES = ("num_images", "epoch")


def tensorboard_enabled(cfg: Config) -> bool:
    """Whether the run logs to TensorBoard: ``Global.use_visualdl`` (PaddleClas's switch) or
    ``Global.tensorboard``.

    Example:
        >>> from torchclas.configure import config_from_dict
        >>> tensorboard_enabled(config_from_dict({"Arch": {"name": "ResNet18"}, "Global": {"use_visualdl": True}}))
        True
    """
    return bool(cfg.Global.use_visualdl or cfg.Global.tensorboard)


def train_normalize(cfg: Config) -> NormalizeImage | None:
    """The last ``NormalizeImage`` of ``DataLoader.Train.dataset.transform_ops`` (None without one).

    Example:
        >>> from torchclas.configure import config_from_dict
        >>> split = {"dataset": {"transform_ops": [{"NormalizeImage": {"mean": [0.5], "std": [0.25]}}]}}
        >>> train_normalize(config_from_dict({"Arch": {"name": "ResNet18"}, "DataLoader": {"Train": split}})).std
        (0.25,)
    """
    split = cfg.DataLoader.Train
    ops = [op for op in (split.dataset.transform_ops or []) if "NormalizeImage" in op] if split else []
    return NormalizeImage(**(ops[-1]["NormalizeImage"] or {})) if ops else None


def display_images(images: torch.Tensor, normalize: NormalizeImage | None) -> torch.Tensor:
    """A batch ``[B, C, H, W]`` as the images looked before ``normalize``: float in [0, 1] on the
    CPU (a 4th, padding channel dropped). Without ``normalize``, uint8 or 0..255 values are
    scaled down.

    Example:
        >>> norm = NormalizeImage(scale="1.0/255.0", mean=[0.5] * 3, std=[0.25] * 3)
        >>> display_images(torch.tensor([-2.0, 0.0, 2.0]).view(1, 3, 1, 1), norm).flatten().tolist()
        [0.0, 0.5, 1.0]
    """
    x = images.detach().to("cpu", torch.float32)
    if x.shape[1] == 4:
        x = x[:, :3]
    if normalize is not None:
        mean = torch.tensor(normalize.mean).view(1, -1, 1, 1)
        std = torch.tensor(normalize.std).view(1, -1, 1, 1)
        x = (x * std + mean) / (normalize.scale * 255.0)
    elif images.dtype == torch.uint8 or (x.numel() and float(x.max()) > 1.0):
        x = x / 255.0
    return x.clamp_(0.0, 1.0)


def _curves(record: dict[str, Any]) -> dict[str, float]:
    return {key: float(value) for key, value in record.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in _NOT_CURVES}


class TensorBoardHook:
    """Hook (rank 0): TensorBoard scalars and the first batch's images (see the module).

    Args:
        out: the run folder, where the event files go.
        print_every: ``Global.print_batch_step``, the per-step logging interval in batches.
        fresh: no checkpoint was resumed: event files a previous run left are deleted.
        normalize: the train split's ``NormalizeImage`` (`train_normalize`), to show the images.
    """

    def __init__(self, out: Path, print_every: int, fresh: bool, normalize: NormalizeImage | None = None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise RuntimeError("Global.use_visualdl / Global.tensorboard need the tensorboard package: "
                               "pip install tensorboard") from exc
        self._writer_class = SummaryWriter
        self.out, self.print_every, self.fresh, self.normalize = Path(out), print_every, fresh, normalize
        self.writer = None
        self.image_written = False

    def step(self, trainer, batches: int, epoch: int | None = None) -> int:
        """The global step of ``batches`` batches into ``epoch`` (default: the current one)."""
        return ((epoch or trainer.epoch) - 1) * len(trainer.train_loader) + batches

    def on_train_start(self, trainer) -> None:
        """Open the writer (again after a rollback), hiding every step from the first one redone."""
        if self.fresh:
            for path in self.out.glob(EVENT_FILES):
                path.unlink()
            self.fresh = False
        self._close()
        done = (trainer.state.resume_progress or {}).get("batches", 0)
        first = self.step(trainer, done, trainer.state.start_epoch) + 1
        self.writer = self._writer_class(log_dir=str(self.out), purge_step=first if first > 1 else None)

    def on_batch_end(self, trainer, batch) -> None:
        """The first batch's images once; the running values every ``print_every`` batches."""
        if self.writer is None:  # closed after a write error
            return
        if not self.image_written and batch.images.numel():
            from torchvision.utils import make_grid

            grid = make_grid(display_images(batch.images[:_GRID_IMAGES], self.normalize), nrow=8)
            self.writer.add_image("train/first_batch", grid, self.step(trainer, batch.index + 1))
            self.image_written = True
        if (batch.index + 1) % self.print_every or trainer.progress.seen == 0:
            return
        progress, step = trainer.progress, self.step(trainer, batch.index + 1)
        values = {"loss": progress.loss_sum / progress.seen, **_curves(trainer.train_metric.compute()),
                  "lr": trainer.state.lr(), "ips": progress.seen / max(time.perf_counter() - trainer.epoch_clock, 1e-9),
                  "data_wait": progress.wait / max(progress.elapsed, 1e-9)}
        for key, value in values.items():
            self.writer.add_scalar(f"train_step/{key}", value, step)

    def on_epoch_end(self, trainer, epoch: int, stats: dict) -> None:
        """The epoch's train record."""
        self._record("train", stats, self.step(trainer, len(trainer.train_loader), epoch))

    def on_eval_end(self, trainer, epoch: int, evaluation: dict | None) -> None:
        """The epoch's eval record, when it was evaluated."""
        if evaluation is not None:
            self._record("eval", evaluation, self.step(trainer, len(trainer.train_loader), epoch))

    def on_train_end(self, trainer, result: dict | None) -> None:
        """Flush and close the event file."""
        self._close()

    def _record(self, split: str, record: dict[str, Any], step: int) -> None:
        if self.writer is None:
            return
        try:
            for key, value in _curves(record).items():
                self.writer.add_scalar(f"{split}/{key}", value, step)
            self.writer.flush()
        except OSError as exc:  # a full disk stops the curves, not the run
            log.error("could not write TensorBoard events in %s: %s; no more curves this run", self.out, exc)
            self._close()

    def _close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except OSError as exc:
                log.error("could not close the TensorBoard event file in %s: %s", self.out, exc)
