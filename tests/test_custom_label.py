"""CustomLabelDataset: labels made by an op of transform_ops (the ``{"img": ..., key: label}``
contract), through the dataset, the loader and the config."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_config_dict
from torchclas.config import ConfigError
from torchclas.configure import config_from_dict
from torchclas.data.custom_label import CustomLabelDataset, LabelledOps
from torchclas.data.loader import build_dataloader
from torchclas.data.pipeline import build_transforms
from torchclas.data.registry import TRANSFORMS

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")


class QuarterTurns:
    """A label-producing op as RandomRot90 is: turn by k quarter turns, label k."""

    def __init__(self, key: str = "quarter_turns"):
        self.key = key

    def __call__(self, image):
        turns = int(torch.randint(4, ()))
        return {"img": torch.rot90(image, turns, dims=(-2, -1)), self.key: turns}


def sample_list(tiny_data, tmp_path, with_labels: bool):
    lines = (tiny_data / "train_list.txt").read_text().splitlines()
    path = tmp_path / "samples.txt"
    path.write_text("\n".join(line if with_labels else line.split()[0] for line in lines) + "\n\n")
    return str(path)


def test_labelled_ops_pass_the_image_on_and_collect_labels():
    ops = LabelledOps([lambda x: x + 1, lambda x: {"img": x * 10, "a": 1}, lambda x: {"img": x - 1, "b": 2}])
    assert ops(1) == (19, {"a": 1, "b": 2})
    assert LabelledOps.of(build_transforms(None)).ops == []
    assert len(LabelledOps.of(build_transforms([{"DecodeImage": None}, {"ToCHWImage": None}])).ops) == 2
    with pytest.raises(ValueError, match="returned a dict without 'img'"):
        LabelledOps([lambda x: {"image": x}])(0)


def test_the_label_is_what_the_op_did(tiny_data, tmp_path):
    decode = build_transforms([{"DecodeImage": None}])
    ops = LabelledOps([*LabelledOps.of(decode).ops, QuarterTurns()])
    dataset = CustomLabelDataset(str(tiny_data), sample_list(tiny_data, tmp_path, True), ops, "quarter_turns",
                                 delimiter=" ", class_num=4)
    assert len(dataset) == 48
    labels = []
    for index in range(8):
        torch.manual_seed(index)
        image, label = dataset[index]
        plain = decode((tiny_data / "train" / f"{index:04d}.png").read_bytes())
        assert torch.equal(image, torch.rot90(plain, label, dims=(-2, -1)))
        labels.append(label)
    assert len(set(labels)) > 1
    torch.manual_seed(3)
    first = dataset[3][1]
    torch.manual_seed(3)
    assert dataset[3][1] == first  # the label is drawn from the sample's seed


def test_lists_of_paths_only(tiny_data, tmp_path):
    ops = LabelledOps([*LabelledOps.of(build_transforms([{"DecodeImage": None}])).ops, QuarterTurns()])
    dataset = CustomLabelDataset(str(tiny_data), sample_list(tiny_data, tmp_path, False), ops, "quarter_turns")
    assert len(dataset) == 48 and dataset.paths[0].endswith("train/0000.png")


def test_label_errors(tiny_data, tmp_path):
    path = sample_list(tiny_data, tmp_path, True)
    ops = LabelledOps([*LabelledOps.of(build_transforms([{"DecodeImage": None}])).ops, QuarterTurns("turns")])
    with pytest.raises(ValueError, match=r"no op of transform_ops returned label_key 'quarter_turns' "
                                         r"\(labels the ops returned: turns\)"):
        CustomLabelDataset(str(tiny_data), path, ops, "quarter_turns", " ")[0]
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="label 'turns' is 3, outside 0..1"):
        dataset = CustomLabelDataset(str(tiny_data), path, ops, "turns", " ", class_num=2)
        for index in range(20):
            dataset[index]
    with pytest.raises(FileNotFoundError, match="none of the 48 images listed"):
        CustomLabelDataset(str(tiny_data), path, ops, "turns")  # no delimiter: 'train/0000.png 0' is no file


def _raw(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setitem(TRANSFORMS, "QuarterTurns", QuarterTurns)
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    dataset = raw["DataLoader"]["Train"]["dataset"]
    del dataset["cls_label_path"]
    dataset.update(name="CustomLabelDataset", sample_list_path=sample_list(tiny_data, tmp_path, False),
                   label_key="quarter_turns")
    dataset["transform_ops"] = [*dataset["transform_ops"], {"QuarterTurns": None}]
    raw["Arch"]["class_num"] = 4
    return raw


def test_loader_batches_carry_the_ops_labels(tiny_data, tmp_path, monkeypatch):
    split = config_from_dict(_raw(tiny_data, tmp_path, monkeypatch)).DataLoader.Train
    loader = build_dataloader(split, seed=5, class_num=4)
    assert isinstance(loader.base_dataset, CustomLabelDataset)
    batches = list(loader)
    labels = torch.cat([labels for _, labels, _ in batches])
    assert len(labels) == 48 and labels.dtype == torch.int64 and set(labels.tolist()) == {0, 1, 2, 3}
    assert batches[0][0].shape == (8, 3, 32, 32)
    again = torch.cat([labels for _, labels, _ in build_dataloader(split, seed=5, class_num=4)])
    assert torch.equal(labels, again)


def test_config_keys(tiny_data, tmp_path, monkeypatch):
    raw = _raw(tiny_data, tmp_path, monkeypatch)
    del raw["DataLoader"]["Train"]["dataset"]["label_key"]
    with pytest.raises(ConfigError, match="CustomLabelDataset needs label_key"):
        config_from_dict(raw)
    raw = _raw(tiny_data, tmp_path, monkeypatch)
    raw["DataLoader"]["Train"]["dataset"]["cls_label_path"] = "x.txt"
    with pytest.raises(ConfigError, match="CustomLabelDataset lists its images in sample_list_path"):
        config_from_dict(raw)
    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    raw["DataLoader"]["Train"]["dataset"]["label_key"] = "k"
    with pytest.raises(ConfigError, match="label_key is a key of CustomLabelDataset, not ImageNetDataset"):
        config_from_dict(raw)
