"""The name table of metrics (``Metric.Train`` / ``Metric.Eval``), ``build_metric``, and the
check of top-k values against the class count (``topk_beyond_classes``)."""

from __future__ import annotations

from ..config.entries import parse_entries
from ..config.registry import Registry
from .topk import GoogLeNetTopkAcc, TopkAcc

__all__ = ["METRICS", "build_metric", "topk_beyond_classes"]

METRICS: Registry[type] = Registry("metric", {"TopkAcc": TopkAcc, "GoogLeNetTopkAcc": GoogLeNetTopkAcc})

_DEFAULT = [{"TopkAcc": {"topk": [1, 5]}}]


def build_metric(entries: list[dict] | None, where: str) -> TopkAcc:
    """The metric of a ``Metric.Train``/``Metric.Eval`` list; top-1/top-5 when it is empty.

    As today, the first entry is the one measured (every entry's name and parameters are checked).

    Example:
        >>> build_metric([{"TopkAcc": {"topk": [1, 2]}}], "Metric.Eval").ks
        (1, 2)
    """
    (name, params), *_ = parse_entries(entries or _DEFAULT, METRICS, where)
    return METRICS[name](**params)


def topk_beyond_classes(entries: list[dict] | None, where: str, class_num: int) -> list[str]:
    """A message for each ``TopkAcc`` k above ``class_num``: such a top-k counts every image as
    right and always reads 100% (PaddleClas warns and reports 1 too; it is kept under its name
    so logs and ``best_key`` stay as the config says).

    Example:
        >>> topk_beyond_classes([{"TopkAcc": {"topk": [1, 5]}}], "Metric.Eval", 3)
        ['Metric.Eval[0].TopkAcc.topk: top-5 with class_num 3 always reads 100% (every image has its class among the top 5 of 3 scores); use k <= 3']
        >>> topk_beyond_classes(None, "Metric.Eval", 3)[0].split(":")[0]
        'Metric.Eval (not set, so TopkAcc.topk [1, 5])'
    """
    messages = []
    for i, (name, params) in enumerate(parse_entries(entries or _DEFAULT, METRICS, where)):
        if name != "TopkAcc":
            continue
        key = f"{where}[{i}].TopkAcc.topk" if entries else f"{where} (not set, so TopkAcc.topk [1, 5])"
        messages += [f"{key}: top-{k} with class_num {class_num} always reads 100% (every image has its "
                     f"class among the top {k} of {class_num} scores); use k <= {class_num}"
                     for k in TopkAcc(**params).ks if k > class_num]
    return messages
