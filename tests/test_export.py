"""ONNX export: metadata round-trip, logits match torch, dynamic batch, clear errors."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import torchclas

from torchclas.configure import config_from_dict
from torchclas.engine.checkpoint import save_weights
from torchclas.export import (build_inference_model, is_multilabel, checkpoint_class_num, class_names, export_model,
                              export_onnx, preprocess_ops, read_onnx_metadata, read_openvino_metadata,
                              read_pt2_metadata)
from torchclas.models import create_model

from conftest import EVAL_OPS, IMAGENET_MEAN as MEAN, IMAGENET_STD as STD  # noqa: F401


def tiny_config(weights=None, **infer) -> dict:
    """A 3-class PP-LCNet x0.25 config with 32x32 eval crops."""
    return {
        "Global": {"pretrained_model": str(weights) if weights else None, "image_shape": [3, 32, 32]},
        "Arch": {"name": "PPLCNet_x0_25", "class_num": 3},
        "DataLoader": {"Eval": {"dataset": {"name": "ImageNetDataset", "transform_ops": EVAL_OPS}}},
        "Infer": {"PostProcess": {"name": "Topk", "topk": 2, **infer}},
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    save_weights(create_model("PPLCNet_x0_25", 3), root / "best.safetensors")
    (root / "labels.txt").write_text("0 cat\n1 dog\n2 red fox\n", encoding="utf-8")
    cfg = config_from_dict(tiny_config(root / "best", class_id_map_file=str(root / "labels.txt")))
    info = export_onnx(cfg, root / "model.onnx")
    return cfg, root, info


def test_export_returns_summary_and_writes_only_the_file(exported):
    cfg, root, info = exported
    assert info["path"] == str(root / "model.onnx")
    assert info["input_size"] == [3, 32, 32] and info["class_num"] == 3
    assert 0 <= info["max_abs_diff"] <= 1e-4
    assert sorted(p.name for p in root.iterdir()) == ["best.safetensors", "labels.txt", "model.onnx"]


def test_metadata_round_trips(exported):
    cfg, root, _ = exported
    meta = read_onnx_metadata(root / "model.onnx")
    assert meta["format_version"] == 1 and meta["model"] == "PPLCNet_x0_25"
    assert meta["class_num"] == 3 and meta["class_names"] == ["cat", "dog", "red fox"]
    assert meta["preprocess"] == json.loads(json.dumps(EVAL_OPS))
    assert meta["input_size"] == [3, 32, 32] and meta["crop"] == [32, 32] and meta["resize_short"] == 36
    assert meta["mean"] == pytest.approx(MEAN) and meta["std"] == pytest.approx(STD)
    assert meta["topk"] == 2 and meta["multilabel"] is False
    assert meta["torchclas_version"] == torchclas.__version__
    assert meta["channel_order"] == "RGB" and meta["layout"] == "NCHW" and meta["scale"] == pytest.approx(1 / 255)
    assert meta["reparameterized"] is False and meta["precision"] == "fp32"


def test_multilabel_flag_follows_the_training_loss():
    cfg = config_from_dict(tiny_config())
    assert is_multilabel(cfg) is False
    # the config layer does not accept the sigmoid losses yet; the flag already reads them
    cfg.Loss.Train = [{"MultiLabelLoss": {"weight": 1.0}}]
    assert is_multilabel(cfg) is True


def test_graph_io_names_opset_and_checker(exported):
    _, root, _ = exported
    proto = onnx.load(str(root / "model.onnx"))
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert max(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")) >= 17


@pytest.mark.parametrize("batch", [1, 5])
def test_dynamic_batch_matches_torch(exported, batch):
    cfg, root, _ = exported
    model = build_inference_model(cfg)
    x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
    session = ort.InferenceSession(str(root / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"x": x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == (batch, 3)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_export_needs_pretrained_model(tmp_path):
    with pytest.raises(ValueError, match="Global.pretrained_model="):
        export_onnx(config_from_dict(tiny_config()), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_class_num_comes_from_the_checkpoint(tmp_path, caplog):
    torch.manual_seed(3)
    five = create_model("PPLCNet_x0_25", 5)
    save_weights(five, tmp_path / "five.safetensors")
    cfg = config_from_dict(tiny_config(tmp_path / "five"))  # the config says class_num=3
    assert checkpoint_class_num(cfg, tmp_path / "five") == 5
    info = export_onnx(cfg, tmp_path / "m.onnx")
    assert info["class_num"] == 5 and "5-class classifier" in caplog.text
    meta = read_onnx_metadata(tmp_path / "m.onnx")
    assert meta["class_num"] == 5 and meta["class_names"] == ["0", "1", "2", "3", "4"]
    x = torch.randn(3, 3, 32, 32)
    got = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, five.eval()(x).numpy(), atol=1e-4)


def test_label_file_must_fit_the_checkpoint_classes(tmp_path):
    save_weights(create_model("PPLCNet_x0_25", 5), tmp_path / "five.safetensors")
    (tmp_path / "labels.txt").write_text("0 a\n1 b\n2 c\n")
    cfg = config_from_dict(tiny_config(tmp_path / "five", class_id_map_file=str(tmp_path / "labels.txt")))
    with pytest.raises(ValueError, match=r"labels.txt' has 3 names but the model has class_num=5"):
        export_onnx(cfg, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_check_failure_refuses_to_write(exported, tmp_path):
    cfg, _, _ = exported
    with pytest.raises(RuntimeError, match=r"m.onnx: exported logits differ from torch by .* not written"):
        export_onnx(cfg, tmp_path / "m.onnx", atol=1e-15)
    assert not (tmp_path / "m.onnx").exists()


def test_torch_export_format_round_trips(exported, tmp_path):
    cfg, root, _ = exported
    info = export_model(cfg, tmp_path / "model.pt2", format="torch-export")
    assert info["format"] == "torch-export" and 0 <= info["max_abs_diff"] <= 1e-4
    meta = read_pt2_metadata(tmp_path / "model.pt2")
    assert meta == read_onnx_metadata(root / "model.onnx") or meta["class_names"] == ["cat", "dog", "red fox"]
    program = torch.export.load(str(tmp_path / "model.pt2")).module()
    x = torch.randn(5, 3, 32, 32)  # a batch size other than the traced one
    with torch.no_grad():
        np.testing.assert_allclose(program(x).numpy(), build_inference_model(cfg)(x).numpy(), atol=1e-5)


def test_openvino_format_round_trips(exported, tmp_path):
    ov = pytest.importorskip("openvino")
    cfg, _, _ = exported
    info = export_model(cfg, tmp_path / "model.xml", format="openvino")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin", "model.xml"]
    assert 0 <= info["max_abs_diff"] <= 1e-4
    graph = ov.Core().read_model(str(tmp_path / "model.xml"))
    meta = read_openvino_metadata(graph, tmp_path / "model.xml")
    assert meta["class_names"] == ["cat", "dog", "red fox"] and meta["input_size"] == [3, 32, 32]


def test_format_and_suffix_must_agree(exported, tmp_path):
    cfg, _, _ = exported
    with pytest.raises(ValueError, match="unknown export format 'tflite'; valid: onnx, torch-export, openvino"):
        export_model(cfg, tmp_path / "m.tflite", format="tflite")
    with pytest.raises(ValueError, match="--format torch-export writes a .pt2 file"):
        export_model(cfg, tmp_path / "m.onnx", format="torch-export")


def test_export_refuses_old_opset(exported, tmp_path):
    cfg, _, _ = exported
    with pytest.raises(ValueError, match="opset 13"):
        export_onnx(cfg, tmp_path / "m.onnx", opset=13)


def test_preprocess_ops_prefers_eval_then_infer():
    raw = tiny_config()
    raw["Infer"]["transforms"] = [{"DecodeImage": None}, {"ResizeImage": {"size": 40}}]
    assert preprocess_ops(config_from_dict(raw)) == EVAL_OPS
    del raw["DataLoader"]
    assert preprocess_ops(config_from_dict(raw))[1] == {"ResizeImage": {"size": 40}}
    del raw["Infer"]["transforms"]
    with pytest.raises(ValueError, match="Infer.transforms"):
        preprocess_ops(config_from_dict(raw))


def test_input_size_falls_back_to_image_shape(tmp_path):
    save_weights(create_model("PPLCNet_x0_25", 3), tmp_path / "w.safetensors")
    raw = tiny_config(tmp_path / "w.safetensors")
    raw["Global"]["image_shape"] = [3, 24, 24]
    raw["DataLoader"]["Eval"]["dataset"]["transform_ops"] = [{"DecodeImage": None}, {"NormalizeImage": None}]
    info = export_onnx(config_from_dict(raw), tmp_path / "m.onnx")
    assert info["input_size"] == [3, 24, 24]
    assert read_onnx_metadata(tmp_path / "m.onnx")["crop"] is None


def test_class_names(tmp_path):
    assert class_names(config_from_dict(tiny_config())) == ["0", "1", "2"]
    (tmp_path / "two.txt").write_text("0 a\n1 b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"two.txt' has 2 names .* class_num=3"):
        class_names(config_from_dict(tiny_config(class_id_map_file=str(tmp_path / "two.txt"))))


def test_read_metadata_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        read_onnx_metadata(tmp_path / "missing.onnx")
    (tmp_path / "text.onnx").write_text("hello, I am not a model\n" * 10)
    with pytest.raises(ValueError, match="text.onnx.*not an ONNX model"):
        read_onnx_metadata(tmp_path / "text.onnx")
    plain = onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])]))
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    with pytest.raises(ValueError, match="plain.onnx.*no 'torchclas' metadata"):
        read_onnx_metadata(tmp_path / "plain.onnx")
