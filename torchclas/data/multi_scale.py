"""Multi-scale training (PaddleClas ``MultiScaleDataset`` + ``MultiScaleSampler``): every batch
has its own image size, and a batch size that keeps its pixel count about constant::

    dataset:
      name: MultiScaleDataset
      transform_ops: [DecodeImage, {RandCropImage: {size: 256}}, RandFlipImage, NormalizeImage]
    sampler:
      name: MultiScaleSampler
      scales: [256, 160, 192, 224, 288, 320]
      first_bs: 48          # the batch size of scales[0]
      divided_factor: 32    # sides rounded down to multiples of it
      is_training: True

The sampler (`samplers.MultiScaleSampler`) sends items ``(index, seed, (width, height))``; the
loader's `loader.SeededDataset` asks this dataset for ``dataset[(index, (width, height))]``,
which runs the op list whose ``RandCropImage`` / ``ResizeImage`` / ``CropImage`` take that size
(one op list per scale, built once by `with_size`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .datasets import BadSample, FileListDataset

__all__ = ["SIZED_OPS", "with_size", "MultiScaleDataset"]

SIZED_OPS = ("RandCropImage", "ResizeImage", "CropImage")
"""The ops whose output size each batch's scale sets (as PaddleClas's MultiScaleDataset)."""


def with_size(ops: Any, width: int, height: int, where: str = "dataset.transform_ops") -> list[Any]:
    """The op list with every ``RandCropImage`` / ``ResizeImage`` / ``CropImage`` set to
    ``size: [width, height]`` (a ``resize_short`` dropped; other parameters kept).

    PaddleClas replaces each such op's whole parameter mapping with the size, dropping e.g. an
    ``interpolation``; here the other parameters stay as written.

    Example:
        >>> with_size([{"DecodeImage": None}, {"RandCropImage": {"size": 224, "interpolation": "bicubic"}}], 160, 128)
        [{'DecodeImage': None}, {'RandCropImage': {'size': [160, 128], 'interpolation': 'bicubic'}}]
    """
    out, found = [], False
    for entry in ops or []:
        if isinstance(entry, dict) and len(entry) == 1:
            (name, params), = entry.items()
            if name in SIZED_OPS:
                params = {k: v for k, v in (params or {}).items() if k != "resize_short"}
                entry, found = {name: {**params, "size": [width, height]}}, True
        out.append(entry)
    if not found:
        raise ValueError(f"{where}: MultiScaleDataset needs a {', '.join(SIZED_OPS[:-1])} or {SIZED_OPS[-1]} "
                         "op to take each batch's size")
    return out


class MultiScaleDataset(FileListDataset):
    """A "path label" file list whose images come at the size of their batch.

    ``dataset[(index, (width, height))]`` runs ``scale_transforms[(width, height)]``;
    ``dataset[index]`` runs the op list as written (as a plain file list does).

    Args:
        image_root, cls_label_path, transform, delimiter, strict, class_num: as in `FileListDataset`.
        scale_transforms: ``(width, height) -> transform`` for each scale the sampler gives.

    Example:
        >>> ds = MultiScaleDataset("data", "data/train_list.txt", tf, {(32, 32): tf32})  # doctest: +SKIP
        >>> ds[(0, (32, 32))][0].shape  # doctest: +SKIP
        torch.Size([3, 32, 32])
    """

    def __init__(self, image_root: str, cls_label_path: str, transform: Callable | None = None,
                 scale_transforms: Mapping[tuple[int, int], Callable] | None = None, delimiter: str | None = None,
                 strict: bool = False, class_num: int | None = None):
        super().__init__(image_root, cls_label_path, transform, delimiter, strict, class_num)
        self.scale_transforms = dict(scale_transforms or {})

    def __getitem__(self, item: int | tuple[int, tuple[int, int]]) -> tuple[Any, int] | BadSample:
        if not isinstance(item, tuple):
            return self.load(item, self.transform)
        index, size = item
        transform = self.scale_transforms.get(tuple(size))
        if transform is None:
            known = ", ".join(f"{w}x{h}" for w, h in self.scale_transforms) or "none"
            raise KeyError(f"MultiScaleDataset has no op list for scale {size[0]}x{size[1]} (scales: {known})")
        return self.load(index, transform)
