"""Top-k accuracy (PaddleClas ``TopkAcc``) and the ``metrics.jsonl`` log."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("torchclas")

__all__ = ["TopkAcc", "METRICS", "build_metric", "topk_correct", "MetricsLog"]


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


class TopkAcc:
    """Accumulates top-k accuracy over batches; ``compute()`` gives ``{"top1": .., "top5": ..}``.

    Args:
        topk: the k values, PaddleClas writes ``topk: [1, 5]``.
    """

    def __init__(self, topk: list[int] | tuple[int, ...] = (1, 5)):
        self.ks = tuple(int(k) for k in topk)
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"TopkAcc.topk must be positive integers, got {topk}")
        self.reset()

    def reset(self) -> None:
        """Forget all batches seen."""
        self.correct = {k: 0 for k in self.ks}
        self.count = 0

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Add one batch of logits ``[B, C]`` and integer labels ``[B]`` or soft targets ``[B, C]``.

        A soft target (Mixup/CutMix) counts as its largest class.
        """
        if labels.ndim == 2:
            labels = labels.argmax(dim=-1)
        for k, n in topk_correct(logits.detach(), labels, self.ks).items():
            self.correct[k] += n
        self.count += labels.shape[0]

    def compute(self) -> dict[str, float]:
        """Accuracy per k as a fraction in [0, 1]."""
        return {f"top{k}": self.correct[k] / max(self.count, 1) for k in self.ks}


METRICS: dict[str, type] = {"TopkAcc": TopkAcc}


def build_metric(entries: list[dict] | None, where: str) -> TopkAcc:
    """The metric of a ``Metric.Train``/``Metric.Eval`` list; top-1/top-5 when it is empty."""
    from ..config.entries import parse_entries

    (name, params), *_ = parse_entries(entries, METRICS, where) or [("TopkAcc", {"topk": [1, 5]})]
    return METRICS[name](**params)


class MetricsLog:
    """Appends one JSON object per line to ``metrics.jsonl`` and flushes it at once."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` (e.g. ``{"epoch": 1, "split": "eval", "top1": 0.9, ...}``).

        A full disk is logged, not raised: the run goes on, and a resume rewrites the epochs
        after its checkpoint."""
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
        except OSError as exc:
            log.error("could not append to %s: %s", self.path, exc.strerror or exc)

    def read(self) -> list[dict[str, Any]]:
        """All records written so far (a line torn by a killed run is left out)."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def truncate_after(self, epoch: int) -> None:
        """Drop records of epochs after ``epoch`` (a resumed run rewrites them); atomic."""
        from ..utils.files import atomic_write

        kept = "".join(json.dumps(r) + "\n" for r in self.read() if r.get("epoch", 0) <= epoch)
        atomic_write(self.path, lambda tmp: Path(tmp).write_text(kept, encoding="utf-8"))
