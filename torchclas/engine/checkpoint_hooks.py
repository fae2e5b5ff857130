"""The hooks that write a run's weights: resumable checkpoints (``latest``, ``epoch_N``, the
mid-epoch ``Global.save_steps`` commits) and ``best_model``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .checkpoint import save_weights
from .distributed import barrier
from .progress import console
from .recovery import save_training_checkpoint
from .state import EpochProgress

__all__ = ["CheckpointHook", "BestModelHook"]

log = logging.getLogger("torchclas")


class CheckpointHook:
    """Hook: commits ``latest`` after every epoch and ``epoch_N`` every ``save_interval`` epochs
    (as PaddleClas does), and ``latest`` mid-epoch every ``save_steps`` optimizer steps or when a
    stop signal arrives. Only rank 0 writes; every process waits for the commit.

    Args:
        out: the run's folder.
        save_interval: ``Global.save_interval``.
        save_steps: ``Global.save_steps`` (0/None: only at epochs' ends).
        run_facts: kept in each checkpoint (``arch``, ``class_num``, ``precision``, ``num_threads``).
    """

    def __init__(self, out: Path, save_interval: int, save_steps: int | None, run_facts: dict[str, Any]):
        self.out, self.save_interval, self.save_steps, self.run_facts = out, save_interval, save_steps, run_facts

    def on_step_end(self, trainer, progress: EpochProgress) -> None:
        """Commit ``latest`` mid-epoch when ``save_steps`` calls for it or a stop was asked for;
        a step that ends the epoch is left to the epoch's end."""
        state = trainer.state
        if progress.batches >= len(trainer.train_loader):
            return
        every = self.save_steps
        if state.stop_signal is None and not (every and state.scheduler.last_step % every == 0):
            return
        totals = trainer.summed_progress(progress)
        if trainer.dist.is_main:
            save_training_checkpoint(state, self.out / "latest", trainer.epoch - 1, self.run_facts, totals)
        state.last_checkpoint = self.out / "latest"
        barrier(trainer.dist)

    def on_eval_end(self, trainer, epoch: int, evaluation: dict | None) -> None:
        """Commit the epoch's checkpoints (after ``best_model``, whose value they keep)."""
        if trainer.dist.is_main:
            names = ["latest"] + ([f"epoch_{epoch}"] if epoch % self.save_interval == 0 else [])
            for name in names:
                save_training_checkpoint(trainer.state, self.out / name, epoch, self.run_facts)
        trainer.state.last_checkpoint = self.out / "latest"
        barrier(trainer.dist)


class BestModelHook:
    """Hook (rank 0): ``best_model.safetensors``, the eval weights of the epoch whose
    ``settings.best_metric`` was highest; without evaluation, the last epoch's weights."""

    def __init__(self, out: Path, arch: str, class_num: int):
        self.out, self.arch, self.class_num = out, arch, class_num

    def on_eval_end(self, trainer, epoch: int, evaluation: dict | None) -> None:
        """Keep the weights when the evaluation beat the best so far."""
        if evaluation is None:
            return
        state, key = trainer.state, trainer.settings.best_metric
        value = evaluation[key]
        if value <= state.best_value:
            return
        state.best_value, state.best_epoch = value, epoch
        try:
            save_weights(state.eval_model, self.out / "best_model.safetensors",
                         {"epoch": epoch, key: value, "arch": self.arch, "class_num": self.class_num})
        except OSError as exc:
            log.error("could not write best_model.safetensors: %s; the previous best is intact",
                      exc.strerror or exc)
            return
        console.print(f"[green]new best {key} {100 * value:.2f}% at epoch {epoch}[/green]")

    def on_train_end(self, trainer, result: dict | None) -> None:
        """A run without evaluation: the last weights are the best we know."""
        if result is not None and trainer.eval_loader is None:
            save_weights(trainer.state.eval_model, self.out / "best_model.safetensors",
                         {"epoch": trainer.settings.epochs, "arch": self.arch})
