"""Which parameters train, and in which param group: freezing, no-decay names, per-layer LR."""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Mapping

from torch import nn

from ..config.errors import closest
from ..config.schema import OptimizerConfig
from .layer_ids import adamwdl_layers, adamwdl_ratio

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


def _no_decay_rule(model: nn.Module, cfg: OptimizerConfig, weight_decay: float) -> Callable[[str, Any], bool]:
    """Which parameters get no weight decay: ``no_weight_decay_name`` words, LARS
    ``exclude_from_weight_decay``, 1-D ones with ``one_dim_param_no_weight_decay``, and with
    ``filter_bias_and_bn`` (AdamW/AdamWDL) 1-D ones, ``*.bias`` and ``model.no_weight_decay()``."""
    skip = (cfg.no_weight_decay_name or "").split() + list(cfg.param("exclude_from_weight_decay") or [])
    # PaddleClas's AdamWDL filters only when there is a decay to filter.
    filtered = bool(cfg.param("filter_bias_and_bn")) and weight_decay > 0
    exempt = set(model.no_weight_decay()) if filtered and hasattr(model, "no_weight_decay") else set()

    def no_decay(name: str, param: Any) -> bool:
        if cfg.one_dim_param_no_weight_decay and param.ndim <= 1 or any(word in name for word in skip):
            return True
        return filtered and (param.ndim <= 1 or name.endswith(".bias") or name in exempt)
    return no_decay


def _layer_rule(model: nn.Module, cfg: OptimizerConfig) -> Callable[[str], float]:
    """The LR ratio of each parameter name from ``layerwise_decay``: PaddleClas's AdamWDL name
    rule (``layer_ids``) for AdamWDL, timm's block order (``layer_depths``) otherwise."""
    rate = cfg.layerwise_decay
    if rate is None or (cfg.name == "AdamWDL" and rate >= 1.0):
        return lambda name: 1.0
    if cfg.name == "AdamWDL":
        layers = adamwdl_layers(model)
        return lambda name: adamwdl_ratio(name, rate, layers)
    depth, head = layer_depths(model)
    return lambda name: rate ** (head - depth.get(name, head))


def build_param_groups(model: nn.Module, cfg: OptimizerConfig, weight_decay: float,
                       lr_mults: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """Param groups of the trainable parameters, each with ``weight_decay`` and ``lr_scale``.

    No decay for names containing a word of ``no_weight_decay_name`` (PaddleClas: space-separated
    substrings) or of LARS ``exclude_from_weight_decay``, with ``one_dim_param_no_weight_decay``
    for every 1-D parameter (norm weights, biases), and with ``filter_bias_and_bn`` (AdamW,
    AdamWDL) for 1-D parameters, ``*.bias`` and the model's ``no_weight_decay()`` names.
    ``layerwise_decay: d`` scales the LR by ``d ** (head depth - depth)`` (see ``layer_depths``):
    the head trains at the schedule's LR, each block toward the stem ``d`` times slower; with
    AdamWDL by PaddleClas's rule (``layer_ids.adamwdl_ratio``), whose decoupled decay keeps the
    unscaled LR (the group's decay is divided by the ratio to undo torch's ``lr * weight_decay``).
    ``lr_mults`` (parameter name → multiplier, from ``Arch.lr_mult_list``) multiplies ``lr_scale``.

    Example:
        >>> import timm
        >>> model = timm.create_model("resnet18")
        >>> groups = build_param_groups(model, OptimizerConfig(layerwise_decay=0.65), weight_decay=0.05)
        >>> max(g["lr_scale"] for g in groups)
        1.0
    """
    no_decay, ratio = _no_decay_rule(model, cfg, weight_decay), _layer_rule(model, cfg)
    decoupled_base_lr = cfg.name == "AdamWDL"
    mults = lr_mults or {}
    groups: dict[tuple[float, float], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer = ratio(name)
        decay = 0.0 if no_decay(name, param) else weight_decay / (layer if decoupled_base_lr else 1.0)
        scale = layer * mults.get(name, 1.0)
        group = groups.setdefault((scale, decay), {"params": [], "weight_decay": decay, "lr_scale": scale})
        group["params"].append(param)
    if not groups:
        raise ValueError(f"Optimizer: every parameter of {type(model).__name__} is frozen; nothing to train")
    return list(groups.values())
