"""The model table, looped over every name; local weights loading and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import torchclas.models
from torchclas.models import (MODEL_TABLE, create_model, list_models, load_pretrained, read_state_dict,
                              resolve_weights_path)
from torchclas.models.layers.heads import ExtraFCClassifier, add_extra_fc

FAMILIES = sorted({entry.family for entry in MODEL_TABLE.values()})
STATS = json.loads((Path(torchclas.models.__file__).parent / "zoo_stats.json").read_text())
REAL_RUN_MAX_PARAMS = 30e6  # bigger rows run on the meta device (shapes and autograd, no maths, no init)
SMALL_SIZE = 64


def test_table_names_are_unique_and_searchable():
    assert all(name == entry.name for name, entry in MODEL_TABLE.items())
    assert len(MODEL_TABLE) >= 270
    assert {"ResNet", "ResNet_vd", "MobileNetV3", "PP-LCNet", "RepVGG"} <= set(FAMILIES)
    assert list_models("resnet50_v?") == ["ResNet50_va", "ResNet50_vb", "ResNet50_vc", "ResNet50_vd"]
    assert list_models("PPLCNet_x0_*") == ["PPLCNet_x0_25", "PPLCNet_x0_35", "PPLCNet_x0_5", "PPLCNet_x0_75"]
    for entry in MODEL_TABLE.values():
        assert entry.backend.split(":")[0] in {"timm", "torchvision", "ours"}, entry.name
        assert len(entry.input_size) == 3 and entry.input_size[0] == 3, entry.name
        assert entry.top1 is None or 30 < entry.top1 < 95, entry.name


def _forward(model: nn.Module, name: str, sizes: list[int], device: torch.device) -> torch.Tensor:
    """Logits at the first size the model takes (fixed-size transformers need their own)."""
    for size in sizes:
        try:
            return model(torch.randn(1, 3, size, size, device=device))
        except Exception as exc:  # noqa: BLE001 - a size the architecture cannot take
            error = exc
    raise AssertionError(f"{name}: forward failed at sizes {sizes}: {error}")


def _run_forward_backward(name: str) -> None:
    entry = MODEL_TABLE[name]
    small = STATS[name]["params"] < REAL_RUN_MAX_PARAMS
    device = torch.device("cpu" if small else "meta")
    with device:
        model = create_model(name, class_num=5).eval()  # eval: BatchNorm takes a batch of 1
    out = _forward(model, name, sorted({min(SMALL_SIZE, entry.input_size[1]), entry.input_size[1]}), device)
    assert out.shape == (1, 5), name
    out.float().square().mean().backward()
    if small:
        assert torch.isfinite(out).all(), name
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert sum(g is not None for g in grads) >= 0.9 * len(grads), f"{name}: parameters without gradient"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_row_builds_and_runs_forward_and_backward(family):
    """Every row: build, forward and backward at 64 px (or the row's own size where it needs
    it), batch 1; rows over 30M parameters on the meta device."""
    torch.manual_seed(0)
    for name in sorted(n for n, e in MODEL_TABLE.items() if e.family == family):
        _run_forward_backward(name)


@pytest.mark.parametrize("name", ["ResNet18", "PPLCNet_x0_25", "MobileNetV3_small_x1_0"])
def test_timm_interface(name):
    model = create_model(name, class_num=5).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        features = model.forward_features(x)
        pre = model.forward_head(features, pre_logits=True)
    assert pre.shape == (1, model.get_classifier().in_features)
    assert model.feature_info and model.torchclas_name == name
    model.reset_classifier(3)
    with torch.no_grad():
        assert model(x).shape == (1, 3)


def test_extra_fc_head():
    torch.manual_seed(0)
    model = create_model("PPLCNet_x0_25", class_num=7, extra_fc=1280, extra_fc_act="hard_swish").eval()
    head = model.get_classifier()
    assert isinstance(head, ExtraFCClassifier) and head.fc_extra.out_features == 1280 and head.fc.out_features == 7
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    with pytest.raises(ValueError, match="extra_fc must be a positive width"):
        add_extra_fc(create_model("ResNet18", class_num=2), 0)


def test_return_stages_gives_multi_scale_features():
    backbone = create_model("ResNet50_vd", return_stages=[1, 2, 3]).eval()
    with torch.no_grad():
        maps = backbone(torch.randn(1, 3, 64, 64))
    assert [tuple(m.shape) for m in maps] == [(1, 512, 8, 8), (1, 1024, 4, 4), (1, 2048, 2, 2)]
    assert backbone.channels == [512, 1024, 2048] and backbone.reductions == [8, 16, 32]
    with pytest.raises(ValueError, match=r"return_stages \[4\]: ResNet has stages 0..3"):
        create_model("ResNet18", return_stages=[4])


def test_create_model_errors():
    with pytest.raises(ValueError, match=r"unknown model 'ResNet50vd' \(did you mean 'ResNet50_vd'\?\)"):
        create_model("ResNet50vd")
    with pytest.raises(ValueError, match="PaddleClas publishes no pretrained weights for 'WideResNet'"):
        create_model("WideResNet", class_num=2, pretrained=True)  # tests/test_pretrained.py: the downloads
    with pytest.raises(ValueError, match="model 'PPLCNet_x0_25': bad Arch argument"):
        create_model("PPLCNet_x0_25", class_num=2, no_such_option=1)


def test_builder_kwargs_reach_the_model():
    model = create_model("PPLCNet_x0_25", class_num=2, in_chans=1).eval()
    assert model(torch.randn(1, 1, 32, 32)).shape == (1, 2)


# ------------------------------------------------------------------ weights

def _save(model: nn.Module, path) -> None:
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))


def test_load_pretrained_same_arch_and_class_num(tmp_path):
    torch.manual_seed(1)
    source = create_model("PPLCNet_x0_25", class_num=5)
    _save(source, tmp_path / "w.safetensors")
    torch.manual_seed(2)
    target = create_model("PPLCNet_x0_25", class_num=5)
    assert load_pretrained(target, tmp_path / "w.safetensors") == []
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_load_pretrained_skips_a_differently_shaped_classifier(tmp_path, caplog):
    torch.manual_seed(1)
    source = create_model("PPLCNet_x0_25", class_num=5)
    _save(source, tmp_path / "w.safetensors")
    torch.manual_seed(2)
    target = create_model("PPLCNet_x0_25", class_num=3)
    head_before = target.classifier.weight.detach().clone()
    with caplog.at_level("WARNING"):
        skipped = load_pretrained(target, tmp_path / "w")  # extension found by resolve_weights_path
    assert sorted(skipped) == ["classifier.bias", "classifier.weight"]
    assert "classifier.weight" in caplog.text
    assert torch.equal(target.classifier.weight, head_before)
    for key, value in source.state_dict().items():
        if not key.startswith("classifier."):
            assert torch.equal(target.state_dict()[key], value), key
    with pytest.raises(ValueError, match="shapes differ for"):
        load_pretrained(create_model("PPLCNet_x0_25", class_num=3), tmp_path / "w", strict_shapes=True)


def test_create_model_with_pretrained_path(tmp_path):
    torch.manual_seed(1)
    source = create_model("PPLCNet_x0_25", class_num=5)
    _save(source, tmp_path / "best.safetensors")
    model = create_model("PPLCNet_x0_25", class_num=5, pretrained=str(tmp_path / "best"))
    assert torch.equal(model.conv_stem.weight, source.conv_stem.weight)


def test_load_pretrained_other_architecture_raises(tmp_path):
    _save(create_model("MobileNetV3_small_x1_0", class_num=2), tmp_path / "mnv3.safetensors")
    with pytest.raises(ValueError, match=r"mnv3\.safetensors: weights do not fit .*missing.*unexpected"):
        load_pretrained(create_model("PPLCNet_x0_25", class_num=2), tmp_path / "mnv3.safetensors")


def test_resolve_weights_path(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"")
    (tmp_path / "y.pth").write_bytes(b"")
    (tmp_path / "z").write_bytes(b"")
    assert resolve_weights_path(tmp_path / "x") == tmp_path / "x.safetensors"
    assert resolve_weights_path(str(tmp_path / "x.safetensors")) == tmp_path / "x.safetensors"
    assert resolve_weights_path(tmp_path / "y") == tmp_path / "y.pth"
    assert resolve_weights_path(tmp_path / "z") == tmp_path / "z"
    with pytest.raises(FileNotFoundError, match=r"weights not found: '.*missing' \(also tried \.safetensors"):
        resolve_weights_path(tmp_path / "missing")


def test_read_state_dict_rejects_garbage(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"this is not a safetensors file at all")
    with pytest.raises(ValueError, match=r"bad\.safetensors: not a valid safetensors file"):
        read_state_dict(tmp_path / "bad")
    (tmp_path / "bad.pt").write_bytes(b"\x00garbage\xff" * 10)
    with pytest.raises(ValueError, match=r"bad\.pt: not a loadable weights file"):
        read_state_dict(tmp_path / "bad.pt")
    (tmp_path / "m.pdparams").write_bytes(b"")
    with pytest.raises(ValueError, match="needs the model name to convert"):
        read_state_dict(tmp_path / "m")


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_read_state_dict_never_unpickles_objects(tmp_path, capsys):
    torch.save({"w": torch.ones(1), "evil": _Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"evil\.pt: refused to load: it holds a Python object 'print'"):
        read_state_dict(tmp_path / "evil.pt")
    assert "unpickled!" not in capsys.readouterr().out


def test_read_state_dict_loads_torch_saved_state(tmp_path):
    model = nn.Linear(3, 2)
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "wrapped.pth")
    for name in ("plain.pt", "wrapped"):
        state = read_state_dict(tmp_path / name)
        assert set(state) == {"weight", "bias"}
        assert torch.equal(state["weight"], model.weight) and torch.equal(state["bias"], model.bias)
    torch.save([torch.ones(1)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match=r"list\.pt: expected a mapping of tensors, got list"):
        read_state_dict(tmp_path / "list.pt")
