"""Load local weights into a model: safetensors (or a tensors-only torch file), classifier-aware.

Weights files are untrusted input. Nothing is ever fully unpickled: torch files load with
``weights_only=True`` (tensors and plain containers only) and ``.pdparams`` through a restricted
unpickler; a file whose content is not what its name says is named in a ``WeightsFileError``
that says what the file looks like instead. The file's content, not its suffix, picks the
reader: a safetensors file named ``.pth`` still loads.
"""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

__all__ = ["WeightsFileError", "resolve_weights_path", "sniff_file_kind", "load_tensors_file",
           "read_state_dict", "load_pretrained"]

log = logging.getLogger(__name__)
_SUFFIXES = (".safetensors", ".pth", ".pt", ".pdparams")


def resolve_weights_path(path: str | Path) -> Path:
    """Find a weights file given with or without its extension (PaddleClas style).

    Example: ``output/ResNet18/best_model`` finds ``output/ResNet18/best_model.safetensors``.
    """
    path = Path(path)
    if path.is_file():
        return path
    for suffix in _SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"weights not found: '{path}' (also tried {', '.join(_SUFFIXES[:3])})")


class WeightsFileError(ValueError):
    """A weights or training-state file that is unreadable, not what its name says, or unsafe."""


def sniff_file_kind(path: str | Path) -> str:
    """What a file's first bytes say it is: "safetensors", "torch zip", "pickle", "empty", "text"
    or "unknown".

    Example:
        >>> sniff_file_kind("output/ResNet18/best_model.safetensors")  # doctest: +SKIP
        'safetensors'
    """
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(256)
    size = path.stat().st_size
    if not head:
        return "empty"
    if len(head) > 8 and head[8:9] == b"{" and 2 <= int.from_bytes(head[:8], "little") <= size - 8:
        return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        return "torch zip"
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:
        return "pickle"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "unknown"
    return "text" if all(c.isprintable() or c.isspace() for c in text) else "unknown"


def _first_sentence(exc: BaseException) -> str:
    """The first sentence of an exception's message (torch appends paragraphs of advice)."""
    text = " ".join(str(exc).split()).split(". ")[0].rstrip(".") or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def load_tensors_file(path: str | Path) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU, with errors that name the file and never
    suggest loading it unsafely (torch's own message does).

    Raises:
        WeightsFileError: the file holds Python objects beyond tensors and plain containers
            ("refused to load", naming the object when torch says which), or is no torch file.

    Example:
        >>> state = load_tensors_file("output/ResNet18/latest.state.pt")  # doctest: +SKIP
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only load failed" not in str(exc).lower():
            raise _not_loadable(path, exc) from None
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if not found and sniff_file_kind(path) not in ("pickle", "torch zip"):
            raise _not_loadable(path, exc) from None  # bytes that are no pickle at all
        what = (f"it holds a Python object '{found.group(1)}', not only tensors" if found
                else "it is a pickle that a tensors-only reader cannot read")
        raise WeightsFileError(f"{path}: refused to load: {what}; unpickling it could run code, "
                               "so it is not loaded") from None
    except Exception as exc:
        raise _not_loadable(path, exc) from None


def _not_loadable(path: str | Path, exc: BaseException) -> WeightsFileError:
    kind = sniff_file_kind(path)
    if kind in ("empty", "text"):
        reason = f"the file is {kind}"
    elif kind == "torch zip":
        reason = f"the zip archive is truncated or damaged ({_first_sentence(exc)})"
    else:
        reason = _first_sentence(exc)
    return WeightsFileError(f"{path}: not a loadable weights file: {reason}")


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except Exception as exc:
        kind = sniff_file_kind(path)
        what = {"safetensors": "it is truncated or damaged", "unknown": ""}.get(kind, f"the file is {kind}")
        detail = _first_sentence(exc) + (f"; {what}" if what else "")
        raise WeightsFileError(f"{path}: not a valid safetensors file: {detail}") from None


def read_state_dict(path: str | Path, model: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Read tensors from safetensors, a torch file loaded with ``weights_only=True``, or a
    PaddleClas ``.pdparams`` (converted on the fly for ``model``, built by ``create_model``).

    Raises:
        FileNotFoundError: no file at ``path`` (with or without a weights suffix).
        WeightsFileError: the file is damaged, not what its name says, holds no mapping of
            tensors, or holds Python objects that could run code (never unpickled).
    """
    path = resolve_weights_path(path)
    if path.suffix == ".pdparams":
        name = getattr(model, "torchclas_name", None)
        if name is None:
            raise ValueError(f"{path}: a PaddleClas .pdparams needs the model name to convert "
                             "(torchclas convert FILE --model NAME)")
        from .paddle_weights import paddle_state_dict
        return paddle_state_dict(path, name, **getattr(model, "torchclas_kwargs", {}))
    if path.suffix == ".safetensors" or sniff_file_kind(path) == "safetensors":
        return _read_safetensors(path)
    state = load_tensors_file(path)
    state = state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        got = type(state).__name__ if not isinstance(state, dict) else "a mapping with non-tensor values"
        raise WeightsFileError(f"{path}: expected a mapping of tensors, got {got}")
    return state


def load_pretrained(model: nn.Module, path: str | Path, strict_shapes: bool = False) -> list[str]:
    """Load weights from ``path``; tensors whose shape differs (a new classifier) are skipped.

    Returns the skipped keys and logs them. Keys missing from the file or unknown to the model
    raise, since they mean the file belongs to another architecture.
    """
    state = read_state_dict(path, model)
    own = model.state_dict()
    unknown = sorted(set(state) - set(own))
    missing = sorted(set(own) - set(state))
    if unknown or missing:
        raise ValueError(f"{path}: weights do not fit {type(model).__name__}: "
                         f"{len(missing)} missing (e.g. {missing[:3]}), {len(unknown)} unexpected "
                         f"(e.g. {unknown[:3]})")
    skipped = [k for k, v in state.items() if v.shape != own[k].shape]
    if skipped and strict_shapes:
        raise ValueError(f"{path}: shapes differ for {skipped}")
    if skipped:
        shapes = ", ".join(f"{k} {tuple(state[k].shape)} in file, {tuple(own[k].shape)} in model" for k in skipped)
        log.warning("pretrained %s: %d tensor(s) of another shape not loaded, left at their random start "
                    "(a classifier for another class_num, as PaddleClas fine-tuning does): %s", path, len(skipped),
                    shapes)
    for key in skipped:
        state[key] = own[key]
    model.load_state_dict(state)
    return skipped
