"""check_config_paths: every file/folder key a command needs is looked up before any work starts."""

from __future__ import annotations

import pytest

from tests.conftest import tiny_config_dict
from torchclas.config import ConfigError, check_config_paths
from torchclas.configure import config_from_dict
from torchclas.config.paths import config_path_problems


@pytest.fixture
def raw(tmp_path, tiny_data) -> dict:
    return tiny_config_dict(tiny_data, tmp_path / "out")


def _problems(raw: dict, purpose: str) -> list[str]:
    return config_path_problems(config_from_dict(raw), purpose)


@pytest.mark.parametrize("purpose", ["train", "eval", "export", "infer"])
def test_tiny_config_paths_are_all_there(raw, purpose):
    check_config_paths(config_from_dict(raw), purpose)


def test_every_missing_path_is_listed_in_one_error(raw, tmp_path):
    raw["DataLoader"]["Train"]["dataset"]["cls_label_path"] = "x.txt"
    raw["DataLoader"]["Eval"]["dataset"]["image_root"] = str(tmp_path / "no_images")
    raw["Global"]["pretrained_model"] = str(tmp_path / "best_model")
    raw["Global"]["checkpoints"] = str(tmp_path / "latest")
    with pytest.raises(ConfigError) as info:
        check_config_paths(config_from_dict(raw), "train", source="cfg.yaml")
    assert str(info.value).splitlines() == [
        "cfg.yaml: 4 config paths not found (train):",
        "  DataLoader.Train.dataset.cls_label_path: file not found: 'x.txt'",
        f"  DataLoader.Eval.dataset.image_root: folder not found: '{tmp_path / 'no_images'}'",
        f"  Global.pretrained_model: file not found: '{tmp_path / 'best_model'}' "
        "(also tried .safetensors, .pth, .pt, .pdparams)",
        f"  Global.checkpoints: file not found: '{tmp_path / 'latest'}' (also tried "
        f"'{tmp_path / 'latest.safetensors'}'); use Global.checkpoints=auto to resume from the newest",
    ]


def test_one_missing_path_reads_as_one(raw):
    raw["Infer"]["PostProcess"]["class_id_map_file"] = "labels.txt"
    with pytest.raises(ConfigError) as info:
        check_config_paths(config_from_dict(raw), "export")
    assert str(info.value) == ("1 config path not found (export):\n"
                               "  Infer.PostProcess.class_id_map_file: file not found: 'labels.txt'")


def test_weights_without_suffix_are_found_as_in_paddleclas(raw, tmp_path):
    (tmp_path / "best_model.pdparams").write_bytes(b"x")
    (tmp_path / "latest.safetensors").write_bytes(b"x")
    raw["Global"]["pretrained_model"] = str(tmp_path / "best_model")
    raw["Global"]["checkpoints"] = str(tmp_path / "latest")
    raw["Arch"]["pretrained"] = str(tmp_path / "best_model.pdparams")
    assert _problems(raw, "train") == []
    raw["Arch"]["pretrained"] = str(tmp_path / "other")
    assert _problems(raw, "eval") == [f"Arch.pretrained: file not found: '{tmp_path / 'other'}' "
                                      "(also tried .safetensors, .pth, .pt, .pdparams)"]


def test_auto_checkpoints_and_unset_keys_are_not_checked(raw):
    raw["Global"]["checkpoints"] = "auto"
    raw["Infer"]["PostProcess"]["class_id_map_file"] = None
    cfg = config_from_dict(raw)
    assert config_path_problems(cfg, "train") == [] and config_path_problems(cfg, "infer") == []


def test_each_purpose_checks_only_what_it_uses(raw):
    raw["DataLoader"]["Train"]["dataset"]["cls_label_path"] = "train.txt"
    raw["DataLoader"]["Eval"]["dataset"]["cls_label_path"] = "val.txt"
    raw["Infer"]["PostProcess"]["class_id_map_file"] = "labels.txt"
    raw["Global"]["checkpoints"] = "gone"
    keys = {purpose: [p.split(":")[0] for p in _problems(raw, purpose)]
            for purpose in ("train", "eval", "export", "infer")}
    assert keys == {
        "train": ["DataLoader.Train.dataset.cls_label_path", "DataLoader.Eval.dataset.cls_label_path",
                  "Global.checkpoints"],
        "eval": ["DataLoader.Eval.dataset.cls_label_path"],
        "export": ["Infer.PostProcess.class_id_map_file"],
        "infer": ["Infer.PostProcess.class_id_map_file"],
    }
    raw["Global"]["eval_during_train"] = False
    assert [p.split(":")[0] for p in _problems(raw, "train")] == [
        "DataLoader.Train.dataset.cls_label_path", "Global.checkpoints"]


def test_wrong_kind_and_unset_needed_keys(raw, tiny_data):
    raw["DataLoader"]["Train"]["dataset"]["image_root"] = str(tiny_data / "train_list.txt")
    raw["DataLoader"]["Train"]["dataset"]["cls_label_path"] = None
    raw["DataLoader"]["Eval"]["dataset"]["cls_label_path"] = str(tiny_data / "val")
    assert _problems(raw, "train") == [
        f"DataLoader.Train.dataset.image_root: not a folder: '{tiny_data / 'train_list.txt'}'",
        "DataLoader.Train.dataset.cls_label_path: not set (ImageNetDataset needs a 'path label' list file, "
        "or use name: ImageFolder)",
        f"DataLoader.Eval.dataset.cls_label_path: is a folder, not a file: '{tiny_data / 'val'}'",
    ]


def test_image_folder_needs_no_list_and_a_missing_split_is_named(raw, tiny_data):
    raw["DataLoader"]["Train"]["dataset"].update(name="ImageFolder", image_root=str(tiny_data),
                                                 cls_label_path="ignored.txt")
    del raw["DataLoader"]["Eval"]
    assert _problems(raw, "train") == []
    assert _problems(raw, "eval") == ["DataLoader.Eval: not set (eval needs it)"]


def test_unknown_purpose(raw):
    with pytest.raises(ValueError, match="unknown purpose 'serve'; valid: train, eval, export, infer"):
        check_config_paths(config_from_dict(raw), "serve")
