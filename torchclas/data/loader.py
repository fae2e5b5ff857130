"""DataLoader for one split: dataset + transforms + a seeded, shardable batch sampler.

Each sample index travels with its own seed, drawn from ``(seed, epoch, position)``; the
dataset wrapper seeds torch's RNG with it before the transforms run. Augmentations therefore
do not depend on the number of workers or on whether a run was resumed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..config.schema import SplitConfig
from .datasets import build_dataset, collate_skip_bad
from .pipeline import build_transforms

__all__ = ["SeededBatchSampler", "SeededDataset", "build_dataloader"]


class SeededBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(index, sample_seed)``; this process's shard of a (shuffled) permutation.

    Args:
        size: dataset length.
        batch_size: samples per batch (per process, as in PaddleClas).
        shuffle: a new permutation every epoch, set by ``set_epoch``.
        drop_last: drop the last partial batch.
        seed: base seed of permutations and per-sample seeds.
        num_replicas, rank: shard for distributed training (rank r takes every r-th sample).
    """

    def __init__(self, size: int, batch_size: int, shuffle: bool, drop_last: bool, seed: int = 0,
                 num_replicas: int = 1, rank: int = 0):
        self.size, self.batch_size, self.shuffle, self.drop_last = size, batch_size, shuffle, drop_last
        self.seed, self.num_replicas, self.rank, self.epoch = seed, num_replicas, rank, 0
        self.per_replica = math.ceil(size / num_replicas) if not drop_last else size // num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Choose the permutation and per-sample seeds of ``epoch``."""
        self.epoch = epoch

    def _indices(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator) if self.shuffle else torch.arange(self.size)
        order = order.tolist()
        total = self.per_replica * self.num_replicas
        order = (order + order[: total - len(order)])[:total]  # pad by wrapping, like DistributedSampler
        return order[self.rank::self.num_replicas]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        base = (self.seed * 1_000_003 + self.epoch) * 10_000_019
        batch: list[tuple[int, int]] = []
        for position, index in enumerate(self._indices()):
            batch.append((index, (base + position * self.num_replicas + self.rank) % 2**62))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        full, rest = divmod(self.per_replica, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)


class SeededDataset(Dataset):
    """Wraps a dataset so ``ds[(index, seed)]`` seeds torch's RNG before reading ``index``."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]):
        index, seed = item
        # Only the CPU generator: torch.manual_seed also seeds CUDA, which costs ~0.3-2 ms a call
        # on CUDA builds even without a GPU, more than decoding a small image. The state is put
        # back so that, without workers, the training loop's own draws (dropout) stay its own.
        generator = torch.random.default_generator
        saved = generator.get_state()
        generator.manual_seed(seed)
        try:
            return self.dataset[index]
        finally:
            generator.set_state(saved)


def build_dataloader(split: SplitConfig, seed: int = 0, strict: bool = False, num_replicas: int = 1,
                     rank: int = 0, pin_memory: bool = False) -> DataLoader:
    """The DataLoader of one ``DataLoader.Train``/``Eval`` section.

    Missing list files or image folders raise ``FileNotFoundError`` naming the config key.
    Batches are ``(images, labels, bad)``, ``bad`` listing ``(path, reason)`` of skipped images.
    """
    ds_cfg = split.dataset
    _check_paths(ds_cfg.image_root, ds_cfg.cls_label_path, ds_cfg.name)
    dataset = build_dataset(ds_cfg.name, ds_cfg.image_root, ds_cfg.cls_label_path,
                            build_transforms(ds_cfg.transform_ops), strict, ds_cfg.delimiter)
    sampler = SeededBatchSampler(len(dataset), split.sampler.batch_size, split.sampler.shuffle,
                                 split.sampler.drop_last, seed, num_replicas, rank)
    workers = split.loader.num_workers
    loader = DataLoader(SeededDataset(dataset), batch_sampler=sampler, num_workers=workers,
                        collate_fn=collate_skip_bad, pin_memory=pin_memory,
                        persistent_workers=workers > 0 and split.loader.persistent_workers,
                        prefetch_factor=split.loader.prefetch_factor if workers else None)
    loader.base_dataset = dataset
    return loader


def _check_paths(image_root: str, cls_label_path: str | None, name: str) -> None:
    if not Path(image_root).is_dir():
        raise FileNotFoundError(f"dataset.image_root: folder not found: '{image_root}'")
    if cls_label_path is not None and not Path(cls_label_path).is_file():
        raise FileNotFoundError(f"dataset.cls_label_path: file not found: '{cls_label_path}'")
    if cls_label_path is None and name not in ("ImageFolder", "ImageFolderDataset"):
        raise ValueError(f"dataset '{name}' needs cls_label_path (or use name: ImageFolder)")
