"""Lookahead around any optimizer: slow weights that follow the fast ones every ``k`` steps."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch

__all__ = ["Lookahead"]


class Lookahead:
    """Lookahead (Zhang et al. 2019) wrapping ``optimizer``.

    The slow weights start as the parameters' values at the first step (so weights loaded
    after building still count). After every ``k``-th step of the inner optimizer: ``slow += alpha * (fast - slow)`` and the parameters are
    reset to ``slow``. It answers the optimizer interface the trainer, the LR scheduler and
    checkpoints use: ``param_groups``, ``state``, ``zero_grad``, ``step``, ``state_dict`` and
    ``load_state_dict``.

    Args:
        optimizer: the inner ("fast") optimizer.
        k: steps between synchronisations.
        alpha: how far the slow weights move toward the fast ones, in (0, 1].

    Example:
        >>> model = torch.nn.Linear(8, 2)
        >>> optimizer = Lookahead(torch.optim.AdamW(model.parameters()), k=5, alpha=0.5)
    """

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        if k < 1 or not 0 < alpha <= 1:
            raise ValueError(f"Lookahead needs k >= 1 and 0 < alpha <= 1, got k={k}, alpha={alpha}")
        self.optimizer, self.k, self.alpha = optimizer, k, alpha
        self.steps = 0
        self.slow: list[list[torch.Tensor]] | None = None

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The inner optimizer's param groups (the LR scheduler writes ``lr`` there)."""
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:
        """The inner optimizer's per-parameter state."""
        return self.optimizer.state

    @property
    def defaults(self) -> dict[str, Any]:
        """The inner optimizer's defaults."""
        return self.optimizer.defaults

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients, as the inner optimizer does."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """One inner step; every ``k``-th also pulls the slow weights and resets the fast ones."""
        if self.slow is None:
            self.slow = [[p.detach().clone() for p in group["params"]] for group in self.param_groups]
        loss = self.optimizer.step(closure)
        self.steps += 1
        if self.steps % self.k == 0:
            self._synchronise()
        return loss

    @torch.no_grad()
    def _synchronise(self) -> None:
        for group, slow_weights in zip(self.param_groups, self.slow or []):
            for fast, slow in zip(group["params"], slow_weights):
                slow.add_(fast - slow, alpha=self.alpha)
                fast.copy_(slow)

    def state_dict(self) -> dict[str, Any]:
        """The inner optimizer's state, the slow weights and the step count."""
        return {"optimizer": self.optimizer.state_dict(), "slow": self.slow, "steps": self.steps,
                "k": self.k, "alpha": self.alpha}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``; ``k`` and ``alpha`` stay those of the config."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.slow = None if state["slow"] is None else [
            [value.to(device=p.device, dtype=p.dtype).clone() for p, value in zip(group["params"], saved)]
            for group, saved in zip(self.param_groups, state["slow"])]
        self.steps = int(state["steps"])

    def __repr__(self) -> str:
        return f"Lookahead(k={self.k}, alpha={self.alpha}, {self.optimizer!r})"
