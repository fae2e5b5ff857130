"""PaddleClas 2.0's old config format (quick_start/kunlun/*.yaml): translated onto today's
sections, overridden in its own spelling, and trained."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from torchclas.config import ConfigError, read_config
from torchclas.config.legacy import is_legacy, translate_legacy
from torchclas.configure import load_config
from torchclas.engine import train

LEGACY = Path(__file__).with_name("data") / "legacy"
RESNET = LEGACY / "ResNet50_vd_finetune_kunlun.yaml"
VGG = LEGACY / "VGG16_finetune_kunlun.yaml"


def test_kunlun_config_translates_key_by_key(caplog):
    cfg = load_config(RESNET)
    assert "old-format (PaddleClas 2.0) config, translated" in caplog.text and "total_images" in caplog.text
    assert (cfg.Arch.name, cfg.class_num, cfg.Global.pretrained_model) == (
        "ResNet50_vd", 102, "./pretrained/ResNet50_vd_pretrained")
    g = cfg.Global
    assert (g.output_dir, g.epochs, g.save_interval, g.eval_during_train, g.eval_interval, g.seed) == (
        "./output/", 20, 1, True, 1, 0)
    assert (cfg.Optimizer.name, cfg.Optimizer.momentum, cfg.Optimizer.regularizer.coeff) == ("Momentum", 0.9, 1e-6)
    assert (cfg.Optimizer.lr.name, cfg.Optimizer.lr.learning_rate) == ("Cosine", 0.00375)
    train_split, eval_split = cfg.DataLoader.Train, cfg.DataLoader.Eval
    assert train_split.dataset.cls_label_path == "./dataset/flowers102/train_list.txt"
    assert train_split.dataset.image_root == eval_split.dataset.image_root == "./dataset/flowers102/"
    assert (train_split.sampler.batch_size, train_split.sampler.shuffle, eval_split.sampler.shuffle) == (20, True, False)
    assert train_split.loader.num_workers == 1
    assert train_split.dataset.transform_ops[3]["NormalizeImage"]["scale"] == pytest.approx(1 / 255)
    assert [next(iter(op)) for op in eval_split.dataset.transform_ops] == [
        "DecodeImage", "ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage"]
    assert cfg.Infer.transforms == eval_split.dataset.transform_ops and cfg.Infer.PostProcess.topk == 5
    assert cfg.Metric.Eval == [{"TopkAcc": {"topk": [1, 5]}}]
    assert cfg.Loss.Train == [{"CELoss": {"weight": 1.0}}]


def test_vgg_kunlun_config_freezes_its_first_blocks():
    from torchclas.models import create_model

    cfg = load_config(VGG)
    assert cfg.Arch.builder_kwargs == {"stop_grad_layers": 5} and cfg.Optimizer.regularizer.coeff == 1e-5
    model = create_model(cfg.Arch.name, 3, **cfg.Arch.builder_kwargs)
    assert not any(p.requires_grad for p in model.stages.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def test_overrides_use_the_old_spelling_and_today_sections_merge_over():
    cfg = read_config(RESNET, ["TRAIN.file_list=my_list.txt", "classes_num=3", "LEARNING_RATE.params.lr=0.5",
                               "Global.device=cpu", "Global.epochs=2"])
    assert cfg.DataLoader.Train.dataset.cls_label_path == "my_list.txt" and cfg.class_num == 3
    assert cfg.Optimizer.lr.learning_rate == 0.5 and cfg.Global.device == "cpu" and cfg.Global.epochs == 2
    assert cfg.Global.output_dir == "./output/"  # the translated keys stay where nothing overrode them


def test_unknown_legacy_keys_fail_with_their_names(tmp_path):
    raw = yaml.safe_load(RESNET.read_text())
    raw["use_xpu_magic"] = True
    raw["TRAIN"]["sampler_kind"] = "x"
    with pytest.raises(ConfigError, match=r"keys torchclas does not translate: use_xpu_magic"):
        translate_legacy(raw, "k.yaml")
    del raw["use_xpu_magic"]
    with pytest.raises(ConfigError, match=r"TRAIN: old-format .* sampler_kind"):
        translate_legacy(raw, "k.yaml")
    with pytest.raises(ConfigError, match="needs ARCHITECTURE.name"):
        translate_legacy({"TRAIN": {}}, "k.yaml")


def test_piecewise_mix_and_label_smoothing_translate():
    raw = {"ARCHITECTURE": {"name": "ResNet18"}, "use_mix": True, "use_label_smoothing": True, "ls_epsilon": 0.1,
           "topk": 1, "LEARNING_RATE": {"function": "Piecewise",
                                        "params": {"lr": 0.1, "decay_epochs": [30, 60], "gamma": 0.1}},
           "TRAIN": {"file_list": "t.txt", "data_dir": "d", "mix": [{"MixupOperator": {"alpha": 0.2}}]}}
    assert is_legacy(raw)
    cfg = translate_legacy(raw)
    assert cfg["Optimizer"]["lr"] == {"name": "Piecewise", "learning_rate": 0.1, "decay_epochs": [30, 60],
                                      "values": pytest.approx([0.1, 0.01, 0.001])}
    assert cfg["DataLoader"]["Train"]["dataset"]["batch_transform_ops"] == [{"MixupOperator": {"alpha": 0.2}}]
    assert cfg["Loss"]["Train"] == [{"CELoss": {"weight": 1.0, "epsilon": 0.1}}]
    assert cfg["Metric"]["Train"] == [{"TopkAcc": {"topk": [1]}}]


def test_kunlun_config_trains_a_tiny_epoch(tiny_data, tmp_path):
    out = tmp_path / "out"
    overrides = [f"TRAIN.data_dir={tiny_data}", f"TRAIN.file_list={tiny_data / 'train_list.txt'}",
                 f"VALID.data_dir={tiny_data}", f"VALID.file_list={tiny_data / 'val_list.txt'}",
                 "pretrained_model=null", "classes_num=3", "epochs=1", f"model_save_dir={out}",
                 "TRAIN.batch_size=8", "VALID.batch_size=8", "TRAIN.num_workers=0", "VALID.num_workers=0",
                 "TRAIN.transforms.1.RandCropImage.size=32", "VALID.transforms.1.ResizeImage.resize_short=36",
                 "VALID.transforms.2.CropImage.size=32", "Global.device=cpu", "Global.num_threads=1"]
    result = train(load_config(RESNET, overrides))
    assert math.isfinite(result["train"]["loss"]) and result["eval"]["num_images"] == 24
    run = out / "ResNet50_vd"
    assert (run / "latest.safetensors").is_file()
    saved = yaml.safe_load((run / "config.yaml").read_text())  # the run saves today's format
    assert saved["Arch"]["name"] == "ResNet50_vd" and "ARCHITECTURE" not in saved
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["split"] for r in records] == ["train", "eval"]
