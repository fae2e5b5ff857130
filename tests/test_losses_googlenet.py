"""``GoogLeNetLoss`` (main + 0.3 x each auxiliary head), GoogLeNet's training outputs through the
step seam, and ``GoogLeNetTopkAcc``."""

from __future__ import annotations

import json
import math

import pytest
import torch

from torchclas.config.errors import ConfigError
from torchclas.configure import config_from_dict
from torchclas.engine import train
from torchclas.losses import LOSSES, NOT_YET_IMPLEMENTED_LOSSES, GoogLeNetLoss, build_loss
from torchclas.metrics import GoogLeNetTopkAcc, build_metric
from torchclas.models import create_model
from torchclas.testing.tiny import tiny_config_dict, write_dataset

MAIN, AUX1, AUX2 = torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0]])
LABEL = torch.tensor([0])
# by hand: CE([2,0,0], 0) = log(1 + 2e^-2); CE([0,0,0], 0) = log 3; CE([0,1,0], 0) = log(2 + e)
HAND = math.log(1 + 2 * math.exp(-2)) + 0.3 * (math.log(3) + math.log(2 + math.e))


def test_googlenet_loss_matches_the_hand_computed_value():
    assert float(GoogLeNetLoss()({"logits": MAIN, "aux1": AUX1, "aux2": AUX2}, LABEL)) == pytest.approx(HAND, abs=1e-6)
    assert float(GoogLeNetLoss()([MAIN, AUX1, AUX2], LABEL)) == pytest.approx(HAND, abs=1e-6)  # PaddleClas's list
    # eval mode gives the main logits only: the main head's loss
    assert float(GoogLeNetLoss()(MAIN, LABEL)) == pytest.approx(math.log(1 + 2 * math.exp(-2)), abs=1e-6)


def test_googlenet_loss_is_registered_weighted_and_refuses_smoothing():
    assert "GoogLeNetLoss" in LOSSES and "GoogLeNetLoss" not in NOT_YET_IMPLEMENTED_LOSSES
    criterion = build_loss([{"GoogLeNetLoss": {"weight": 2.0}}])
    out = criterion({"logits": MAIN, "aux1": AUX1, "aux2": AUX2}, LABEL)
    assert float(out["loss"]) == pytest.approx(2 * HAND, abs=1e-6) and set(out) == {"GoogLeNetLoss", "loss"}
    # a plain loss next to it reads the main head of the dict
    both = build_loss([{"GoogLeNetLoss": {}}, {"CELoss": {"weight": 1.0}}])({"logits": MAIN, "aux1": AUX1,
                                                                           "aux2": AUX2}, LABEL)
    assert float(both["CELoss"]) == pytest.approx(math.log(1 + 2 * math.exp(-2)), abs=1e-6)
    with pytest.raises(ValueError, match="label smoothing"):
        GoogLeNetLoss(epsilon=0.1)
    with pytest.raises(TypeError, match=r"missing \['aux2'\]"):
        GoogLeNetLoss()({"logits": MAIN, "aux1": AUX1}, LABEL)


def test_googlenet_returns_its_aux_logits_in_training_only():
    torch.manual_seed(0)
    model = create_model("GoogLeNet", class_num=3, aux_heads=True)
    x = torch.randn(2, 3, 192, 192)  # the smallest input the aux heads take
    out = model.train()(x)
    assert sorted(out) == ["aux1", "aux2", "logits"] and all(v.shape == (2, 3) for v in out.values())
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 3)
    assert create_model("GoogLeNet", class_num=3).train()(x).shape == (2, 3)  # no aux heads: logits


def test_metric_reads_the_main_head():
    metric = build_metric([{"GoogLeNetTopkAcc": {"topk": [1, 2]}}], "Metric.Train")
    assert isinstance(metric, GoogLeNetTopkAcc)
    metric.update({"logits": MAIN, "aux1": AUX2, "aux2": AUX2}, LABEL)
    assert metric.compute() == {"top1": 1.0, "top2": 1.0}


def _googlenet_config(data, out):
    raw = tiny_config_dict(data, out, arch="GoogLeNet", epochs=1)
    raw["Loss"] = {"Train": [{"GoogLeNetLoss": {"weight": 1.0}}], "Eval": [{"GoogLeNetLoss": {"weight": 1.0}}]}
    raw["Metric"] = {"Train": [{"GoogLeNetTopkAcc": {"topk": [1, 2]}}], "Eval": [{"GoogLeNetTopkAcc": {"topk": [1, 2]}}]}
    train_ops = raw["DataLoader"]["Train"]["dataset"]["transform_ops"]
    train_ops[1] = {"RandCropImage": {"size": 192}}
    raw["DataLoader"]["Eval"]["dataset"]["transform_ops"][1:3] = [{"ResizeImage": {"resize_short": 192}},
                                                                  {"CropImage": {"size": 192}}]
    for split in ("Train", "Eval"):
        raw["DataLoader"][split]["sampler"]["batch_size"] = 4
    return raw


def test_googlenet_loss_builds_googlenet_with_aux_heads_and_trains_it(tmp_path):
    data = write_dataset(tmp_path / "data", n_train=8, n_val=4)
    cfg = config_from_dict(_googlenet_config(data, tmp_path / "out"))
    assert cfg.Arch.aux_heads is True  # GoogLeNetLoss needs them; PaddleClas's GoogLeNet always has them
    result = train(cfg)
    assert math.isfinite(result["train"]["loss"]) and math.isfinite(result["eval"]["loss"])
    records = [json.loads(x) for x in (tmp_path / "out" / "GoogLeNet" / "metrics.jsonl").read_text().splitlines()]
    assert [r["split"] for r in records] == ["train", "eval"]
    saved = (tmp_path / "out" / "GoogLeNet" / "config.yaml").read_text()
    assert "aux_heads: true" in saved


def test_googlenet_loss_with_another_model_is_a_config_error(tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path)
    raw["Loss"]["Train"] = [{"GoogLeNetLoss": {}}]
    with pytest.raises(ConfigError, match="GoogLeNetLoss takes the outputs of GoogLeNet; Arch.name is PPLCNet_x0_25"):
        config_from_dict(raw)


def test_a_googlenet_trained_with_aux_heads_exports_its_main_logits(tmp_path):
    import onnx

    from torchclas.engine.checkpoint import save_weights
    from torchclas.export import export_onnx

    torch.manual_seed(0)
    model = create_model("GoogLeNet", class_num=3, aux_heads=True)
    save_weights(model, tmp_path / "best.safetensors")
    eval_ops = [{"DecodeImage": {"to_rgb": True}}, {"ResizeImage": {"resize_short": 192}}, {"CropImage": {"size": 192}},
                {"NormalizeImage": {"scale": 1 / 255, "mean": [0.5] * 3, "std": [0.25] * 3, "order": ""}}]
    cfg = config_from_dict({
        "Global": {"pretrained_model": str(tmp_path / "best"), "image_shape": [3, 192, 192]},
        "Arch": {"name": "GoogLeNet", "class_num": 3},
        "Loss": {"Train": [{"GoogLeNetLoss": {}}]},
        "DataLoader": {"Eval": {"dataset": {"name": "ImageNetDataset", "transform_ops": eval_ops}}},
        "Infer": {"PostProcess": {"name": "Topk", "topk": 2}}})
    info = export_onnx(cfg, tmp_path / "model.onnx")  # checks ONNX against torch's eval logits
    outputs = onnx.load(str(tmp_path / "model.onnx")).graph.output
    assert [o.name for o in outputs] == ["logits"] and info["max_abs_diff"] is not None
