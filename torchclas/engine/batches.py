"""Batches as the training step sees them, and the one place the engine reads a loader.

``loader_batches`` turns a ``torchclas.data`` loader into finished ``Batch`` objects on the
device (images normalised and in the memory layout asked for, labels beside them); every call
the engine makes into the loader's batch protocol (``device_batches``, ``batch_to_device``,
``batch_paths``) is in this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

import torch
from torch.utils.data import DataLoader

from ..data.loader import batch_paths, batch_to_device, device_batches

Outputs = Union[torch.Tensor, dict[str, torch.Tensor]]  # what a model returns at the step

__all__ = ["Batch", "loader_batches", "paths_of_batch", "detached_float"]


@dataclass
class Batch:
    """One batch at the training step: what ``criterion(outputs, batch)`` and
    ``metrics.update(outputs, batch)`` read.

    Attributes:
        images: ``[B, C, H, W]`` on the device, normalised (empty when every image was unreadable).
        labels: integer classes ``[B]``, or the soft targets ``[B, C]`` of a Mixup/CutMix batch.
        index: the batch's position in its epoch.
        bad: ``(path, reason)`` of the images of this batch the loader skipped as unreadable.
    """

    images: torch.Tensor
    labels: torch.Tensor
    index: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        """How many images the batch holds."""
        return int(self.labels.shape[0])


def loader_batches(loader: DataLoader, device: torch.device, channels_last: bool = False,
                   start: int = 0, keep_rng: bool = True) -> Iterator[Batch]:
    """The batches of one pass over ``loader``, finished on ``device``; ``start`` numbers the
    first (an epoch resumed mid-way, whose sampler starts there).

    With ``keep_rng`` (training), ``iter(loader)`` is taken without the draw it makes from
    torch's RNG (its workers' base seed), so a run resumed mid-epoch draws dropout masks exactly
    as an uninterrupted one; evaluation passes False and takes the draw, as it always has (the
    RNG state a checkpoint saves after an evaluation stays what it was).

    Example:
        >>> for batch in loader_batches(loader, torch.device("cpu")):  # doctest: +SKIP
        ...     outputs = model(batch.images)
    """
    saved = torch.random.default_generator.get_state() if keep_rng else None
    raw = device_batches(loader, device)
    if saved is not None:
        torch.random.default_generator.set_state(saved)
    return _finished(loader, raw, device, channels_last, start)


def _finished(loader: DataLoader, raw, device: torch.device, channels_last: bool, start: int) -> Iterator[Batch]:
    for index, (images, labels, bad) in enumerate(raw, start=start):
        if labels.shape[0] > 0:
            images = batch_to_device(loader, images, device, channels_last)
            labels = labels.to(device, non_blocking=True)
        yield Batch(images, labels, index, list(bad))


def paths_of_batch(loader: DataLoader, index: int) -> list[str]:
    """The image paths of batch ``index`` of the loader's current epoch (for error reports)."""
    return batch_paths(loader, index)


def detached_float(outputs: Outputs) -> Outputs:
    """The model's outputs (a tensor, or a dict of named tensors) detached, in float32, as the
    metrics take them.

    Example:
        >>> detached_float({"Student": torch.ones(1, 2, dtype=torch.bfloat16)})["Student"].dtype
        torch.float32
    """
    if isinstance(outputs, dict):
        return {name: value.detach().float() for name, value in outputs.items()}
    return outputs.detach().float()
