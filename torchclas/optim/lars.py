"""LARS: momentum SGD whose step size per tensor follows the tensor's weight/gradient norm ratio."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch

__all__ = ["LARS"]


class LARS(torch.optim.Optimizer):
    """Paddle's ``LarsMomentum`` (the ``lars_momentum`` kernel), one trust ratio per parameter tensor.

    For each tensor ``p`` with gradient ``g`` and decay ``wd`` (the group's ``weight_decay``)::

        local_lr = lr * lars_coeff * |p| / (|g| + wd * |p| + epsilon)   if wd > 0, |p| > 0, |g| > 0
                 = lr                                                    otherwise
        v = momentum * v + local_lr * (g + wd * p)
        p = p - v

    A group with ``weight_decay`` 0 (``exclude_from_weight_decay``, ``no_weight_decay_name``) is
    plain momentum SGD, as in Paddle.

    Args:
        params: parameters or param groups.
        lr: learning rate.
        momentum: momentum ``mu``.
        lars_coeff: trust coefficient.
        weight_decay: Paddle's ``lars_weight_decay``.
        epsilon: added to the denominator of the trust ratio.

    Example:
        >>> model = torch.nn.Linear(8, 2)
        >>> optimizer = LARS(model.parameters(), lr=0.1, momentum=0.9, lars_coeff=0.001, weight_decay=5e-4)
    """

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.9, lars_coeff: float = 0.001,
                 weight_decay: float = 0.0005, epsilon: float = 0.0) -> None:
        defaults = {"lr": lr, "momentum": momentum, "lars_coeff": lars_coeff,
                    "weight_decay": weight_decay, "epsilon": epsilon}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, group)
        return loss

    def _update(self, param: torch.Tensor, group: dict[str, Any]) -> None:
        grad, decay, lr = param.grad, group["weight_decay"], group["lr"]
        local_lr: float | torch.Tensor = lr
        if decay > 0:
            param_norm, grad_norm = torch.linalg.vector_norm(param), torch.linalg.vector_norm(grad)
            ratio = group["lars_coeff"] * param_norm / (grad_norm + decay * param_norm + group["epsilon"])
            local_lr = torch.where((param_norm > 0) & (grad_norm > 0), lr * ratio, lr)
        state = self.state[param]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(param)
        velocity = state["momentum_buffer"]
        velocity.mul_(group["momentum"]).add_((grad + decay * param) * local_lr)
        param.sub_(velocity)
