"""Fashion-MNIST as PNG files plus PaddleClas list files, for the quickstart recipe.

The Debian/Ubuntu package ``dataset-fashion-mnist`` installs the four IDX files in
`DEFAULT_SOURCE`; `prepare_fashion_mnist` turns them into::

    out_dir/train/00000.png ...   out_dir/train_list.txt  ("train/00000.png 9")
    out_dir/test/00000.png ...    out_dir/val_list.txt    (the official 10,000-image test set)
                                  out_dir/label_list.txt  ("0 T-shirt/top")
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from torchvision.io import encode_png

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DEFAULT_SOURCE = "/usr/share/datasets/fashion-mnist"

# split directory -> (images file, labels file, list file), files without their ".gz"
_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "train_list.txt"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "val_list.txt"),
}
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CHUNK = 2000


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or raw, into a native-endian array.

    Raises:
        FileNotFoundError when `path` is missing; ValueError naming the file when its magic
        number, dtype code or size is wrong (for instance a truncated download).

    Example:
        >>> read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").shape  # doctest: +SKIP
        (10000,)
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise ValueError(f"{path}: cannot decompress IDX file: {err}") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic number {data[:4].hex() or 'missing'})")
    ndim, header = data[3], 4 + 4 * data[3]
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, {ndim} dimensions announced)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: shape {shape} needs {expected} data bytes, found {len(data) - header} "
                         "(truncated or corrupt)")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _source_files(source: str) -> dict[str, str]:
    """Map each IDX name to its path under `source` (".gz" or raw), or raise FileNotFoundError."""
    found, missing = {}, []
    for stem in (name for images, labels, _ in _SPLITS.values() for name in (images, labels)):
        path = next((p for p in (os.path.join(source, stem + ".gz"), os.path.join(source, stem))
                     if os.path.isfile(p)), None)
        found[stem] = path
        if path is None:
            missing.append(stem + ".gz")
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST files not found in '{source}': {', '.join(missing)}. Get them with: "
            "sudo apt-get install dataset-fashion-mnist (Debian/Ubuntu), or download the four idx .gz "
            "files of Fashion-MNIST into DIR and pass --source DIR")
    return found


def _load_split(images_path: str, labels_path: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{images_path}: expected uint8 images [N, H, W], got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{labels_path}: expected {len(images)} labels, got shape {labels.shape}")
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < len(FASHION_MNIST_CLASSES):
        raise ValueError(f"{labels_path}: labels must be 0..{len(FASHION_MNIST_CLASSES) - 1}")
    return (images, labels) if limit is None else (images[:limit], labels[:limit])


def _list_text(split: str, labels: np.ndarray) -> str:
    return "".join(f"{split}/{i:05d}.png {int(label)}\n" for i, label in enumerate(labels))


def _label_list_text() -> str:
    return "".join(f"{i} {name}\n" for i, name in enumerate(FASHION_MNIST_CLASSES))


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _write_text_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _is_complete(out_dir: str, lists: dict[str, str]) -> bool:
    """True when every list file already holds exactly `lists` and each listed PNG exists."""
    if _read_text(os.path.join(out_dir, "label_list.txt")) != _label_list_text():
        return False
    for split, text in lists.items():
        if _read_text(os.path.join(out_dir, _SPLITS[split][2])) != text:
            return False
        count = text.count("\n")
        if not all(os.path.isfile(os.path.join(out_dir, split, f"{i:05d}.png")) for i in range(count)):
            return False
    return True


def _write_pngs(directory: str, start: int, images: np.ndarray) -> int:
    # Level 1 deflate: files are ~10% bigger than level 6 and written several times faster.
    gray = torch.from_numpy(images).unsqueeze(1)
    for offset in range(len(gray)):
        data = encode_png(gray[offset], compression_level=1).numpy()
        with open(os.path.join(directory, f"{start + offset:05d}.png"), "wb", buffering=0) as handle:
            handle.write(data)
    return len(gray)


def _write_split(out_dir: str, split: str, images: np.ndarray, workers: int) -> None:
    directory = os.path.join(out_dir, split)
    os.makedirs(directory, exist_ok=True)
    chunks = [(directory, s, images[s:s + _CHUNK]) for s in range(0, len(images), _CHUNK)]
    if workers <= 1 or len(chunks) <= 1 or "fork" not in mp.get_all_start_methods():
        for chunk in chunks:
            _write_pngs(*chunk)
        return
    # Processes, not threads: PNG encoding holds the GIL. Fork is safe here because the
    # children only encode and write files (no CUDA, no OpenMP pools).
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        for future in [pool.submit(_write_pngs, *chunk) for chunk in chunks]:
            future.result()


def prepare_fashion_mnist(out_dir: str, source: str = DEFAULT_SOURCE, limit: int | None = None,
                          workers: int = 2) -> dict:
    """Write Fashion-MNIST as 28x28 grayscale PNGs with PaddleClas list files.

    Idempotent: when the lists already match and every listed PNG exists, nothing is written
    and the result says ``"skipped": True``. Lists are written last and atomically, so an
    interrupted run is never mistaken for a finished one.

    Args:
        out_dir: destination directory (created).
        source: directory holding the four IDX files (``*-ubyte.gz`` or uncompressed).
        limit: keep at most this many images per split (for tests).
        workers: processes writing PNGs (1: write in this process).

    Returns:
        ``{"train": 60000, "val": 10000, "out_dir": out_dir, "skipped": bool}``

    Raises:
        FileNotFoundError saying how to get the files when they are missing from `source`.

    Example:
        >>> prepare_fashion_mnist("data/fashion_mnist")  # doctest: +SKIP
        {'train': 60000, 'val': 10000, 'out_dir': 'data/fashion_mnist', 'skipped': False}
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
    files = _source_files(source)
    splits = {split: _load_split(files[images], files[labels], limit)
              for split, (images, labels, _) in _SPLITS.items()}
    lists = {split: _list_text(split, labels) for split, (_, labels) in splits.items()}
    result = {"train": len(splits["train"][1]), "val": len(splits["test"][1]), "out_dir": str(out_dir)}
    if _is_complete(out_dir, lists):
        return {**result, "skipped": True}
    os.makedirs(out_dir, exist_ok=True)
    for _, _, list_name in _SPLITS.values():  # stale lists must not vouch for half-written images
        if os.path.exists(os.path.join(out_dir, list_name)):
            os.remove(os.path.join(out_dir, list_name))
    for split, (images, _) in splits.items():
        _write_split(out_dir, split, images, max(1, workers))
    for split, text in lists.items():
        _write_text_atomic(os.path.join(out_dir, _SPLITS[split][2]), text)
    _write_text_atomic(os.path.join(out_dir, "label_list.txt"), _label_list_text())
    return {**result, "skipped": False}
