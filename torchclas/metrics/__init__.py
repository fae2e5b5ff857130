"""Metrics under PaddleClas names: ``TopkAcc``, ``GoogLeNetTopkAcc``, ``TprAtFpr``; ``METRICS`` is their
name table, ``build_metric`` builds the one a ``Metric.Train`` list names and ``build_metrics`` all
those of a ``Metric.Eval`` list (a ``MetricList``). ``ConfusionMatrix`` (with
``per_class_accuracy``, ``top_confusions``) is what evaluation reports are read from;
``metrics.plot`` draws it.

A metric answers ``reset()``, ``update(outputs, batch)`` (the training step's seam: the model's
outputs and the batch, whose ``labels`` it reads), ``compute() -> {name: value}``, and names the
value the best model is kept by in ``best_key``.
"""

from .build import METRICS, build_metric, build_metrics, check_train_metrics, topk_beyond_classes
from .confusion import ConfusionMatrix, per_class_accuracy, top_confusions
from .metric_list import MetricList
from .topk import GoogLeNetTopkAcc, TopkAcc, topk_correct
from .tpr_at_fpr import TprAtFpr

__all__ = ["METRICS", "build_metric", "build_metrics", "check_train_metrics", "topk_beyond_classes", "TopkAcc",
           "GoogLeNetTopkAcc", "topk_correct", "TprAtFpr", "MetricList", "ConfusionMatrix", "per_class_accuracy",
           "top_confusions"]
