"""``Predictor``: images in, PaddleClas-style top-k results out, on onnxruntime or torch.

The preprocessing comes with the model (the ONNX metadata, or the config's eval ops), so
prediction matches evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.pipeline import build_transforms
from .backends import open_backend
from .inputs import ImageInput, collect_inputs, load_input

__all__ = ["Predictor", "softmax", "topk_result"]


class Predictor:
    """Classify images with an exported ONNX file or a weights file plus its config.

    Args:
        model_path: an ``.onnx`` file from ``export_onnx`` (backend onnxruntime), or a weights
            file, with or without ``.safetensors`` (backend torch, needs ``config``).
        backend: ``"onnxruntime"`` or ``"torch"``; None picks from the file.
        config: a ``Config``, YAML path or dict; required for weights files, unused for ONNX.
        topk: results per image (default: the model's ``Infer.PostProcess.topk``).
        threads: CPU threads (onnxruntime intra-op; torch: ``torch.set_num_threads``).
        batch_size: images per forward pass.

    Attributes:
        metadata: model name, class names, preprocess ops, input size, mean/std, top-k.
        class_names: names indexed by class id.

    Example:
        >>> p = Predictor("inference/model.onnx")  # doctest: +SKIP
        >>> p.predict("demo/cat.jpg", topk=1)  # doctest: +SKIP
        [{'filename': 'demo/cat.jpg', 'class_ids': [3], 'scores': [0.93], 'label_names': ['cat']}]
    """

    def __init__(self, model_path: str | Path, backend: str | None = None, config: Any = None,
                 topk: int | None = None, threads: int | None = None, batch_size: int = 16):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.runner = open_backend(model_path, backend, config, threads)
        self.backend = self.runner.name
        self.metadata: dict[str, Any] = self.runner.metadata
        self.class_names: list[str] = list(self.metadata["class_names"])
        self.topk = topk or self.metadata.get("topk") or 5
        self.batch_size = batch_size
        self.transform = build_transforms(_with_decode(self.metadata["preprocess"]), "preprocess")

    def __repr__(self) -> str:
        return (f"Predictor(model={self.metadata.get('model')!r}, backend={self.backend!r}, "
                f"classes={len(self.class_names)}, input_size={self.metadata.get('input_size')})")

    def predict(self, inputs: Any, topk: int | None = None) -> list[dict[str, Any]]:
        """Top-k classes of each image, in input order.

        Args:
            inputs: a path, a folder (all images inside, recursive, sorted), a list of paths,
                encoded bytes, a HxWxC / HxW uint8 numpy array or a PIL image.
            topk: overrides the predictor's top-k for this call.

        Returns:
            One dict per image: ``filename``, ``class_ids``, ``scores`` (softmax, descending),
            ``label_names``; an image that cannot be read or decoded gets ``filename`` and
            ``error`` instead, and the other images are still predicted.

        Example:
            >>> Predictor("model.onnx").predict(np.zeros((64, 64, 3), np.uint8))[0]["filename"]  # doctest: +SKIP
            '<array>'
        """
        k = topk or self.topk
        items = collect_inputs(inputs)
        results: list[dict[str, Any]] = []
        for start in range(0, len(items), self.batch_size):
            results.extend(self._predict_batch(items[start:start + self.batch_size], k))
        return results

    def predict_logits(self, batch: torch.Tensor | np.ndarray) -> np.ndarray:
        """Raw logits ``[N, class_num]`` of an already preprocessed float32 NCHW batch.

        Example:
            >>> Predictor("model.onnx").predict_logits(torch.zeros(2, 3, 224, 224)).shape  # doctest: +SKIP
            (2, 1000)
        """
        if isinstance(batch, torch.Tensor):
            batch = batch.detach().cpu().numpy()
        return self.runner.logits(np.ascontiguousarray(batch, dtype=np.float32))

    def _predict_batch(self, items: list[ImageInput], k: int) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [None] * len(items)
        good, tensors = [], []
        for i, item in enumerate(items):
            try:
                tensors.append(self._preprocess(item))
                good.append(i)
            except (OSError, ValueError) as exc:
                results[i] = {"filename": item.filename, "error": _reason(exc)}
        if tensors:
            _check_same_shape(tensors, [items[i] for i in good])
            probs = softmax(self.predict_logits(torch.stack(tensors)))
            for i, row in zip(good, probs):
                results[i] = {"filename": items[i].filename, **topk_result(row, k, self.class_names)}
        return results  # type: ignore[return-value]

    def _preprocess(self, item: ImageInput) -> torch.Tensor:
        return torch.as_tensor(self.transform(load_input(item))).as_subclass(torch.Tensor)


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


def topk_result(probs: np.ndarray, k: int, names: list[str]) -> dict[str, list]:
    """The ``k`` most probable classes of one image, PaddleClas ``Topk`` style.

    Example:
        >>> topk_result(np.array([0.2, 0.7, 0.1]), 2, ["a", "b", "c"])
        {'class_ids': [1, 0], 'scores': [0.7, 0.2], 'label_names': ['b', 'a']}
    """
    order = np.argsort(-probs, kind="stable")[:k]
    return {"class_ids": [int(i) for i in order], "scores": [float(probs[i]) for i in order],
            "label_names": [names[i] if i < len(names) else str(i) for i in order]}


def _with_decode(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make sure the op list decodes first: paths and bytes need it, arrays pass through it."""
    first = ops[0] if ops else None
    name = next(iter(first), None) if isinstance(first, dict) else first
    return list(ops) if name == "DecodeImage" else [{"DecodeImage": None}, *ops]


def _check_same_shape(tensors: list[torch.Tensor], items: list[ImageInput]) -> None:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"preprocessing gave images of different sizes {sorted(shapes)} "
                         f"(e.g. '{items[0].filename}'); the ops need a CropImage or a fixed "
                         "ResizeImage size to batch them")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: '{exc.filename}'" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__
