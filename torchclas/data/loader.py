"""The loader of one split (``build_dataloader``): dataset + decoder + transforms + a seeded,
shardable batch sampler, in a torch DataLoader wrapped by a `device_loader.DeviceLoader`, which
finishes each batch on the device.

Each sample index travels with its own seed, drawn from ``(seed, epoch, position)``; the
dataset wrapper seeds torch's RNG with it before the transforms run. Augmentations therefore
do not depend on the number of workers or on whether a run was resumed.
"""

from __future__ import annotations

import logging
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ..config.schema import DatasetConfig, SplitConfig
from .custom_label import CustomLabelDataset
from .datasets import build_dataset, collate_skip_bad
from .decode.decoder import Decoder, build_decoder
from .decode.on_device import PathTaggedDataset, collate_encoded
from .device_loader import DeviceLoader
from .multi_scale import MultiScaleDataset, with_size
from .pipeline import build_batch_ops, split_late_normalize
from .samplers import SeededBatchSampler, build_batch_sampler, scale_batches

__all__ = ["SeededBatchSampler", "SeededDataset", "BatchCollate", "DeviceLoader", "build_dataloader"]

logger = logging.getLogger(__name__)


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
    """Wraps a dataset so ``ds[(index, seed)]`` seeds torch's RNG before reading ``index``;
    ``ds[(index, seed, (width, height))]`` reads ``dataset[(index, (width, height))]``
    (`multi_scale.MultiScaleDataset`).

    With ``with_seed=True`` it returns ``(sample, seed)``, for a collate function that needs
    the seeds (``BatchCollate``).
    """

    def __init__(self, dataset: Dataset, with_seed: bool = False):
        self.dataset, self.with_seed = dataset, with_seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int] | tuple[int, int, tuple[int, int]]):
        index, seed, *scale = item  # MultiScaleSampler adds the batch's (width, height)
        with seeded_cpu_rng(seed):
            sample = self.dataset[(index, scale[0]) if scale else index]
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
                     rank: int = 0, pin_memory: bool = False, class_num: int | None = None,
                     device: torch.device | str | None = None, channels_last: bool = False) -> DeviceLoader:
    """The loader of one ``DataLoader.Train``/``Eval`` section: a `DeviceLoader` whose batches
    come finished on ``device`` (the CPU by default), whichever decoder the section uses.

    Missing list files or image folders raise ``FileNotFoundError`` naming the config key.
    Batches are ``(images, labels, bad)``, ``bad`` listing ``(path, reason)`` of skipped images;
    labels are int64 ``[N]``, or float ``[N, class_num]`` soft targets when the section has
    ``batch_transform_ops`` (Mixup/CutMix), which need ``class_num`` (``cfg.class_num``).

    Example:
        >>> loader = build_dataloader(cfg.DataLoader.Train, seed=7, class_num=cfg.class_num)  # doctest: +SKIP
        >>> for images, labels, bad in loader.on(device, channels_last=True): ...  # doctest: +SKIP
    """
    ds_cfg = split.dataset
    _check_paths(ds_cfg.image_root, ds_cfg.cls_label_path, ds_cfg.name, ds_cfg.sample_list_path)
    decoder, late_normalize = _split_transforms(split, strict)
    dataset = _build_split_dataset(split, decoder, strict, class_num)
    batch_ops = build_batch_ops(ds_cfg.batch_transform_ops, class_num, "dataset.batch_transform_ops")
    sampler = build_batch_sampler(split.sampler, dataset, seed, num_replicas, rank, num_classes=class_num)
    workers = split.loader.num_workers
    if decoder.on_device:
        collate, samples = collate_encoded, PathTaggedDataset(dataset)
    else:
        collate = collate_skip_bad if batch_ops is None else BatchCollate(batch_ops, class_num)
        samples = dataset
    loader = DataLoader(
        SeededDataset(samples, with_seed=batch_ops is not None), batch_sampler=sampler,
        num_workers=workers, collate_fn=collate, pin_memory=pin_memory,
        worker_init_fn=_ignore_sigint if workers else None,
        persistent_workers=workers > 0 and split.loader.persistent_workers,
        prefetch_factor=split.loader.prefetch_factor if workers else None)
    return DeviceLoader(loader, dataset, device, decoder.finish, late_normalize, channels_last)


def _build_split_dataset(split: SplitConfig, decoder: Decoder, strict: bool, class_num: int | None) -> Dataset:
    """The dataset a split's ``dataset`` section names, reading through ``decoder``'s transform.

    ``MultiScaleDataset`` gets one op list per scale of a ``MultiScaleSampler`` (`multi_scale`);
    ``CustomLabelDataset`` takes its labels from the ops (`custom_label`).
    """
    ds_cfg, sampler = split.dataset, split.sampler
    special = ds_cfg.name in DatasetConfig.OTHER_NAMES
    if special and decoder.on_device:
        raise ValueError(f"loader.decode_on_device: not with {ds_cfg.name}; set decode_on_device: false")
    if sampler.name == "MultiScaleSampler" and ds_cfg.name != "MultiScaleDataset":
        raise ValueError(f"sampler MultiScaleSampler needs dataset.name MultiScaleDataset (got {ds_cfg.name}): "
                         "the dataset crops each batch to the sampler's scale")
    if ds_cfg.name == "MultiScaleDataset":
        scales = []
        if sampler.name == "MultiScaleSampler":
            scales = scale_batches(sampler.scales, sampler.first_bs, sampler.divided_factor, sampler.is_training)
        transforms = {(w, h): _split_transforms(split, strict, with_size(ds_cfg.transform_ops, w, h))[0].transform
                      for w, h, _ in scales}
        return MultiScaleDataset(ds_cfg.image_root, ds_cfg.cls_label_path, decoder.transform, transforms,
                                 ds_cfg.delimiter, strict, class_num)
    if ds_cfg.name == "CustomLabelDataset":
        return CustomLabelDataset(ds_cfg.image_root, ds_cfg.sample_list_path, decoder.transform,
                                  ds_cfg.label_key, ds_cfg.delimiter, strict, class_num)
    return build_dataset(ds_cfg.name, ds_cfg.image_root, ds_cfg.cls_label_path, decoder.transform, strict,
                         ds_cfg.delimiter, class_num=class_num)


def _split_transforms(split: SplitConfig, strict: bool, ops: Any = None) -> tuple[Decoder, Callable | None]:
    """``(decoder, late NormalizeImage or None)`` of a split.

    A trailing ``NormalizeImage`` is split off, to run once per batch on the device, when the
    decoder is on the device or ``loader.late_normalize`` is on (``ops``: another op list than the
    split's, e.g. one scale's of a MultiScaleDataset); but not with
    ``batch_transform_ops``: Mixup/CutMix run in the workers' collate on normalised images (a
    mix of uint8 images would round), so normalisation stays per image, and the log says so.
    The transform gives ``(image, labels)`` for a ``CustomLabelDataset`` (its labels come from
    label ops), the image alone for every other dataset (label ops' labels dropped, as PaddleClas).
    """
    ops = split.dataset.transform_ops if ops is None else ops
    loader = split.loader
    batch_ops = split.dataset.batch_transform_ops
    late_normalize = None
    if loader.decode_on_device:
        if batch_ops:
            raise ValueError("loader.decode_on_device: not with dataset.batch_transform_ops (they run in the "
                             "loader workers, on decoded images); set decode_on_device: false or drop them")
        ops, late_normalize = split_late_normalize(ops, "dataset.transform_ops")
    elif loader.late_normalize and batch_ops:
        if split_late_normalize(ops, "dataset.transform_ops")[1] is not None:
            logger.info("loader.late_normalize: the workers normalise each image, since "
                        "dataset.batch_transform_ops mix normalised images in the workers")
    elif loader.late_normalize:
        ops, late_normalize = split_late_normalize(ops, "dataset.transform_ops")
    labels = split.dataset.name == "CustomLabelDataset"
    return build_decoder(ops, loader, strict, labels=labels), late_normalize


def _ignore_sigint(worker_id: int) -> None:
    """Ctrl-C reaches the whole process group: the workers leave it to the main process, which
    stops gracefully (finishes the step, saves a checkpoint) and then ends them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_paths(image_root: str, cls_label_path: str | None, name: str, sample_list_path: str | None = None) -> None:
    if not Path(image_root).is_dir():
        raise FileNotFoundError(f"dataset.image_root: folder not found: '{image_root}'")
    if name == "CustomLabelDataset":
        if not sample_list_path or not Path(sample_list_path).is_file():
            raise FileNotFoundError(f"dataset.sample_list_path: file not found: '{sample_list_path}'")
        return
    if cls_label_path is not None and not Path(cls_label_path).is_file():
        raise FileNotFoundError(f"dataset.cls_label_path: file not found: '{cls_label_path}'")
    if cls_label_path is None and name not in ("ImageFolder", "ImageFolderDataset"):
        raise ValueError(f"dataset '{name}' needs cls_label_path (or use name: ImageFolder)")
