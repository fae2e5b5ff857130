"""Tests for torchclas.data.fashion_mnist on tiny hand-written IDX files."""

import gzip
import os
import struct

import numpy as np
import pytest
from PIL import Image

import torchclas.data.fashion_mnist as fm
from torchclas.data.datasets import FileListDataset, read_label_list
from torchclas.data.fashion_mnist import (
    DEFAULT_SOURCE, FASHION_MNIST_CLASSES, prepare_fashion_mnist, read_idx,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:The image decoding and encoding capabilities:DeprecationWarning")


def idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.fixture
def source(tmp_path):
    rng = np.random.default_rng(0)
    directory = tmp_path / "source"
    directory.mkdir()
    arrays = {
        "train_images": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "train_labels": np.array([9, 0, 0, 3, 2], dtype=np.uint8),
        "test_images": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "test_labels": np.array([9, 2, 1], dtype=np.uint8),
    }
    write_idx(directory / "train-images-idx3-ubyte.gz", arrays["train_images"])
    write_idx(directory / "train-labels-idx1-ubyte.gz", arrays["train_labels"])
    write_idx(directory / "t10k-images-idx3-ubyte.gz", arrays["test_images"])
    write_idx(directory / "t10k-labels-idx1-ubyte", arrays["test_labels"], compress=False)  # raw works too
    return directory, arrays


def read_png(path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.mode == "L" and img.size == (28, 28)
        return np.asarray(img)


# ---------------------------------------------------------------- read_idx

def test_read_idx_gz_and_raw(tmp_path):
    array = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "a", array, compress=False)
    for name in ("a.gz", "a"):
        out = read_idx(str(tmp_path / name))
        assert out.dtype == np.int32 and out.dtype.isnative and np.array_equal(out, array)


@pytest.mark.parametrize("data, match", [
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", r"needs 5 data bytes, found 2"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
    (b"\x12\x34\x08\x01\x00\x00\x00\x01\x00", "not an IDX file"),
    (b"\x00\x00\x42\x01\x00\x00\x00\x01\x00", "not an IDX file"),
    (b"", "not an IDX file"),
])
def test_read_idx_rejects_bad_files(tmp_path, data, match):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(str(path))
    assert str(path) in str(info.value)


def test_read_idx_truncated_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{path}: cannot decompress"):
        read_idx(str(path))


# ---------------------------------------------------------------- prepare_fashion_mnist

def test_prepare_writes_pngs_lists_and_labels(tmp_path, source):
    directory, arrays = source
    out = tmp_path / "fm"
    result = prepare_fashion_mnist(str(out), source=str(directory))
    assert result == {"train": 5, "val": 3, "out_dir": str(out), "skipped": False}
    for i, expected in enumerate(arrays["train_images"]):
        assert np.array_equal(read_png(out / "train" / f"{i:05d}.png"), expected)
    for i, expected in enumerate(arrays["test_images"]):
        assert np.array_equal(read_png(out / "test" / f"{i:05d}.png"), expected)
    assert (out / "train_list.txt").read_text() == (
        "train/00000.png 9\ntrain/00001.png 0\ntrain/00002.png 0\ntrain/00003.png 3\ntrain/00004.png 2\n")
    assert (out / "val_list.txt").read_text() == "test/00000.png 9\ntest/00001.png 2\ntest/00002.png 1\n"
    assert (out / "label_list.txt").read_text().splitlines()[0] == "0 T-shirt/top"
    assert read_label_list(str(out / "label_list.txt")) == list(FASHION_MNIST_CLASSES)
    assert not [name for name in os.listdir(out) if ".tmp" in name]


def test_prepared_files_load_as_a_dataset(tmp_path, source):
    directory, arrays = source
    prepare_fashion_mnist(str(tmp_path / "fm"), source=str(directory))
    ds = FileListDataset(str(tmp_path / "fm"), str(tmp_path / "fm" / "val_list.txt"))
    image, label = ds[1]
    assert label == 2 and image.shape == (3, 28, 28)
    assert np.array_equal(image[0].numpy(), arrays["test_images"][1])


def test_prepare_is_idempotent(tmp_path, source):
    directory, _ = source
    out = tmp_path / "fm"
    prepare_fashion_mnist(str(out), source=str(directory))
    stamp = os.stat(out / "train" / "00000.png").st_mtime_ns
    again = prepare_fashion_mnist(str(out), source=str(directory))
    assert again["skipped"] is True and again["train"] == 5
    assert os.stat(out / "train" / "00000.png").st_mtime_ns == stamp
    os.remove(out / "test" / "00002.png")  # an incomplete tree is rewritten
    assert prepare_fashion_mnist(str(out), source=str(directory))["skipped"] is False
    assert (out / "test" / "00002.png").is_file()


def test_prepare_limit_and_limit_change(tmp_path, source):
    directory, arrays = source
    out = tmp_path / "fm"
    assert prepare_fashion_mnist(str(out), source=str(directory), limit=2) == {
        "train": 2, "val": 2, "out_dir": str(out), "skipped": False}
    assert len((out / "train_list.txt").read_text().splitlines()) == 2
    assert not (out / "train" / "00002.png").exists()
    full = prepare_fashion_mnist(str(out), source=str(directory))
    assert full["skipped"] is False and full["train"] == 5


def test_prepare_in_worker_processes(tmp_path, source, monkeypatch):
    directory, arrays = source
    monkeypatch.setattr(fm, "_CHUNK", 2)  # 3 chunks for 5 train images
    prepare_fashion_mnist(str(tmp_path / "fm"), source=str(directory), workers=2)
    for i, expected in enumerate(arrays["train_images"]):
        assert np.array_equal(read_png(tmp_path / "fm" / "train" / f"{i:05d}.png"), expected)


def test_prepare_missing_source_says_how_to_get_it(tmp_path, source):
    directory, _ = source
    os.remove(directory / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(FileNotFoundError) as info:
        prepare_fashion_mnist(str(tmp_path / "fm"), source=str(directory))
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message and str(directory) in message
    assert "sudo apt-get install dataset-fashion-mnist" in message and "--source DIR" in message
    assert not (tmp_path / "fm").exists()


def test_prepare_rejects_mismatched_labels(tmp_path, source):
    directory, _ = source
    write_idx(directory / "train-labels-idx1-ubyte.gz", np.array([1, 2], dtype=np.uint8))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: expected 5 labels"):
        prepare_fashion_mnist(str(tmp_path / "fm"), source=str(directory))


@pytest.mark.skipif(not os.path.isdir(DEFAULT_SOURCE), reason=f"{DEFAULT_SOURCE} not installed")
def test_prepare_real_fashion_mnist_subset(tmp_path):
    result = prepare_fashion_mnist(str(tmp_path / "fm"), limit=20)
    assert result == {"train": 20, "val": 20, "out_dir": str(tmp_path / "fm"), "skipped": False}
    train = (tmp_path / "fm" / "train_list.txt").read_text().splitlines()
    assert train[:2] == ["train/00000.png 9", "train/00001.png 0"]  # the official first two labels
    image = read_png(tmp_path / "fm" / "train" / "00000.png")
    assert image.max() > 200 and image.min() == 0
