"""Models: the PaddleClas-name table and ``create_model``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ..config.errors import closest
from .weights import load_pretrained, read_state_dict, resolve_weights_path
from .zoo import MODEL_TABLE, ModelEntry

__all__ = ["MODEL_TABLE", "ModelEntry", "create_model", "list_models", "load_pretrained",
           "read_state_dict", "resolve_weights_path"]


def list_models(pattern: str = "*") -> list[str]:
    """Names in the table matching a shell-style ``pattern`` (case-insensitive)."""
    import fnmatch

    return sorted(n for n in MODEL_TABLE if fnmatch.fnmatch(n.lower(), pattern.lower()))


def create_model(name: str, class_num: int = 1000, pretrained: bool | str | Path = False,
                 **kwargs: Any) -> nn.Module:
    """Build a model by its PaddleClas name, like timm's ``create_model``.

    Args:
        name: a name of ``MODEL_TABLE`` such as ``"ResNet50_vd"`` or ``"PPLCNet_x1_0"``.
        class_num: size of the classifier.
        pretrained: a local weights path (with or without extension); ``True`` needs a
            download, which torchclas never does, so it is refused with a clear error.
        **kwargs: passed to the builder (e.g. ``in_chans``, ``drop_rate``).

    Example:
        >>> model = create_model("ResNet18", class_num=10)
    """
    if name not in MODEL_TABLE:
        raise ValueError(f"unknown model '{name}'{closest(name, MODEL_TABLE)}; "
                         f"see `torchclas models` for the {len(MODEL_TABLE)} names")
    if pretrained is True:
        raise ValueError(f"model '{name}': pretrained=True would download weights; "
                         "pass a local file path instead")
    try:
        model = MODEL_TABLE[name].build(num_classes=class_num, **kwargs)
    except TypeError as exc:
        raise ValueError(f"model '{name}': bad Arch argument: {exc}") from None
    model.torchclas_name = name
    if pretrained:
        load_pretrained(model, pretrained)
    return model
