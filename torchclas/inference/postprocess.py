"""Post-processes under PaddleClas names (``Infer.PostProcess``): one image's scores → its result.

``Topk`` keeps the ``topk`` most probable classes (softmax scores); ``MultiLabelThreshOutput``
every class whose sigmoid score reaches ``threshold``. ``POSTPROCESSES`` is their name table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config.registry import Registry

__all__ = ["POSTPROCESSES", "Topk", "MultiLabelThreshOutput", "topk_result", "threshold_result"]


def topk_result(probs: np.ndarray, k: int, names: list[str]) -> dict[str, list]:
    """The ``k`` most probable classes of one image, PaddleClas ``Topk`` style.

    Example:
        >>> topk_result(np.array([0.2, 0.7, 0.1]), 2, ["a", "b", "c"])
        {'class_ids': [1, 0], 'scores': [0.7, 0.2], 'label_names': ['b', 'a']}
    """
    order = np.argsort(-probs, kind="stable")[:k]
    return {"class_ids": [int(i) for i in order], "scores": [float(probs[i]) for i in order],
            "label_names": [names[i] if i < len(names) else str(i) for i in order]}


def threshold_result(scores: np.ndarray, threshold: float, names: list[str]) -> dict[str, list]:
    """Every class scoring at least ``threshold``, highest first, PaddleClas
    ``MultiLabelThreshOutput`` style.

    Example:
        >>> threshold_result(np.array([0.9, 0.2, 0.6]), 0.5, ["a", "b", "c"])
        {'class_ids': [0, 2], 'scores': [0.9, 0.6], 'label_names': ['a', 'c']}
    """
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= threshold]
    return {"class_ids": order, "scores": [round(float(scores[i]), 6) for i in order],
            "label_names": [names[i] if i < len(names) else str(i) for i in order]}


@dataclass(frozen=True)
class Topk:
    """PaddleClas ``Topk``: the ``topk`` most probable classes of an image.

    Example:
        >>> Topk(topk=1)(np.array([0.2, 0.7, 0.1]), ["a", "b", "c"])
        {'class_ids': [1], 'scores': [0.7], 'label_names': ['b']}
    """

    topk: int = 5

    def __call__(self, scores: np.ndarray, names: list[str]) -> dict[str, list]:
        return topk_result(scores, self.topk, names)


@dataclass(frozen=True)
class MultiLabelThreshOutput:
    """PaddleClas ``MultiLabelThreshOutput``: every class scoring at least ``threshold``.

    Example:
        >>> MultiLabelThreshOutput(threshold=0.5)(np.array([0.9, 0.2, 0.6]), ["a", "b", "c"])["label_names"]
        ['a', 'c']
    """

    threshold: float = 0.5

    def __call__(self, scores: np.ndarray, names: list[str]) -> dict[str, list]:
        return threshold_result(scores, self.threshold, names)


POSTPROCESSES: Registry[type] = Registry("post-process", {
    "Topk": Topk, "MultiLabelThreshOutput": MultiLabelThreshOutput,
})
