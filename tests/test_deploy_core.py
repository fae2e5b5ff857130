"""The deployment layers: inference/ is a core below export/; options objects; the one session factory."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import torchclas
from torchclas.data.pipeline import build_transforms
from torchclas.export import ExportOptions, export_model, export_options
from torchclas.inference import Predictor, PredictorOptions, onnxruntime_session
from torchclas.inference.predictor import predictor_options
from torchclas.inference.preprocess import build_preprocess, preprocess_image, with_decode
from torchclas.models.layout import has_conv_weights, is_conv_net
from torchclas.utils.progress import count_progress

from conftest import EVAL_OPS, seeded_checkpoint_config

PACKAGE = Path(torchclas.__file__).parent


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at module level or inside functions, as absolute names."""
    package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("layer, above", [
    ("inference", ("torchclas.export", "torchclas.engine")),
    ("export", ("torchclas.engine",)),
])
def test_deployment_layers_import_nothing_above_them(layer, above):
    bad = [f"{path.relative_to(PACKAGE)}: {name}" for path in sorted((PACKAGE / layer).rglob("*.py"))
           for name in _imports(path) if any(name == a or name.startswith(a + ".") for a in above)]
    assert bad == []


def test_moved_helpers_sit_below_inference():
    for module in ("models/deploy.py", "models/layout.py", "utils/progress.py"):
        names = _imports(PACKAGE / module)
        assert not [n for n in names if n.split(".")[:2] in (["torchclas", "inference"], ["torchclas", "export"],
                                                              ["torchclas", "engine"])], module


def test_importing_the_predictor_loads_no_runtime():
    code = ("import sys, torchclas.inference.predictor, torchclas.export; "
            "print(sorted(m for m in ('onnx', 'onnxruntime', 'openvino', 'nncf') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(PACKAGE.parent), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 4-class PPLCNet_x0_25 checkpoint, its config and its ONNX export."""
    root = tmp_path_factory.mktemp("deploy_core")
    cfg = seeded_checkpoint_config(root, class_num=4, seed=2)
    info = export_model(cfg, root / "model.onnx", ExportOptions(opset=17))
    return cfg, root, info


def test_predictor_options_and_keywords_are_one_thing(exported):
    _, root, _ = exported
    predictor = Predictor(root / "model.onnx", PredictorOptions(batch_size=3, topk=2), threads=1)
    assert predictor.options == PredictorOptions(batch_size=3, topk=2, threads=1)
    assert (predictor.batch_size, predictor.topk) == (3, 2)
    assert predictor.runner.session.get_session_options().intra_op_num_threads == 1
    assert Predictor(root / "model.onnx", batch_size=3, topk=2).predict(np.zeros((40, 40, 3), np.uint8)) \
        == predictor.predict(np.zeros((40, 40, 3), np.uint8))


def test_predictor_options_name_what_is_wrong():
    with pytest.raises(TypeError, match="unknown Predictor option.*batchsize.*valid: backend"):
        predictor_options(batchsize=3)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        PredictorOptions(batch_size=0)
    assert predictor_options(PredictorOptions(threads=4), spin=False) == PredictorOptions(threads=4, spin=False)


def test_export_options_equal_their_keywords(exported, tmp_path):
    cfg, root, info = exported
    assert info["format"] == "onnx" and info["max_abs_diff"] < 1e-4
    again = export_model(cfg, tmp_path / "m.onnx", format="onnx", opset=17)
    assert again["max_abs_diff"] == info["max_abs_diff"]
    assert (tmp_path / "m.onnx").read_bytes() == (root / "model.onnx").read_bytes()
    assert export_options(ExportOptions(precision="bf16"), max_drop=2.0) == ExportOptions(precision="bf16",
                                                                                          max_drop=2.0)


def test_export_options_fail_before_any_work(exported, tmp_path):
    cfg, _, _ = exported
    with pytest.raises(TypeError, match="unknown export option.*fromat"):
        export_model(cfg, tmp_path / "m.onnx", fromat="onnx")
    with pytest.raises(TypeError, match="pass format='onnx' by keyword"):
        export_model(cfg, tmp_path / "m.onnx", "onnx")
    with pytest.raises(ValueError, match="writes a .xml file"):
        ExportOptions(format="openvino").validate(cfg, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="needs --calibration"):
        ExportOptions(precision="int8").validate(cfg, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_the_session_factory_sets_threads_and_spinning(exported, tmp_path):
    _, root, _ = exported
    options = onnxruntime_session(root / "model.onnx", threads=2, spin=False).get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 1)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.onnx: not a loadable ONNX model"):
        onnxruntime_session(tmp_path / "bad.onnx")


def test_preprocessing_from_metadata_is_the_eval_transform():
    ops = EVAL_OPS[1:]  # without DecodeImage: with_decode puts it back
    assert with_decode(ops)[0] == {"DecodeImage": None} and with_decode(EVAL_OPS) == EVAL_OPS
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 44, 3), dtype=np.uint8))
    got = preprocess_image(build_preprocess(EVAL_OPS), image)
    want = torch.as_tensor(build_transforms(EVAL_OPS, "preprocess")(image))
    assert type(got) is torch.Tensor and got.shape == (3, 32, 32) and torch.equal(got, want)


def test_channels_last_decision_and_counting_bar():
    convs = torch.nn.Sequential(*[torch.nn.Conv2d(3, 3, 3) for _ in range(4)])
    assert is_conv_net(convs) and has_conv_weights(convs)
    assert not is_conv_net(convs[:3]) and not has_conv_weights(convs[:3])
    counted = []
    with count_progress("predict", 3, enabled=False) as advance:
        advance(3)
        counted.append(3)
    assert counted == [3]


def test_postprocess_registry_holds_the_schema_names_and_the_multilabel_one():
    from typing import get_args

    import numpy as np

    from torchclas.config.schema import PostProcessConfig
    from torchclas.inference import POSTPROCESSES

    # DistillationPostProcess runs its func: PostProcessConfig.spec() names that one
    names = set(get_args(PostProcessConfig.model_fields["name"].annotation)) - {"DistillationPostProcess"}
    assert names == set(POSTPROCESSES)
    scores, names = np.array([0.9, 0.2, 0.6]), ["a", "b", "c"]
    assert POSTPROCESSES["Topk"](topk=2)(scores, names)["label_names"] == ["a", "c"]
    assert POSTPROCESSES["MultiLabelThreshOutput"](threshold=0.7)(scores, names)["class_ids"] == [0]
    with pytest.raises(KeyError, match="unknown post-process 'TopK' \\(did you mean 'Topk'\\?\\)"):
        POSTPROCESSES["TopK"]
