"""The optimizers of PaddleClas by name, built on torch.optim (LARS and Lookahead are ours)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import nn

from ..config.registry import Registry
from ..config.schema import OptimizerConfig
from .lars import LARS
from .lookahead import Lookahead
from .param_groups import build_param_groups, freeze_parameters
from .schedules import decay_start_lr

__all__ = ["OPTIMIZERS", "build_optimizer"]

Groups = list[dict[str, Any]]


def _fused(cfg: OptimizerConfig, groups: Groups) -> dict[str, bool]:
    """``fused=True`` where the config asks for it or leaves it to us and every parameter sits on
    a device torch's fused kernels run on; ``foreach`` (torch's default) otherwise."""
    devices = {p.device.type for group in groups for p in group["params"]}
    fused = cfg.fused is not False and bool(devices) and devices <= {"cpu", "cuda"}
    if cfg.fused and not fused:
        raise ValueError(f"Optimizer.fused: no fused {cfg.name} for parameters on {', '.join(sorted(devices))}")
    return {"fused": True} if fused else {}


def _sgd(groups: Groups, cfg: OptimizerConfig, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=lr, **_fused(cfg, groups))


def _momentum(groups: Groups, cfg: OptimizerConfig, lr: float) -> torch.optim.Optimizer:
    momentum = cfg.param("momentum")
    nesterov = cfg.param("use_nesterov") and momentum > 0
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov, **_fused(cfg, groups))


def _adam(groups: Groups, cfg: OptimizerConfig, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(groups, lr=lr, betas=(cfg.param("beta1"), cfg.param("beta2")),
                            eps=cfg.param("epsilon"), **_fused(cfg, groups))


def _adamw(groups: Groups, cfg: OptimizerConfig, lr: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=lr, betas=(cfg.param("beta1"), cfg.param("beta2")),
                             eps=cfg.param("epsilon"), **_fused(cfg, groups))


def _rmsprop(groups: Groups, cfg: OptimizerConfig, lr: float) -> torch.optim.Optimizer:
    # Paddle's rho is the decay of the mean square, torch's alpha. Paddle adds epsilon inside the
    # square root, torch outside: the same update up to that epsilon.
    return torch.optim.RMSprop(groups, lr=lr, alpha=cfg.param("rho"), eps=cfg.param("epsilon"),
                               momentum=cfg.param("momentum"), centered=cfg.param("centered"))


def _lars(groups: Groups, cfg: OptimizerConfig, lr: float) -> torch.optim.Optimizer:
    return LARS(groups, lr=lr, momentum=cfg.param("momentum"), lars_coeff=cfg.param("lars_coeff"),
                epsilon=cfg.param("epsilon"))


OPTIMIZERS: Registry[Callable[[Groups, OptimizerConfig, float], torch.optim.Optimizer]] = Registry("optimizer", {
    "Momentum": _momentum, "SGD": _sgd, "Adam": _adam, "AdamW": _adamw, "AdamWDL": _adamw, "RMSProp": _rmsprop,
    "LARS": _lars, "LarsMomentum": _lars,
})
"""Optimizer builders by ``Optimizer.name``: ``(param groups, config, lr) -> optimizer``."""


def _weight_decay(cfg: OptimizerConfig) -> float:
    """The decay of the decayed group: LARS's own, else the L2 regularizer, else ``weight_decay``."""
    if cfg.name in ("LARS", "LarsMomentum"):
        return cfg.param("lars_weight_decay")
    if cfg.regularizer is not None:
        return cfg.regularizer.coeff
    return cfg.param("weight_decay")


def build_optimizer(cfg: OptimizerConfig, model: nn.Module,
                    lr_mults: Mapping[str, float] | None = None) -> torch.optim.Optimizer | Lookahead:
    """The optimizer of the ``Optimizer`` section for ``model``'s trainable parameters.

    Freezes what ``freeze_params``/``freeze_stages`` name first, then builds param groups
    (no-decay names, 1-D params, ``filter_bias_and_bn``, ``layerwise_decay``, the per-parameter
    LR multipliers ``lr_mults`` of ``Arch.lr_mult_list``) and the optimizer named by ``name``
    (AdamWDL is torch's AdamW over PaddleClas's layer-wise groups); ``lookahead: {k, alpha}`` wraps it. Decay: ``regularizer: {name: L2, coeff}`` (or
    ``weight_decay``) is coupled L2 for SGD/Momentum/Adam/RMSProp, as in Paddle; AdamW's
    ``weight_decay`` is decoupled; LARS uses ``lars_weight_decay``.

    Example:
        >>> model = torch.nn.Linear(8, 2)
        >>> optimizer = build_optimizer(OptimizerConfig(name="AdamW", weight_decay=0.05), model)
    """
    freeze_parameters(model, cfg)
    groups = build_param_groups(model, cfg, _weight_decay(cfg), lr_mults)
    base_lr = decay_start_lr(cfg.lr)
    for group in groups:
        group["lr"] = base_lr * group["lr_scale"]
    optimizer = OPTIMIZERS[cfg.name](groups, cfg, base_lr)
    if cfg.lookahead is not None:
        return Lookahead(optimizer, k=cfg.lookahead.k, alpha=cfg.lookahead.alpha)
    return optimizer
