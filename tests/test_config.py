"""Config: safe arithmetic, -o overrides, validation errors, PaddleClas keys we do not implement."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import tiny_config_dict
from torchclas.config import Config, ConfigError, ignored_keys, parse_arithmetic, parse_config, save_config
from torchclas.configure import config_from_dict, load_config, unimplemented_keys
from torchclas.config.loader import apply_overrides, read_yaml, resolve_arithmetic
from torchclas.data.registry import NOT_YET_IMPLEMENTED_OPS

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "configs" / "quickstart" / "fashion_mnist.yaml"
RESNET50_VD = REPO / "configs" / "ImageNet" / "ResNet" / "ResNet50_vd.yaml"


@pytest.fixture
def base(tmp_path) -> dict:
    raw = tiny_config_dict(tmp_path / "data", tmp_path / "out")
    raw["Infer"]["transforms"] = copy.deepcopy(raw["Infer"]["transforms"])  # shared with Eval there
    return raw


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    return str(info.value)


# ------------------------------------------------------------------ arithmetic

@pytest.mark.parametrize("text, value", [
    ("1.0/255.0", 1.0 / 255.0), ("2**3", 8), ("-1+2", 1), ("(1+2)*3", 9), ("7 % 4", 3),
    ("0.00007", 7e-5), ("1e-3", 1e-3), ("-.5", -0.5),
])
def test_parse_arithmetic_values(text, value):
    result = parse_arithmetic(text)
    assert result == pytest.approx(value, rel=0, abs=0)
    assert type(result) is type(value)


@pytest.mark.parametrize("text", [
    "__import__('os')", "__import__('os').system('true')", "./data/x", "1/0", "abc", "", "  ",
    "2**100000", "1..2", "ResNet50", "[1, 2]", "lambda: 1",
])
def test_parse_arithmetic_rejects(text):
    assert parse_arithmetic(text) is None


def test_resolve_arithmetic_nested_keeps_other_values():
    raw = {"a": "1.0/255.0", "b": [{"c": "2**3", "d": "./x/y"}, "3*2", 4],
           "e": {"f": {"g": "-1+2"}}, "h": None, "i": True, "j": ""}
    out = resolve_arithmetic(raw)
    assert out == {"a": 1 / 255, "b": [{"c": 8, "d": "./x/y"}, 6, 4], "e": {"f": {"g": 1}},
                   "h": None, "i": True, "j": ""}
    assert raw["a"] == "1.0/255.0"  # input not modified


# ------------------------------------------------------------------ overrides

def test_apply_overrides_types_values_as_yaml():
    config = {"Global": {"epochs": 1}}
    out = apply_overrides(config, [
        "Global.epochs=5", "Global.lr=0.5", "Global.flag=True", "Global.off=false",
        "Global.shape=[3, 32, 32]", "Global.nothing=null", "Global.empty=", "Global.name=ResNet18",
        "Global.path=./data/x.txt", "Global.scale=1.0/255.0",
    ])
    assert out is config
    g = config["Global"]
    assert g["epochs"] == 5 and type(g["epochs"]) is int
    assert g["lr"] == 0.5 and type(g["lr"]) is float
    assert g["flag"] is True and g["off"] is False
    assert g["shape"] == [3, 32, 32]
    assert g["nothing"] is None and g["empty"] is None
    assert g["name"] == "ResNet18" and g["path"] == "./data/x.txt"
    assert g["scale"] == "1.0/255.0"  # arithmetic is resolved later, at validation


def test_apply_overrides_creates_nested_mappings_and_replaces_null():
    config = {"Optimizer": {"regularizer": None}}
    apply_overrides(config, ["Optimizer.regularizer.coeff=0.001", "New.deep.key=1", "Global.seed=3"])
    assert config == {"Optimizer": {"regularizer": {"coeff": 0.001}}, "New": {"deep": {"key": 1}},
                      "Global": {"seed": 3}}


def test_apply_overrides_value_with_equals_sign_and_spaces():
    config = {}
    apply_overrides(config, [" A.b = x=y"])
    assert config == {"A": {"b": "x=y"}}


def test_apply_overrides_list_index(base):
    apply_overrides(base, ["Loss.Train.0.CELoss.epsilon=0.2", "Metric.Eval.-1.TopkAcc.topk=[1]",
                           "DataLoader.Train.dataset.transform_ops.1.RandCropImage.size=28"])
    assert base["Loss"]["Train"][0]["CELoss"] == {"weight": 1.0, "epsilon": 0.2}
    assert base["Metric"]["Eval"][0]["TopkAcc"]["topk"] == [1]
    assert base["DataLoader"]["Train"]["dataset"]["transform_ops"][1]["RandCropImage"]["size"] == 28
    cfg = config_from_dict(base)
    assert cfg.Loss.Train[0]["CELoss"]["epsilon"] == 0.2


def test_apply_overrides_sets_whole_list_item():
    config = {"L": [1, 2, 3]}
    apply_overrides(config, ["L.2=9", "L.-3=7"])
    assert config == {"L": [7, 2, 9]}


@pytest.mark.parametrize("override, fragment", [
    ("noequals", "must look like Key.path=value"),
    ("A..b=1", "empty part in key path 'A..b'"),
    (".A=1", "empty part"),
    ("Loss.Train.5.CELoss.epsilon=0.2", "'5' is not an index of a list of 1 items"),
    ("Loss.Train.x.CELoss=1", "'x' is not an index of a list of 1 items"),
    ("Loss.Train.1=3", "'1' is not an index of a list of 1 items"),
    ("Global.epochs.deeper=1", "cannot set 'deeper' inside a int"),
])
def test_apply_overrides_bad_forms_name_the_override(override, fragment):
    config = {"Loss": {"Train": [{"CELoss": {"epsilon": 0.1}}]}, "Global": {"epochs": 2}}
    with pytest.raises(ConfigError) as info:
        apply_overrides(config, [override])
    assert f"'{override}'" in str(info.value) or "must look like" in str(info.value)
    assert fragment in str(info.value)


def test_apply_overrides_through_scalar_names_the_override():
    with pytest.raises(ConfigError, match=r"override 'Global\.epochs\.a\.b=1'.*'Global\.epochs' is not a mapping"):
        apply_overrides({"Global": {"epochs": 2}}, ["Global.epochs.a.b=1"])


# ------------------------------------------------------------------ loading files

def test_load_quickstart_config():
    cfg = load_config(QUICKSTART)
    assert isinstance(cfg, Config)
    assert cfg.Arch.name == "ResNet18" and cfg.class_num == 10
    assert cfg.Global.epochs == 10 and cfg.Global.image_shape == [1, 28, 28] and cfg.Global.channels_last
    assert cfg.Arch.builder_kwargs == {"in_chans": 1, "channels": [32, 64, 128, 256], "stem_width": 32}
    assert cfg.Optimizer.use_nesterov is True and cfg.Optimizer.regularizer.coeff == 0.0001
    assert cfg.Optimizer.lr.name == "Cosine" and cfg.Optimizer.lr.learning_rate == 0.1
    normalize = cfg.DataLoader.Train.dataset.transform_ops[-1]["NormalizeImage"]
    assert normalize["scale"] == pytest.approx(1 / 255) and isinstance(normalize["scale"], float)
    assert cfg.DataLoader.Train.sampler.batch_size == 128 and cfg.DataLoader.Train.sampler.drop_last
    assert cfg.DataLoader.Eval.sampler.batch_size == 256
    assert cfg.Infer.PostProcess.topk == 5
    assert cfg.Metric.Eval == [{"TopkAcc": {"topk": [1, 5]}}]
    assert unimplemented_keys(cfg) == []


def test_load_config_with_overrides():
    cfg = load_config(QUICKSTART, ["Global.epochs=1", "DataLoader.Train.sampler.batch_size=4",
                                   "Arch.name=PPLCNet_x0_25", "Loss.Train.0.CELoss.epsilon=0.2"])
    assert cfg.Global.epochs == 1
    assert cfg.DataLoader.Train.sampler.batch_size == 4
    assert cfg.Arch.name == "PPLCNet_x0_25"
    assert cfg.Loss.Train[0]["CELoss"]["epsilon"] == 0.2


def test_load_config_override_typo_names_key_and_file():
    with pytest.raises(ConfigError) as info:
        load_config(QUICKSTART, ["Global.epoch=1"])
    message = str(info.value)
    assert str(QUICKSTART) in message
    assert "unknown key 'Global.epoch' (did you mean 'epochs'?)" in message


def test_read_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*missing.yaml"):
        read_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("Global: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid YAML"):
        read_yaml(bad)
    top_list = tmp_path / "list.yaml"
    top_list.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping of sections, got list"):
        read_yaml(top_list)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert read_yaml(empty) == {}


# ------------------------------------------------------------------ validation errors

def test_unknown_key_names_dotted_path_and_closest(base):
    base["DataLoader"]["Train"]["sampler"]["batch_sise"] = 8
    message = _error(base)
    assert "unknown key 'DataLoader.Train.sampler.batch_sise' (did you mean 'batch_size'?)" in message


def test_unknown_key_without_close_match_lists_valid_keys(base):
    base["Optimizer"]["zzz"] = 1
    message = _error(base)
    assert "unknown key 'Optimizer.zzz'; valid keys: name, momentum, use_nesterov, lr" in message


def test_wrong_type_names_key_value_and_expected_type(base):
    base["Global"]["epochs"] = "ten"
    message = _error(base)
    assert "Global.epochs: invalid value 'ten'" in message
    assert "valid integer" in message


def test_out_of_range_value(base):
    base["Optimizer"]["momentum"] = 1.5
    assert "Optimizer.momentum: invalid value 1.5: Input should be less than 1" in _error(base)


def test_missing_arch(base):
    del base["Arch"]
    assert "missing required key 'Arch'" in _error(base)


def test_unknown_model_name_suggests_closest(base):
    base["Arch"]["name"] = "ResNet5_vd"
    assert "Arch.name: unknown model 'ResNet5_vd' (did you mean 'ResNet50_vd'?)" in _error(base)


def test_unknown_transform_op_suggests_closest(base):
    base["DataLoader"]["Eval"]["dataset"]["transform_ops"][2] = {"CropImg": {"size": 32}}
    message = _error(base)
    assert "DataLoader.Eval.dataset.transform_ops[2]: unknown op 'CropImg' (did you mean 'CropImage'?)" in message


def test_unknown_infer_op(base):
    base["Infer"]["transforms"].append({"ToCHWImg": None})
    assert "Infer.transforms[5]: unknown op 'ToCHWImg' (did you mean 'ToCHWImage'?)" in _error(base)


def test_unknown_batch_op_suggests_closest(base):
    base["DataLoader"]["Train"]["dataset"]["batch_transform_ops"] = [{"MixupOperater": {"alpha": 0.2}}]
    message = _error(base)
    assert "DataLoader.Train.dataset.batch_transform_ops[0]: unknown op 'MixupOperater'" in message
    assert "did you mean 'MixupOperator'" in message


@pytest.mark.parametrize("override, parts", [
    ("Global.device=gpx", ["Global.device: invalid value 'gpx'", "'auto', 'cpu', 'gpu' or 'cuda'",
                           "(did you mean 'gpu'?)"]),
    ("AMP.level=O3", ["AMP.level: invalid value 'O3'", "'O1' or 'O2'", "(did you mean 'O2'?)"]),
    ("AMP.dtype=bf16", ["AMP.dtype: invalid value 'bf16'", "'auto', 'bfloat16' or 'float16'",
                        "(did you mean 'bfloat16'?)"]),
    ("Optimizer.regularizer.name=L1", ["Optimizer.regularizer.name: invalid value 'L1'", "'L2'",
                                       "(did you mean 'L2'?)"]),
    ("Infer.PostProcess.name=TopK", ["Infer.PostProcess.name: invalid value 'TopK'", "'Topk'",
                                     "(did you mean 'Topk'?)"]),
    ("DataLoader.Train.sampler.name=DistributedBatchSamplr",
     ["DataLoader.Train.sampler.name: invalid value 'DistributedBatchSamplr': unknown sampler",
      "(did you mean 'DistributedBatchSampler'?)", "available: DistributedBatchSampler, BatchSampler"]),
    ("DataLoader.Eval.dataset.name=ImageNetDatset",
     ["DataLoader.Eval.dataset.name: invalid value 'ImageNetDatset': unknown dataset 'ImageNetDatset'",
      "(did you mean 'ImageNetDataset'?)", "available: ImageNetDataset, CommonDataset, FileListDataset, "
      "ImageFolder, ImageFolderDataset"]),
])
def test_choice_errors_name_key_value_allowed_and_closest(base, override, parts):
    message = _error(apply_overrides(base, [override]))
    for part in parts:
        assert part in message
    assert "Value error," not in message


def test_paddleclas_dataset_not_implemented_is_named(base):
    base["DataLoader"]["Train"]["dataset"]["name"] = "MultiLabelDataset"
    assert ("DataLoader.Train.dataset.name: invalid value 'MultiLabelDataset': 'MultiLabelDataset' is a "
            "PaddleClas dataset not implemented in torchclas yet; available: ImageNetDataset") in _error(base)


def test_unknown_op_lists_known_ops_with_or_without_a_close_match(base):
    for name, hint in (("CropImg", " (did you mean 'CropImage'?)"), ("Zzzzz", "")):
        base["DataLoader"]["Eval"]["dataset"]["transform_ops"][2] = {name: {"size": 32}}
        message = _error(base)
        assert f"DataLoader.Eval.dataset.transform_ops[2]: unknown op '{name}'{hint}; known ops: " in message
        assert "CropImage, " in message and "RandFlipImage" in message


def test_unknown_model_name_points_at_the_model_list(base):
    from torchclas.models import MODEL_TABLE

    for name, hint in (("ResNet5_vd", " (did you mean 'ResNet50_vd'?)"), ("Qwerty", "")):
        base["Arch"]["name"] = name
        assert (f"Arch.name: unknown model '{name}'{hint}; `torchclas models` lists the {len(MODEL_TABLE)} "
                "names") in _error(base)


def test_unknown_loss_name(base):
    base["Loss"]["Train"] = [{"CELos": {"epsilon": 0.1}}]
    message = _error(base)
    assert "Loss.Train[0]: unknown name 'CELos' (did you mean 'CELoss'?)" in message


def test_paddleclas_loss_not_implemented_is_an_error(base):
    base["Loss"]["Eval"] = [{"DMLLoss": {}}]
    message = _error(base)
    assert "Loss.Eval[0]: 'DMLLoss' is a PaddleClas name not implemented in torchclas yet" in message


def test_bad_loss_parameter(base):
    base["Loss"]["Train"] = [{"CELoss": {"epsiln": 0.1}}]
    message = _error(base)
    assert "Loss.Train[0].CELoss: unknown parameter 'epsiln' (did you mean 'epsilon'?)" in message
    assert "accepted: epsilon, class_weights, weight" in message


def test_bad_metric_parameter(base):
    base["Metric"]["Eval"] = [{"TopkAcc": {"top_k": [1]}}]
    assert "Metric.Eval[0].TopkAcc: unknown parameter 'top_k' (did you mean 'topk'?)" in _error(base)


def test_loss_entry_must_be_single_key_mapping(base):
    base["Loss"]["Train"] = [{"CELoss": {}, "Other": {}}]
    assert "Loss.Train[0]: expected one '{Name: {params}}' mapping" in _error(base)


@pytest.mark.parametrize("lr", [
    {"name": "Piecewise", "decay_epochs": [1, 2]},
    {"name": "Piecewise", "values": [0.1, 0.01]},
    {"name": "Piecewise", "decay_epochs": [1, 2], "values": [0.1, 0.01]},
])
def test_piecewise_needs_matching_values(base, lr):
    base["Optimizer"]["lr"] = lr
    assert "Optimizer.lr: Piecewise needs decay_epochs and values" in _error(base)


def test_piecewise_valid(base):
    base["Optimizer"]["lr"] = {"name": "Piecewise", "decay_epochs": [1], "values": [0.1, 0.01]}
    assert config_from_dict(base).Optimizer.lr.values == [0.1, 0.01]


def test_unknown_lr_name_suggests_closest(base):
    base["Optimizer"]["lr"]["name"] = "Cosin"
    message = _error(base)
    assert "Optimizer.lr.name: invalid value 'Cosin'" in message
    assert "(did you mean 'Cosine'?)" in message


def test_many_problems_are_all_listed(base):
    base["Global"]["epoch"] = 3
    base["Global"]["seed"] = "x"
    base["Optimizer"]["lr"]["name"] = "Cosin"
    base["DataLoader"]["Train"]["sampler"]["batch_size"] = 0
    base["Bogus"] = {}
    message = _error(base)
    lines = message.splitlines()
    assert lines[0] == "config: invalid config:"
    assert len(lines) == 6
    for fragment in ("unknown key 'Global.epoch' (did you mean 'epochs'?)", "Global.seed: invalid value 'x'",
                     "Optimizer.lr.name: invalid value 'Cosin'",
                     "DataLoader.Train.sampler.batch_size: invalid value 0", "unknown key 'Bogus'"):
        assert sum(fragment in line for line in lines) == 1, fragment


def test_source_names_the_file_in_errors(base):
    base["Arch"]["name"] = "Nope"
    with pytest.raises(ConfigError, match=r"^my\.yaml: Arch\.name: unknown model 'Nope'"):
        config_from_dict(base, source="my.yaml")


def test_class_num_and_arch_extra_kwargs(base):
    base["Arch"] = {"name": "ResNet18", "drop_rate": 0.1}
    cfg = config_from_dict(base)
    assert cfg.class_num == 1000 and cfg.Arch.builder_kwargs == {"drop_rate": 0.1}
    base["Global"]["class_num"] = 7
    assert config_from_dict(base).class_num == 7
    base["Arch"]["class_num"] = 3
    assert config_from_dict(base).class_num == 3


# ------------------------------------------------------------------ PaddleClas keys we do not implement

def test_paddleclas_keys_not_implemented_load_and_are_reported(base, caplog):
    base["AMP"] = {"use_amp": True, "level": "O1", "use_promote": True}
    base["DataLoader"]["Train"]["dataset"]["transform_ops"].append({"RandomApply": {"p": 0.5}})
    base["Infer"]["transforms"].insert(1, {"RandomApply": None})
    base["Optimizer"]["lr"]["last_epoch"] = 3
    assert "RandomApply" in NOT_YET_IMPLEMENTED_OPS
    with caplog.at_level("WARNING"):
        cfg = config_from_dict(base, source="paddle.yaml")
    found = unimplemented_keys(cfg)
    assert sorted(found) == sorted([
        "AMP.use_promote", "Optimizer.lr.last_epoch",
        "DataLoader.Train.dataset.transform_ops.RandomApply",
        "Infer.transforms.RandomApply",
    ])
    assert "paddle.yaml: keys not implemented" in caplog.text
    for key in found:
        assert key in caplog.text


def test_disabled_amp_is_not_reported(base, caplog):
    base["AMP"] = {"use_amp": False, "level": "O1", "scale_loss": 128.0}
    with caplog.at_level("WARNING"):
        cfg = config_from_dict(base)
    assert cfg.AMP.use_amp is False and cfg.AMP.scale_loss == 128.0
    assert unimplemented_keys(cfg) == []
    assert "not implemented" not in caplog.text


def test_shipped_resnet50_vd_recipe_loads_unchanged():
    text = RESNET50_VD.read_text()
    assert text.startswith("#") and "PaddleClas ImageNet recipe" in text.splitlines()[0]
    cfg = load_config(RESNET50_VD)
    assert cfg.Global.epochs == 200 and cfg.Global.image_shape == [3, 224, 224]
    assert cfg.AMP.use_amp is False and cfg.EMA is None
    assert cfg.Arch.name == "ResNet50_vd" and cfg.class_num == 1000
    assert cfg.Loss.Train == [{"CELoss": {"weight": 1.0, "epsilon": 0.1}}]
    assert cfg.Optimizer.name == "Momentum" and cfg.Optimizer.momentum == 0.9
    assert cfg.Optimizer.lr.name == "Cosine" and cfg.Optimizer.lr.learning_rate == 0.1
    assert cfg.Optimizer.regularizer.name == "L2" and cfg.Optimizer.regularizer.coeff == 0.00007
    train, evaluate = cfg.DataLoader.Train, cfg.DataLoader.Eval
    assert train.dataset.name == "ImageNetDataset"
    assert train.dataset.image_root == "./dataset/ILSVRC2012/"
    assert train.dataset.cls_label_path == "./dataset/ILSVRC2012/train_list.txt"
    assert [next(iter(op)) for op in train.dataset.transform_ops] == [
        "DecodeImage", "RandCropImage", "RandFlipImage", "NormalizeImage"]
    normalize = train.dataset.transform_ops[-1]["NormalizeImage"]
    assert normalize["scale"] == pytest.approx(1 / 255) and normalize["order"] == ""
    assert train.dataset.batch_transform_ops == [{"MixupOperator": {"alpha": 0.2}}]
    assert train.sampler.name == "DistributedBatchSampler" and train.sampler.batch_size == 64
    assert train.sampler.shuffle and not evaluate.sampler.shuffle
    assert train.loader.num_workers == 4 and train.loader.use_shared_memory
    assert evaluate.dataset.transform_ops[1] == {"ResizeImage": {"resize_short": 256}}
    assert evaluate.dataset.transform_ops[2] == {"CropImage": {"size": 224}}
    assert cfg.Infer.transforms[1:3] == evaluate.dataset.transform_ops[1:3]
    assert cfg.Infer.PostProcess.topk == 5 and cfg.Infer.PostProcess.class_id_map_file
    assert cfg.Metric.Train == cfg.Metric.Eval == [{"TopkAcc": {"topk": [1, 5]}}]
    assert unimplemented_keys(cfg) == []


# ------------------------------------------------------------------ save_config

def test_save_config_round_trip(tmp_path, base):
    base["Optimizer"]["lr"]["warmup_epoch"] = 0.5
    base["Arch"]["drop_rate"] = 0.1
    cfg = config_from_dict(copy.deepcopy(base))
    path = tmp_path / "saved.yaml"
    save_config(cfg, path)
    saved = yaml.safe_load(path.read_text())
    assert saved["Global"]["print_batch_step"] == 10  # defaults are written out
    assert saved["Arch"]["drop_rate"] == 0.1
    again = load_config(path)
    assert again == cfg
    assert again.model_dump() == cfg.model_dump()


def test_save_config_round_trip_shipped_recipes(tmp_path):
    for source in (QUICKSTART, RESNET50_VD):
        cfg = load_config(source)
        save_config(cfg, tmp_path / source.name)
        assert load_config(tmp_path / source.name) == cfg


# ------------------------------------------------------------------ keys without effect here

def test_keys_without_effect_are_reported_as_ignored(base, caplog):
    base["Global"]["save_inference_dir"] = "./inference"
    base["Infer"]["infer_imgs"] = "docs/images/"  # used by `torchclas infer -c CONFIG` without images
    base["DataLoader"]["Train"]["loader"] = {"num_workers": 0, "use_shared_memory": True}
    with caplog.at_level("WARNING"):
        cfg = config_from_dict(base, source="paddle.yaml")
    assert ignored_keys(cfg) == [
        ("Global.save_inference_dir", "`torchclas export --out PATH` names the exported file"),
        ("DataLoader.Train.loader.use_shared_memory",
         "torch DataLoader workers always pass batches in shared memory"),
    ]
    for key in ("Global.save_inference_dir", "DataLoader.Train.loader.use_shared_memory"):
        assert f"paddle.yaml: {key} has no effect in torchclas (ignored)" in caplog.text
    assert "Infer.infer_imgs" not in caplog.text


def test_keys_left_unset_are_not_reported(base, caplog):
    with caplog.at_level("WARNING"):
        cfg = config_from_dict(base)
    assert ignored_keys(cfg) == [] and "no effect" not in caplog.text


def test_arch_pretrained_and_use_ssld_are_keys_not_builder_arguments(base, caplog):
    base["Arch"].update(pretrained=True, use_ssld=True)
    with caplog.at_level("WARNING"):
        cfg = config_from_dict(base, source="paddle.yaml")
    assert "Arch.pretrained" not in caplog.text  # it loads weights now (tests/test_pretrained.py)
    assert (cfg.Arch.pretrained, cfg.Arch.use_ssld) == (True, True)
    assert "use_ssld" not in cfg.Arch.builder_kwargs and "pretrained" not in cfg.Arch.builder_kwargs


def test_config_shape_checks_need_no_registry():
    """``torchclas.config`` validates shape only: an unknown model name passes there and fails in
    ``torchclas.configure`` with the nearest name."""
    raw = {"Arch": {"name": "ResNet181"}}
    assert parse_config(raw).Arch.name == "ResNet181"
    with pytest.raises(ConfigError, match="unknown model 'ResNet181' \\(did you mean 'ResNet18'\\?\\)"):
        config_from_dict(raw)


def test_four_channel_input_keys_build_a_four_channel_model(base):
    """PaddleClas's *_ultra keys: Arch.input_image_channel -> in_chans, data_format NHWC -> channels_last
    under auto, Global.image_channel loads as a reported no-effect anchor."""
    from torchclas.engine.build import use_channels_last
    from torchclas.models import create_model

    base["Global"]["image_channel"] = 4
    base["Arch"].update({"name": "ResNet18", "input_image_channel": 4, "data_format": "NHWC"})
    cfg = config_from_dict(base)
    assert cfg.Arch.builder_kwargs == {"in_chans": 4} and unimplemented_keys(cfg) == []
    assert [key for key, _ in ignored_keys(cfg)] == ["Global.image_channel"]
    net = create_model(cfg.Arch.name, 3, **cfg.Arch.builder_kwargs)
    assert net.conv1.in_channels == 4
    assert use_channels_last(cfg, torch.nn.Linear(2, 2))  # NHWC decides, whatever the net
    base["Arch"]["data_format"] = "NCWH"
    with pytest.raises(ConfigError, match="data_format"):
        config_from_dict(base)
