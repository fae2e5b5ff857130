"""The optimizer step of an accumulation group: AMP unscaling, the optimizer, the LR schedule
and the EMA of the weights."""

from __future__ import annotations

from .state import TrainState

__all__ = ["optimizer_step", "group_size"]


def optimizer_step(state: TrainState) -> int:
    """Step the optimizer, LR and EMA; returns 1 when the AMP loss scaler skipped an overflow.

    Example:
        >>> overflow = optimizer_step(state)  # after backward() has left the gradients  # doctest: +SKIP
    """
    overflow = 0
    if state.low_precision is not None:
        state.low_precision.grads_to_master()
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
    return overflow


def group_size(index: int, batches: int, accum: int) -> int:
    """How many batches the accumulation group of batch ``index`` holds (the last may be short).

    Example:
        >>> [group_size(i, 5, 2) for i in range(5)]
        [2, 2, 2, 2, 1]
    """
    return min(accum, batches - (index // accum) * accum)
