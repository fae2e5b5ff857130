"""The exponential moving average of the weights (``EMA``) and its decay schedule."""

from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["EmaWeights", "ema_decay"]


def ema_decay(decay: float, step: int, warmup: bool) -> float:
    """The EMA decay after optimizer step ``step`` (1-based): ``decay``, or with ``warmup``
    ``min(decay, (1 + step) / (10 + step))``.

    Example:
        >>> ema_decay(0.9999, 1, warmup=True), ema_decay(0.5, 1, warmup=False)
        (0.18181818181818182, 0.5)
    """
    return min(decay, (1 + step) / (10 + step)) if warmup else decay


class EmaWeights:
    """An averaged copy of ``net`` (timm's ``ModelEmaV3``), updated after every optimizer step.

    Its ``state_dict`` is ``ModelEmaV3``'s, so checkpoints keep their ``modules["ema"]`` format.

    Args:
        net: the model to average.
        decay: ``EMA.decay``.
        warmup: ``EMA.warmup``: a smaller decay over the first steps (`ema_decay`).
    """

    def __init__(self, net: nn.Module, decay: float = 0.9999, warmup: bool = True):
        from timm.utils import ModelEmaV3

        self.average = ModelEmaV3(net, decay=decay)
        self.decay, self.warmup = decay, warmup

    @property
    def module(self) -> nn.Module:
        """The averaged model."""
        return self.average.module

    def update(self, net: nn.Module, step: int) -> None:
        """Fold ``net``'s weights in after optimizer step ``step`` (1-based)."""
        self.average.decay = ema_decay(self.decay, step, self.warmup)
        self.average.update(net)

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights (keys ``module.<name>``)."""
        return self.average.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s weights."""
        self.average.load_state_dict(state)
