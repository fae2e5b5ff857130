"""The confusion matrix of single-label classification, and what is read from it: per-class
accuracy (recall) and precision, and the most confused class pairs."""

from __future__ import annotations

import logging
from typing import Any

import torch

__all__ = ["ConfusionMatrix", "per_class_accuracy", "top_confusions"]

log = logging.getLogger("torchclas")


class ConfusionMatrix:
    """Counts ``counts[true, predicted]`` of the top-1 predictions over batches.

    It takes ``update(outputs, batch)`` as the metrics do (``batch.labels``, or the labels
    themselves; a soft target counts as its largest class). Outputs that are not ``[B,
    class_num]`` logits (a dict of named outputs, another class count) are not counted:
    ``skipped`` says why, and ``total`` stays 0.

    Example:
        >>> matrix = ConfusionMatrix(3)
        >>> matrix.update(torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]), torch.tensor([0, 1, 1]))
        >>> matrix.counts.tolist()
        [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    """

    def __init__(self, class_num: int):
        if class_num < 1:
            raise ValueError(f"ConfusionMatrix: class_num must be at least 1, got {class_num}")
        self.class_num = class_num
        self.reset()

    def reset(self) -> None:
        """Forget all batches seen."""
        self._counts: torch.Tensor | None = None
        self.skipped: str | None = None

    @property
    def counts(self) -> torch.Tensor:
        """``[class_num, class_num]`` int64 counts on the CPU, rows the true class."""
        if self._counts is None:
            return torch.zeros(self.class_num, self.class_num, dtype=torch.int64)
        return self._counts.cpu()

    @property
    def total(self) -> int:
        """How many images were counted."""
        return 0 if self._counts is None else int(self._counts.sum())

    def update(self, outputs: Any, batch: Any) -> None:
        """Add one batch of logits ``[B, class_num]`` and its labels (integer ``[B]`` or soft ``[B, C]``)."""
        if self.skipped is not None:
            return
        if not isinstance(outputs, torch.Tensor) or outputs.ndim != 2 or outputs.shape[-1] != self.class_num:
            shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
            self.skipped = f"the model's outputs are {shape}, not [batch, class_num={self.class_num}] logits"
            log.warning("confusion matrix not made: %s", self.skipped)
            self._counts = None
            return
        labels = getattr(batch, "labels", batch)
        if labels.ndim == 2:
            labels = labels.argmax(dim=-1)
        n = self.class_num
        pairs = labels.to(outputs.device).long() * n + outputs.detach().argmax(dim=-1)
        if self._counts is None:
            self._counts = torch.zeros(n, n, dtype=torch.long, device=outputs.device)
        self._counts.view(-1).index_put_((pairs,), torch.ones_like(pairs), accumulate=True)


def per_class_accuracy(counts: torch.Tensor, names: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per class of a confusion matrix: ``id``, ``name``, ``images`` (its true images),
    ``correct``, ``accuracy`` (correct / images: the recall; None without images),
    ``precision`` (correct / images predicted as it; None when none were) and ``confused_with``
    (the class its images were most often mistaken for, None when never).

    Example:
        >>> rows = per_class_accuracy(torch.tensor([[3, 1], [0, 2]]), ["cat", "dog"])
        >>> [(r["name"], r["images"], r["accuracy"], r["precision"], r["confused_with"]) for r in rows]
        [('cat', 4, 0.75, 1.0, 'dog'), ('dog', 2, 1.0, 0.6666666666666666, None)]
    """
    counts = counts.to(torch.int64)
    names = names or [str(i) for i in range(counts.shape[0])]
    if len(names) != counts.shape[0]:
        raise ValueError(f"per_class_accuracy: {len(names)} names for {counts.shape[0]} classes")
    rows = []
    for i, name in enumerate(names):
        images, correct, predicted = int(counts[i].sum()), int(counts[i, i]), int(counts[:, i].sum())
        errors = counts[i].clone()
        errors[i] = 0
        worst = int(errors.argmax()) if int(errors.max()) > 0 else None
        rows.append({"id": i, "name": name, "images": images, "correct": correct,
                     "accuracy": correct / images if images else None,
                     "precision": correct / predicted if predicted else None,
                     "confused_with": names[worst] if worst is not None else None})
    return rows


def top_confusions(counts: torch.Tensor, n: int = 20) -> list[tuple[int, int, int]]:
    """The ``n`` largest off-diagonal cells as ``(true, predicted, count)``, largest first
    (ties by class ids); cells of 0 are left out.

    Example:
        >>> top_confusions(torch.tensor([[5, 2, 0], [1, 4, 3], [0, 0, 6]]), 2)
        [(1, 2, 3), (0, 1, 2)]
    """
    off = counts.to(torch.int64).clone()
    off.fill_diagonal_(0)
    values, order = torch.sort(off.flatten(), descending=True, stable=True)
    size = counts.shape[1]
    return [(j // size, j % size, v) for v, j in zip(values[:n].tolist(), order[:n].tolist()) if v > 0]
