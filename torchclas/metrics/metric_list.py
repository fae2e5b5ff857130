"""``MetricList``: the metrics of a ``Metric.Eval`` list measured together, as PaddleClas's
``CombinedMetrics`` does (every value reported, the first metric's keeps the best model)."""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["MetricList"]


class MetricList:
    """Several metrics behind the one-metric interface: ``reset``/``update`` go to each,
    ``compute`` merges their values (a key two metrics share keeps the first's value),
    ``best_key`` is the first's and ``all_reduce`` reduces each.

    Example:
        >>> import torch
        >>> from torchclas.metrics import TopkAcc, TprAtFpr
        >>> metrics = MetricList([TprAtFpr(max_fpr=0.5), TopkAcc([1])])
        >>> metrics.update(torch.tensor([[0.0, 2.0], [1.0, 0.0]]), torch.tensor([1, 0]))
        >>> metrics.compute(), metrics.best_key
        ({'tpr': 1.0, 'threshold': 0.269, 'fpr': 0.0, 'top1': 1.0}, 'tpr')
    """

    def __init__(self, metrics: list[Any]):
        if not metrics:
            raise ValueError("MetricList needs at least one metric")
        self.metrics = list(metrics)
        self.best_key = self.metrics[0].best_key

    def reset(self) -> None:
        """Forget all batches seen, in every metric."""
        for metric in self.metrics:
            metric.reset()

    def update(self, outputs: Any, batch: Any) -> None:
        """Add one batch to every metric."""
        for metric in self.metrics:
            metric.update(outputs, batch)

    def compute(self) -> dict[str, Any]:
        """Every metric's values in list order."""
        values: dict[str, Any] = {}
        for metric in self.metrics:
            for key, value in metric.compute().items():
                values.setdefault(key, value)
        return values

    def all_reduce(self, reduce: Callable[[list[float]], list[float]]) -> None:
        """Reduce every metric's state over processes."""
        for metric in self.metrics:
            metric.all_reduce(reduce)
