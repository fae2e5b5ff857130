"""DataLoader for one split: dataset + transforms + a seeded, shardable batch sampler.

Each sample index travels with its own seed, drawn from ``(seed, epoch, position)``; the
dataset wrapper seeds torch's RNG with it before the transforms run. Augmentations therefore
do not depend on the number of workers or on whether a run was resumed.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ..config.schema import SplitConfig
from .datasets import build_dataset, collate_skip_bad
from .device_decode import DeviceDecode, PathTaggedDataset, collate_encoded
from .prefetch import finished_ahead
from .pipeline import build_batch_ops, build_ops, build_transforms, split_late_normalize
from .samplers import SeededBatchSampler, build_batch_sampler

__all__ = ["SeededBatchSampler", "SeededDataset", "BatchCollate", "DeviceBatchLoader", "build_dataloader",
           "batch_paths", "device_batches", "batch_to_device"]


@contextmanager
def seeded_cpu_rng(seed: int) -> Iterator[None]:
    """Seed torch's default CPU generator for the block, then put its previous state back."""
    # Only the CPU generator: torch.manual_seed also seeds CUDA, which costs ~0.3-2 ms a call
    # on CUDA builds even without a GPU, more than decoding a small image. The state is put
    # back so that, without workers, the training loop's own draws (dropout) stay its own.
    generator = torch.random.default_generator
    saved = generator.get_state()
    generator.manual_seed(seed)
    try:
        yield
    finally:
        generator.set_state(saved)


class SeededDataset(Dataset):
    """Wraps a dataset so ``ds[(index, seed)]`` seeds torch's RNG before reading ``index``.

    With ``with_seed=True`` it returns ``(sample, seed)``, for a collate function that needs
    the seeds (``BatchCollate``).
    """

    def __init__(self, dataset: Dataset, with_seed: bool = False):
        self.dataset, self.with_seed = dataset, with_seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]):
        index, seed = item
        with seeded_cpu_rng(seed):
            sample = self.dataset[index]
        return (sample, seed) if self.with_seed else sample


class BatchCollate:
    """Collate ``(sample, seed)`` pairs: drop bad samples, stack, then run the batch ops.

    The batch ops draw from torch's generator seeded by the batch's first sample seed (hashed,
    so it differs from every sample's own seed): the same batch gets the same mix whatever the
    number of workers. Batches are ``(images, soft targets [N, class_num], bad)``.
    """

    def __init__(self, batch_ops: Callable, class_num: int):
        self.batch_ops, self.class_num = batch_ops, class_num

    def __call__(self, batch: list[tuple[Any, int]]):
        images, labels, bad = collate_skip_bad([sample for sample, _ in batch])
        if labels.numel() == 0:
            return images, torch.empty(0, self.class_num), bad
        with seeded_cpu_rng((batch[0][1] * 6364136223846793005 + 1442695040888963407) % 2**63):
            images, labels = self.batch_ops(images, labels)
        return images, labels, bad


def build_dataloader(split: SplitConfig, seed: int = 0, strict: bool = False, num_replicas: int = 1,
                     rank: int = 0, pin_memory: bool = False, class_num: int | None = None) -> DataLoader:
    """The DataLoader of one ``DataLoader.Train``/``Eval`` section.

    Missing list files or image folders raise ``FileNotFoundError`` naming the config key.
    Batches are ``(images, labels, bad)``, ``bad`` listing ``(path, reason)`` of skipped images;
    labels are int64 ``[N]``, or float ``[N, class_num]`` soft targets when the section has
    ``batch_transform_ops`` (Mixup/CutMix), which need ``class_num`` (``cfg.class_num``).
    """
    ds_cfg = split.dataset
    _check_paths(ds_cfg.image_root, ds_cfg.cls_label_path, ds_cfg.name)
    transform, late_normalize, device_decode = _split_transforms(split, strict)
    dataset = build_dataset(ds_cfg.name, ds_cfg.image_root, ds_cfg.cls_label_path, transform, strict,
                            ds_cfg.delimiter, class_num=class_num)
    batch_ops = build_batch_ops(ds_cfg.batch_transform_ops, class_num, "dataset.batch_transform_ops")
    sampler = build_batch_sampler(split.sampler, dataset, seed, num_replicas, rank, num_classes=class_num)
    workers = split.loader.num_workers
    if device_decode is not None:
        collate, samples = collate_encoded, PathTaggedDataset(dataset)
    else:
        collate = collate_skip_bad if batch_ops is None else BatchCollate(batch_ops, class_num)
        samples = dataset
    deferred = late_normalize is not None or device_decode is not None
    loader = (DeviceBatchLoader if deferred else DataLoader)(
        SeededDataset(samples, with_seed=batch_ops is not None), batch_sampler=sampler,
        num_workers=workers, collate_fn=collate, pin_memory=pin_memory,
        worker_init_fn=_ignore_sigint if workers else None,
        persistent_workers=workers > 0 and split.loader.persistent_workers,
        prefetch_factor=split.loader.prefetch_factor if workers else None)
    loader.base_dataset = dataset
    loader.late_normalize, loader.device_decode = late_normalize, device_decode
    return loader


def _split_transforms(split: SplitConfig, strict: bool) -> tuple[Callable, Callable | None, DeviceDecode | None]:
    """``(worker transform, late NormalizeImage or None, DeviceDecode or None)`` of a split."""
    ops, loader = split.dataset.transform_ops, split.loader
    batch_ops = split.dataset.batch_transform_ops
    if loader.decode_on_device:
        if batch_ops:
            raise ValueError("loader.decode_on_device: not with dataset.batch_transform_ops (they run in the "
                             "loader workers, on decoded images); set decode_on_device: false or drop them")
        ops, late_normalize = split_late_normalize(ops, "dataset.transform_ops")
        device_decode = DeviceDecode(build_ops(ops, "dataset.transform_ops"), strict=strict)
        return device_decode, late_normalize, device_decode
    late_normalize = None
    if loader.late_normalize and not batch_ops:
        ops, late_normalize = split_late_normalize(ops, "dataset.transform_ops")
    transform = build_transforms(ops, fast_decode=loader.fast_decode, fast_decode_resize=loader.fast_decode_resize)
    return transform, late_normalize, None


class DeviceBatchLoader(DataLoader):
    """A DataLoader whose batches are finished where they land: the workers send uint8 batches
    (``transform_ops`` without their trailing ``NormalizeImage``) and, with
    ``decode_on_device``, JPEG bytes still to decode (`device_decode.EncodedBatch`).

    Iterating it finishes each batch in this process, so it yields what a plain loader yields;
    a training loop takes ``device_batches(loader, device)`` instead, which decodes on the
    device, and ``batch_to_device``, which normalises there (on the GPU when there is one).
    """

    late_normalize: Callable | None
    device_decode: DeviceDecode | None

    def __iter__(self):
        for images, labels, bad in device_batches(self, torch.device("cpu")):
            if self.late_normalize is not None and images.numel():
                images = self.late_normalize(images)
            yield images, labels, bad

    def uint8_batches(self):
        """The batches as the workers sent them."""
        return super().__iter__()


def device_batches(loader: DataLoader, device: torch.device | None = None):
    """An iterator over ``loader`` for ``batch_to_device``: uint8 batches where it normalises
    late, with the JPEGs a ``decode_on_device`` loader sends decoded on ``device`` (CPU if None)."""
    if not isinstance(loader, DeviceBatchLoader):
        return iter(loader)
    batches = loader.uint8_batches()
    if loader.device_decode is None:
        return batches
    device = device or torch.device("cpu")
    if device.type == "cuda":  # decode the next batches while the GPU trains on this one
        return finished_ahead(batches, loader.device_decode.finish, device)
    return (loader.device_decode.finish(batch, device) for batch in batches)


def batch_to_device(loader: DataLoader, images: torch.Tensor, device: torch.device,
                    channels_last: bool = False) -> torch.Tensor:
    """A batch of ``device_batches(loader)`` on ``device``, normalised there when it is still
    uint8 and the loader normalises late, in channels_last layout when asked."""
    images = images.to(device, non_blocking=True)
    normalize = getattr(loader, "late_normalize", None)
    if normalize is not None and images.dtype == torch.uint8:
        images = normalize(images)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images


def _ignore_sigint(worker_id: int) -> None:
    """Ctrl-C reaches the whole process group: the workers leave it to the main process, which
    stops gracefully (finishes the step, saves a checkpoint) and then ends them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def batch_paths(loader: DataLoader, index: int) -> list[str]:
    """The image paths of batch ``index`` of the loader's current epoch (for error reports)."""
    sampler = loader.batch_sampler
    if not hasattr(sampler, "batch_at"):
        return []
    samples = getattr(getattr(loader, "base_dataset", None), "samples", None)
    batch = sampler.batch_at(index)
    return [str(samples[i][0]) if samples is not None else f"#{i}" for i, _ in batch]


def _check_paths(image_root: str, cls_label_path: str | None, name: str) -> None:
    if not Path(image_root).is_dir():
        raise FileNotFoundError(f"dataset.image_root: folder not found: '{image_root}'")
    if cls_label_path is not None and not Path(cls_label_path).is_file():
        raise FileNotFoundError(f"dataset.cls_label_path: file not found: '{cls_label_path}'")
    if cls_label_path is None and name not in ("ImageFolder", "ImageFolderDataset"):
        raise ValueError(f"dataset '{name}' needs cls_label_path (or use name: ImageFolder)")
