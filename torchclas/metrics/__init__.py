"""Metrics under PaddleClas names: ``TopkAcc``, ``GoogLeNetTopkAcc``; ``METRICS`` is their name table,
``build_metric`` builds the one a ``Metric.Train``/``Metric.Eval`` list names. ``ConfusionMatrix`` (with
``per_class_accuracy``, ``top_confusions``) is what evaluation reports are read from;
``metrics.plot`` draws it.

A metric answers ``reset()``, ``update(outputs, batch)`` (the training step's seam: the model's
outputs and the batch, whose ``labels`` it reads), ``compute() -> {name: value}``, and names the
value the best model is kept by in ``best_key``.
"""

from .build import METRICS, build_metric, topk_beyond_classes
from .confusion import ConfusionMatrix, per_class_accuracy, top_confusions
from .topk import GoogLeNetTopkAcc, TopkAcc, topk_correct

__all__ = ["METRICS", "build_metric", "topk_beyond_classes", "TopkAcc", "GoogLeNetTopkAcc", "topk_correct",
           "ConfusionMatrix", "per_class_accuracy", "top_confusions"]
