"""Fusing several models' answers: the weighted mean of their probabilities.

PaddleClas's "multiple models for inference fusion": each model scores the image with its own
preprocessing, the scores (softmax, or sigmoid for multi-label models) are averaged with the
given weights, and top-k / thresholds apply to the fused scores.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["ensemble_weights", "check_members", "fuse_probabilities", "sigmoid", "softmax"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed stably in float64 and returned as float32.

    Example:
        >>> softmax(np.array([[0.0, 0.0]])).tolist()
        [[0.5, 0.5]]
    """
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function in float64, returned as float32 (multi-label scores).

    Example:
        >>> sigmoid(np.array([0.0])).tolist()
        [0.5]
    """
    return (1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))).astype(np.float32)


def ensemble_weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
    """Normalised fusion weights for ``count`` models (None: equal weights).

    Raises:
        ValueError when the number of weights differs from ``count`` or a weight is negative
        or all are zero.

    Example:
        >>> ensemble_weights([1, 3], 2).tolist()
        [0.25, 0.75]
    """
    if weights is None:
        return np.full(count, 1.0 / count)
    values = np.asarray(list(weights), dtype=np.float64)
    if values.shape != (count,):
        raise ValueError(f"--weights has {values.size} values for {count} models; give one per model")
    if (values < 0).any() or values.sum() <= 0:
        raise ValueError(f"--weights must be non-negative and not all zero, got {values.tolist()}")
    return values / values.sum()


def check_members(metadata: Sequence[dict[str, Any]], paths: Sequence[Any]) -> None:
    """Make sure models can be fused: the same classes (number and names) and the same task.

    Raises:
        ValueError naming the first model that differs from the first one, and how.

    Example:
        >>> check_members([{"class_num": 2, "class_names": ["a", "b"]}] * 2, ["m1.onnx", "m2.onnx"])
    """
    first = metadata[0]
    for meta, path in zip(metadata[1:], paths[1:]):
        for key in ("class_num", "class_names", "multilabel"):
            if meta.get(key) != first.get(key):
                raise ValueError(f"cannot fuse {path} with {paths[0]}: {key} differs "
                                 f"({_short(meta.get(key))} vs {_short(first.get(key))})")


def fuse_probabilities(probabilities: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """The weighted mean of several models' ``[N, classes]`` probabilities.

    Example:
        >>> fuse_probabilities([np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])], np.array([0.25, 0.75])).tolist()
        [[0.25, 0.75]]
    """
    fused = sum(w * np.asarray(p, np.float64) for w, p in zip(weights, probabilities))
    return np.asarray(fused, dtype=np.float32)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."
