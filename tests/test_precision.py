"""Reduced precision exports: INT8 static quantisation and bf16, agreement with fp32, --max-drop."""

from __future__ import annotations

import onnx
import pytest

from torchclas.export import cpu_has_bf16, export_model, read_onnx_metadata
from torchclas.export.precision import check_drop, eval_images
from torchclas.inference import Predictor

from test_inference_backends import calibrated_checkpoint

pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_data):
    root = tmp_path_factory.mktemp("precision")
    return calibrated_checkpoint(root, tiny_data), root, tiny_data


def test_int8_onnx_is_quantised_reports_agreement_and_runs(setup, tmp_path):
    cfg, _, data = setup
    info = export_model(cfg, tmp_path / "m.onnx", precision="int8", calibration=data / "train", max_drop=100)
    report = info["agreement"]
    assert info["precision"] == "int8" and report["images"] == 24
    assert 0 <= report["agreement"] <= 100 and report["top1_fp32"] is not None
    assert report["drop"] == pytest.approx(report["top1_fp32"] - report["top1"])
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert sum(n.op_type == "QuantizeLinear" for n in graph.node) > 10
    meta = read_onnx_metadata(tmp_path / "m.onnx")
    assert meta["precision"] == "int8" and meta["quantizer"] == "nncf"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no calibration leftovers
    predictor = Predictor(tmp_path / "m.onnx")  # NNCF's graph: openvino runs its int8 kernels
    assert predictor.backend == "openvino" and len(predictor.predict(data / "val_list.txt")) == 24
    on_ort = Predictor(tmp_path / "m.onnx", backend="onnxruntime").predict(data / "val_list.txt")
    assert [r["class_ids"][0] for r in on_ort] == [r["class_ids"][0] for r in predictor.predict(data / "val_list.txt")]


def producers(graph: onnx.GraphProto) -> dict[str, str]:
    return {o: n.op_type for n in graph.node for o in n.output}


def test_nncf_quantises_conv_inputs_and_onnxruntime_conv_outputs_too(setup, tmp_path):
    cfg, _, data = setup
    export_model(cfg, tmp_path / "n.onnx", precision="int8", calibration=data / "train", max_drop=100, int8_target=0)
    graph = onnx.load(str(tmp_path / "n.onnx")).graph
    source, convs = producers(graph), [n for n in graph.node if n.op_type == "Conv"]
    quantized_in = [n for n in convs if source.get(n.input[0]) == "DequantizeLinear"]
    # every conv input but the squeeze-excite gates' (NNCF keeps SE blocks in float) is quantised ...
    assert {n.name for n in convs} - {n.name for n in quantized_in} <= {n.name for n in convs if "/se/" in n.name}
    assert len(quantized_in) >= len(convs) - 4
    # ... and no conv output: the activation after it runs in float up to the next conv's quantiser
    consumers = {i: n.op_type for n in graph.node for i in n.input}
    assert not any(consumers.get(n.output[0]) == "QuantizeLinear" for n in convs)

    info = export_model(cfg, tmp_path / "o.onnx", precision="int8", calibration=data / "train", max_drop=100,
                        int8_target=0, int8_quantizer="onnxruntime", calibration_method="entropy")
    assert info["int8"]["float_blocks"] == [] and read_onnx_metadata(tmp_path / "o.onnx")["quantizer"] == "onnxruntime"
    graph = onnx.load(str(tmp_path / "o.onnx")).graph
    consumers = {i: n.op_type for n in graph.node for i in n.input}
    assert all(consumers.get(n.output[0]) == "QuantizeLinear" for n in graph.node if n.op_type == "Conv")
    assert Predictor(tmp_path / "o.onnx").backend == "onnxruntime"  # its QLinearConv kernels


def test_int8_openvino_runs_the_same_quantised_graph(setup, tmp_path):
    cfg, _, data = setup
    info = export_model(cfg, tmp_path / "m.xml", format="openvino", precision="int8",
                        calibration=data / "train", calibration_method="percentile", max_drop=100, int8_target=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin", "m.xml"]
    assert info["agreement"]["images"] == 24
    results = Predictor(tmp_path / "m.xml").predict(data / "val_list.txt")
    assert len(results) == 24 and not any("error" in r for r in results)


def float_convs(path) -> set[str]:
    """Conv/Gemm nodes of a QDQ graph whose weights are plain fp32 (no DequantizeLinear before them)."""
    graph = onnx.load(str(path)).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return {n.name for n in graph.node if n.op_type in ("Conv", "Gemm") and n.input[1] not in dequantized}


def test_int8_target_keeps_the_worst_blocks_in_fp32(setup, tmp_path):
    cfg, _, data = setup
    plain = export_model(cfg, tmp_path / "plain.onnx", precision="int8", calibration=data / "train", max_drop=100,
                         int8_target=0)
    assert plain["int8"] == {"images": 48, "float_blocks": [], "check_images": None,  # all of train/
                             "check_agreement": None}
    unquantized = float_convs(tmp_path / "plain.onnx")
    assert all("/se/" in name for name in unquantized)  # NNCF's own choice: squeeze-excite gates stay float
    info = export_model(cfg, tmp_path / "m.onnx", precision="int8", calibration=data / "train", max_drop=100,
                        int8_target=100, int8_max_float_blocks=2, calibration_size=16, int8_check=data / "val")
    blocks = info["int8"]["float_blocks"]
    assert 1 <= len(blocks) <= 2 and 0 <= info["int8"]["check_agreement"] <= 100
    assert info["int8"]["images"] == 16 and info["int8"]["check_images"] == 16  # as many val/ images as calibration
    kept = float_convs(tmp_path / "m.onnx") - unquantized
    assert kept and all(any(name.startswith(b + "/") for b in blocks) for name in kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "plain.onnx"]  # no trial models left
    with pytest.raises(ValueError, match=r"--int8-target must be a top-1 agreement in \[0, 100\] %, got 101"):
        export_model(cfg, tmp_path / "x.onnx", precision="int8", calibration=data / "train", int8_target=101)
    with pytest.raises(ValueError, match="--int8-check-size must be at least 1 image, got 0"):
        export_model(cfg, tmp_path / "x.onnx", precision="int8", calibration=data / "train", int8_check_size=0)


def test_a_drop_over_max_drop_is_refused_with_the_numbers(setup, tmp_path):
    cfg, _, data = setup
    with pytest.raises(RuntimeError, match=r"m.onnx: int8 drops top-1 by -?\d+\.\d\d points \(top-1 .*% vs .*% "
                                           r"in fp32, 24 images\), more than --max-drop -100"):
        export_model(cfg, tmp_path / "m.onnx", precision="int8", calibration=data / "train", max_drop=-100,
                     int8_target=0)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match=r"agrees with fp32 on 97.00% of images, 100 images\), more than --max-drop 1"):
        check_drop({"drop": 3.0, "agreement": 97.0, "images": 100, "top1": None}, "bf16", 1.0, "x.onnx")


@pytest.mark.skipif(not cpu_has_bf16(), reason="CPU without AVX-512 bf16 / AMX")
def test_bf16_export_is_marked_and_runs_on_openvino(setup, tmp_path):
    cfg, _, data = setup
    (tmp_path / "list.txt").write_text("".join(f"{data}/val/{i:04d}.png\n" for i in range(10)))
    info = export_model(cfg, tmp_path / "m.onnx", precision="bf16", eval_list=tmp_path / "list.txt", max_drop=100)
    assert info["agreement"]["images"] == 10 and info["agreement"]["top1"] is None  # no labels
    assert info["agreement"]["drop"] == pytest.approx(100 - info["agreement"]["agreement"])
    assert read_onnx_metadata(tmp_path / "m.onnx")["precision"] == "bf16"
    assert Predictor(tmp_path / "m.onnx").backend == "openvino"
    with pytest.raises(ValueError, match="onnxruntime has no bf16 CPU kernels"):
        Predictor(tmp_path / "m.onnx", backend="onnxruntime")
    assert Predictor(tmp_path / "m.onnx", backend="onnxruntime", precision="fp32").backend == "onnxruntime"


def test_bad_precision_requests_are_named(setup, tmp_path):
    cfg, _, data = setup
    with pytest.raises(ValueError, match="--precision int8 needs --calibration DIR"):
        export_model(cfg, tmp_path / "m.onnx", precision="int8")
    with pytest.raises(ValueError, match="int8 is exported as onnx or openvino"):
        export_model(cfg, tmp_path / "m.pt2", format="torch-export", precision="int8", calibration=data)
    with pytest.raises(ValueError, match="unknown precision 'int4'"):
        export_model(cfg, tmp_path / "m.onnx", precision="int4")
    with pytest.raises(ValueError, match="unknown calibration method 'median'; "
                                         "valid: auto, minmax-mean, minmax, percentile, entropy"):
        export_model(cfg, tmp_path / "m.onnx", precision="int8", calibration=data, calibration_method="median")
    with pytest.raises(ValueError, match="calibration method 'entropy' is onnxruntime's; with --int8-quantizer nncf"):
        export_model(cfg, tmp_path / "m.onnx", precision="int8", calibration=data, calibration_method="entropy")
    with pytest.raises(ValueError, match="unknown INT8 quantizer 'tensorrt'; valid: nncf, onnxruntime"):
        export_model(cfg, tmp_path / "m.onnx", precision="int8", calibration=data, int8_quantizer="tensorrt")
    with pytest.raises(FileNotFoundError, match="calibration folder not found"):
        export_model(cfg, tmp_path / "m.onnx", precision="int8", calibration=tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="int8 check folder not found: '.*nope'"):
        export_model(cfg, tmp_path / "m.onnx", precision="int8", calibration=data, int8_check=tmp_path / "nope")
    assert list(tmp_path.iterdir()) == []


def test_eval_images_from_the_config_and_from_a_list(setup, tmp_path):
    cfg, _, data = setup
    paths, labels = eval_images(cfg, limit=5)
    assert paths == [data / f"val/{i:04d}.png" for i in range(5)] and labels == [0, 1, 2, 0, 1]
    (tmp_path / "l.txt").write_text("a.png 3\nb.png\n")
    assert eval_images(cfg, tmp_path / "l.txt") == ([tmp_path / "a.png", tmp_path / "b.png"], None)


def test_keep_float_undoes_the_quantisation_of_the_nodes_it_names(setup, tmp_path):
    import numpy as np
    import onnxruntime as ort

    from torchclas.export.int8_fallback import keep_float, name_unnamed_nodes
    from torchclas.export.quantizers import build_quantizer

    cfg, _, _ = setup
    export_model(cfg, tmp_path / "fp32.onnx")
    original = onnx.load(str(tmp_path / "fp32.onnx"))
    name_unnamed_nodes(original)
    onnx.save(original, str(tmp_path / "prep.onnx"))
    batches = [np.random.default_rng(i).standard_normal((8, 3, 32, 32)).astype(np.float32) for i in range(4)]
    quantize = build_quantizer("nncf", tmp_path / "prep.onnx", batches, "auto", tmp_path / "ranges.json")
    full = onnx.load(str(quantize(tmp_path / "int8.onnx", [])))

    def run(model: onnx.ModelProto) -> np.ndarray:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"x": batches[0]})[0]

    every = [node.name for node in original.graph.node]
    floated = keep_float(full, original, every)  # every node back in fp32: the fp32 model again
    assert not any(node.op_type in ("QuantizeLinear", "DequantizeLinear") for node in floated.graph.node)
    np.testing.assert_allclose(run(floated), run(original), rtol=1e-5, atol=1e-5)
    assert np.abs(run(full) - run(original)).max() > 1e-3  # while the INT8 graph differs

    stem = [node.name for node in original.graph.node if node.op_type == "Conv"][:1]
    one = keep_float(full, original, stem)
    conv = next(node for node in one.graph.node if node.name == stem[0])
    source = next(node for node in original.graph.node if node.name == stem[0])
    assert list(conv.input) == list(source.input)  # reads x and its own fp32 weight again
    quantized_convs = lambda m: sum(n.op_type == "DequantizeLinear" for n in m.graph.node)  # noqa: E731
    assert quantized_convs(one) < quantized_convs(full) and run(one).shape == run(full).shape
    with pytest.raises(ValueError, match="none of the nodes to keep in fp32 is in both graphs"):
        keep_float(full, original, ["/no/such/Conv"])
