"""Gradient clipping as PaddleClas's ``Optimizer.clip_norm`` does it (Paddle's ``ClipGradByNorm``)."""

from __future__ import annotations

from typing import Any, Iterable

import torch

__all__ = ["clip_grad_by_norm", "optimizer_params"]


def optimizer_params(optimizer: Any) -> list[torch.Tensor]:
    """Every parameter of ``optimizer``'s param groups (torch, LARS or Lookahead)."""
    return [p for group in optimizer.param_groups for p in group["params"]]


@torch.no_grad()
def clip_grad_by_norm(params: Iterable[torch.Tensor], clip_norm: float) -> tuple[int, float]:
    """Scale each gradient whose L2 norm exceeds ``clip_norm`` down to norm ``clip_norm``, in place.

    Per tensor, not over all of them: ``g ← g · clip_norm / max(‖g‖, clip_norm)``, as Paddle's
    ``ClipGradByNorm`` (what PaddleClas builds from ``clip_norm``). Returns how many tensors it
    clipped and the largest gradient norm it saw (one device sync).

    Example:
        >>> w = torch.zeros(2, requires_grad=True); w.grad = torch.tensor([3.0, 4.0])
        >>> b = torch.zeros(1, requires_grad=True); b.grad = torch.tensor([0.5])
        >>> clip_grad_by_norm([w, b], 1.0)
        (1, 5.0)
        >>> [round(v, 6) for v in w.grad.tolist() + b.grad.tolist()]
        [0.6, 0.8, 0.5]
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0, 0.0
    norms = torch.stack([torch.linalg.vector_norm(g.float()).to(grads[0].device) for g in grads])
    factors = clip_norm / torch.clamp(norms, min=clip_norm)
    for grad, factor in zip(grads, factors):
        grad.mul_(factor.to(grad.dtype))
    clipped, largest = (norms > clip_norm).sum(), norms.max()
    return int(clipped), float(largest)
