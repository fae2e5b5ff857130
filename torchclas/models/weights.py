"""Load local weights into a model: safetensors (or a tensors-only torch file), classifier-aware."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

__all__ = ["resolve_weights_path", "read_state_dict", "load_pretrained"]

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


def read_state_dict(path: str | Path, model: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Read tensors from safetensors, a torch file loaded with ``weights_only=True``, or a
    PaddleClas ``.pdparams`` (converted on the fly for ``model``, built by ``create_model``)."""
    path = resolve_weights_path(path)
    if path.suffix == ".pdparams":
        name = getattr(model, "torchclas_name", None)
        if name is None:
            raise ValueError(f"{path}: a PaddleClas .pdparams needs the model name to convert "
                             "(torchclas convert FILE --model NAME)")
        from .paddle_weights import paddle_state_dict
        return paddle_state_dict(path, name, **getattr(model, "torchclas_kwargs", {}))
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except Exception as exc:
            raise ValueError(f"{path}: not a valid safetensors file: {exc}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: not a loadable weights file: {exc}") from None
    state = state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a mapping of tensors, got {type(state).__name__}")
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
    for key in skipped:
        log.warning("pretrained %s: skipped %s (shape %s in file, %s in model)",
                    path, key, tuple(state[key].shape), tuple(own[key].shape))
        state[key] = own[key]
    model.load_state_dict(state)
    return skipped
