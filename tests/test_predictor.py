"""Predictor: onnxruntime and torch backends agree; every input kind; bad files; clear errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

import torchclas
from torchclas.configure import config_from_dict
from torchclas.engine.checkpoint import save_weights
from torchclas.export import export_onnx
from torchclas.inference import Predictor
from torchclas.models import create_model

from conftest import EVAL_OPS
CLASSES = ["cat", "dog", "red fox", "owl"]


def random_image(seed: int, size=(48, 40)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Weights, labels, a config, its ONNX export and a folder of 4 PNGs (one in a sub-folder)."""
    root = tmp_path_factory.mktemp("predict")
    torch.manual_seed(1)
    save_weights(create_model("PPLCNet_x0_25", 4), root / "best.safetensors")
    (root / "labels.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(CLASSES)), encoding="utf-8")
    cfg = config_from_dict({
        "Global": {"pretrained_model": str(root / "best")},
        "Arch": {"name": "PPLCNet_x0_25", "class_num": 4},
        "DataLoader": {"Eval": {"dataset": {"transform_ops": EVAL_OPS}}},
        "Infer": {"PostProcess": {"topk": 3, "class_id_map_file": str(root / "labels.txt")}},
    })
    export_onnx(cfg, root / "model.onnx")
    images = root / "images"
    (images / "sub").mkdir(parents=True)
    for i, name in enumerate(["b.png", "a.PNG", "sub/c.png", "d.png"]):
        random_image(i).save(images / name, format="PNG")
    (images / "notes.txt").write_text("not an image")
    return cfg, root, images


@pytest.fixture(scope="module")
def onnx_predictor(setup):
    return Predictor(setup[1] / "model.onnx", threads=1, batch_size=3)


@pytest.fixture(scope="module")
def torch_predictor(setup):
    cfg, root, _ = setup
    return Predictor(root / "best", config=cfg, batch_size=3)


def test_backends_are_picked_from_the_file(onnx_predictor, torch_predictor):
    assert onnx_predictor.backend == "onnxruntime" and torch_predictor.backend == "torch"
    assert onnx_predictor.class_names == torch_predictor.class_names == CLASSES
    assert onnx_predictor.topk == torch_predictor.topk == 3


def test_backends_agree_on_images(setup, onnx_predictor, torch_predictor):
    a = onnx_predictor.predict(setup[2])
    b = torch_predictor.predict(setup[2])
    assert [r["filename"] for r in a] == [r["filename"] for r in b]
    for ra, rb in zip(a, b):
        assert ra["class_ids"][0] == rb["class_ids"][0]
        np.testing.assert_allclose(ra["scores"], rb["scores"], atol=1e-4, rtol=0)


def test_predict_logits_agree(onnx_predictor, torch_predictor):
    batch = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    got, want = onnx_predictor.predict_logits(batch), torch_predictor.predict_logits(batch.numpy())
    assert got.shape == (2, 4) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_result_format_and_topk(setup, onnx_predictor):
    path = setup[2] / "d.png"
    result, = onnx_predictor.predict(path)
    assert set(result) == {"filename", "class_ids", "scores", "label_names"}
    assert result["filename"] == str(path)
    assert len(result["class_ids"]) == 3 and all(isinstance(i, int) for i in result["class_ids"])
    assert all(isinstance(s, float) for s in result["scores"])
    assert result["scores"] == sorted(result["scores"], reverse=True)
    assert result["label_names"] == [CLASSES[i] for i in result["class_ids"]]
    full, = onnx_predictor.predict(str(path), topk=10)
    assert sorted(full["class_ids"]) == [0, 1, 2, 3] and sum(full["scores"]) == pytest.approx(1, abs=1e-5)
    assert full["scores"][:3] == pytest.approx(result["scores"], abs=1e-7)
    assert len(onnx_predictor.predict(path, topk=1)[0]["class_ids"]) == 1


def test_folder_is_recursive_sorted_and_images_only(setup, onnx_predictor):
    images = setup[2]
    names = [r["filename"] for r in onnx_predictor.predict(images)]
    assert names == [str(images / n) for n in ["a.PNG", "b.png", "d.png", "sub/c.png"]]


def test_array_pil_and_bytes_inputs_match_the_file(setup, onnx_predictor):
    path = setup[2] / "b.png"
    image = Image.open(path).convert("RGB")
    from_file, = onnx_predictor.predict(path)
    results = onnx_predictor.predict([np.asarray(image), png_bytes(image), image])
    assert [r["filename"] for r in results][:2] == ["<array>", "<bytes>"]
    for result in results:
        assert result["class_ids"] == from_file["class_ids"]
        np.testing.assert_allclose(result["scores"], from_file["scores"], atol=1e-6)


def test_gray_array_is_accepted(onnx_predictor):
    gray = np.random.default_rng(7).integers(0, 256, (40, 50), dtype=np.uint8)
    result, = onnx_predictor.predict(gray)
    assert result["filename"] == "<array>" and len(result["class_ids"]) == 3


def test_bad_files_give_error_entries_and_the_rest_is_predicted(setup, onnx_predictor, tmp_path):
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (tmp_path / "empty.jpg").write_bytes(b"")
    good = setup[2] / "a.PNG"
    inputs = [good, tmp_path / "corrupt.png", tmp_path / "empty.jpg", tmp_path / "missing.png", good]
    results = onnx_predictor.predict(inputs)
    assert [r["filename"] for r in results] == [str(p) for p in inputs]
    assert [("error" in r) for r in results] == [False, True, True, True, False]
    assert results[0]["class_ids"] == results[4]["class_ids"]
    assert "missing.png" in results[3]["error"]
    assert all(r["error"] for r in results[1:4])


def test_weights_need_a_config(setup):
    with pytest.raises(ValueError, match="needs config="):
        Predictor(setup[1] / "best.safetensors")


def test_bad_backend_names_the_valid_ones(setup):
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'; valid: onnxruntime, openvino, torch"):
        Predictor(setup[1] / "model.onnx", backend="tensorrt")


def test_torch_backend_refuses_onnx_and_onnxruntime_refuses_weights(setup):
    cfg, root, _ = setup
    with pytest.raises(ValueError, match="backend 'torch' cannot run a .onnx file; it runs a .pt2 file or a weights"):
        Predictor(root / "model.onnx", backend="torch", config=cfg)
    with pytest.raises(ValueError, match="backend 'onnxruntime' cannot run a weights file; it runs a .onnx file"):
        Predictor(root / "best", backend="onnxruntime")


def test_non_onnx_and_missing_files(tmp_path):
    (tmp_path / "fake.onnx").write_text("not a model")
    with pytest.raises(ValueError, match="fake.onnx: not a loadable ONNX model"):
        Predictor(tmp_path / "fake.onnx")
    with pytest.raises(FileNotFoundError, match="nothing.onnx"):
        Predictor(tmp_path / "nothing.onnx")


def test_empty_folder_and_unsupported_input(onnx_predictor, tmp_path):
    with pytest.raises(ValueError, match="no images in folder"):
        onnx_predictor.predict(tmp_path)
    with pytest.raises(TypeError, match="cannot predict on a int"):
        onnx_predictor.predict(3)


def test_package_level_predictor():
    if not hasattr(torchclas, "Predictor"):
        pytest.skip("torchclas/__init__.py does not re-export Predictor yet")
    assert torchclas.Predictor is Predictor


def test_fast_decode_resize_is_close_on_a_large_jpeg_and_exact_on_small_files(setup, onnx_predictor, tmp_path):
    from torchclas.data.decode.dct_scaled import DecodeResizeImage

    fast = Predictor(setup[1] / "model.onnx", threads=1, fast_decode_resize=True)
    assert isinstance(next(iter(fast.transforms.values())).transforms[0], DecodeResizeImage)
    small = [r["scores"] for r in fast.predict(setup[2])]
    assert small == [r["scores"] for r in onnx_predictor.predict(setup[2])]  # PNGs: the exact ops
    photo = tmp_path / "photo.jpg"  # 480 / 36 > 8: decoded at 1/4 scale
    random_image(9, (30, 40)).resize((640, 480), Image.BICUBIC).save(photo, quality=92)
    got, want = fast.predict(photo)[0], onnx_predictor.predict(photo)[0]
    assert got["class_ids"][0] == want["class_ids"][0]
    np.testing.assert_allclose(got["scores"][0], want["scores"][0], atol=0.02)
