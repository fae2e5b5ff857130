"""Untrusted weights and state files: nothing is unpickled, and a file that is not what it claims is named."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from torchclas.engine.checkpoint import load_checkpoint, save_weights
from torchclas.models import WeightsFileError, create_model, load_pretrained, read_state_dict
from torchclas.models.io.paddle_weights import PaddleStateError, read_pdparams
from torchclas.models.io.weights import load_tensors_file, sniff_file_kind


class _RunsCode:
    """Unpickling this runs ``touch <marker>``: what a malicious weights file would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def _write_payload(path, marker, how: str) -> None:
    if how == "torch.save":
        torch.save({"fc.weight": torch.zeros(2, 3), "evil": _RunsCode(marker)}, path)
    else:  # a bare pickle (a pickled tensor would itself be refused first, as torch.storage)
        path.write_bytes(pickle.dumps({"evil": _RunsCode(marker)}, protocol=int(how.removeprefix("pickle-"))))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("how", ["torch.save", "pickle-2", "pickle-5"])
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".state.pt"])
def test_pickle_payload_is_refused_and_never_runs(tmp_path, suffix, how):
    marker, path = tmp_path / "MARKER", tmp_path / f"evil{suffix}"
    _write_payload(path, marker, how)
    with pytest.raises(WeightsFileError) as info:
        read_state_dict(path)
    message = str(info.value)
    assert message.startswith(f"{path}: refused to load: ") and "could run code" in message
    assert "weights_only" not in message  # torch's advice to load it unsafely is not passed on
    if how != "pickle-5":  # protocol 5 frames hide the global from torch's message
        assert "'posix.system'" in message or "'nt.system'" in message
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_load_pretrained_and_create_model_refuse_a_payload(tmp_path):
    marker, path = tmp_path / "MARKER", tmp_path / "evil.pth"
    _write_payload(path, marker, "torch.save")
    model = nn.Linear(3, 2)
    before = model.weight.detach().clone()
    with pytest.raises(WeightsFileError, match=r"evil\.pth: refused to load"):
        load_pretrained(model, path)
    with pytest.raises(WeightsFileError, match=r"evil\.pth: refused to load"):
        create_model("PPLCNet_x0_25", class_num=2, pretrained=tmp_path / "evil")
    assert torch.equal(model.weight, before) and not marker.exists()


def test_pdparams_payload_is_refused_naming_the_global(tmp_path):
    marker, path = tmp_path / "MARKER", tmp_path / "evil.pdparams"
    path.write_bytes(pickle.dumps({"conv1.weight": _RunsCode(marker)}, protocol=2))
    with pytest.raises(PaddleStateError) as info:
        read_pdparams(path)
    assert str(info.value).startswith(f"{path}: refused to unpickle '")
    assert "system'" in str(info.value) and "may run code" in str(info.value)
    with pytest.raises(PaddleStateError, match=r"evil\.pdparams: refused to unpickle"):
        create_model("PPLCNet_x0_25", class_num=2, pretrained=path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_checkpoint_state_file_with_a_payload_is_refused(tmp_path):
    marker = tmp_path / "MARKER"
    model = nn.Linear(3, 2)
    save_weights(model, tmp_path / "latest.safetensors")
    _write_payload(tmp_path / "latest.state.pt", marker, "torch.save")
    with pytest.raises(ValueError, match=r"latest\.state\.pt: not a valid training-state file: refused to load"):
        load_checkpoint(tmp_path / "latest", model)
    assert not marker.exists()


def test_text_file_named_safetensors_is_named(tmp_path):
    path = tmp_path / "best_model.safetensors"
    path.write_text("<html>403 Forbidden</html>\n")
    with pytest.raises(WeightsFileError) as info:
        read_state_dict(tmp_path / "best_model")
    assert str(info.value).startswith(f"{path}: not a valid safetensors file: ")
    assert str(info.value).endswith("; the file is text")
    with pytest.raises(WeightsFileError, match=r"best_model\.safetensors: not a valid safetensors file"):
        load_pretrained(nn.Linear(3, 2), path)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_safetensors_is_named(tmp_path, keep):
    whole = tmp_path / "whole.safetensors"
    save_file({"weight": torch.ones(64, 64), "bias": torch.ones(64)}, str(whole))
    data = whole.read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(WeightsFileError) as info:
        read_state_dict(path)
    assert str(info.value).startswith(f"{path}: not a valid safetensors file: ")
    assert str(info.value).endswith("; it is truncated or damaged")


def test_empty_text_and_truncated_torch_files_are_named(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "notes.pth").write_text("these are not weights\n")
    torch.save({"w": torch.ones(256)}, tmp_path / "whole.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:300])
    for name, reason in (("empty.pt", "the file is empty"), ("notes.pth", "the file is text"),
                         ("cut.pt", "the zip archive is truncated or damaged (")):
        with pytest.raises(WeightsFileError) as info:
            load_tensors_file(tmp_path / name)
        assert str(info.value).startswith(f"{tmp_path / name}: not a loadable weights file: {reason}")


def test_content_not_suffix_picks_the_reader(tmp_path):
    model = nn.Linear(3, 2)
    save_file(model.state_dict(), str(tmp_path / "renamed.pth"))
    state = read_state_dict(tmp_path / "renamed.pth")
    assert torch.equal(state["weight"], model.weight.detach())


def test_a_mapping_with_non_tensor_values_is_refused(tmp_path):
    torch.save({"weight": torch.ones(2), "note": "hello"}, tmp_path / "mixed.pt")
    with pytest.raises(WeightsFileError, match=r"mixed\.pt: expected a mapping of tensors, got a mapping "
                                               "with non-tensor values"):
        read_state_dict(tmp_path / "mixed.pt")


def test_sniff_file_kind(tmp_path):
    save_file({"w": torch.ones(2)}, str(tmp_path / "a"))
    torch.save({"w": torch.ones(2)}, tmp_path / "b")
    (tmp_path / "c").write_bytes(pickle.dumps([1, 2], protocol=2))
    (tmp_path / "d").write_bytes(b"")
    (tmp_path / "e").write_text("hello\n")
    (tmp_path / "f").write_bytes(bytes(range(256)))
    kinds = [sniff_file_kind(tmp_path / n) for n in "abcdef"]
    assert kinds == ["safetensors", "torch zip", "pickle", "empty", "text", "unknown"]


@pytest.mark.parametrize("content", [b"not an onnx model\n", bytes(range(256)) * 4, b""])
def test_a_file_named_onnx_that_is_not_one_is_named(tmp_path, content):
    from torchclas import Predictor

    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"model\.onnx: not a loadable ONNX model"):
        Predictor(str(path))

