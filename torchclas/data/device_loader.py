"""`DeviceLoader`: a split's batches finished on the training device, whatever the decoder.

Like timm's ``PrefetchLoader``, it wraps the torch ``DataLoader`` and does in its iterator, in
the training process, what the workers leave: the on-device decoder's ``finish`` (nvJPEG and the
crops; on a GPU in a thread ahead of the loop, `prefetch.finished_ahead`), the move to the
device, the late ``NormalizeImage`` of uint8 batches and the channels_last layout. A training
loop or an evaluation just iterates it::

    for images, labels, bad in build_dataloader(cfg.DataLoader.Train, device=device):
        ...
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from .prefetch import finished_ahead

__all__ = ["DeviceLoader"]

Batch = tuple[Any, torch.Tensor, list[tuple[str, str]]]


class DeviceLoader:
    """``for images, labels, bad in loader``: batches finished on ``device``.

    ``images`` and ``labels`` are on ``device``; images are what the op list ends with (float
    after ``NormalizeImage``), in channels_last layout with ``channels_last``; ``bad`` lists
    ``(path, reason)`` of the images skipped. A batch without one readable image comes as the
    workers sent it (empty tensors, on the CPU).

    Starting an iteration draws nothing from torch's global RNG (a DataLoader's iterator draws
    its workers' base seed there), so a run resumed mid-epoch draws dropout masks exactly as an
    uninterrupted one.

    Args:
        loader: the torch DataLoader whose workers read (and mostly decode) the files.
        dataset: the image dataset under it; its ``samples`` name the files (`batch_paths`).
        device: where the batches go (default the CPU).
        finish: the on-device decoder's per-batch step, ``finish(batch, device) -> batch``
            (`decode.decoder.Decoder.finish`), or None when the workers send decoded images.
        late_normalize: the trailing ``NormalizeImage`` split off the op list, run once per uint8
            batch on ``device``; None when the workers normalise.
        channels_last: give images in channels_last layout.

    Example:
        >>> loader = build_dataloader(cfg.DataLoader.Eval, device=torch.device("cuda"))  # doctest: +SKIP
        >>> images, labels, bad = next(iter(loader))  # doctest: +SKIP
    """

    def __init__(self, loader: DataLoader, dataset: Dataset, device: torch.device | str | None = None,
                 finish: Callable[[Batch, torch.device], Batch] | None = None,
                 late_normalize: Callable[[torch.Tensor], torch.Tensor] | None = None, channels_last: bool = False):
        self.loader, self.dataset = loader, dataset
        self.device = torch.device(device or "cpu")
        self.finish, self.late_normalize, self.channels_last = finish, late_normalize, channels_last

    def on(self, device: torch.device | str, channels_last: bool = False) -> DeviceLoader:
        """This loader with its batches finished on ``device`` (channels_last when asked): a new
        `DeviceLoader` over the same DataLoader, workers and sampler.

        Example:
            >>> for images, labels, bad in loader.on(state.device, state.channels_last): ...  # doctest: +SKIP
        """
        return DeviceLoader(self.loader, self.dataset, device, self.finish, self.late_normalize, channels_last)

    @property
    def base_dataset(self) -> Dataset:
        """The image dataset (``dataset``; the name the trainer reads)."""
        return self.dataset

    @property
    def batch_sampler(self) -> Any:
        """The DataLoader's batch sampler (``set_epoch(epoch, start_batch)`` on a seeded one)."""
        return self.loader.batch_sampler

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        generator = torch.random.default_generator
        saved = generator.get_state()
        batches: Iterable[Batch] = iter(self.loader)  # draws the workers' base seed: put it back
        generator.set_state(saved)
        if self.finish is not None and self.device.type == "cuda":  # decode ahead while the GPU trains
            batches = finished_ahead(batches, self.finish, self.device)
        elif self.finish is not None:
            batches = (self.finish(batch, self.device) for batch in batches)
        return self._finished(batches)

    def worker_batches(self) -> Iterator[Batch]:
        """The batches as the workers send them: uint8 where normalisation is late, and
        `decode.on_device.EncodedBatch` for the on-device decoder (for tests and benchmarks)."""
        return iter(self.loader)

    def batch_paths(self, index: int) -> list[str]:
        """The image paths of batch ``index`` of the current epoch (for error reports); [] when
        the sampler cannot tell (it has no ``batch_at``)."""
        sampler = self.loader.batch_sampler
        if not hasattr(sampler, "batch_at"):
            return []
        samples = getattr(self.dataset, "samples", None)
        return [str(samples[i][0]) if samples is not None else f"#{i}" for i, *_ in sampler.batch_at(index)]

    def _finished(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        for images, labels, bad in batches:
            if len(labels):
                images = self._images_on_device(images)
                labels = labels.to(self.device, non_blocking=True)
            yield images, labels, bad

    def _images_on_device(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if self.late_normalize is not None and images.dtype == torch.uint8:
            images = self.late_normalize(images)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images
