"""Image classification datasets: PaddleClas file lists and class-per-folder trees.

A broken image never stops a run silently: by default `__getitem__` returns a `BadSample`
that `collate_skip_bad` drops and reports; with ``strict=True`` it raises `BadImageError`
naming the file. Files a list names but that do not exist are found when the dataset is
built (one stat each) and left out, listed in ``dataset.missing_files``. The list files
themselves are parsed and validated by `torchclas.data.file_list`.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch.utils.data import Dataset
from torchvision.datasets.folder import find_classes, make_dataset

from torchclas.config.schema import DatasetConfig
from torchclas.data.file_list import read_file_list, read_label_list, read_numbered_file_list
from torchclas.data.transforms import DecodeImage, ImageDecodeError

__all__ = ["IMAGE_EXTENSIONS", "BadImageError", "BadSample", "FileListDataset", "ImageFolderDataset",
           "collate_skip_bad", "build_dataset", "read_file_list", "read_label_list", "read_numbered_file_list"]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")


class BadImageError(RuntimeError):
    """An image that cannot be read or decoded; `.path` and `.reason` say which and why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot read image '{path}': {reason}")
        self.path = path
        self.reason = reason


class BadSample(NamedTuple):
    """Returned by a dataset in place of (image, label) when the image is broken."""

    path: str
    reason: str


class _ImageSampleDataset(Dataset):
    """(path, label) samples read as bytes and passed through `transform`.

    ``missing_files`` lists ``(line number, path)`` of listed images that were not found and
    were left out (empty for an image folder).
    """

    def __init__(self, samples: list[tuple[str, int]], transform: Callable | None, strict: bool):
        self.samples = samples
        self.targets = [label for _, label in samples]
        self.transform = transform if transform is not None else DecodeImage()
        self.strict = strict
        self.missing_files: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int] | BadSample:
        return self.load(index, self.transform)

    def load(self, index: int, transform: Callable) -> tuple[Any, int] | BadSample:
        """Sample ``index`` read and passed through ``transform`` (the dataset's own, or one of a
        subclass's: `multi_scale.MultiScaleDataset` has one per scale)."""
        path, label = self.samples[index]
        try:
            return transform(read_image_bytes(path)), label
        except (OSError, ImageDecodeError) as err:
            return bad_sample(path, err, self.strict)


def read_image_bytes(path: str) -> bytes:
    """The bytes of an image file; ``ImageDecodeError`` when it is empty."""
    with open(path, "rb") as handle:
        data = handle.read()
    if not data:
        raise ImageDecodeError("empty file")
    return data


def bad_sample(path: str, err: Exception, strict: bool) -> BadSample:
    """The `BadSample` of an image that could not be read (``err``); `BadImageError` when strict."""
    reason = str(err) if isinstance(err, ImageDecodeError) else (getattr(err, "strerror", None) or str(err))
    if strict:
        raise BadImageError(path, reason) from err
    return BadSample(path, reason)


MISSING_SHOWN = 5
"""How many missing files the one warning of `FileListDataset` quotes by line number."""


def drop_missing(numbered: list[tuple[int, str, int]], cls_label_path: str, image_root: str,
                  strict: bool) -> tuple[list[tuple[str, int]], list[tuple[int, str]]]:
    """Split listed samples into those on disk and ``(line, path)`` of those not (one stat each).

    Strict mode raises `BadImageError` for the first missing file, naming the list file and
    line; otherwise one warning counts them and quotes the first few. When none of the listed
    files exists, `image_root` is wrong: that raises in both modes.
    """
    present, missing = [], []
    for number, path, label in numbered:
        if os.path.isfile(path):
            present.append((path, label))
        else:
            missing.append((number, path))
    if not missing:
        return present, missing
    where = ", ".join(f"{cls_label_path}:{n}: '{p}'" for n, p in missing[:MISSING_SHOWN])
    more = f" and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
    if not present:
        raise FileNotFoundError(f"none of the {len(missing)} images listed in '{cls_label_path}' exists "
                                f"under image_root '{image_root}' (e.g. {where}); check dataset.image_root")
    if strict:
        number, path = missing[0]
        others = f"; {len(missing) - 1} more listed files are missing" if len(missing) > 1 else ""
        raise BadImageError(path, f"file not found (listed at {cls_label_path}:{number}{others})")
    log.warning("%s: %d of %d listed images not found, left out: %s%s", cls_label_path, len(missing),
                len(numbered), where, more)
    return present, missing


class FileListDataset(_ImageSampleDataset):
    """Images listed in a PaddleClas "path label" file (ImageNetDataset / CommonDataset).

    The list is validated line by line first (see `read_file_list`), then every listed file is
    looked up once: missing ones are left out with one warning and kept in ``missing_files`` as
    ``(line number, path)``; in strict mode the first raises `BadImageError` naming file and line.

    Args:
        image_root: directory the listed paths are relative to.
        cls_label_path: the list file.
        transform: callable applied to the file's bytes (first op DecodeImage); None decodes only.
        delimiter: path/label separator (None: whitespace).
        strict: raise BadImageError on a missing or broken image instead of skipping it.
        class_num: when given, every label must be below it.

    Example:
        >>> ds = FileListDataset("data/fm", "data/fm/train_list.txt", build_transforms(ops))  # doctest: +SKIP
        >>> image, label = ds[0]  # doctest: +SKIP
        >>> ds.missing_files  # doctest: +SKIP
        [(17, 'data/fm/train/00016.png')]
    """

    def __init__(self, image_root: str, cls_label_path: str, transform: Callable | None = None,
                 delimiter: str | None = None, strict: bool = False, class_num: int | None = None):
        numbered = read_numbered_file_list(cls_label_path, image_root, delimiter, class_num)
        samples, missing = drop_missing(numbered, cls_label_path, image_root, strict)
        super().__init__(samples, transform, strict)
        self.missing_files = missing
        self.image_root = image_root
        self.cls_label_path = cls_label_path


class ImageFolderDataset(_ImageSampleDataset):
    """Images under ``root/<class name>/...``; sorted class folders get labels 0..n-1.

    Args:
        root: directory holding one sub-folder per class.
        transform, strict: as in `FileListDataset`.
        extensions: file endings (case-insensitive) counted as images.
        class_num: when given, there may be at most this many class folders.

    Example:
        >>> ImageFolderDataset("flowers/train").classes[:2]  # doctest: +SKIP
        ['daisy', 'dandelion']
    """

    def __init__(self, root: str, transform: Callable | None = None, strict: bool = False,
                 extensions: Sequence[str] = IMAGE_EXTENSIONS, class_num: int | None = None):
        if not os.path.isdir(root):
            raise FileNotFoundError(f"image folder not found: '{root}'")
        self.classes, self.class_to_idx = find_classes(root)
        if class_num is not None and len(self.classes) > class_num:
            raise ValueError(f"image folder '{root}' has {len(self.classes)} class folders "
                             f"({', '.join(self.classes[:5])}{', ...' if len(self.classes) > 5 else ''}) "
                             f"but class_num is {class_num}")
        samples = make_dataset(root, self.class_to_idx, extensions=tuple(e.lower() for e in extensions))
        super().__init__(samples, transform, strict)
        self.root = root


def collate_skip_bad(batch: Sequence[tuple[torch.Tensor, int] | BadSample]
                     ) -> tuple[torch.Tensor, torch.Tensor, list[tuple[str, str]]]:
    """Stack the good samples of a batch and list the bad ones.

    Returns:
        (images [N, C, H, W] as produced, labels int64 [N], [(path, reason), ...]); when every
        sample is bad, images is ``torch.empty(0)`` and labels is empty.

    Example:
        >>> batch = [(torch.zeros(3, 2, 2), 1), BadSample("a.jpg", "empty file")]
        >>> images, labels, bad = collate_skip_bad(batch)
        >>> images.shape, labels.tolist(), bad
        (torch.Size([1, 3, 2, 2]), [1], [('a.jpg', 'empty file')])
    """
    bad = [(s.path, s.reason) for s in batch if isinstance(s, BadSample)]
    good = [s for s in batch if not isinstance(s, BadSample)]
    if not good:
        return torch.empty(0), torch.empty(0, dtype=torch.int64), bad
    images = torch.stack([torch.as_tensor(image).as_subclass(torch.Tensor) for image, _ in good])
    labels = torch.tensor([int(label) for _, label in good], dtype=torch.int64)
    return images, labels, bad


_FILE_LIST_NAMES = DatasetConfig.FILE_LIST_NAMES
_FOLDER_NAMES = DatasetConfig.FOLDER_NAMES


def build_dataset(name: str, image_root: str, cls_label_path: str | None, transform: Callable | None,
                  strict: bool, delimiter: str | None = None, class_num: int | None = None) -> Dataset:
    """Build a dataset from its PaddleClas `DataLoader.*.dataset.name`.

    'ImageNetDataset' | 'CommonDataset' | 'FileListDataset' -> FileListDataset;
    'ImageFolder' | 'ImageFolderDataset' -> ImageFolderDataset over `image_root`
    (`cls_label_path` and `delimiter` unused). `class_num` (``cfg.class_num``) bounds the labels.

    Example:
        >>> build_dataset("ImageNetDataset", "data/fm", "data/fm/val_list.txt", None, False)  # doctest: +SKIP
    """
    if name in _FILE_LIST_NAMES:
        if not cls_label_path:
            raise ValueError(f"dataset '{name}' needs cls_label_path (the 'path label' list file)")
        return FileListDataset(image_root, cls_label_path, transform, delimiter=delimiter, strict=strict,
                               class_num=class_num)
    if name in _FOLDER_NAMES:
        return ImageFolderDataset(image_root, transform, strict=strict, class_num=class_num)
    valid = _FILE_LIST_NAMES + _FOLDER_NAMES
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ValueError(f"unknown dataset name '{name}'{hint}; valid: {', '.join(valid)}")
