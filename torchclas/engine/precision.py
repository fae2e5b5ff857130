"""Mixed precision (PaddleClas ``AMP``): autocast dtype, loss scaling, and O2's low-precision copy.

``O1`` runs the model under ``torch.autocast``: matmuls and convolutions in the low dtype,
reductions and the loss in float32, weights kept in float32. ``O2`` additionally keeps a copy
of the model whose weights are stored in the low dtype (norm layers stay float32), so no
weight is cast per op; the optimizer still updates float32 master weights, which are copied
into the low-precision copy after every step (``LowPrecisionCopy``).
"""

from __future__ import annotations

import copy
from contextlib import AbstractContextManager

import torch
from torch import nn

from ..config.schema import AMPConfig

__all__ = ["amp_dtype", "autocast", "build_grad_scaler", "LowPrecisionCopy", "Float32Conv2d", "float32_ops",
           "keep_float32"]

_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def amp_dtype(amp: AMPConfig | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of an ``AMP`` section; None when AMP is off.

    ``dtype: auto`` picks bfloat16 on CPU (CPU autocast's native type) and float16 on CUDA.

    Example:
        >>> amp_dtype(AMPConfig(), torch.device("cpu"))
        torch.bfloat16
    """
    if amp is None or not amp.use_amp:
        return None
    if amp.dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.bfloat16
    return getattr(torch, amp.dtype)


def autocast(dtype: torch.dtype | None, device: torch.device) -> AbstractContextManager:
    """``torch.autocast`` for ``dtype`` on ``device``; a no-op context when ``dtype`` is None."""
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def float32_ops(amp: AMPConfig | None, device: torch.device) -> list[str]:
    """The Paddle op names ``AMP.custom_black_list`` keeps in float32; unset, ``depthwise_conv2d``
    for bfloat16 on CPU, where oneDNN's bfloat16 depthwise backward is 1.3-4x slower than float32's
    (PPLCNet_x1_0 trained 1.2-1.3x faster than in float32 with them kept, 0.9x without)."""
    dtype = amp_dtype(amp, device)
    if dtype is None:
        return []
    if amp.custom_black_list is not None:
        return list(amp.custom_black_list)
    return ["depthwise_conv2d"] if device.type == "cpu" and dtype is torch.bfloat16 else []


class Float32Conv2d(nn.Conv2d):
    """An ``nn.Conv2d`` that computes in float32 under autocast (same parameters and state dict)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            bias = None if self.bias is None else self.bias.float()
            return self._conv_forward(x.float(), self.weight.float(), bias)


def _op_name(layer: nn.Module) -> str | None:
    if type(layer) is not nn.Conv2d:  # subclasses (timm's Conv2dSame, ...) have forwards of their own
        return None
    return "depthwise_conv2d" if 1 < layer.groups == layer.in_channels else "conv2d"


def keep_float32(net: nn.Module, ops: list[str]) -> int:
    """Turn the layers of ``net`` that ``ops`` names (``depthwise_conv2d``: ``nn.Conv2d`` with one
    group per input channel; ``conv2d``: every other ``nn.Conv2d``) into `Float32Conv2d` in place;
    returns how many."""
    count = 0
    for layer in net.modules() if ops else ():
        if _op_name(layer) in ops:
            layer.__class__ = Float32Conv2d
            count += 1
    return count


def build_grad_scaler(amp: AMPConfig | None, dtype: torch.dtype | None,
                      device: torch.device) -> torch.amp.GradScaler | None:
    """A loss scaler for float16 (bfloat16 has float32's range and needs none).

    The scale starts at ``AMP.scale_loss``. With ``use_dynamic_loss_scaling`` it doubles after
    2000 clean steps; without, it never grows (it still halves on overflow, skipping that step,
    rather than writing inf into the weights).
    """
    if dtype is not torch.float16:
        return None
    growth = 2000 if amp.use_dynamic_loss_scaling else 2**31 - 1
    return torch.amp.GradScaler(device.type, init_scale=amp.scale_loss, growth_interval=growth)


class LowPrecisionCopy:
    """AMP ``O2``: a copy of ``master`` stored in ``dtype`` (norm layers float32) for forward/backward.

    The optimizer owns ``master``'s float32 parameters. After backward, ``grads_to_master``
    moves the copy's gradients onto them; after the optimizer step, ``weights_from_master``
    writes the new weights (and the copy's updated norm statistics go back to ``master``).

    Example:
        >>> o2 = LowPrecisionCopy(model, torch.bfloat16)  # doctest: +SKIP
        >>> loss = loss_fn(o2.module(x), y); loss.backward(); o2.grads_to_master()  # doctest: +SKIP
        >>> optimizer.step(); o2.weights_from_master()  # doctest: +SKIP
    """

    def __init__(self, master: nn.Module, dtype: torch.dtype):
        self.master, self.dtype = master, dtype
        self.module = copy.deepcopy(master)
        for layer in self.module.modules():
            if not isinstance(layer, _NORMS):
                for name, param in layer.named_parameters(recurse=False):
                    param.data = param.data.to(dtype)
        self._params = list(zip(self.module.parameters(), master.parameters()))
        self._buffers = list(zip(self.module.buffers(), master.buffers()))

    def grads_to_master(self) -> None:
        """Give each float32 master parameter the (float32) gradient of its low-precision twin."""
        for low, high in self._params:
            if low.grad is not None:
                high.grad = low.grad.to(torch.float32)
                low.grad = None

    @torch.no_grad()
    def weights_from_master(self) -> None:
        """Copy the updated master weights into the copy, and its running statistics back."""
        for low, high in self._params:
            low.copy_(high)
        for low, high in self._buffers:
            high.copy_(low)
