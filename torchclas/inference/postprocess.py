"""Post-processes under PaddleClas names (``Infer.PostProcess``): one image's scores → its result.

Each post-process says which scores it reads (``activation``: ``softmax`` probabilities,
``sigmoid`` scores, or the model's raw ``identity`` outputs) and turns one image's row of them
into a PaddleClas result dict. ``POSTPROCESSES`` is their name table; :func:`build_postprocess`
makes one from the ``{"name": ..., key: value}`` an export stores (``PostProcessConfig.spec()``).

- ``Topk``: the ``topk`` most probable classes (PaddleClas ``ppcls/data/postprocess/topk.py``).
- ``ThreshOutput``: a binary classifier's answer; class 1 when its probability reaches
  ``threshold``, else class 0 with score ``1 - p1`` (``threshoutput.py``).
- ``MultiLabelThreshOutput``: every class whose sigmoid score reaches ``threshold``.
- ``ScoreOutput``: the raw outputs, rounded to ``decimal_places`` (``scoreoutput.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..config.registry import Registry

__all__ = ["POSTPROCESSES", "Topk", "ThreshOutput", "MultiLabelThreshOutput", "ScoreOutput", "topk_result",
           "threshold_result", "build_postprocess"]


def _names(ids: list[int], names: list[str]) -> list[str]:
    return [names[i] if i < len(names) else str(i) for i in ids]


def topk_result(probs: np.ndarray, k: int, names: list[str]) -> dict[str, list]:
    """The ``k`` most probable classes of one image, PaddleClas ``Topk`` style.

    Example:
        >>> topk_result(np.array([0.2, 0.7, 0.1]), 2, ["a", "b", "c"])
        {'class_ids': [1, 0], 'scores': [0.7, 0.2], 'label_names': ['b', 'a']}
    """
    order = [int(i) for i in np.argsort(-probs, kind="stable")[:k]]
    return {"class_ids": order, "scores": [float(probs[i]) for i in order], "label_names": _names(order, names)}


def threshold_result(scores: np.ndarray, threshold: float, names: list[str]) -> dict[str, list]:
    """Every class scoring at least ``threshold``, highest first, PaddleClas
    ``MultiLabelThreshOutput`` style.

    Example:
        >>> threshold_result(np.array([0.9, 0.2, 0.6]), 0.5, ["a", "b", "c"])
        {'class_ids': [0, 2], 'scores': [0.9, 0.6], 'label_names': ['a', 'c']}
    """
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= threshold]
    return {"class_ids": order, "scores": [round(float(scores[i]), 6) for i in order],
            "label_names": _names(order, names)}


@dataclass(frozen=True)
class Topk:
    """PaddleClas ``Topk``: the ``topk`` most probable classes of an image (softmax scores).

    Example:
        >>> Topk(topk=1)(np.array([0.2, 0.7, 0.1]), ["a", "b", "c"])
        {'class_ids': [1], 'scores': [0.7], 'label_names': ['b']}
    """

    activation: ClassVar[str] = "softmax"
    topk: int = 5

    def __call__(self, scores: np.ndarray, names: list[str]) -> dict[str, list]:
        return topk_result(scores, self.topk, names)


@dataclass(frozen=True)
class ThreshOutput:
    """PaddleClas ``ThreshOutput`` (PULC's binary classifiers): with ``p1`` the softmax
    probability of class 1, ``label_1`` with score ``p1`` when ``p1 >= threshold``, else
    ``label_0`` with score ``1 - p1``.

    Example:
        >>> post = ThreshOutput(threshold=0.9, label_0="nobody", label_1="someone")
        >>> post(np.array([0.05, 0.95]), [])
        {'class_ids': [1], 'scores': [0.95], 'label_names': ['someone']}
        >>> post(np.array([0.2, 0.8]), [])["label_names"]
        ['nobody']
    """

    activation: ClassVar[str] = "softmax"
    threshold: float
    label_0: str = "0"
    label_1: str = "1"

    def __call__(self, scores: np.ndarray, names: list[str]) -> dict[str, list]:
        if len(scores) < 2:
            raise ValueError(f"ThreshOutput reads class 1's score; the model has {len(scores)} class(es)")
        score = float(scores[1])
        if score < self.threshold:
            return {"class_ids": [0], "scores": [1.0 - score], "label_names": [self.label_0]}
        return {"class_ids": [1], "scores": [score], "label_names": [self.label_1]}


@dataclass(frozen=True)
class MultiLabelThreshOutput:
    """PaddleClas ``MultiLabelThreshOutput``: every class whose sigmoid score reaches ``threshold``.

    Example:
        >>> MultiLabelThreshOutput(threshold=0.5)(np.array([0.9, 0.2, 0.6]), ["a", "b", "c"])["label_names"]
        ['a', 'c']
    """

    activation: ClassVar[str] = "sigmoid"
    threshold: float = 0.5

    def __call__(self, scores: np.ndarray, names: list[str]) -> dict[str, list]:
        return threshold_result(scores, self.threshold, names)


@dataclass(frozen=True)
class ScoreOutput:
    """PaddleClas ``ScoreOutput``: the model's raw outputs (no softmax), rounded to
    ``decimal_places`` (regression heads such as an aesthetic score).

    Example:
        >>> ScoreOutput(decimal_places=2)(np.array([3.14159, -0.5]), [])
        {'scores': [3.14, -0.5]}
    """

    activation: ClassVar[str] = "identity"
    decimal_places: int

    def __call__(self, scores: np.ndarray, names: list[str]) -> dict[str, list]:
        return {"scores": [round(float(s), self.decimal_places) for s in scores]}


POSTPROCESSES: Registry[type] = Registry("post-process", {
    "Topk": Topk, "ThreshOutput": ThreshOutput, "MultiLabelThreshOutput": MultiLabelThreshOutput,
    "ScoreOutput": ScoreOutput,
})


def build_postprocess(spec: dict[str, Any]) -> Any:
    """The post-process of a ``{"name": ..., key: value}`` spec (an export's ``postprocess``).

    Raises:
        KeyError for an unknown name (with the closest one); ValueError for a key it does not take.

    Example:
        >>> build_postprocess({"name": "ThreshOutput", "threshold": 0.5, "label_0": "no", "label_1": "yes"})
        ThreshOutput(threshold=0.5, label_0='no', label_1='yes')
    """
    spec = dict(spec)
    cls = POSTPROCESSES[spec.pop("name")]
    try:
        return cls(**spec)
    except TypeError as exc:
        raise ValueError(f"post-process {cls.__name__}: {exc}") from None
