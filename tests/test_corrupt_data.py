"""Every corrupt and exotic image kind of `torchclas.testing.corrupt_images`, through decode and datasets."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from torchclas.data.datasets import BadImageError, BadSample, FileListDataset, collate_skip_bad
from torchclas.data.pipeline import build_transforms
from torchclas.data.transforms import DecodeImage, ImageDecodeError
from torchclas.testing.corrupt_images import CLASS_NUM, LIST_FILE, CorruptCase, write_corrupt_dataset

pytestmark = pytest.mark.filterwarnings(
    "ignore:The image decoding and encoding capabilities:DeprecationWarning")

DECODES = ["rgb_png", "rgb_jpeg", "gray_png", "rgba_png", "palette_png", "cmyk_jpeg", "png_16bit",
           "exif_rotated_jpeg"]
SKIPPED = ["zero_byte", "truncated_jpeg", "truncated_png", "text_as_jpeg"]


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory):
    root = tmp_path_factory.mktemp("corrupt")
    return root, {case.kind: case for case in write_corrupt_dataset(root, size=16)}


def test_the_data_set_has_every_kind_once_in_line_order(corrupt):
    root, cases = corrupt
    assert [c.kind for c in cases.values() if c.outcome == "decodes"] == DECODES
    assert [c.kind for c in cases.values() if c.outcome == "skipped"] == SKIPPED
    assert [c.kind for c in cases.values() if c.outcome == "missing"] == ["missing_file"]
    lines = (root / LIST_FILE).read_text().splitlines()
    assert len(lines) == len(cases) == 13
    for case in cases.values():
        assert lines[case.line - 1] == f"images/{case.path.name} {case.label}"
        assert case.path.exists() == (case.outcome != "missing")
        assert 0 <= case.label < CLASS_NUM
    assert cases["zero_byte"].path.stat().st_size == 0


@pytest.mark.parametrize("kind", DECODES)
def test_valid_exotic_kinds_decode_to_the_encoded_picture(corrupt, kind):
    case = corrupt[1][kind]
    image = DecodeImage()(case.path.read_bytes())
    assert case.check_decoded(image) is None


def test_expected_pictures_pin_the_hard_cases(corrupt):
    cases = corrupt[1]
    assert cases["exif_rotated_jpeg"].expected_shape == (3, 32, 16)  # stored 16x32, shown rotated
    assert cases["rgb_png"].expected_shape == (3, 16, 32)
    ramp = cases["png_16bit"].expected[0, :, 0]
    assert ramp[0] == 0 and ramp[-1] == 255 and len(set(ramp.tolist())) == 32  # scaled, not clipped
    cmyk = cases["cmyk_jpeg"].expected
    assert tuple(cmyk[0, 0]) == (200, 40, 40) and tuple(cmyk[0, -1]) == (30, 160, 220)


def test_check_decoded_reports_what_differs(corrupt):
    case = corrupt[1]["exif_rotated_jpeg"]
    unrotated = DecodeImage()(corrupt[1]["rgb_jpeg"].path.read_bytes())
    assert case.check_decoded(unrotated) == "exif_rotated_jpeg: shape (3, 16, 32), expected (3, 32, 16)"
    clipped = torch.full((3, 16, 32), 255, dtype=torch.uint8)
    problem = corrupt[1]["png_16bit"].check_decoded(clipped)
    assert problem.startswith("png_16bit: mean absolute pixel error ") and problem.endswith("> 1.0")
    assert corrupt[1]["rgb_png"].check_decoded(np.zeros((3, 16, 32), np.float32)) == \
        "rgb_png: dtype float32, expected uint8"
    assert corrupt[1]["zero_byte"].check_decoded(unrotated) == \
        "zero_byte: expected outcome 'skipped', nothing should decode"


@pytest.mark.parametrize("kind", SKIPPED)
def test_broken_kinds_do_not_decode_and_say_why(corrupt, kind):
    case = corrupt[1][kind]
    with pytest.raises(ImageDecodeError) as info:
        DecodeImage()(case.path.read_bytes())
    assert case.reason in str(info.value) and "cpp:" not in str(info.value)


def test_file_list_dataset_over_the_corrupt_set(corrupt):
    root, cases = corrupt
    ds = FileListDataset(str(root), str(root / LIST_FILE), class_num=CLASS_NUM)
    missing = cases["missing_file"]
    assert ds.missing_files == [(missing.line, str(missing.path))]
    listed = [c for c in cases.values() if c.outcome != "missing"]
    assert [path for path, _ in ds.samples] == [str(c.path) for c in listed]
    for index, case in enumerate(listed):
        sample = ds[index]
        if case.outcome == "decodes":
            image, label = sample
            assert label == case.label and case.check_decoded(image) is None
        else:
            assert isinstance(sample, BadSample) and sample.path == str(case.path)
            assert sample.reason and case.reason in sample.reason


def test_a_loader_over_the_corrupt_set_counts_the_skipped(corrupt):
    root, cases = corrupt
    ops = [{"DecodeImage": None}, {"ResizeImage": {"size": 8}}, {"NormalizeImage": None}, {"ToCHWImage": None}]
    ds = FileListDataset(str(root), str(root / LIST_FILE), build_transforms(ops), class_num=CLASS_NUM)
    images, labels, bad = next(iter(DataLoader(ds, batch_size=len(ds), collate_fn=collate_skip_bad)))
    assert images.shape == (len(DECODES), 3, 8, 8) and torch.isfinite(images).all()
    assert labels.tolist() == [cases[k].label for k in DECODES]
    assert sorted(path for path, _ in bad) == sorted(str(cases[k].path) for k in SKIPPED)


def test_strict_mode_stops_at_the_missing_file_then_at_each_broken_one(corrupt, tmp_path):
    root, cases = corrupt
    missing: CorruptCase = cases["missing_file"]
    with pytest.raises(BadImageError) as info:
        FileListDataset(str(root), str(root / LIST_FILE), strict=True)
    assert info.value.path == str(missing.path)
    assert f"listed at {root / LIST_FILE}:{missing.line}" in str(info.value)
    listing = tmp_path / "present.txt"
    listing.write_text("".join(f"images/{c.path.name} {c.label}\n" for c in cases.values()
                               if c.outcome != "missing"))
    ds = FileListDataset(str(root), str(listing), strict=True)
    for index, (path, _) in enumerate(ds.samples):
        case = next(c for c in cases.values() if str(c.path) == path)
        if case.outcome == "decodes":
            assert case.check_decoded(ds[index][0]) is None
            continue
        with pytest.raises(BadImageError) as info:
            ds[index]
        assert info.value.path == path and str(info.value).startswith(f"cannot read image '{path}': ")
        assert case.reason in info.value.reason
