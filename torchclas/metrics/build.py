"""The name table of metrics (``Metric.Train`` / ``Metric.Eval``) and ``build_metric``."""

from __future__ import annotations

from ..config.entries import parse_entries
from ..config.registry import Registry
from .topk import GoogLeNetTopkAcc, TopkAcc

__all__ = ["METRICS", "build_metric"]

METRICS: Registry[type] = Registry("metric", {"TopkAcc": TopkAcc, "GoogLeNetTopkAcc": GoogLeNetTopkAcc})


def build_metric(entries: list[dict] | None, where: str) -> TopkAcc:
    """The metric of a ``Metric.Train``/``Metric.Eval`` list; top-1/top-5 when it is empty.

    As today, the first entry is the one measured (every entry's name and parameters are checked).

    Example:
        >>> build_metric([{"TopkAcc": {"topk": [1, 2]}}], "Metric.Eval").ks
        (1, 2)
    """
    (name, params), *_ = parse_entries(entries, METRICS, where) or [("TopkAcc", {"topk": [1, 5]})]
    return METRICS[name](**params)
