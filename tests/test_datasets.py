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
from torchclas.testing.corrupt_images import BAD_LIST_LINES, CLASS_NUM, write_bad_lists

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


@pytest.mark.parametrize("bad", BAD_LIST_LINES, ids=[b.kind for b in BAD_LIST_LINES])
def test_every_bad_line_kind_names_file_and_line(tmp_path, bad):
    (case,) = write_bad_lists(tmp_path, (bad,))
    with pytest.raises(ValueError) as info:
        read_file_list(str(case.path), str(tmp_path), bad.delimiter, class_num=CLASS_NUM)
    assert str(info.value).startswith(f"{case.path}:2: {bad.text!r}: ")
    assert bad.error in str(info.value)


def test_label_at_class_num_is_out_of_range_but_below_is_fine(tmp_path):
    listing = write(tmp_path / "list.txt", "a.jpg 0\nb.jpg 2\nc.jpg 3\n")
    with pytest.raises(ValueError) as info:
        read_file_list(listing, "root", class_num=3)
    assert str(info.value) == (f"{listing}:3: 'c.jpg 3': label 3 is out of range: class_num is 3, "
                               "so labels are 0..2")
    assert [label for _, label in read_file_list(listing, "root", class_num=4)] == [0, 2, 3]
    assert len(read_file_list(listing, "root")) == 3  # no class_num: no bound


def test_separator_hints(tmp_path):
    listing = write(tmp_path / "list.txt", "a.jpg,0\n")
    with pytest.raises(ValueError, match=r"expected 'path label'; the line has ',': if that separates path "
                                         r"and label, set dataset.delimiter to ','"):
        read_file_list(listing, "root")
    assert read_file_list(listing, "root", delimiter=",") == [(os.path.join("root", "a.jpg"), 0)]
    tabbed = write(tmp_path / "tabbed.txt", "a.jpg\t0\n")
    assert read_file_list(tabbed, "root") == [(os.path.join("root", "a.jpg"), 0)]  # whitespace default


def test_extra_field_is_an_error_but_spaces_in_paths_are_not(tmp_path):
    listing = write(tmp_path / "list.txt", "dir 2/photo 1.jpg 0\na.jpg 1 0\n")
    with pytest.raises(ValueError) as info:
        read_file_list(listing, "root")
    assert str(info.value) == (f"{listing}:2: 'a.jpg 1 0': 3 fields, expected 2 ('path label'); "
                               "a path may contain spaces but cannot end in a number")


def test_every_bad_line_is_reported_at_once(tmp_path):
    lines = ["a.jpg 0", "b.jpg x", "c.jpg 9"] + [f"d{i}.jpg -{i}" for i in range(1, 25)]
    listing = write(tmp_path / "list.txt", "\n".join(lines) + "\n")
    with pytest.raises(ValueError) as info:
        read_file_list(listing, "root", class_num=5)
    message = str(info.value).splitlines()
    assert message[0] == f"{listing}: 26 bad lines:"
    assert message[1] == f"  {listing}:2: 'b.jpg x': label 'x' is not an integer >= 0"
    assert message[2].startswith(f"  {listing}:3: 'c.jpg 9': label 9 is out of range")
    assert len(message) == 1 + 20 + 1 and message[-1] == "  ... and 6 more"


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


def test_bad_images_become_bad_samples_and_missing_files_are_left_out(mixed_dataset_dir, caplog):
    with caplog.at_level("WARNING", logger="torchclas.data.datasets"):
        ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"), build_transforms(OPS))
    assert len(ds) == 4 and ds.targets == [0, 1, 3, 4]
    missing = os.path.join(str(mixed_dataset_dir), "img/missing.png")
    assert ds.missing_files == [(3, missing)]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"{mixed_dataset_dir / 'list.txt'}: 1 of 5 listed images not found, left out: "
                        f"{mixed_dataset_dir / 'list.txt'}:3: '{missing}'"]
    image, label = ds[0]
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32 and label == 0
    for index, reason in ((1, "not a recognised image format"), (3, "empty file")):
        sample = ds[index]
        assert isinstance(sample, BadSample)
        assert sample.path == ds.samples[index][0] and reason in sample.reason


def test_file_deleted_after_listing_is_a_bad_sample(mixed_dataset_dir):
    ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"), build_transforms(OPS))
    (mixed_dataset_dir / "img" / "good1.png").unlink()
    sample = ds[2]
    assert isinstance(sample, BadSample) and sample.path.endswith("good1.png")
    assert "No such file" in sample.reason


def test_collate_skip_bad_counts_bad_samples(mixed_dataset_dir):
    ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"), build_transforms(OPS))
    batches = list(DataLoader(ds, batch_size=5, collate_fn=collate_skip_bad))
    images, labels, bad = batches[0]
    assert images.shape == (2, 3, 8, 8) and type(images) is torch.Tensor
    assert labels.dtype == torch.int64 and labels.tolist() == [0, 3]
    assert [os.path.basename(path) for path, _ in bad] == ["corrupt.png", "empty.png"]


def test_collate_all_bad_gives_empty_batch():
    images, labels, bad = collate_skip_bad([BadSample("a.jpg", "empty file"), BadSample("b.jpg", "gone")])
    assert images.numel() == 0 and labels.numel() == 0 and labels.dtype == torch.int64
    assert bad == [("a.jpg", "empty file"), ("b.jpg", "gone")]


def test_collate_keeps_uint8():
    images, labels, bad = collate_skip_bad([(torch.zeros(3, 2, 2, dtype=torch.uint8), 5)])
    assert images.dtype == torch.uint8 and labels.tolist() == [5] and bad == []


def test_strict_mode_raises_with_path(mixed_dataset_dir):
    listing = mixed_dataset_dir / "list.txt"
    with pytest.raises(BadImageError) as info:
        FileListDataset(str(mixed_dataset_dir), str(listing), build_transforms(OPS), strict=True)
    missing = os.path.join(str(mixed_dataset_dir), "img/missing.png")
    assert info.value.path == missing
    assert str(info.value) == f"cannot read image '{missing}': file not found (listed at {listing}:3)"
    listing.write_text(listing.read_text().replace("img/missing.png 2\n", ""))
    ds = FileListDataset(str(mixed_dataset_dir), str(listing), build_transforms(OPS), strict=True)
    with pytest.raises(BadImageError) as info:
        ds[1]
    assert info.value.path == ds.samples[1][0]
    assert str(info.value) == f"cannot read image '{ds.samples[1][0]}': not a recognised image format"


def test_strict_mode_counts_the_other_missing_files(tmp_path):
    save_png(str(tmp_path / "a.png"), 1)
    write(tmp_path / "list.txt", "a.png 0\nb.png 1\nc.png 1\nd.png 0\n")
    with pytest.raises(BadImageError, match=r"b\.png': file not found \(listed at .*list\.txt:2; "
                                            r"2 more listed files are missing\)"):
        FileListDataset(str(tmp_path), str(tmp_path / "list.txt"), strict=True)


def test_many_missing_files_one_warning_quotes_the_first_five(tmp_path, caplog):
    save_png(str(tmp_path / "a.png"), 1)
    write(tmp_path / "list.txt", "a.png 0\n" + "".join(f"gone{i}.png 1\n" for i in range(8)))
    with caplog.at_level("WARNING", logger="torchclas.data.datasets"):
        ds = FileListDataset(str(tmp_path), str(tmp_path / "list.txt"))
    assert len(ds) == 1 and [n for n, _ in ds.missing_files] == list(range(2, 10))
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "8 of 9 listed images not found" in message and message.endswith(" and 3 more")
    assert "list.txt:6: " in message and "list.txt:7: " not in message


@pytest.mark.parametrize("strict", [False, True])
def test_wrong_image_root_names_the_list_and_root(tmp_path, strict):
    write(tmp_path / "list.txt", "a.png 0\nb.png 1\n")
    with pytest.raises(FileNotFoundError, match=r"none of the 2 images listed in '.*list\.txt' exists "
                                                r"under image_root '.*elsewhere'"):
        FileListDataset(str(tmp_path / "elsewhere"), str(tmp_path / "list.txt"), strict=strict)


def test_config_errors_in_transforms_are_not_hidden_as_bad_images(mixed_dataset_dir):
    gray_with_rgb_mean = build_transforms([{"DecodeImage": {"channel_num": 1}}, {"NormalizeImage": None}])
    ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"), gray_with_rgb_mean)
    with pytest.raises(ValueError, match="NormalizeImage"):
        ds[0]


def test_no_transform_decodes_to_uint8(mixed_dataset_dir):
    ds = FileListDataset(str(mixed_dataset_dir), str(mixed_dataset_dir / "list.txt"))
    image, label = ds[2]
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
        assert isinstance(ds, FileListDataset) and len(ds) == 4
    save_png(str(tmp_path / "folder" / "a" / "x.png"), 1)
    ds = build_dataset("ImageFolder", str(tmp_path / "folder"), None, None, strict=True)
    assert isinstance(ds, ImageFolderDataset) and ds.strict and ds.classes == ["a"]
    with pytest.raises(ValueError, match=r"list\.txt:5: 'img/empty\.png 4': label 4 is out of range"):
        build_dataset("ImageNetDataset", str(mixed_dataset_dir), listing, None, strict=False, class_num=4)
    save_png(str(tmp_path / "folder" / "b" / "y.png"), 2)
    with pytest.raises(ValueError, match=r"image folder '.*folder' has 2 class folders \(a, b\) but class_num is 1"):
        build_dataset("ImageFolder", str(tmp_path / "folder"), None, None, strict=False, class_num=1)
    expected = r"unknown dataset name 'ImageNetDatset' \(did you mean 'ImageNetDataset'\?\)"
    with pytest.raises(ValueError, match=expected):
        build_dataset("ImageNetDatset", str(mixed_dataset_dir), listing, None, strict=False)
