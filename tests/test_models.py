"""The model table, looped over every name; local weights loading and its errors."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from torchclas.models import (MODEL_TABLE, create_model, list_models, load_pretrained, read_state_dict,
                              resolve_weights_path)

FAMILIES = sorted({entry.family for entry in MODEL_TABLE.values()})

# Parameter counts at class_num=1000 from the PaddleClas model-zoo tables (millions).
PADDLECLAS_PARAMS_M = {"PPLCNet_x0_25": 1.52, "PPLCNet_x0_5": 1.88, "PPLCNet_x1_0": 2.96,
                       "PPLCNet_x2_5": 9.04, "ResNet50": 25.56, "ResNet50_vd": 25.58}


def _params_at_1000_classes(model: nn.Module, class_num: int) -> float:
    head = model.get_classifier()
    return (sum(p.numel() for p in model.parameters())
            + (1000 - class_num) * (head.in_features + 1)) / 1e6


def test_table_families_cover_every_name():
    assert FAMILIES == ["MobileNetV3", "PP-LCNet", "ResNet", "ResNet_vd"]
    assert len(MODEL_TABLE) == 20
    assert all(name == entry.name for name, entry in MODEL_TABLE.items())
    assert list_models("resnet50*") == ["ResNet50", "ResNet50_vd"]
    assert list_models("PPLCNet_x0_*") == ["PPLCNet_x0_25", "PPLCNet_x0_35", "PPLCNet_x0_5", "PPLCNet_x0_75"]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_model_builds_and_runs(family):
    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    for name in (n for n, e in MODEL_TABLE.items() if e.family == family):
        model = create_model(name, class_num=5).eval()
        assert model.torchclas_name == name
        with torch.no_grad():
            out = model(x)
            features = model.forward_features(x)
            pre = model.forward_head(features, pre_logits=True)
        assert out.shape == (1, 5), name
        assert torch.isfinite(out).all(), name
        assert pre.shape == (1, model.get_classifier().in_features), name
        assert model.feature_info, name
        if name in PADDLECLAS_PARAMS_M:
            assert _params_at_1000_classes(model, 5) == pytest.approx(PADDLECLAS_PARAMS_M[name], rel=0.01), name
        model.reset_classifier(3)
        with torch.no_grad():
            assert model(x).shape == (1, 3), name


def test_vd_variants_have_deep_stem_and_avgpool_shortcut():
    plain, vd = create_model("ResNet18", class_num=2), create_model("ResNet18_vd", class_num=2)
    assert isinstance(plain.conv1, nn.Conv2d) and plain.conv1.kernel_size == (7, 7)
    assert isinstance(vd.conv1, nn.Sequential)
    assert [m.kernel_size for m in vd.conv1 if isinstance(m, nn.Conv2d)] == [(3, 3)] * 3
    assert isinstance(vd.layer2[0].downsample[0], nn.AvgPool2d)


def test_pplcnet_width_grows_with_multiplier():
    names = [n for n, e in MODEL_TABLE.items() if e.family == "PP-LCNet"]
    counts = [sum(p.numel() for p in create_model(n, class_num=5).parameters()) for n in names]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)


@pytest.mark.parametrize("name", ["PPLCNet_x0_25", "ResNet18", "MobileNetV3_small_x1_0"])
def test_backward_reaches_every_parameter(name):
    torch.manual_seed(0)
    model = create_model(name, class_num=4).train()
    out = model(torch.randn(2, 3, 32, 32))
    nn.functional.cross_entropy(out, torch.tensor([0, 3])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.get_classifier().weight.grad.abs().sum() > 0


def test_create_model_errors():
    with pytest.raises(ValueError, match=r"unknown model 'ResNet50vd' \(did you mean 'ResNet50_vd'\?\)"):
        create_model("ResNet50vd")
    with pytest.raises(ValueError, match="pretrained=True would download weights; pass a local file path"):
        create_model("PPLCNet_x0_25", class_num=2, pretrained=True)
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
    with pytest.raises(ValueError, match="must be converted first"):
        read_state_dict(tmp_path / "m")


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_read_state_dict_never_unpickles_objects(tmp_path, capsys):
    torch.save({"w": torch.ones(1), "evil": _Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"evil\.pt: not a loadable weights file"):
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
