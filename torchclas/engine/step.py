"""The optimizer step of an accumulation group: AMP unscaling, gradient clipping, the optimizer,
the LR schedule and the EMA of the weights."""

from __future__ import annotations

from dataclasses import dataclass

from ..optim import clip_grad_by_norm, optimizer_params
from .state import TrainState

__all__ = ["optimizer_step", "group_size", "StepReport"]


@dataclass(frozen=True)
class StepReport:
    """What an optimizer step did besides stepping: ``overflow`` 1 when the AMP loss scaler
    skipped it, ``clipped`` the gradient tensors ``clip_norm`` scaled down, ``largest_norm``
    the largest gradient norm before clipping (0 without clipping)."""

    overflow: int = 0
    clipped: int = 0
    largest_norm: float = 0.0


def optimizer_step(state: TrainState, clip_norm: float | None = None) -> StepReport:
    """Step the optimizer, LR and EMA. With ``clip_norm`` (``Optimizer.clip_norm``) each
    gradient tensor is first clipped to that L2 norm, after AMP has unscaled the gradients.

    Example:
        >>> report = optimizer_step(state, clip_norm=10.0)  # after backward() left the gradients  # doctest: +SKIP
    """
    overflow, clipped, largest = 0, 0, 0.0
    if state.low_precision is not None:
        state.low_precision.grads_to_master()
    if clip_norm is not None:
        if state.scaler is not None:
            state.scaler.unscale_(state.optimizer)  # clip the true gradients; step() won't unscale twice
        clipped, largest = clip_grad_by_norm(optimizer_params(state.optimizer), clip_norm)
    if state.scaler is not None:
        scale = state.scaler.get_scale()
        state.scaler.step(state.optimizer)
        state.scaler.update()
        overflow = int(state.scaler.get_scale() < scale)
    else:
        state.optimizer.step()
    state.optimizer.zero_grad(set_to_none=True)
    if state.low_precision is not None:
        state.low_precision.weights_from_master()
    state.scheduler.step()
    if state.ema is not None:  # the scheduler counts optimizer steps, and resumes with them
        state.ema.update(state.net, state.scheduler.last_step)
    return StepReport(overflow=overflow, clipped=clipped, largest_norm=largest)


def group_size(index: int, batches: int, accum: int) -> int:
    """How many batches the accumulation group of batch ``index`` holds (the last may be short).

    Example:
        >>> [group_size(i, 5, 2) for i in range(5)]
        [2, 2, 2, 2, 1]
    """
    return min(accum, batches - (index // accum) * accum)
