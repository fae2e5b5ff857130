"""Which parameters train, and in which param group: freezing, no-decay names, per-layer LR."""

from __future__ import annotations

import logging
import re
from typing import Any

from torch import nn

from ..config.errors import closest
from ..config.schema import OptimizerConfig

__all__ = ["build_param_groups", "freeze_parameters", "layer_depths"]

log = logging.getLogger(__name__)


def _timm_groups(model: nn.Module, coarse: bool) -> dict[str, int]:
    from timm.models import group_parameters

    return group_parameters(model, model.group_matcher(coarse=coarse), reverse=True)


def layer_depths(model: nn.Module) -> tuple[dict[str, int], int]:
    """Depth of each parameter name, from the stem (0) to the head (the returned maximum).

    Blocks of timm's ``group_matcher(coarse=False)`` when the model has one; otherwise its
    top-level children in registration order. Names missing from the map belong to the head.

    Example:
        >>> import timm
        >>> depth, head = layer_depths(timm.create_model("resnet18"))
        >>> depth["conv1.weight"], depth["layer4.1.conv1.weight"], head
        (0, 8, 9)
    """
    if hasattr(model, "group_matcher"):
        depth = _timm_groups(model, coarse=False)
    else:
        depth = {f"{child}.{name}": index for index, (child, module) in enumerate(model.named_children())
                 for name, _ in module.named_parameters()}
    return depth, max(depth.values(), default=0)


def _stage_names(model: nn.Module, stages: int) -> set[str]:
    """Names of the stem's and the first ``stages`` stages' parameters (timm ``group_matcher``)."""
    if not hasattr(model, "group_matcher"):
        raise ValueError(f"Optimizer.freeze_stages: {type(model).__name__} has no group_matcher() that "
                         "names its stages; list the parameters in Optimizer.freeze_params instead")
    ids = _timm_groups(model, coarse=True)
    available = max(ids.values()) - 1  # 0 is the stem, the last group the head
    if stages > available:
        raise ValueError(f"Optimizer.freeze_stages: {stages}, but {type(model).__name__} has "
                         f"{available} stages (0 freezes the stem only)")
    return {name for name, index in ids.items() if index <= stages}


def freeze_parameters(model: nn.Module, cfg: OptimizerConfig) -> list[str]:
    """Stop training the parameters that ``freeze_params`` and ``freeze_stages`` name.

    ``freeze_params`` are regular expressions matched at the start of each parameter name
    (``layer1`` freezes ``layer1.0.conv1.weight`` ...); each must match something.
    ``freeze_stages: N`` freezes the stem and the first N stages (timm ResNet: conv1/bn1 and
    layer1..layerN). Frozen parameters get ``requires_grad=False``; BatchNorm running
    statistics still update in train mode. Returns the frozen names.

    Example:
        >>> import timm
        >>> model = timm.create_model("resnet18")
        >>> freeze_parameters(model, OptimizerConfig(freeze_stages=2))[:2]
        ['conv1.weight', 'bn1.weight']
    """
    names = [name for name, _ in model.named_parameters()]
    patterns = [re.compile(pattern) for pattern in cfg.freeze_params or []]
    for pattern in patterns:
        if not any(pattern.match(name) for name in names):
            tops = sorted({name.split(".")[0] for name in names})
            raise ValueError(f"Optimizer.freeze_params: {pattern.pattern!r} matches no parameter of "
                             f"{type(model).__name__}{closest(pattern.pattern, tops)}; names start with: "
                             f"{', '.join(tops)}")
    staged = _stage_names(model, cfg.freeze_stages) if cfg.freeze_stages is not None else set()
    frozen = []
    for name, param in model.named_parameters():
        if name in staged or any(pattern.match(name) for pattern in patterns):
            param.requires_grad_(False)
            frozen.append(name)
    if frozen:
        log.info("froze %d of %d parameter tensors (%s ... %s)", len(frozen), len(names),
                 frozen[0], frozen[-1])
    return frozen


def build_param_groups(model: nn.Module, cfg: OptimizerConfig, weight_decay: float) -> list[dict[str, Any]]:
    """Param groups of the trainable parameters, each with ``weight_decay`` and ``lr_scale``.

    No decay for names containing a word of ``no_weight_decay_name`` (PaddleClas: space-separated
    substrings) or of LARS ``exclude_from_weight_decay``, and, with
    ``one_dim_param_no_weight_decay``, for every 1-D parameter (norm weights, biases).
    ``layerwise_decay: d`` scales the LR by ``d ** (head depth - depth)`` (see ``layer_depths``):
    the head trains at the schedule's LR, each block toward the stem ``d`` times slower.

    Example:
        >>> import timm
        >>> model = timm.create_model("resnet18")
        >>> groups = build_param_groups(model, OptimizerConfig(layerwise_decay=0.65), weight_decay=0.05)
        >>> max(g["lr_scale"] for g in groups)
        1.0
    """
    skip = (cfg.no_weight_decay_name or "").split() + list(cfg.param("exclude_from_weight_decay") or [])
    decay_rate = cfg.layerwise_decay
    depth, head = layer_depths(model) if decay_rate is not None else ({}, 0)
    groups: dict[tuple[float, bool], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        one_dim = cfg.one_dim_param_no_weight_decay and param.ndim <= 1
        no_decay = one_dim or any(word in name for word in skip)
        scale = decay_rate ** (head - depth.get(name, head)) if decay_rate is not None else 1.0
        group = groups.setdefault((scale, no_decay), {
            "params": [], "weight_decay": 0.0 if no_decay else weight_decay, "lr_scale": scale})
        group["params"].append(param)
    if not groups:
        raise ValueError(f"Optimizer: every parameter of {type(model).__name__} is frozen; nothing to train")
    return list(groups.values())
