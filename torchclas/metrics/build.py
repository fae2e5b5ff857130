"""The name table of metrics (``Metric.Train`` / ``Metric.Eval``), ``build_metric`` (training's
one metric), ``build_metrics`` (evaluation's list), the check that no eval-only metric is named
for training (``check_train_metrics``), and the check of top-k values against the class count
(``topk_beyond_classes``)."""

from __future__ import annotations

from ..config.entries import parse_entries
from ..config.errors import ConfigError
from ..config.registry import Registry
from .metric_list import MetricList
from .topk import GoogLeNetTopkAcc, TopkAcc
from .tpr_at_fpr import TprAtFpr

__all__ = ["METRICS", "build_metric", "build_metrics", "check_train_metrics", "topk_beyond_classes"]

METRICS: Registry[type] = Registry("metric", {"TopkAcc": TopkAcc, "GoogLeNetTopkAcc": GoogLeNetTopkAcc,
                                              "TprAtFpr": TprAtFpr})

_DEFAULT = [{"TopkAcc": {"topk": [1, 5]}}]


def build_metric(entries: list[dict] | None, where: str) -> TopkAcc:
    """The metric training measures: the first entry of a ``Metric.Train`` list (every entry's
    name and parameters are checked); top-1/top-5 when it is empty. Its running sums are what a
    mid-epoch checkpoint keeps. Evaluation measures every entry (`build_metrics`).

    Example:
        >>> build_metric([{"TopkAcc": {"topk": [1, 2]}}], "Metric.Train").ks
        (1, 2)
    """
    (name, params), *_ = parse_entries(entries or _DEFAULT, METRICS, where)
    return METRICS[name](**params)


def build_metrics(entries: list[dict] | None, where: str) -> MetricList:
    """Every metric of a ``Metric.Eval`` list, measured together (as PaddleClas's evaluation
    reports each); the first names ``best_key``. Top-1/top-5 when the list is empty.

    Example:
        >>> entries = [{"TprAtFpr": {"max_fpr": 0.01}}, {"TopkAcc": {"topk": [1, 2]}}]
        >>> metrics = build_metrics(entries, "Metric.Eval")
        >>> [type(m).__name__ for m in metrics.metrics], metrics.best_key
        (['TprAtFpr', 'TopkAcc'], 'tpr')
    """
    parsed = parse_entries(entries or _DEFAULT, METRICS, where)
    return MetricList([METRICS[name](**params) for name, params in parsed])


def check_train_metrics(entries: list[dict] | None, where: str = "Metric.Train") -> None:
    """Raise ``ConfigError`` for an eval-only metric (``TprAtFpr``) in the training list: its
    state is not the running sums a mid-epoch checkpoint keeps, and PaddleClas reports nothing
    for it in training (its ``forward`` returns no value there).

    Example:
        >>> check_train_metrics([{"TprAtFpr": {}}])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        torchclas.config.errors.ConfigError: Metric.Train[0]: TprAtFpr is an evaluation metric; list it ...
    """
    trainable = [name for name, metric in METRICS.items() if not getattr(metric, "eval_only", False)]
    for i, (name, _) in enumerate(parse_entries(entries, METRICS, where)):
        if getattr(METRICS[name], "eval_only", False):
            raise ConfigError(f"{where}[{i}]: {name} is an evaluation metric; list it under Metric.Eval "
                              f"(training measures {' or '.join(trainable)})")


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
