"""Tests for torchclas.data.datasets: list files, bad images, collate, folders."""

import os

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from torchclas.data.datasets import (
    BadImageError, BadSample, FileListDataset, ImageFolderDataset, build_dataset, collate_skip_bad,
    read_file_list, read_label_list,
)
from torchclas.data.pipeline import build_transforms

pytestmark = pytest.mark.filterwarnings(
    "ignore:The image decoding and encoding capabilities:DeprecationWarning")

OPS = [{"DecodeImage": None}, {"ResizeImage": {"size": 8}}, {"NormalizeImage": None}, {"ToCHWImage": None}]


def write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def save_png(path, value: int, size=(12, 10)) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, dtype=np.uint8)).save(path)


# ---------------------------------------------------------------- list files

def test_read_file_list_joins_root_and_allows_spaces(tmp_path):
    listing = write(tmp_path / "list.txt", "a/x.jpg 0\n\nmy dir/b c.jpg   3\r\n  d.png\t2  \n")
    assert read_file_list(listing, "root") == [
        (os.path.join("root", "a/x.jpg"), 0),
        (os.path.join("root", "my dir/b c.jpg"), 3),
        (os.path.join("root", "d.png"), 2),
    ]


def test_read_file_list_custom_delimiter_splits_on_last_run(tmp_path):
    listing = write(tmp_path / "list.txt", "a,b.jpg,,4\nc.jpg,1,\n")
    assert read_file_list(listing, "", delimiter=",") == [("a,b.jpg", 4), ("c.jpg", 1)]


@pytest.mark.parametrize("bad_line, problem", [
    ("c.jpg", "expected 'path label'"),
    ("c.jpg one", "label 'one' is not an integer >= 0"),
    ("c.jpg -1", "label '-1' is not an integer >= 0"),
    ("c.jpg 1.5", "label '1.5' is not an integer >= 0"),
])
def test_read_file_list_bad_line_names_file_and_line(tmp_path, bad_line, problem):
    listing = write(tmp_path / "list.txt", f"a.jpg 0\n\n{bad_line}\n")
    with pytest.raises(ValueError) as info:
        read_file_list(listing, "root")
    assert str(info.value) == f"{listing}:3: {bad_line!r}: {problem}"


def test_read_file_list_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_file_list(str(tmp_path / "nope.txt"), "root")


def test_read_label_list(tmp_path):
    labels = write(tmp_path / "label_list.txt", "1 Trouser\n0 T-shirt/top\n2 Ankle boot\n")
    assert read_label_list(labels) == ["T-shirt/top", "Trouser", "Ankle boot"]


@pytest.mark.parametrize("text, match", [
    ("0 a\n2 c\n", r"ids must be 0\.\.1; missing \[1\]"),
    ("0 a\n0 b\n", r":2: id 0 appears twice"),
    ("0 a\nx b\n", r":2: 'x b': expected 'id name'"),
    ("0\n", r":1: '0': expected 'id name'"),
])
def test_read_label_list_errors(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_label_list(write(tmp_path / "label_list.txt", text))


# ---------------------------------------------------------------- bad images

@pytest.fixture
def mixed_dataset_dir(tmp_path):
    save_png(str(tmp_path / "img" / "good0.png"), 10)
    save_png(str(tmp_path / "img" / "good1.png"), 200, size=(30, 20))
    (tmp_path / "img" / "corrupt.png").write_bytes(b"an HTML error page, not an image")
    (tmp_path / "img" / "empty.png").write_bytes(b"")
    write(tmp_path / "list.txt",
          "img/good0.png 0\nimg/corrupt.png 1\nimg/missing.png 2\nimg/good1.png 3\nimg/empty.png 4\n")
    return tmp_path


def test_bad_images_become_bad_samples(mixed_dataset_dir):
    ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"), build_transforms(OPS))
    assert len(ds) == 5 and ds.targets == [0, 1, 2, 3, 4]
    image, label = ds[0]
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32 and label == 0
    for index, reason in ((1, "not a recognised image format"), (2, "No such file"), (4, "empty file")):
        sample = ds[index]
        assert isinstance(sample, BadSample)
        assert sample.path == ds.samples[index][0] and reason in sample.reason


def test_collate_skip_bad_counts_bad_samples(mixed_dataset_dir):
    ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"), build_transforms(OPS))
    batches = list(DataLoader(ds, batch_size=5, collate_fn=collate_skip_bad))
    images, labels, bad = batches[0]
    assert images.shape == (2, 3, 8, 8) and type(images) is torch.Tensor
    assert labels.dtype == torch.int64 and labels.tolist() == [0, 3]
    assert [os.path.basename(path) for path, _ in bad] == ["corrupt.png", "missing.png", "empty.png"]


def test_collate_all_bad_gives_empty_batch():
    images, labels, bad = collate_skip_bad([BadSample("a.jpg", "empty file"), BadSample("b.jpg", "gone")])
    assert images.numel() == 0 and labels.numel() == 0 and labels.dtype == torch.int64
    assert bad == [("a.jpg", "empty file"), ("b.jpg", "gone")]


def test_collate_keeps_uint8():
    images, labels, bad = collate_skip_bad([(torch.zeros(3, 2, 2, dtype=torch.uint8), 5)])
    assert images.dtype == torch.uint8 and labels.tolist() == [5] and bad == []


def test_strict_mode_raises_with_path(mixed_dataset_dir):
    ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"),
                         build_transforms(OPS), strict=True)
    with pytest.raises(BadImageError) as info:
        ds[1]
    assert info.value.path == ds.samples[1][0]
    assert str(info.value) == f"cannot read image '{ds.samples[1][0]}': not a recognised image format"
    with pytest.raises(BadImageError, match="missing.png"):
        ds[2]


def test_config_errors_in_transforms_are_not_hidden_as_bad_images(mixed_dataset_dir):
    gray_with_rgb_mean = build_transforms([{"DecodeImage": {"channel_num": 1}}, {"NormalizeImage": None}])
    ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"), gray_with_rgb_mean)
    with pytest.raises(ValueError, match="NormalizeImage"):
        ds[0]


def test_no_transform_decodes_to_uint8(mixed_dataset_dir):
    ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"))
    image, label = ds[3]
    assert image.dtype == torch.uint8 and image.shape == (3, 20, 30) and int(image[0, 0, 0]) == 200


# ---------------------------------------------------------------- folders and names

def test_image_folder_dataset_classes_and_labels(tmp_path):
    for cls, names in (("cat", ["a.png", "B.PNG"]), ("ant", ["c.png"]), ("dog", ["d.jpg", "notes.txt"])):
        for name in names:
            if name.endswith(".txt"):
                (tmp_path / cls / name).write_text("not an image")
            else:
                save_png(str(tmp_path / cls / name), 50)
    (tmp_path / "dog" / "d.jpg").write_bytes(b"garbage")
    ds = ImageFolderDataset(str(tmp_path), build_transforms(OPS))
    assert ds.classes == ["ant", "cat", "dog"]
    assert [(os.path.relpath(p, tmp_path), label) for p, label in ds.samples] == [
        ("ant/c.png", 0), ("cat/B.PNG", 1), ("cat/a.png", 1), ("dog/d.jpg", 2)]
    assert ds.targets == [0, 1, 1, 2]
    assert ds[0][0].shape == (3, 8, 8)
    assert isinstance(ds[3], BadSample)


def test_image_folder_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ImageFolderDataset(str(tmp_path / "nowhere"))


def test_build_dataset_names(mixed_dataset_dir, tmp_path):
    listing = str(mixed_dataset_dir / "list.txt")
    for name in ("ImageNetDataset", "CommonDataset", "FileListDataset"):
        ds = build_dataset(name, str(mixed_dataset_dir), listing, None, strict=False)
        assert isinstance(ds, FileListDataset) and len(ds) == 5
    save_png(str(tmp_path / "folder" / "a" / "x.png"), 1)
    ds = build_dataset("ImageFolder", str(tmp_path / "folder"), None, None, strict=True)
    assert isinstance(ds, ImageFolderDataset) and ds.strict and ds.classes == ["a"]
    expected = r"unknown dataset name 'ImageNetDatset' \(did you mean 'ImageNetDataset'\?\)"
    with pytest.raises(ValueError, match=expected):
        build_dataset("ImageNetDatset", str(mixed_dataset_dir), listing, None, strict=False)
