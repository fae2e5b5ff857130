"""PaddleClas's post-processes (``Infer.PostProcess``) on hand-made scores, their config keys,
the ``Infer.infer_imgs`` image list, and the post-process carried in an export's metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest

from torchclas.config import ConfigError
from torchclas.configure import config_from_dict
from torchclas.inference.config_infer import paddle_result
from torchclas.inference.inputs import collect_inputs, infer_image_list
from torchclas.inference.metadata import build_metadata, class_names
from torchclas.inference.postprocess import (POSTPROCESSES, MultiLabelThreshOutput, ScoreOutput, ThreshOutput,
                                             Topk, build_postprocess)
from torchclas.inference.predictor import model_postprocess

from conftest import EVAL_OPS

PERSON = {"name": "ThreshOutput", "threshold": 0.9, "label_0": "nobody", "label_1": "someone"}


def _cfg(post: dict, class_num: int = 3, **infer) -> object:
    return config_from_dict({"Arch": {"name": "PPLCNet_x0_25", "class_num": class_num},
                             "DataLoader": {"Eval": {"dataset": {"transform_ops": EVAL_OPS}}},
                             "Infer": {"PostProcess": post, **infer}})


# ------------------------------------------------------------------ the post-processes


def test_thresh_output_picks_label_1_at_or_above_the_threshold_as_paddleclas():
    post = ThreshOutput(threshold=0.9, label_0="nobody", label_1="someone")
    assert post(np.array([0.05, 0.95]), []) == {"class_ids": [1], "scores": [pytest.approx(0.95)],
                                                "label_names": ["someone"]}
    assert post(np.array([0.1, 0.9]), []) == {"class_ids": [1], "scores": [pytest.approx(0.9)],
                                              "label_names": ["someone"]}  # >= threshold: label_1
    below = post(np.array([0.2, 0.8]), [])
    assert below["class_ids"] == [0] and below["label_names"] == ["nobody"]
    assert below["scores"] == [pytest.approx(0.2)]  # PaddleClas reports 1 - p1
    # class 1's probability decides even with more classes (a 3-class model under ThreshOutput)
    assert post(np.array([0.6, 0.3, 0.1]), [])["scores"] == [pytest.approx(0.7)]
    assert ThreshOutput(threshold=0.5)(np.array([0.4, 0.6]), [])["label_names"] == ["1"]  # default labels
    with pytest.raises(ValueError, match="class 1's score; the model has 1 class"):
        post(np.array([1.0]), [])


def test_topk_names_classes_from_the_class_id_map_file(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("0 tench, Tinca tinca\n1 goldfish\n2 great white shark\n")
    names = class_names(_cfg({"name": "Topk", "topk": 2, "class_id_map_file": str(labels)}))
    assert names == ["tench, Tinca tinca", "goldfish", "great white shark"]
    result = Topk(topk=2)(np.array([0.1, 0.3, 0.6]), names)
    assert result == {"class_ids": [2, 1], "scores": [pytest.approx(0.6), pytest.approx(0.3)],
                      "label_names": ["great white shark", "goldfish"]}
    tabbed = tmp_path / "tabbed.txt"
    tabbed.write_text("0\tred fish\n1\tblue fish\n2\tgreen fish\n")
    cfg = _cfg({"name": "Topk", "topk": 1, "class_id_map_file": str(tabbed), "delimiter": "\t"})
    assert class_names(cfg) == ["red fish", "blue fish", "green fish"]


def test_score_output_rounds_the_raw_outputs():
    assert ScoreOutput(decimal_places=2)(np.array([4.8765, -0.123, 7.0]), ["a"]) == {"scores": [4.88, -0.12, 7.0]}
    assert ScoreOutput(decimal_places=0)(np.array([4.6]), [])["scores"] == [5.0]
    assert ScoreOutput.activation == "identity" and Topk.activation == ThreshOutput.activation == "softmax"


def test_multilabel_thresh_output_keeps_classes_over_the_threshold():
    result = MultiLabelThreshOutput(threshold=0.5)(np.array([0.9, 0.2, 0.5]), ["a", "b", "c"])
    assert result["class_ids"] == [0, 2] and result["label_names"] == ["a", "c"]
    assert MultiLabelThreshOutput.activation == "sigmoid"


def test_build_postprocess_from_a_spec_and_its_errors():
    assert build_postprocess({"name": "Topk", "topk": 3}) == Topk(topk=3)
    assert build_postprocess({"name": "ScoreOutput", "decimal_places": 1}) == ScoreOutput(1)
    with pytest.raises(KeyError, match="did you mean 'ThreshOutput'"):
        build_postprocess({"name": "ThresholdOutput"})
    with pytest.raises(ValueError, match="post-process Topk:.*threshold"):
        build_postprocess({"name": "Topk", "threshold": 0.5})
    assert set(POSTPROCESSES) == {"Topk", "ThreshOutput", "MultiLabelThreshOutput", "ScoreOutput"}


# ------------------------------------------------------------------ config keys


def test_each_postprocess_takes_its_own_keys():
    assert _cfg(PERSON).Infer.PostProcess.spec() == PERSON
    assert _cfg({"name": "ScoreOutput", "decimal_places": 2}).Infer.PostProcess.spec() == {
        "name": "ScoreOutput", "decimal_places": 2}
    assert _cfg({"name": "MultiLabelThreshOutput"}).Infer.PostProcess.spec() == {
        "name": "MultiLabelThreshOutput", "threshold": 0.5}
    assert _cfg({"name": "ThreshOutput", "threshold": 0.5}).Infer.PostProcess.spec() == {
        "name": "ThreshOutput", "threshold": 0.5, "label_0": "0", "label_1": "1"}
    # the PaddleClas quick_start distillation config: func Topk with Topk's keys
    distill = _cfg({"name": "DistillationPostProcess", "func": "Topk", "topk": 5}).Infer.PostProcess
    assert distill.spec() == {"name": "Topk", "topk": 5}
    assert _cfg({}).Infer.PostProcess.spec() == {"name": "Topk", "topk": 5}


@pytest.mark.parametrize("post, message", [
    ({"name": "ThreshOutput", "threshold": 0.5, "topk": 5},
     "'Infer.PostProcess.topk' is not a key of ThreshOutput (ThreshOutput takes: threshold, label_0, label_1)"),
    ({"name": "Topk", "label_0": "no"}, "'Infer.PostProcess.label_0' is not a key of Topk"),
    ({"name": "ScoreOutput", "decimal_places": 2, "class_id_map_file": "x.txt"},
     "'Infer.PostProcess.class_id_map_file' is not a key of ScoreOutput"),
    ({"name": "ThreshOutput", "label_0": "no"}, "ThreshOutput needs 'Infer.PostProcess.threshold'"),
    ({"name": "ScoreOutput"}, "ScoreOutput needs 'Infer.PostProcess.decimal_places'"),
    ({"name": "DistillationPostProcess", "func": "Topk", "threshold": 0.5},
     "'Infer.PostProcess.threshold' is not a key of DistillationPostProcess with func Topk"),
    ({"name": "TreshOutput", "threshold": 0.5}, "(did you mean 'ThreshOutput'?)"),
    ({"name": "PersonAttribute", "threshold": 0.5},
     "'PersonAttribute' is a PaddleClas post-process not implemented in torchclas yet"),
])
def test_a_key_the_postprocess_does_not_take_is_an_error_naming_it(post, message):
    with pytest.raises(ConfigError) as err:
        _cfg(post)
    assert message in str(err.value)


# ------------------------------------------------------------------ Infer.infer_imgs


def test_infer_imgs_file_and_folder_as_paddleclas_get_image_list(tmp_path, tiny_data):
    assert infer_image_list(str(tiny_data / "val" / "0003.png")) == [str(tiny_data / "val" / "0003.png")]
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.png", "a.JPG", "sub/c.jpeg", "notes.txt"):
        (folder / name).write_bytes(b"x")
    assert infer_image_list(folder) == [str(folder / "a.JPG"), str(folder / "b.png"), str(folder / "sub/c.jpeg")]
    for value, message in ((None, "Infer.infer_imgs is not set"), (tmp_path / "none", "no such file or folder"),
                           (folder / "notes.txt", "no image files in"), (tmp_path / "sub", "no such file")):
        with pytest.raises(ValueError, match=message):
            infer_image_list(value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files in"):
        infer_image_list(tmp_path / "empty")


def test_paddle_result_has_paddleclas_keys_in_order():
    result = paddle_result({"filename": "a.png", "label_names": ["x"], "class_ids": [2], "scores": [0.5]})
    assert list(result) == ["class_ids", "scores", "file_name", "label_names"]
    assert paddle_result({"filename": "a.png", "scores": [1.5]}) == {"scores": [1.5], "file_name": "a.png"}


# ------------------------------------------------------------------ metadata


def test_postprocess_travels_in_the_metadata_and_back(tmp_path):
    meta = json.loads(json.dumps(build_metadata(_cfg(PERSON, class_num=2))))  # as stored: JSON
    assert meta["postprocess"] == PERSON
    spec = model_postprocess(meta)
    assert spec == PERSON and build_postprocess(spec) == ThreshOutput(0.9, "nobody", "someone")
    assert model_postprocess(meta, threshold=0.4)["threshold"] == 0.4  # --threshold overrides
    assert model_postprocess(meta, topk=3) == PERSON  # --topk is Topk's
    score = build_metadata(_cfg({"name": "ScoreOutput", "decimal_places": 3}))
    assert score["postprocess"] == {"name": "ScoreOutput", "decimal_places": 3} and not score["multilabel"]
    assert build_metadata(_cfg({"name": "MultiLabelThreshOutput", "threshold": 0.3}))["multilabel"]
    # a file from before `postprocess` was stored: Topk with its `topk`, or multi-label
    assert model_postprocess({"topk": 2}) == {"name": "Topk", "topk": 2}
    assert model_postprocess({"topk": 2, "multilabel": True}, threshold=0.7) == {
        "name": "MultiLabelThreshOutput", "threshold": 0.7}


def test_score_output_reports_the_raw_outputs_through_the_predictor(tiny_data, tmp_path):
    from conftest import tiny_config_dict
    from test_cli_infer_config import calibrated_weights
    from torchclas.inference.config_infer import config_predictions, config_predictor
    from torchclas.inference.inputs import collect_inputs

    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    calibrated_weights(raw, 3, tmp_path / "best.safetensors")
    raw["Global"]["pretrained_model"] = str(tmp_path / "best")
    raw["Infer"].update(PostProcess={"name": "ScoreOutput", "decimal_places": 3},
                        infer_imgs=str(tiny_data / "val" / "0001.png"))
    cfg = config_from_dict(raw)
    (result,), = list(config_predictions(cfg))
    predictor = config_predictor(cfg)
    tensor, = predictor.preprocess(collect_inputs(cfg.Infer.infer_imgs)[0]).values()
    logits = predictor.predict_logits(tensor[None])[0]
    assert set(result) == {"filename", "scores"}
    assert result["scores"] == [round(float(v), 3) for v in logits]
    assert abs(sum(result["scores"]) - 1) > 0.01  # logits, not probabilities


def test_config_predictor_preprocesses_with_infer_transforms_in_predict_folder_too(tiny_data, tmp_path):
    from conftest import tiny_config_dict
    from test_cli_infer_config import calibrated_weights
    from torchclas.inference.config_infer import config_predictor
    from torchclas.inference.folder import predict_folder

    raw = tiny_config_dict(tiny_data, tmp_path / "out")
    calibrated_weights(raw, 3, tmp_path / "best.safetensors")
    infer_ops = [*EVAL_OPS[:2], {"CropImage": {"size": 24}}, *EVAL_OPS[3:]]  # not the eval ops' 32
    raw["Global"]["pretrained_model"] = str(tmp_path / "best")
    raw["Infer"].update(transforms=infer_ops, batch_size=4)
    predictor = config_predictor(config_from_dict(raw))
    assert list(predictor.preprocess_ops.values()) == [infer_ops] and predictor.batch_size == 4
    images = tmp_path / "imgs"
    images.mkdir()
    for name in ("0000.png", "0001.png", "0002.png"):
        (images / name).write_bytes((tiny_data / "val" / name).read_bytes())
    tensor, = predictor.preprocess(collect_inputs(images / "0000.png")[0]).values()
    assert tuple(tensor.shape) == (3, 24, 24)
    predict_folder(predictor, images, tmp_path / "out.jsonl", workers=0, progress=False)
    folder = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    direct = predictor.predict(images)
    assert len(folder) == len(direct) == 3
    for ours, want in zip(folder, direct):
        assert ours["class_ids"] == want["class_ids"] and ours["scores"] == pytest.approx(want["scores"], abs=1e-6)
    assert max(direct[0]["scores"]) > 0.4  # spread-out scores: a different crop would show
