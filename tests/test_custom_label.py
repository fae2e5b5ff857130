"""CustomLabelDataset: labels made by the label ops of transform_ops (`label_ops`: a built list
gives ``(image, labels)``), through the dataset, the loader (late normalize, fast decode) and the
config; and label ops in a plain ImageNetDataset list, whose labels are dropped as PaddleClas does."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_config_dict
from torchclas.config import ConfigError
from torchclas.configure import config_from_dict
from torchclas.data.custom_label import CustomLabelDataset
from torchclas.data.loader import build_dataloader
from torchclas.data.pipeline import LabelCompose, build_transforms, split_late_normalize

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")

DECODE = [{"DecodeImage": {"to_rgb": True, "channel_first": False}}]
ROT = "random_rot90_orientation"


def sample_list(tiny_data, tmp_path, with_labels: bool):
    lines = (tiny_data / "train_list.txt").read_text().splitlines()
    path = tmp_path / "samples.txt"
    path.write_text("\n".join(line if with_labels else line.split()[0] for line in lines) + "\n\n")
    return str(path)


def plain_bytes(tiny_data, index=0):
    return (tiny_data / "train" / f"{index:04d}.png").read_bytes()


def plain(tiny_data, index):
    return build_transforms(DECODE)(plain_bytes(tiny_data, index))


def test_the_label_is_the_rotation_applied(tiny_data, tmp_path):
    transform = build_transforms([*DECODE, {"RandomRot90": None}])
    assert isinstance(transform, LabelCompose)
    dataset = CustomLabelDataset(str(tiny_data), sample_list(tiny_data, tmp_path, True), transform, ROT,
                                 delimiter=" ", class_num=4)
    assert len(dataset) == 48
    labels = []
    for index in range(12):
        torch.manual_seed(index)
        image, label = dataset[index]
        original = plain(tiny_data, index)
        turned = [k for k in range(4) if torch.equal(image, torch.rot90(original, k, dims=(-2, -1)))]
        assert turned == [label]  # the noisy image matches only the quarter turn its label names
        labels.append(label)
    assert set(labels) == {0, 1, 2, 3}
    torch.manual_seed(3)
    first = dataset[3][1]
    torch.manual_seed(3)
    assert dataset[3][1] == first  # the label is drawn from the sample's seed


def test_blur_image_labels_blurred_images_1(tiny_data, tmp_path):
    transform = build_transforms([*DECODE, {"BlurImage": {"ratio": 0.5}}])
    dataset = CustomLabelDataset(str(tiny_data), sample_list(tiny_data, tmp_path, False), transform, "blur_image",
                                 class_num=2)
    assert dataset.paths[0].endswith("train/0000.png")
    labels = []
    for index in range(16):
        torch.manual_seed(index)
        image, label = dataset[index]
        original = plain(tiny_data, index)
        assert image.shape == original.shape and image.dtype == torch.uint8
        assert torch.equal(image, original) == (label == 0)
        if label:  # noise blurred: neighbouring pixels closer than in the original
            step = lambda x: (x[..., 1:].float() - x[..., :-1].float()).abs().mean()  # noqa: E731
            assert step(image) < step(original)
        labels.append(label)
    assert set(labels) == {0, 1}


def test_label_errors(tiny_data, tmp_path):
    path = sample_list(tiny_data, tmp_path, True)
    rotate = build_transforms([*DECODE, {"RandomRot90": None}])
    with pytest.raises(ValueError, match=r"no op of transform_ops makes label_key 'blur_image' "
                                         r"\(label keys the ops make: random_rot90_orientation\)"):
        CustomLabelDataset(str(tiny_data), path, rotate, "blur_image", " ")[0]
    with pytest.raises(ValueError, match=r"label_key 'blur_image' \(label keys the ops make: none\)"):
        CustomLabelDataset(str(tiny_data), path, build_transforms(DECODE), "blur_image", " ")[0]
    torch.manual_seed(0)
    with pytest.raises(ValueError, match=f"label '{ROT}' is 3, outside 0..1"):
        dataset = CustomLabelDataset(str(tiny_data), path, rotate, ROT, " ", class_num=2)
        for index in range(20):
            dataset[index]
    with pytest.raises(FileNotFoundError, match="none of the 48 images listed"):
        CustomLabelDataset(str(tiny_data), path, rotate, ROT)  # no delimiter: 'train/0000.png 0' is no file


def test_late_normalize_moves_before_a_trailing_rot90():
    ops = [*DECODE, {"NormalizeImage": None}, {"ToCHWImage": None}, {"RandomRot90": None}]
    head, normalize = split_late_normalize(ops)
    assert head == [*DECODE, {"RandomRot90": None}] and normalize is not None
    erasing = [*DECODE, {"NormalizeImage": None}, {"RandomErasing": {"EPSILON": 0.0}}, {"RandomRot90": None}]
    assert split_late_normalize(erasing) == (erasing, None)  # RandomErasing needs the normalised floats


def _raw(tiny_data, tmp_path, ops, label_key=ROT, class_num=4):
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    dataset = raw["DataLoader"]["Train"]["dataset"]
    del dataset["cls_label_path"]
    dataset.update(name="CustomLabelDataset", sample_list_path=sample_list(tiny_data, tmp_path, False),
                   label_key=label_key, transform_ops=ops)
    raw["Arch"]["class_num"] = class_num
    return raw


TRAIN_OPS = [*DECODE, {"RandCropImage": {"size": 32, "scale": [0.5, 1.0]}},
             {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}},
             {"RandomRot90": None}]


def _batches(split, late: bool, **loader):
    split = split.model_copy(update={"loader": split.loader.model_copy(update=dict(loader, late_normalize=late))})
    loader = build_dataloader(split, seed=5, class_num=4)
    assert (loader.late_normalize is not None) == late
    return list(loader)


def test_loader_batches_carry_the_ops_labels_with_late_normalize(tiny_data, tmp_path):
    split = config_from_dict(_raw(tiny_data, tmp_path, TRAIN_OPS)).DataLoader.Train
    loader = build_dataloader(split, seed=5, class_num=4)
    assert isinstance(loader.base_dataset, CustomLabelDataset)
    late = _batches(split, True, fast_decode=True)
    labels = torch.cat([labels for _, labels, _ in late])
    assert len(labels) == 48 and labels.dtype == torch.int64 and set(labels.tolist()) == {0, 1, 2, 3}
    assert late[0][0].shape == (8, 3, 32, 32) and late[0][0].dtype == torch.float32
    # normalising late, after the rotation, gives what normalising per image before it gives
    for (image_a, label_a, _), (image_b, label_b, _) in zip(late, _batches(split, False)):
        assert torch.equal(label_a, label_b) and torch.allclose(image_a, image_b, atol=1e-6)


def test_label_ops_in_an_imagenet_dataset_keep_the_file_labels(tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    raw["DataLoader"]["Train"]["dataset"]["transform_ops"] = [*DECODE, {"BlurImage": None}, {"RandomRot90": None}]
    raw["DataLoader"]["Train"]["sampler"]["shuffle"] = False
    split = config_from_dict(raw).DataLoader.Train
    images, labels, _ = next(iter(build_dataloader(split, seed=1, class_num=3)))
    assert images.shape == (8, 3, 32, 32) and labels.tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    assert build_transforms([*DECODE, {"RandomRot90": None}], labels=False)(plain_bytes(tiny_data)).shape == (3, 32, 32)


def test_config_keys(tiny_data, tmp_path):
    raw = _raw(tiny_data, tmp_path, TRAIN_OPS, label_key="random_rot90")
    with pytest.raises(ConfigError, match=r"DataLoader.Train.dataset.label_key: no op of transform_ops makes label "
                                          r"'random_rot90' \(did you mean 'random_rot90_orientation'\?\); "
                                          r"the label ops there make: random_rot90_orientation"):
        config_from_dict(raw)
    with pytest.raises(ConfigError, match="makes label 'blur_image'; the label ops there make: none"):
        config_from_dict(_raw(tiny_data, tmp_path, DECODE, label_key="blur_image"))
    raw = _raw(tiny_data, tmp_path, TRAIN_OPS)
    del raw["DataLoader"]["Train"]["dataset"]["label_key"]
    with pytest.raises(ConfigError, match="CustomLabelDataset needs label_key"):
        config_from_dict(raw)
    raw = _raw(tiny_data, tmp_path, TRAIN_OPS)
    raw["DataLoader"]["Train"]["dataset"]["cls_label_path"] = "x.txt"
    with pytest.raises(ConfigError, match="CustomLabelDataset lists its images in sample_list_path"):
        config_from_dict(raw)
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    raw["DataLoader"]["Train"]["dataset"]["label_key"] = "k"
    with pytest.raises(ConfigError, match="label_key is a key of CustomLabelDataset, not ImageNetDataset"):
        config_from_dict(raw)
