"""Image classification datasets: PaddleClas file lists and class-per-folder trees.

A broken image never stops a run silently: by default `__getitem__` returns a `BadSample`
that `collate_skip_bad` drops and reports; with ``strict=True`` it raises `BadImageError`
naming the file.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch.utils.data import Dataset
from torchvision.datasets.folder import find_classes, make_dataset

from torchclas.data.transforms import DecodeImage, ImageDecodeError

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


def _split_line(line: str, delimiter: str | None) -> tuple[str, str] | None:
    """Split "path label" on the last run of `delimiter` (whitespace when None or "")."""
    if not delimiter:
        parts = line.strip().rsplit(None, 1)
        return (parts[0], parts[1]) if len(parts) == 2 else None
    while line.endswith(delimiter):
        line = line[: -len(delimiter)]
    path, found, label = line.rpartition(delimiter)
    while path.endswith(delimiter):
        path = path[: -len(delimiter)]
    return (path, label) if found and path else None


def read_file_list(cls_label_path: str, image_root: str,
                   delimiter: str | None = None) -> list[tuple[str, int]]:
    """Read a PaddleClas list file of "relative/path label" lines.

    Each line is split on its last run of `delimiter` (any whitespace when None), so paths may
    contain spaces. Blank lines are skipped.

    Args:
        cls_label_path: the list file, e.g. "dataset/ILSVRC2012/train_list.txt".
        image_root: directory the relative paths are joined to.
        delimiter: separator between path and label; None means whitespace.

    Returns:
        [(image_root/path, label), ...] with integer labels >= 0.

    Raises:
        FileNotFoundError when the list file is missing; ValueError naming the file, the 1-based
        line number and the line when a line has no label, a non-integer or a negative label.

    Example:
        >>> read_file_list("train_list.txt", "data/fm")  # doctest: +SKIP
        [('data/fm/train/00000.png', 9), ...]
    """
    if not os.path.isfile(cls_label_path):
        raise FileNotFoundError(f"label list file not found: '{cls_label_path}'")
    samples = []
    with open(cls_label_path, encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            parts = _split_line(line, delimiter)
            where = f"{cls_label_path}:{number}: {line!r}"
            if parts is None:
                raise ValueError(f"{where}: expected 'path label'")
            path, label = parts
            if not re.fullmatch(r"[+]?\d+", label.strip()):
                raise ValueError(f"{where}: label {label.strip()!r} is not an integer >= 0")
            samples.append((os.path.join(image_root, path), int(label)))
    return samples


def read_label_list(path: str) -> list[str]:
    """Read a PaddleClas `label_list.txt` of "id name" lines into names indexed by id.

    Names may contain spaces; ids must be exactly 0..n-1 (in any order).

    Example:
        >>> read_label_list("label_list.txt")[:2]  # doctest: +SKIP
        ['T-shirt/top', 'Trouser']
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label list file not found: '{path}'")
    names: dict[int, str] = {}
    with open(path, encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line:
                continue
            parts = line.split(None, 1)
            if len(parts) != 2 or not parts[0].isdigit():
                raise ValueError(f"{path}:{number}: {line!r}: expected 'id name' with an integer id")
            if int(parts[0]) in names:
                raise ValueError(f"{path}:{number}: id {parts[0]} appears twice")
            names[int(parts[0])] = parts[1]
    missing = sorted(set(range(len(names))) - set(names))
    if missing:
        raise ValueError(f"{path}: ids must be 0..{len(names) - 1}; missing {missing[:10]}")
    return [names[i] for i in range(len(names))]


class _ImageSampleDataset(Dataset):
    """(path, label) samples read as bytes and passed through `transform`."""

    def __init__(self, samples: list[tuple[str, int]], transform: Callable | None, strict: bool):
        self.samples = samples
        self.targets = [label for _, label in samples]
        self.transform = transform if transform is not None else DecodeImage()
        self.strict = strict

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int] | BadSample:
        path, label = self.samples[index]
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            if not data:
                raise ImageDecodeError("empty file")
            return self.transform(data), label
        except (OSError, ImageDecodeError) as err:
            reason = str(err) if isinstance(err, ImageDecodeError) else (err.strerror or str(err))
            if self.strict:
                raise BadImageError(path, reason) from err
            return BadSample(path, reason)


class FileListDataset(_ImageSampleDataset):
    """Images listed in a PaddleClas "path label" file (ImageNetDataset / CommonDataset).

    Args:
        image_root: directory the listed paths are relative to.
        cls_label_path: the list file.
        transform: callable applied to the file's bytes (first op DecodeImage); None decodes only.
        delimiter: path/label separator (None: whitespace).
        strict: raise BadImageError on a broken image instead of returning a BadSample.

    Example:
        >>> ds = FileListDataset("data/fm", "data/fm/train_list.txt", build_transforms(ops))  # doctest: +SKIP
        >>> image, label = ds[0]  # doctest: +SKIP
    """

    def __init__(self, image_root: str, cls_label_path: str, transform: Callable | None = None,
                 delimiter: str | None = None, strict: bool = False):
        super().__init__(read_file_list(cls_label_path, image_root, delimiter), transform, strict)
        self.image_root = image_root
        self.cls_label_path = cls_label_path


class ImageFolderDataset(_ImageSampleDataset):
    """Images under ``root/<class name>/...``; sorted class folders get labels 0..n-1.

    Args:
        root: directory holding one sub-folder per class.
        transform, strict: as in `FileListDataset`.
        extensions: file endings (case-insensitive) counted as images.

    Example:
        >>> ImageFolderDataset("flowers/train").classes[:2]  # doctest: +SKIP
        ['daisy', 'dandelion']
    """

    def __init__(self, root: str, transform: Callable | None = None, strict: bool = False,
                 extensions: Sequence[str] = IMAGE_EXTENSIONS):
        if not os.path.isdir(root):
            raise FileNotFoundError(f"image folder not found: '{root}'")
        self.classes, self.class_to_idx = find_classes(root)
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


_FILE_LIST_NAMES = ("ImageNetDataset", "CommonDataset", "FileListDataset")
_FOLDER_NAMES = ("ImageFolder", "ImageFolderDataset")


def build_dataset(name: str, image_root: str, cls_label_path: str | None, transform: Callable | None,
                  strict: bool, delimiter: str | None = None) -> Dataset:
    """Build a dataset from its PaddleClas `DataLoader.*.dataset.name`.

    'ImageNetDataset' | 'CommonDataset' | 'FileListDataset' -> FileListDataset;
    'ImageFolder' | 'ImageFolderDataset' -> ImageFolderDataset over `image_root`
    (`cls_label_path` and `delimiter` unused).

    Example:
        >>> build_dataset("ImageNetDataset", "data/fm", "data/fm/val_list.txt", None, False)  # doctest: +SKIP
    """
    if name in _FILE_LIST_NAMES:
        if not cls_label_path:
            raise ValueError(f"dataset '{name}' needs cls_label_path (the 'path label' list file)")
        return FileListDataset(image_root, cls_label_path, transform, delimiter=delimiter, strict=strict)
    if name in _FOLDER_NAMES:
        return ImageFolderDataset(image_root, transform, strict=strict)
    valid = _FILE_LIST_NAMES + _FOLDER_NAMES
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ValueError(f"unknown dataset name '{name}'{hint}; valid: {', '.join(valid)}")
