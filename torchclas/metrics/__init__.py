"""Metrics under PaddleClas names: ``TopkAcc``, ``GoogLeNetTopkAcc``; ``METRICS`` is their name table, ``build_metric``
builds the one a ``Metric.Train``/``Metric.Eval`` list names.

A metric answers ``reset()``, ``update(outputs, batch)`` (the training step's seam: the model's
outputs and the batch, whose ``labels`` it reads), ``compute() -> {name: value}``, and names the
value the best model is kept by in ``best_key``.
"""

from .build import METRICS, build_metric
from .topk import GoogLeNetTopkAcc, TopkAcc, topk_correct

__all__ = ["METRICS", "build_metric", "TopkAcc", "GoogLeNetTopkAcc", "topk_correct"]
