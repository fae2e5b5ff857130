"""The model a deployment runs: built from the config, sized by the checkpoint, folded for inference.

Used by ``torchclas export`` and by the torch inference backend (weights plus config).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from ..config import Config
from . import create_model
from .io.pretrained import is_url, pretrained_path
from .io.weights import load_pretrained, read_state_dict
from .reparam import folds_itself, reparameterize_model

__all__ = ["checkpoint_class_num", "build_inference_model", "has_train_time_branches"]

log = logging.getLogger("torchclas")


def checkpoint_class_num(cfg: Config, weights: str | Path) -> int:
    """The number of classes of the classifier stored in ``weights``.

    The classifier's tensors are the ones whose shape changes with ``class_num``: found by
    building ``cfg.Arch`` at two class counts on the meta device (no memory, no compute).

    Args:
        cfg: a validated config; its ``Arch`` names the architecture.
        weights: a weights path with or without ``.safetensors``, or a URL (downloaded).

    Raises:
        ValueError when the file lacks the classifier or its classifier tensors disagree.

    Example:
        >>> checkpoint_class_num(cfg, "output/ResNet18/best_model")  # doctest: +SKIP
        10
    """
    with torch.device("meta"):
        one = create_model(cfg.Arch.name, 7, **cfg.Arch.builder_kwargs).state_dict()
        two = create_model(cfg.Arch.name, 11, **cfg.Arch.builder_kwargs).state_dict()
    head = [k for k in one if k in two and one[k].shape != two[k].shape]
    if not head:
        return cfg.class_num  # a model without a class-sized tensor: nothing to read
    weights = _local(cfg, weights)
    state = read_state_dict(weights, create_model(cfg.Arch.name, cfg.class_num, **cfg.Arch.builder_kwargs)
                            if Path(str(weights)).suffix == ".pdparams" else None)
    found = {}
    for key in head:
        if key not in state:
            raise ValueError(f"{weights}: no classifier tensor '{key}' for {cfg.Arch.name}")
        axis = next(i for i, (a, b) in enumerate(zip(one[key].shape, two[key].shape)) if a != b)
        found[key] = int(state[key].shape[axis]) * 7 // one[key].shape[axis]
    if len(set(found.values())) != 1:
        raise ValueError(f"{weights}: classifier tensors disagree on class_num: {found}")
    return next(iter(found.values()))


def _local(cfg: Config, weights: str | Path) -> str | Path:
    """``weights``, or for a URL its cached (converted) download."""
    return pretrained_path(cfg.Arch.name, str(weights), model_kwargs=cfg.Arch.builder_kwargs) if is_url(weights) \
        else weights


def build_inference_model(cfg: Config, weights: str | Path | None = None,
                          class_num: int | None = None) -> nn.Module:
    """Build ``cfg.Arch`` in eval mode with ``weights`` (default ``Global.pretrained_model``).

    ``class_num`` defaults to the checkpoint's (:func:`checkpoint_class_num`): a config that
    says otherwise gets a warning, not a silently re-initialised head. Every other tensor must
    fit exactly. Train-time branches (RepVGG, ACB, ...) are folded into single convs
    (:func:`~torchclas.models.reparam.reparameterize_model`): same logits, fewer ops.

    Args:
        cfg: a validated config.
        weights: a weights path with or without ``.safetensors``, or a URL (downloaded).
        class_num: the classifier size; None reads it from the checkpoint.

    Example:
        >>> model = build_inference_model(cfg, "output/ResNet18/best_model")  # doctest: +SKIP
    """
    weights = weights or cfg.Global.pretrained_model
    if not weights:
        raise ValueError("no weights to load: pass -o Global.pretrained_model=path/to/best_model")
    if class_num is None:
        class_num = checkpoint_class_num(cfg, weights)
        if class_num != cfg.class_num:
            log.warning("%s holds a %d-class classifier; the config says class_num=%d: using %d",
                        weights, class_num, cfg.class_num, class_num)
    model = create_model(cfg.Arch.name, class_num, **cfg.Arch.builder_kwargs)
    load_pretrained(model, _local(cfg, weights), strict_shapes=True)
    return reparameterize_model(model.eval())


def has_train_time_branches(model: nn.Module) -> bool:
    """Whether any sub-module of ``model`` has a fold hook, i.e. a re-parameterised form exists.

    Example:
        >>> has_train_time_branches(create_model("RepVGG_A0", 10))  # doctest: +SKIP
        True
    """
    return any(folds_itself(m) for m in model.modules())
