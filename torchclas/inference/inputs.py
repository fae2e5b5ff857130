"""What ``Predictor.predict`` accepts, turned into a flat list of named images.

Files are named, not read, here: a folder of thousands of images is read one batch at a
time, and a file that cannot be read becomes an ``error`` result rather than a crash.

Accepted: an image file, a folder (recursive), a glob pattern (``"imgs/**/*.jpg"``), a list
file (``.txt``: one image per line, PaddleClas ``path [label]`` style, relative to the list's
folder), encoded bytes, a uint8 numpy array, a CHW uint8 tensor, a PIL image, or a list of these.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image as PILImage

from ..data.datasets import IMAGE_EXTENSIONS

__all__ = ["ImageInput", "LIST_SUFFIXES", "UNREADABLE", "collect_inputs", "load_input", "list_images",
           "read_image_list", "infer_image_list", "unreadable_reason"]

LIST_SUFFIXES = (".txt", ".lst", ".list")
# what reading or decoding one image raises (PIL raises SyntaxError on some broken PNGs)
UNREADABLE = (OSError, ValueError, SyntaxError)
_GLOB_CHARS = set("*?[")


class ImageInput(NamedTuple):
    """One image to classify: the name reported for it and a path or an in-memory image."""

    filename: str
    source: Any


def list_images(folder: str | Path, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted, matched by extension (any case).

    Example:
        >>> list_images("demo/")  # doctest: +SKIP
        [PosixPath('demo/a.jpg'), PosixPath('demo/sub/b.png')]
    """
    suffixes = tuple(e.lower() for e in extensions)
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def read_image_list(path: str | Path) -> list[Path]:
    """The images named by a list file: the first field of each non-empty line, relative to the
    list file's folder (a PaddleClas ``path label`` list works as it is).

    Raises:
        ValueError for a list without any image line.

    Example:
        >>> read_image_list("data/val_list.txt")[:1]  # doctest: +SKIP
        [PosixPath('data/val/00000.png')]
    """
    path = Path(path)
    root = path.parent
    images = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            images.append(root / line.split()[0])
    if not images:
        raise ValueError(f"image list '{path}' names no images")
    return images


def infer_image_list(infer_imgs: str | Path | None, key: str = "Infer.infer_imgs") -> list[str]:
    """The images of PaddleClas's ``Infer.infer_imgs`` (its ``get_image_list``): an image file,
    or every image under a folder (recursive), sorted by path.

    Raises:
        ValueError naming ``key`` when it is unset, missing, or holds no image.

    Example:
        >>> infer_image_list("demo/")  # doctest: +SKIP
        ['demo/a.jpg', 'demo/sub/b.png']
    """
    if not infer_imgs:
        raise ValueError(f"{key} is not set: give the images on the command line "
                         f"(`torchclas infer MODEL IMAGES...`) or set {key} to an image file or folder")
    path = Path(infer_imgs)
    suffixes = tuple(e.lower() for e in IMAGE_EXTENSIONS)
    if path.is_dir():
        images = sorted(str(p) for p in list_images(path))
    elif path.is_file():
        images = [str(path)] if path.suffix.lower() in suffixes else []
    else:
        raise ValueError(f"{key}: no such file or folder: '{infer_imgs}'")
    if not images:
        raise ValueError(f"{key}: no image files in '{infer_imgs}' (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return images


def collect_inputs(inputs: Any) -> list[ImageInput]:
    """Flatten ``inputs`` into named images.

    Args:
        inputs: a file path (str or Path), a folder (its images, sorted, recursive), a glob
            pattern, a list file (``.txt``), a list or tuple of any of these, encoded bytes, a
            HxWxC / HxW uint8 numpy array, a CHW uint8 tensor, or a PIL image.

    Raises:
        ValueError for a folder or pattern without images; TypeError for an unsupported type.

    Example:
        >>> [i.filename for i in collect_inputs(["a.jpg", b"\\x89PNG..."])]
        ['a.jpg', '<bytes>']
    """
    if isinstance(inputs, (list, tuple)):
        return [item for entry in inputs for item in collect_inputs(entry)]
    if isinstance(inputs, (str, os.PathLike)):
        return _collect_path(inputs)
    if isinstance(inputs, (bytes, bytearray, memoryview)):
        return [ImageInput("<bytes>", bytes(inputs))]
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        return [ImageInput("<array>", inputs)]
    if isinstance(inputs, PILImage.Image):
        return [ImageInput(getattr(inputs, "filename", "") or "<image>", inputs)]
    raise TypeError(f"cannot predict on a {type(inputs).__name__}; pass a path, a folder, a glob, a list "
                    "file, a list of paths, encoded bytes, a uint8 numpy array or a PIL image")


def _collect_path(entry: str | os.PathLike) -> list[ImageInput]:
    path = Path(entry)
    if path.is_dir():
        images = list_images(path)
        if not images:
            raise ValueError(f"no images in folder '{path}' (looked for {', '.join(IMAGE_EXTENSIONS)})")
        return [ImageInput(str(p), p) for p in images]
    if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
        return [ImageInput(str(p), p) for p in read_image_list(path)]
    if not path.exists() and _GLOB_CHARS & set(str(entry)):
        suffixes = tuple(e.lower() for e in IMAGE_EXTENSIONS)
        matches = sorted(Path(m) for m in glob.glob(str(entry), recursive=True))
        images = [m for m in matches if m.is_file() and m.suffix.lower() in suffixes]
        if not images:
            raise ValueError(f"pattern '{entry}' matches no images")
        return [ImageInput(str(p), p) for p in images]
    # A missing file is reported as that image's error, so one bad path in a list costs one result.
    return [ImageInput(str(path), path)]


def load_input(item: ImageInput) -> Any:
    """The image data for the transforms: a file's bytes, or the in-memory image as given.

    Raises:
        OSError when a file cannot be read.

    Example:
        >>> load_input(ImageInput("a.png", Path("a.png")))[:4]  # doctest: +SKIP
        b'\\x89PNG'
    """
    if isinstance(item.source, Path):
        return item.source.read_bytes()
    return item.source


def unreadable_reason(exc: BaseException) -> str:
    """The ``error`` of a result whose image could not be read or decoded (one of :data:`UNREADABLE`).

    Example:
        >>> unreadable_reason(FileNotFoundError(2, "No such file or directory", "a.png"))
        "No such file or directory: 'a.png'"
    """
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: '{exc.filename}'" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__
