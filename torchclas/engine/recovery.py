"""Resuming, checkpointing and rolling back a training run.

``resume`` restores a checkpoint into a ``TrainState`` (at an epoch's end or mid-epoch);
``save_training_checkpoint`` commits one and, when the disk refuses, says so and keeps the
previous one; ``rollback`` answers a diverged loss by going back to the run's last checkpoint
with a lower learning rate.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from safetensors import safe_open

from .checkpoint import load_checkpoint, save_checkpoint
from .state import EpochProgress, NonFiniteLoss, TrainState
from .manifest import CheckpointError, find_newest, verify

__all__ = ["resume", "resolve_resume", "checkpoint_fast_defaults", "save_training_checkpoint", "rollback", "TrainingDiverged",
           "check_free_space", "checkpoint_bytes"]

log = logging.getLogger("torchclas")


class TrainingDiverged(RuntimeError):
    """The loss stayed NaN/Inf and no rollback is left; the message says what to change."""


def resolve_resume(checkpoints: str | None, out: Path) -> Path | None:
    """The checkpoint ``Global.checkpoints`` names: ``auto`` is the newest complete one in
    ``out`` (``None`` when there is none yet: a fresh start)."""
    if not checkpoints:
        return None
    if checkpoints != "auto":
        return Path(checkpoints)
    found = find_newest(out)
    if found is None:
        log.info("Global.checkpoints=auto: no complete checkpoint in %s yet, starting from scratch", out)
        return None
    return found[0]


def checkpoint_fast_defaults(checkpoint: Path | None) -> dict:
    """``precision`` and ``num_threads`` a checkpoint's run trained with (its weights' metadata)."""
    if checkpoint is None:
        return {}
    try:
        with safe_open(str(checkpoint).removesuffix(".safetensors") + ".safetensors", "pt") as handle:
            meta = handle.metadata() or {}
    except Exception:  # noqa: BLE001 - unreadable here is reported by the resume itself
        return {}
    return {key: json.loads(meta[key]) for key in ("precision", "num_threads") if key in meta}


def resume(state: TrainState, checkpoint: str | Path) -> None:
    """Load ``checkpoint`` into ``state``: weights, optimizer, LR, EMA, loss scaler, RNG, the
    epoch to start at and, for a mid-epoch checkpoint, the batches already done."""
    saved = load_checkpoint(checkpoint, state.net, state.optimizer, state.scheduler)
    modules = saved.get("modules", {})
    if state.ema is not None and "ema" in modules:
        state.ema.load_state_dict(modules["ema"])
    elif state.ema is not None:  # EMA switched on for the rest of the run: start from the weights
        state.ema.module.load_state_dict(state.net.state_dict())
    if state.scaler is not None and "scaler" in modules:
        state.scaler.load_state_dict(modules["scaler"])
    if state.low_precision is not None:
        state.low_precision.weights_from_master()
    state.start_epoch = int(saved["epoch"]) + 1
    state.resume_progress = saved.get("progress")
    state.best_value = float(saved["extra"].get("best_top1", -1.0))
    state.best_epoch = int(saved["extra"].get("best_epoch", 0))
    state.last_checkpoint = Path(str(checkpoint).removesuffix(".safetensors"))
    state.nan_streak = 0
    done = EpochProgress.from_dict(state.resume_progress).batches
    where = f"epoch {state.start_epoch}" + (f", batch {done + 1}" if done else "")
    log.info("resumed from %s: continuing at %s", checkpoint, where)


def save_training_checkpoint(state: TrainState, path: Path, epoch: int, run_facts: dict[str, Any],
                             progress: EpochProgress | None = None) -> bool:
    """Commit a resumable checkpoint at ``path``; on a write error (disk full, read-only)
    log it, keep the previous checkpoint of that name, and return False.

    ``run_facts`` (``arch``, ``class_num``, ``precision``, ``num_threads``) go into the
    checkpoint's ``extra`` after the best value, which keeps its historical key ``best_top1``
    whatever metric it measures."""
    extra = {"best_top1": state.best_value, "best_epoch": state.best_epoch, **run_facts}
    modules = {"ema": state.ema.state_dict()} if state.ema is not None else {}
    if state.scaler is not None:
        modules["scaler"] = state.scaler.state_dict()
    try:
        save_checkpoint(path, state.net, state.optimizer, state.scheduler, epoch, extra, modules,
                        progress.to_dict() if progress is not None else None)
    except OSError as exc:
        kept = "the previous one is intact" if _complete(path) else "there is no earlier one of that name"
        log.error("could not write checkpoint %s: %s; %s, training goes on", path,
                  exc.strerror or exc, kept)
        return False
    state.last_checkpoint = path
    return True


def _complete(path: Path) -> bool:
    try:
        verify(path)
        return True
    except CheckpointError:
        return False


def rollback(state: TrainState, error: NonFiniteLoss, max_rollbacks: int, lr_factor: float) -> None:
    """Go back to the run's last checkpoint with the LR times ``lr_factor``
    (``Global.nan_lr_factor``), or raise ``TrainingDiverged`` when there is none or
    ``max_rollbacks`` (``Global.nan_max_rollbacks``) are used up."""
    epoch = (max(state.scheduler.last_step, 1) - 1) // state.scheduler.steps_per_epoch + 1
    where = f"{error}, epoch {epoch}"
    if state.last_checkpoint is None or state.rollbacks >= max_rollbacks:
        why = ("no checkpoint of this run to roll back to" if state.last_checkpoint is None
               else f"{state.rollbacks} rollback(s) already (Global.nan_max_rollbacks)")
        raise TrainingDiverged(f"training stopped: {where}; {why}. Lower Optimizer.lr.learning_rate, "
                               "check the images logged above, or raise Global.nan_patience")
    scale = state.scheduler.scale * lr_factor
    resume(state, state.last_checkpoint)
    state.scheduler.set_scale(min(state.scheduler.scale, scale))
    state.rollbacks += 1
    log.warning("%s: rolled back to %s with the learning rate x%.3g (rollback %d of %d)", where,
                state.last_checkpoint, state.scheduler.scale, state.rollbacks, max_rollbacks)


def checkpoint_bytes(state: TrainState) -> int:
    """About what one checkpoint takes on disk: the weights, the optimizer's per-parameter
    state (assumed two slots, as Adam has) and the EMA copy."""
    weights = sum(t.numel() * t.element_size() for t in state.net.state_dict().values())
    return weights * (3 + (1 if state.ema is not None else 0))


def check_free_space(out: Path, need: int) -> None:
    """Refuse to start when ``out`` has less than ``need`` bytes free, naming both."""
    free = shutil.disk_usage(out).free
    if free < need:
        raise OSError(f"Global.output_dir: '{out}' has {free / 2**20:.1f} MiB free; the checkpoints of "
                      f"this run need about {need / 2**20:.1f} MiB. Free space or choose another output_dir")
