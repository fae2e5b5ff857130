"""Top-k accuracy (PaddleClas ``TopkAcc``) for single-label classification."""

from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["TopkAcc", "GoogLeNetTopkAcc", "topk_correct", "main_logits"]


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...]) -> dict[int, int]:
    """Count samples whose label is among the top-k logits, for each k (clipped to the class count).

    Example:
        >>> topk_correct(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]), (1, 2))
        {1: 1, 2: 2}
    """
    kmax = min(max(ks), logits.shape[-1])
    top = logits.topk(kmax, dim=-1).indices
    hits = top == labels.view(-1, 1)
    return {k: int(hits[:, : min(k, kmax)].any(dim=-1).sum()) for k in ks}


def main_logits(outputs: Any, metric: str) -> torch.Tensor:
    """The logits a metric reads: ``outputs`` itself, or a dict's ``"logits"`` entry (the main head);
    a dict without one is a ``TypeError`` naming ``metric`` and the keys.

    Example:
        >>> main_logits({"logits": torch.zeros(2, 3), "aux1": torch.ones(2, 3)}, "TopkAcc").shape
        torch.Size([2, 3])
    """
    if not isinstance(outputs, dict):
        return outputs
    if "logits" not in outputs:
        raise TypeError(f"{metric} takes a tensor of logits; the model returned a dict with keys "
                        f"{sorted(outputs)} (name a metric for that model's outputs)")
    return outputs["logits"]


class TopkAcc:
    """Accumulates top-k accuracy over batches; ``compute()`` gives ``{"top1": .., "top5": ..}``.

    At the training step it takes ``update(outputs, batch)`` (``batch.labels``); the direct form
    ``update(logits, labels)`` works too. ``best_key`` names the value the best model is chosen
    by (higher is better): ``top1`` when 1 is among the k values, else the first k, as PaddleClas
    keeps the best by the first value of its first eval metric.

    Args:
        topk: the k values, PaddleClas writes ``topk: [1, 5]`` (or one k, ``topk: 5``).

    Example:
        >>> metric = TopkAcc([1, 2])
        >>> metric.update(torch.tensor([[0.2, 0.7, 0.1]]), torch.tensor([0]))
        >>> metric.compute(), metric.best_key
        ({'top1': 0.0, 'top2': 1.0}, 'top1')
    """

    def __init__(self, topk: int | list[int] | tuple[int, ...] = (1, 5)):
        self.ks = (int(topk),) if isinstance(topk, int) else tuple(int(k) for k in topk)
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"TopkAcc.topk must be positive integers, got {topk}")
        self.best_key = "top1" if 1 in self.ks else f"top{self.ks[0]}"
        self.reset()

    def reset(self) -> None:
        """Forget all batches seen."""
        self.correct = {k: 0 for k in self.ks}
        self.count = 0

    def update(self, outputs: torch.Tensor, batch: Any) -> None:
        """Add one batch: logits ``[B, C]`` (or a dict of named outputs holding them under
        ``"logits"``, the main head) and a batch (its ``labels``) or the labels themselves,
        integer ``[B]`` or soft targets ``[B, C]``; a soft target (Mixup/CutMix) counts as its
        largest class."""
        outputs = main_logits(outputs, type(self).__name__)
        labels = getattr(batch, "labels", batch)
        if labels.ndim == 2:
            labels = labels.argmax(dim=-1)
        for k, n in topk_correct(outputs.detach(), labels, self.ks).items():
            self.correct[k] += n
        self.count += labels.shape[0]

    def compute(self) -> dict[str, float]:
        """Accuracy per k as a fraction in [0, 1]."""
        return {f"top{k}": self.correct[k] / max(self.count, 1) for k in self.ks}

    def state_dict(self) -> dict[str, Any]:
        """The running sums: ``{"correct": {k: n}, "count": n}`` (what a mid-epoch checkpoint keeps)."""
        return {"correct": dict(self.correct), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state_dict()``'s sums (a resumed epoch)."""
        self.reset()
        self.correct.update({int(k): int(v) for k, v in state.get("correct", {}).items()})
        self.count = int(state.get("count", 0))

    def all_reduce(self, reduce: Callable[[list[float]], list[float]]) -> None:
        """Replace the running sums by ``reduce`` of them (their sum over processes)."""
        sums = reduce([self.count, *(self.correct[k] for k in self.ks)])
        self.count = int(sums[0])
        self.correct = {k: int(v) for k, v in zip(self.ks, sums[1:])}


class GoogLeNetTopkAcc(TopkAcc):
    """PaddleClas's ``GoogLeNetTopkAcc``: `TopkAcc` of GoogLeNet's main head (the ``logits`` of its
    training outputs; a list's first entry, as PaddleClas's model returns them).

    Example:
        >>> metric = GoogLeNetTopkAcc([1])
        >>> metric.update([torch.tensor([[0.9, 0.1]]), torch.tensor([[0.1, 0.9]])], torch.tensor([0]))
        >>> metric.compute()
        {'top1': 1.0}
    """

    def update(self, outputs: Any, batch: Any) -> None:
        """Add one batch of the main head's logits (see `TopkAcc.update`)."""
        super().update(outputs[0] if isinstance(outputs, (list, tuple)) else outputs, batch)
