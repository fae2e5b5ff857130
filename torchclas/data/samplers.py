"""Batch samplers of ``(index, sample_seed)``: the seeded shuffle, and class-weighted draws.

``DataLoader.<split>.sampler.name`` picks one:

- ``DistributedBatchSampler`` / ``BatchSampler``: each sample once per epoch (`SeededBatchSampler`).
- ``ClassBalancedSampler``: every class equally likely (`WeightedClassSampler`, weights 1/count).
- ``WeightedSampler``: a sample of class ``c`` drawn with weight ``class_weights[c]``, so class
  ``c`` gets a share proportional to ``class_weights[c] * count_c``; ``class_weights: auto``
  is ``1/count_c`` (balanced).
- ``RASampler``: repeated augmentation, each image ``num_repeats`` times (`RepeatedAugmentSampler`).
- ``MultiScaleSampler``: each batch one scale and its batch size, items
  ``(index, sample_seed, (width, height))`` (`MultiScaleSampler`, for `multi_scale.MultiScaleDataset`).

Every sampler is deterministic per ``(seed, epoch)`` and sharded across processes: rank ``r``
of ``R`` takes positions ``r, r + R, ...`` of one global sequence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Iterator

import torch
from torch.utils.data import Dataset, Sampler, Subset

from ..config.schema import SamplerConfig

__all__ = ["SeededBatchSampler", "WeightedClassSampler", "RepeatedAugmentSampler", "MultiScaleSampler",
           "scale_batches", "build_batch_sampler", "dataset_labels", "label_counts"]


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
        self.start_batch = 0
        self.per_replica = math.ceil(size / num_replicas) if not drop_last else size // num_replicas

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Choose the permutation and per-sample seeds of ``epoch``; iteration begins at batch
        ``start_batch`` (a run resumed mid-epoch), yielding exactly the batches an
        uninterrupted epoch has from there on."""
        self.epoch, self.start_batch = epoch, start_batch

    def batch_at(self, index: int) -> list[tuple[int, int]]:
        """Batch ``index`` of the current epoch (counting from its first batch); ``[]`` past the end."""
        return next(itertools.islice(self._batches(), index, None), [])

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)

    def _indices(self) -> list[int]:
        order = torch.randperm(self.size, generator=self._generator()) if self.shuffle else torch.arange(self.size)
        order = order.tolist()
        total = self.per_replica * self.num_replicas
        order = (order + order[: total - len(order)])[:total]  # pad by wrapping, like DistributedSampler
        return order[self.rank::self.num_replicas]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        return itertools.islice(self._batches(), self.start_batch, None)

    def sample_seed(self, position: int) -> int:
        """The seed of this process's ``position``-th sample of the current epoch."""
        base = (self.seed * 1_000_003 + self.epoch) * 10_000_019
        return (base + position * self.num_replicas + self.rank) % 2**62

    def _batches(self) -> Iterator[list[tuple[int, int]]]:
        batch: list[tuple[int, int]] = []
        for position, index in enumerate(self._indices()):
            batch.append((index, self.sample_seed(position)))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        full, rest = divmod(self.per_replica, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)


class WeightedClassSampler(SeededBatchSampler):
    """Each epoch draws ``num_samples`` indices with replacement, class ``c`` with probability
    proportional to ``class_weights[c] * count_c``, uniformly within the class.

    Two seeded draws per epoch: ``torch.multinomial`` picks the class of every position, then
    one uniform draw picks a sample of that class. Batches, per-sample seeds and sharding are
    those of `SeededBatchSampler`.

    Args:
        labels: the label of every dataset index.
        class_weights: one weight >= 0 per class (``len == num_classes``).
        batch_size, drop_last, seed, num_replicas, rank: as in `SeededBatchSampler`.
        num_samples: draws per epoch over all processes (default ``len(labels)``).

    Example:
        >>> sampler = WeightedClassSampler([0] * 90 + [1] * 10, [1 / 90, 1 / 10], batch_size=8)
        >>> sampler.set_epoch(3); batches = list(sampler)  # about as many 1s as 0s
    """

    def __init__(self, labels: Sequence[int], class_weights: Sequence[float], batch_size: int,
                 drop_last: bool = False, seed: int = 0, num_replicas: int = 1, rank: int = 0,
                 num_samples: int | None = None):
        super().__init__(num_samples or len(labels), batch_size, True, drop_last, seed, num_replicas, rank)
        label_tensor = torch.as_tensor(list(labels), dtype=torch.int64)
        counts = torch.bincount(label_tensor, minlength=len(class_weights))
        if counts.numel() > len(class_weights):
            raise ValueError(f"sampler.class_weights has {len(class_weights)} values but the dataset has "
                             f"label {int(label_tensor.max())}")
        mass = torch.as_tensor(list(class_weights), dtype=torch.float64) * counts
        if not bool(mass.sum() > 0):
            raise ValueError("sampler.class_weights: every class with samples has weight 0")
        self.class_mass = mass
        self.by_class = torch.argsort(label_tensor, stable=True)  # indices grouped by class
        self.class_start = torch.cumsum(counts, 0) - counts
        self.class_count = counts

    def _indices(self) -> list[int]:
        generator = self._generator()
        total = self.per_replica * self.num_replicas
        classes = torch.multinomial(self.class_mass, total, replacement=True, generator=generator)
        offsets = torch.rand(total, generator=generator, dtype=torch.float64) * self.class_count[classes]
        offsets = torch.minimum(offsets.long(), self.class_count[classes] - 1)
        order = self.by_class[self.class_start[classes] + offsets].tolist()
        return order[self.rank::self.num_replicas]


class RepeatedAugmentSampler(SeededBatchSampler):
    """``RASampler`` (repeated augmentation, DeiT): each image appears ``num_repeats`` times in a
    row of one shuffled sequence, which the processes share out, so its copies land on
    different processes and get different augmentations (each copy has its own sample seed).

    An epoch stays the length of one pass: each process takes the first ``floor(N // 256 *
    256 / num_replicas)`` samples of its share (DeiT's and PaddleClas's rule), or ``N //
    num_replicas`` for a data set under 256 images (there the rule gives none).

    Args:
        size, batch_size, shuffle, drop_last, seed, num_replicas, rank: as in `SeededBatchSampler`.
        num_repeats: copies of each image (default 3).

    Example:
        >>> sampler = RepeatedAugmentSampler(4, batch_size=4, shuffle=False, drop_last=False, num_repeats=2)
        >>> [index for index, _ in next(iter(sampler))]
        [0, 0, 1, 1]
    """

    def __init__(self, size: int, batch_size: int, shuffle: bool, drop_last: bool, seed: int = 0,
                 num_replicas: int = 1, rank: int = 0, num_repeats: int = 3):
        super().__init__(size, batch_size, shuffle, drop_last, seed, num_replicas, rank)
        self.num_repeats = num_repeats
        selected = size // 256 * 256 or size
        self.per_replica = max(selected // num_replicas, 1)

    def _indices(self) -> list[int]:
        order = torch.randperm(self.size, generator=self._generator()) if self.shuffle else torch.arange(self.size)
        repeated = order.repeat_interleave(self.num_repeats).tolist()
        total = self.per_replica * self.num_replicas  # what the ranks keep; wrap, as PaddleClas pads
        padded = list(itertools.islice(itertools.cycle(repeated), total))
        return padded[self.rank::self.num_replicas][: self.per_replica]


def scale_batches(scales: Sequence[int | Sequence[int]], first_bs: int, divided_factor: int = 32,
                  is_training: bool = True) -> list[tuple[int, int, int]]:
    """``(width, height, batch size)`` of each of ``MultiScaleSampler``'s ``scales``.

    In training each side is rounded down to a multiple of ``divided_factor`` and the batch
    size is ``max(1, int(first_bs * w0 * h0 / (w * h)))``, ``(w0, h0)`` being ``scales[0]`` as
    written, so every batch holds about as many pixels; otherwise there is one scale,
    ``scales[0]`` with ``first_bs`` (as in PaddleClas).

    Example:
        >>> scale_batches([256, 160, [320, 288]], first_bs=48)
        [(256, 256, 48), (160, 160, 122), (320, 288, 34)]
    """
    sizes = [(int(s), int(s)) if isinstance(s, int) else (int(s[0]), int(s[1])) for s in scales]
    base_w, base_h = sizes[0]
    if not is_training:
        return [(base_w, base_h, first_bs)]
    out = []
    for width, height in sizes:
        w, h = width // divided_factor * divided_factor, height // divided_factor * divided_factor
        if not w or not h:
            raise ValueError(f"sampler.scales: {width}x{height} rounds down to {w}x{h} with divided_factor "
                             f"{divided_factor}; use larger scales or a smaller divided_factor")
        out.append((w, h, max(1, int(base_w * base_h * first_bs / (w * h)))))
    return out


class MultiScaleSampler(SeededBatchSampler):
    """Batches of ``(index, sample_seed, (width, height))``: each batch has one scale of
    ``batches`` (`scale_batches`) and that scale's batch size; `MultiScaleDataset` crops to it.

    The sequence of scales is drawn once from ``seed`` and kept for the run, as PaddleClas
    draws it once (so every epoch, and every process, has the same number of batches); each
    epoch reshuffles the images (``shuffle``) over it. The last batch is filled up by wrapping
    to the start of this process's share.

    Args:
        size: dataset length.
        batches: ``(width, height, batch size)`` choices (`scale_batches`).
        shuffle, seed, num_replicas, rank: as in `SeededBatchSampler`.

    Example:
        >>> sampler = MultiScaleSampler(10, [(32, 32, 4), (64, 64, 1)], shuffle=True, seed=0)
        >>> sorted({scale for batch in sampler for _, _, scale in batch})
        [(32, 32), (64, 64)]
    """

    def __init__(self, size: int, batches: Sequence[tuple[int, int, int]], shuffle: bool = True, seed: int = 0,
                 num_replicas: int = 1, rank: int = 0):
        super().__init__(size, batches[0][2], shuffle, False, seed, num_replicas, rank)
        self.batches = list(batches)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + 100_002)  # not an epoch's stream
        self.layout: list[tuple[int, int, int]] = []
        taken = 0
        while taken < self.per_replica:
            self.layout.append(self.batches[int(torch.randint(len(self.batches), (), generator=generator))])
            taken += self.layout[-1][2]

    def _batches(self) -> Iterator[list[tuple[int, int, tuple[int, int]]]]:  # type: ignore[override]
        indices = self._indices()
        start = 0
        for width, height, batch_size in self.layout:
            ids = indices[start:start + batch_size]
            ids += list(itertools.islice(itertools.cycle(indices), batch_size - len(ids)))
            yield [(index, self.sample_seed(start + k), (width, height)) for k, index in enumerate(ids)]
            start += batch_size

    def __len__(self) -> int:
        return len(self.layout)


def dataset_labels(dataset: Dataset) -> list[int]:
    """The label of every index, read from ``.targets`` or ``.samples`` without opening images."""
    if isinstance(dataset, Subset):
        labels = dataset_labels(dataset.dataset)
        return [labels[i] for i in dataset.indices]
    if hasattr(dataset, "targets"):
        return [int(label) for label in dataset.targets]
    if hasattr(dataset, "samples"):
        return [int(label) for _, label in dataset.samples]
    raise TypeError(f"{type(dataset).__name__} has neither .targets nor .samples: class-aware "
                    "samplers and class_weights: auto need the labels without reading the images")


def label_counts(dataset: Dataset, num_classes: int | None = None) -> list[int]:
    """Samples per class: ``counts[c]`` for ``c < num_classes`` (default: the dataset's classes).

    Without ``num_classes``, an image folder counts its class folders (empty ones too) and a
    file list counts up to its largest label.

    Example:
        >>> counts = label_counts(train_loader.base_dataset, cfg.class_num)  # doctest: +SKIP
        >>> loss = build_loss(cfg.Loss.Train, "Loss.Train", class_counts=counts)  # doctest: +SKIP
    """
    labels = dataset_labels(dataset)
    if num_classes is None:
        classes = getattr(dataset, "classes", None)
        num_classes = len(classes) if classes is not None else max(labels, default=-1) + 1
    if labels and (max(labels) >= num_classes or min(labels) < 0):
        bad = max(labels) if max(labels) >= num_classes else min(labels)
        raise ValueError(f"label {bad} is outside 0..{num_classes - 1} ({num_classes} classes)")
    return torch.bincount(torch.as_tensor(labels, dtype=torch.int64), minlength=num_classes).tolist()


def build_batch_sampler(cfg: SamplerConfig, dataset: Dataset, seed: int = 0, num_replicas: int = 1,
                        rank: int = 0, num_classes: int | None = None) -> SeededBatchSampler:
    """The batch sampler a ``DataLoader.<split>.sampler`` section names, over ``dataset``.

    ``num_classes`` (e.g. ``Arch.class_num``) is the length ``class_weights`` must have;
    by default the dataset's own number of classes (see `label_counts`).

    Example:
        >>> sampler = build_batch_sampler(cfg.DataLoader.Train.sampler, dataset, seed=42)  # doctest: +SKIP
    """
    if cfg.name == "MultiScaleSampler":
        shuffle = cfg.shuffle if "shuffle" in cfg.model_fields_set else True  # PaddleClas's default
        batches = scale_batches(cfg.scales, cfg.first_bs, cfg.divided_factor, cfg.is_training)
        return MultiScaleSampler(len(dataset), batches, shuffle, seed, num_replicas, rank)
    if cfg.name == "RASampler":
        return RepeatedAugmentSampler(len(dataset), cfg.batch_size, cfg.shuffle, cfg.drop_last, seed,
                                      num_replicas, rank, cfg.num_repeats)
    if cfg.name not in ("ClassBalancedSampler", "WeightedSampler"):
        return SeededBatchSampler(len(dataset), cfg.batch_size, cfg.shuffle, cfg.drop_last, seed,
                                  num_replicas, rank)
    labels = dataset_labels(dataset)
    counts = label_counts(dataset, num_classes)
    weights = cfg.class_weights
    if weights is None or weights == "auto":
        weights = [1.0 / n if n else 0.0 for n in counts]
    elif len(weights) != len(counts):
        raise ValueError(f"sampler.class_weights: {len(weights)} weights given but there are "
                         f"{len(counts)} classes; give one weight per class (or class_weights: auto)")
    return WeightedClassSampler(labels, weights, cfg.batch_size, cfg.drop_last, seed, num_replicas, rank,
                                cfg.num_samples)
