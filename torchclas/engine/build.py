"""Assemble a ``TrainState`` from a config: model, SyncBN, channels_last, optimizer, LR schedule,
AMP, DDP, ``torch.compile`` and EMA, in the order each of them needs. (The loop's settings are
``settings.build_settings``; the criterion is ``losses.build_loss``.)"""

from __future__ import annotations

import logging
import math
import torch
from torch import nn

from ..config.schema import Config
from ..models import create_model, param_lr_mults
from ..models.layout import MIN_CONVS, is_conv_net, onednn_nhwc_hazards
from ..optim import build_lr_scheduler, build_optimizer
from .distributed import DistInfo, wrap_ddp
from .ema import EmaWeights
from .state import TrainState
from .precision import LowPrecisionCopy, amp_dtype, build_grad_scaler, float32_ops, keep_float32

__all__ = ["build_train_state", "pretrained_args", "use_channels_last", "global_batch_size", "lr_scale_factor", "scaled_lr_config", "LR_KEYS"]

log = logging.getLogger("torchclas")

# Keys of ``Optimizer.lr`` that hold a learning rate (scaled by ``Global.auto_scale_lr``).
LR_KEYS = ("learning_rate", "warmup_start_lr", "eta_min", "end_lr", "values", "max_learning_rate",
           "end_learning_rate", "min_lr", "base_learning_rate")


def global_batch_size(cfg: Config, world_size: int) -> int:
    """Images per optimizer step over all processes: batch × processes × ``accum_steps`` (the
    batch of ``MultiScaleSampler`` is ``first_bs``, that of its first scale)."""
    sampler = cfg.DataLoader.Train.sampler
    batch = sampler.first_bs if sampler.name == "MultiScaleSampler" else sampler.batch_size
    return batch * world_size * cfg.Global.accum_steps


def lr_scale_factor(cfg: Config, world_size: int) -> float:
    """``Global.auto_scale_lr``'s linear-scaling factor, global batch / 256 (1.0 when off)."""
    return global_batch_size(cfg, world_size) / 256 if cfg.Global.auto_scale_lr else 1.0


def scaled_lr_config(cfg: Config, factor: float):
    """``Optimizer.lr`` with every learning-rate value multiplied by ``factor``."""
    lr = cfg.Optimizer.lr
    if factor == 1.0:
        return lr
    updates = {}
    for key in LR_KEYS:
        value = getattr(lr, key, None)
        if isinstance(value, list):
            updates[key] = [v * factor for v in value]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            updates[key] = value * factor
    return lr.model_copy(update=updates)


def _unfused_under_cpu_loss_scaling(cfg: Config, dtype: torch.dtype | None, device: torch.device):
    """``Optimizer`` with ``fused: false`` for Momentum under float16 loss scaling on CPU.

    torch 2.14.1's fused CPU SGD allocates its momentum buffer on the first step even when the
    loss scaler skips that step for an overflow, without filling it; the next step then adds
    whatever the memory held (seen: 7e4 and 2e34 in the weights; a CPU float16 run whose first
    step overflows diverges). Fused Adam/AdamW (zeroed state) and SGD without momentum skip
    cleanly, and so does the foreach kernel used instead.
    """
    optimizer = cfg.Optimizer
    if not (dtype is torch.float16 and device.type == "cpu" and optimizer.name == "Momentum"
            and optimizer.fused is not False):
        return optimizer
    (log.warning if optimizer.fused else log.info)(
        "Optimizer.fused: off for Momentum under float16 loss scaling on CPU (torch's fused CPU kernel corrupts "
        "its momentum after a skipped overflow step)")
    return optimizer.model_copy(update={"fused": False})


def build_train_state(cfg: Config, device: torch.device, info: DistInfo, batches_per_epoch: int) -> TrainState:
    """The state a run trains: model, optimizer, LR schedule, AMP, EMA for ``cfg`` on ``device``
    as process ``info``.

    Example:
        >>> state = build_train_state(cfg, torch.device("cpu"), DistInfo(), batches_per_epoch=6)  # doctest: +SKIP
    """
    net = _build_net(cfg, device, info)
    dtype = amp_dtype(cfg.AMP, device)
    lr_mults = param_lr_mults(cfg.Arch.name, net, cfg.Arch.lr_mult_list)
    if cfg.Arch.lr_mult_list is not None:
        log.info("Arch.lr_mult_list %s: %d parameter tensors train at a multiple of the LR (a 0 freezes them)",
                 cfg.Arch.lr_mult_list, len(lr_mults))
    optimizer = build_optimizer(_unfused_under_cpu_loss_scaling(cfg, dtype, device), net, lr_mults)
    steps_per_epoch = math.ceil(batches_per_epoch / cfg.Global.accum_steps)
    factor = lr_scale_factor(cfg, info.world_size)
    if factor != 1.0:
        log.info("auto_scale_lr: global batch %d, learning rates × %.4g",
                 global_batch_size(cfg, info.world_size), factor)
    scheduler = build_lr_scheduler(scaled_lr_config(cfg, factor), optimizer, cfg.Global.epochs, steps_per_epoch)
    kept_ops = float32_ops(cfg.AMP, device)
    kept = keep_float32(net, kept_ops)
    if kept:
        log.info("AMP: %d %s layer(s) kept in float32 (AMP.custom_black_list%s)", kept, "/".join(kept_ops),
                 "" if cfg.AMP.custom_black_list is not None else " unset: the CPU default")
    low = LowPrecisionCopy(net, dtype) if dtype is not None and cfg.AMP.level == "O2" else None
    model = wrap_ddp(low.module if low else net, device, info)
    if cfg.Global.compile or cfg.Global.to_static:
        backend = cfg.Global.compile if isinstance(cfg.Global.compile, str) else "inductor"
        model = torch.compile(model, backend=backend)
    ema = EmaWeights(net, cfg.EMA.decay, cfg.EMA.warmup) if cfg.EMA is not None else None
    return TrainState(net=net, model=model, optimizer=optimizer, scheduler=scheduler,
                      scaler=build_grad_scaler(cfg.AMP, dtype, device), low_precision=low, ema=ema)


def pretrained_args(cfg: Config) -> dict:
    """``create_model``'s weights arguments for training: ``Global.pretrained_model`` (weights to
    go on from) when set, loaded after and over ``Arch.pretrained`` in PaddleClas, so it replaces
    it here; else ``Arch.pretrained`` and ``Arch.use_ssld`` (the backbone's ImageNet start)."""
    if cfg.Global.pretrained_model:
        if cfg.Arch.pretrained:
            log.info("Arch.pretrained not loaded: Global.pretrained_model (%s) replaces it", cfg.Global.pretrained_model)
        return {"pretrained": cfg.Global.pretrained_model}
    return {"pretrained": cfg.Arch.pretrained, "use_ssld": cfg.Arch.use_ssld}


def _build_net(cfg: Config, device: torch.device, info: DistInfo) -> nn.Module:
    net = create_model(cfg.Arch.name, cfg.class_num, **pretrained_args(cfg), **cfg.Arch.builder_kwargs).to(device)
    if (cfg.Global.sync_bn or cfg.Arch.use_sync_bn) and info.enabled:
        if device.type == "cuda":
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        elif cfg.Global.sync_bn:
            raise ValueError("Global.sync_bn: torch's SyncBatchNorm runs on CUDA only; "
                             "set Global.sync_bn=False for CPU training")
        else:
            log.warning("Arch.use_sync_bn ignored: SyncBatchNorm runs on CUDA only (device %s)", device.type)
    channels_last = use_channels_last(cfg, net, device)
    if cfg.Global.channels_last == "auto":
        hazards = onednn_nhwc_hazards(net) if device.type == "cpu" else []
        log.info("channels_last %s (Global.channels_last: auto; %s)", "on" if channels_last else "off",
                 "a convolutional net" if channels_last else
                 f"oneDNN's NHWC backward of strided 1x1 convs on few channels corrupts memory: {hazards[0]}"
                 if hazards else f"fewer than {MIN_CONVS} Conv2d layers")
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


def use_channels_last(cfg: Config, net: nn.Module, device: torch.device | None = None) -> bool:
    """``Global.channels_last``, with ``auto`` decided by ``Arch.data_format: NHWC`` (on) or else
    by the model: on for a convolutional net; off on CPU for a net with a strided 1x1 conv that
    oneDNN's NHWC backward corrupts memory on (``models.layout.onednn_nhwc_hazards``)."""
    setting = cfg.Global.channels_last
    if setting != "auto":
        return bool(setting)
    if device is not None and device.type == "cpu" and onednn_nhwc_hazards(net):
        return False
    return cfg.Arch.data_format == "NHWC" or is_conv_net(net)
