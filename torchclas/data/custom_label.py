"""``CustomLabelDataset`` (PaddleClas PULC ``clarity_assessment``, ``image_orientation``): a list of
images whose labels an op of ``transform_ops`` makes up, e.g. ``RandomRot90`` rotates the image
by ``k`` quarter turns and the label is ``k``::

    dataset:
      name: CustomLabelDataset
      image_root: ./dataset/OrientationDataset/
      sample_list_path: ./dataset/OrientationDataset/train_list.txt
      label_key: random_rot90_orientation
      transform_ops: [DecodeImage, {RandCropImage: {size: 224}}, NormalizeImage, RandomRot90]

The label ops' contract is `label_ops`'s: the op list, built by `pipeline.build_transforms`,
is a `pipeline.LabelCompose` returning ``(image, labels)``, ``labels`` the ``{key: label}`` of
every label op (``RandomRot90``: ``random_rot90_orientation``; ``BlurImage``: ``blur_image``).
The dataset's label is ``labels[label_key]``; a list whose ops do not make ``label_key`` is an
error naming the keys they do make (the config check, `configure`, refuses it before any data
is read).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset

from .datasets import BadSample, bad_sample, drop_missing, read_image_bytes
from .transforms import ImageDecodeError

__all__ = ["CustomLabelDataset", "read_sample_list"]


def read_sample_list(sample_list_path: str, image_root: str, delimiter: str | None = None
                     ) -> list[tuple[int, str, int]]:
    """``(line number, path under image_root, 0)`` of each non-blank line of an image list; with
    ``delimiter``, a line's path is its first field, else the whole stripped line (as PaddleClas).

    Example:
        >>> read_sample_list("data/list.txt", "data", " ")  # doctest: +SKIP
        [(1, 'data/train/0000.png', 0), ...]
    """
    if not os.path.isfile(sample_list_path):
        raise FileNotFoundError(f"dataset.sample_list_path: file not found: '{sample_list_path}'")
    with open(sample_list_path, encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    out = []
    for number, line in enumerate(lines, 1):
        path = line.strip().split(delimiter)[0] if delimiter else line.strip()
        if path:
            out.append((number, os.path.join(image_root, path), 0))
    if not out:
        raise ValueError(f"dataset.sample_list_path: '{sample_list_path}' lists no images")
    return out


class CustomLabelDataset(Dataset):
    """Images listed in ``sample_list_path``, labelled by an op of their op list (see the module
    docstring for the contract).

    Missing listed files are left out with one warning (`datasets.drop_missing`); a broken
    image is a `BadSample` (strict: `BadImageError`), as in the other datasets.

    Args:
        image_root: folder the listed paths are relative to.
        sample_list_path: the image list file.
        transform: the built op list, bytes -> ``(image, labels)`` (`pipeline.LabelCompose`).
        label_key: the key of ``labels`` that is the sample's label, e.g. ``random_rot90_orientation``.
        delimiter: with it, each line's path is its first field (e.g. ``" "`` for "path label" lists).
        strict: raise on a missing or broken image instead of skipping it.
        class_num: when given, every label must be below it.

    Example:
        >>> ops = build_transforms([{"DecodeImage": None}, {"RandomRot90": None}])  # doctest: +SKIP
        >>> ds = CustomLabelDataset("data", "data/list.txt", ops, "random_rot90_orientation")  # doctest: +SKIP
        >>> image, label = ds[0]  # doctest: +SKIP
    """

    def __init__(self, image_root: str, sample_list_path: str, transform: Callable, label_key: str,
                 delimiter: str | None = None, strict: bool = False, class_num: int | None = None):
        numbered = read_sample_list(sample_list_path, image_root, delimiter)
        present, self.missing_files = drop_missing(numbered, sample_list_path, image_root, strict)
        self.paths = [path for path, _ in present]
        self.transform = transform
        self.label_key, self.strict, self.class_num = label_key, strict, class_num

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, int] | BadSample:
        path = self.paths[index]
        try:
            out = self.transform(read_image_bytes(path))
        except (OSError, ImageDecodeError) as err:
            return bad_sample(path, err, self.strict)
        image, labels = out if isinstance(out, tuple) else (out, {})
        return image, self._label(labels)

    def _label(self, labels: dict[str, Any]) -> int:
        if self.label_key not in labels:
            made = ", ".join(sorted(labels)) or "none"
            raise ValueError(f"CustomLabelDataset: no op of transform_ops makes label_key '{self.label_key}' "
                             f"(label keys the ops make: {made})")
        label = labels[self.label_key]
        if isinstance(label, bool) or not isinstance(label, int) and not hasattr(label, "__index__"):
            raise ValueError(f"CustomLabelDataset: label '{self.label_key}' must be an integer, got {label!r}")
        label = int(label)
        if label < 0 or (self.class_num is not None and label >= self.class_num):
            raise ValueError(f"CustomLabelDataset: label '{self.label_key}' is {label}, outside "
                             f"0..{(self.class_num or 1) - 1} (class_num {self.class_num})")
        return label
