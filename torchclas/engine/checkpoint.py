"""Checkpoints written atomically: weights as safetensors, training state as a tensors-only file.

``<dir>/<name>.safetensors`` holds the model weights (loadable by ``Global.pretrained_model``);
``<dir>/<name>.state.pt`` beside it holds optimizer, scheduler, epoch and RNG state, loaded back
with ``weights_only=True`` so nothing in it can run code. The two files and a manifest of their
checksums (``<name>.manifest.json``) are committed together (``manifest.commit_files``), so a
crash at any moment leaves either the new checkpoint or the previous one complete, and
``load_checkpoint`` refuses a pair that does not match its manifest.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file
from torch import nn

from ..models.io.weights import WeightsFileError, load_tensors_file, read_state_dict
from ..utils.files import atomic_write
from .manifest import CheckpointError, commit_files, manifest_path, verify

__all__ = ["save_weights", "save_checkpoint", "load_checkpoint", "rng_state",
           "set_rng_state", "state_path", "CheckpointError"]


def write_safetensors(tensors: dict[str, torch.Tensor], path: str, metadata: dict[str, str]) -> None:
    """``safetensors.save_file``, with its I/O failures (disk full) raised as ``OSError``."""
    try:
        save_file(tensors, path, metadata=metadata)
    except SafetensorError as exc:
        code = re.search(r"os error (\d+)", str(exc))
        raise OSError(int(code.group(1)) if code else errno.EIO,
                      os.strerror(int(code.group(1))) if code else str(exc)) from None


def save_weights(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Save ``model``'s state dict as safetensors; ``metadata`` is stored as JSON strings."""
    state = {k: v.detach().contiguous().cpu() for k, v in _unwrap(model).state_dict().items()}
    meta = {k: json.dumps(v) for k, v in (metadata or {}).items()}
    atomic_write(path, lambda tmp: write_safetensors(state, tmp, meta))


def state_path(weights_path: str | Path) -> Path:
    """The training-state file beside a weights file: ``latest.safetensors`` → ``latest.state.pt``."""
    path = Path(weights_path)
    return path.with_name(path.name.removesuffix(".safetensors") + ".state.pt")


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states in a form ``torch.load(weights_only=True)`` accepts."""
    np_state = np.random.get_state()
    state = {"python": _listify(random.getstate()), "torch": torch.get_rng_state(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, epoch: int, extra: dict[str, Any] | None = None,
                    modules: dict[str, Any] | None = None, progress: dict[str, Any] | None = None) -> None:
    """Commit weights (``path``), training state (``state_path(path)``) and their manifest.

    Args:
        path: ``out/latest.safetensors`` (the suffix may be left off).
        epoch: the last completed epoch.
        extra: JSON values kept in the state and the weights' metadata (best top-1, arch).
        modules: further state dicts to restore (EMA weights, the AMP loss scaler).
        progress: where a mid-epoch checkpoint stands in epoch ``epoch + 1`` (batches done and
            the epoch's running sums); ``None`` at an epoch's end.
    """
    path = Path(str(path).removesuffix(".safetensors") + ".safetensors")
    state = {"epoch": epoch, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "rng": rng_state(), "extra": extra or {}, "modules": modules or {}, "progress": progress}
    weights = {k: v.detach().contiguous().cpu() for k, v in _unwrap(model).state_dict().items()}
    meta = {k: json.dumps(v) for k, v in {"epoch": epoch, **(extra or {})}.items()}
    batch = int(progress["batches"]) if progress else 0
    commit_files(path, {path: lambda tmp: write_safetensors(weights, tmp, meta),
                        state_path(path): lambda tmp: torch.save(state, tmp)},
                 {"epoch": epoch, "batch": batch, "step": int(getattr(scheduler, "last_step", 0))})


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None) -> dict[str, Any]:
    """Restore a checkpoint written by ``save_checkpoint``; returns the training state dict.

    ``path`` may omit ``.safetensors``. A checkpoint with a manifest is verified first (and an
    interrupted commit finished); one without (older torchclas) loads as it is. Raises with the
    file named when the state file is missing, altered or does not belong to the weights.
    """
    path = Path(str(path).removesuffix(".safetensors") + ".safetensors")
    if manifest_path(path).is_file():
        verify(path)
    weights = read_state_dict(path)
    spath = state_path(path)
    if not spath.is_file():
        raise FileNotFoundError(f"training state not found: '{spath}' (needed to resume '{path}')")
    try:
        state = load_tensors_file(spath)
    except WeightsFileError as exc:
        raise CheckpointError(f"{spath}: not a valid training-state file: "
                              f"{str(exc).removeprefix(f'{spath}: ')}") from None
    _unwrap(model).load_state_dict(weights)
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return state


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside ``torch.compile`` and DDP wrappers."""
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model)


def _listify(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_listify(v) for v in value]
    return value
