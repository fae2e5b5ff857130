"""Batches as the training step sees them, and the one place the engine reads a loader.

``loader_batches`` turns a ``torchclas.data`` loader (a `DeviceLoader`, which finishes each batch
on the device: decoded, normalised, in the memory layout asked for) into ``Batch`` objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

import torch

from ..data.loader import DeviceLoader

Outputs = Union[torch.Tensor, dict[str, torch.Tensor]]  # what a model returns at the step

__all__ = ["Batch", "loader_batches", "detached_float"]


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


def loader_batches(loader: DeviceLoader, device: torch.device, channels_last: bool = False,
                   start: int = 0) -> Iterator[Batch]:
    """The batches of one pass over ``loader``, finished on ``device``; ``start`` numbers the
    first (an epoch resumed mid-way, whose sampler starts there). Starting the pass draws nothing
    from torch's RNG, so a run resumed mid-epoch draws dropout masks as an uninterrupted one.

    Example:
        >>> for batch in loader_batches(loader, torch.device("cpu")):  # doctest: +SKIP
        ...     outputs = model(batch.images)
    """
    for index, (images, labels, bad) in enumerate(loader.on(device, channels_last), start=start):
        yield Batch(images, labels, index, list(bad))


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
