"""``Predictor``: images in, PaddleClas-style results out, on onnxruntime, OpenVINO or torch.

The preprocessing comes with the model (its export metadata, or the config's eval ops;
:mod:`.preprocess`), so prediction matches evaluation; so does the post-process (the config's
``Infer.PostProcess``, :mod:`.postprocess`). How the model runs (backend, threads,
precision, ...) is one :class:`PredictorOptions`. Several models form an ensemble (:mod:`.ensemble`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from .backends import open_backend
from .ensemble import check_members, ensemble_weights, fuse_probabilities, sigmoid, softmax
from .inputs import UNREADABLE, ImageInput, collect_inputs, load_input, unreadable_reason
from .postprocess import POSTPROCESSES, build_postprocess, threshold_result, topk_result  # noqa: F401 (re-exported)
from .preprocess import build_preprocess, preprocess_image

__all__ = ["Predictor", "PredictorOptions", "predictor_options", "model_postprocess", "softmax", "topk_result",
           "threshold_result"]


@dataclass
class PredictorOptions:
    """How :class:`Predictor` runs its model(s); every field is also a keyword of ``Predictor``.

    Args:
        backend: ``onnxruntime``, ``openvino`` or ``torch``; None picks from the file
            (:func:`~.backends.default_backend`).
        config: a ``Config``, YAML path or dict; required for weights files only.
        topk: results per image of a ``Topk`` post-process (default: the model's ``Infer.PostProcess.topk``).
        threads: CPU threads of the runtime.
        batch_size: images per forward pass.
        precision: ``fp32``, ``bf16`` (openvino, torch), ``fp16`` (TensorRT, torch on a GPU);
            None: the file's.
        device: ``cpu``, ``cuda`` (onnxruntime's CUDA execution provider, or torch on the GPU)
            or ``tensorrt`` (onnxruntime's TensorRT execution provider).
        weights: ensemble weights, one per model (default equal).
        threshold: ``threshold`` of a ``ThreshOutput`` / ``MultiLabelThreshOutput`` post-process
            (default: the model's; 0.5 for a multi-label model exported with ``Topk``).
        spin: onnxruntime's idle threads spin-wait between passes (its default: on a quiet
            2-core machine batch-1 latency 2.9 -> 2.1 ms for PPLCNet_x1_0); False lets them sleep,
            which is faster when other processes share the cores.
        fast_decode_resize: JPEGs much larger than the model's resize are decoded at a reduced
            DCT scale (``data.decode.dct_scaled.DecodeResizeImage``: ~2x faster on 12 MP photos, 0.3 grey
            levels off); off by default, so predictions equal ``eval``'s exactly.
        preprocess: a PaddleClas op list used instead of the model's own preprocessing
            (``torchclas infer -c CONFIG`` passes ``Infer.transforms``, as PaddleClas's infer does).

    Example:
        >>> PredictorOptions(threads=1, batch_size=32).batch_size
        32
    """

    backend: str | None = None
    config: Any = None
    topk: int | None = None
    threads: int | None = None
    batch_size: int = 16
    precision: str | None = None
    device: str = "cpu"
    weights: Sequence[float] | None = None
    threshold: float | None = None
    spin: bool = True
    fast_decode_resize: bool = False
    preprocess: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def predictor_options(options: PredictorOptions | None = None, **overrides: Any) -> PredictorOptions:
    """``options`` (default :class:`PredictorOptions`) with ``overrides`` set.

    Raises:
        TypeError naming an unknown option and the valid ones.

    Example:
        >>> predictor_options(threads=2).threads
        2
    """
    unknown = sorted(set(overrides) - {f.name for f in fields(PredictorOptions)})
    if unknown:
        raise TypeError(f"unknown Predictor option(s) {', '.join(unknown)}; valid: "
                        f"{', '.join(f.name for f in fields(PredictorOptions))}")
    return replace(options or PredictorOptions(), **overrides)


class Predictor:
    """Classify images with exported models (``.onnx``, ``.xml``, ``.pt2``) or weights plus config.

    Args:
        model_path: an exported file, a weights file (backend torch, needs ``config``), or a list
            of them: an ensemble whose probabilities are averaged (``weights``).
        options: how to run them (:class:`PredictorOptions`; default its defaults).
        **kwargs: any :class:`PredictorOptions` field, set on top of ``options``
            (``Predictor(path, threads=1, batch_size=32)``).

    Attributes:
        options: the :class:`PredictorOptions` in use.
        metadata: the first model's name, class names, preprocess ops, input size, mean/std, post-process.
        class_names: names indexed by class id.
        postprocess: the post-process every result goes through (:mod:`.postprocess`);
            ``postprocess_spec`` is it as ``{"name": ..., key: value}``.
        preprocess_ops: the op list of each distinct preprocessing (the models' own, or ``preprocess``).

    Example:
        >>> p = Predictor("inference/model.onnx")  # doctest: +SKIP
        >>> p.predict("demo/cat.jpg", topk=1)  # doctest: +SKIP
        [{'filename': 'demo/cat.jpg', 'class_ids': [3], 'scores': [0.93], 'label_names': ['cat']}]
    """

    def __init__(self, model_path: str | Path | Sequence[str | Path], options: PredictorOptions | None = None,
                 **kwargs: Any):
        self.options = opts = predictor_options(options, **kwargs)
        paths = [model_path] if isinstance(model_path, (str, os.PathLike)) else list(model_path)
        if not paths:
            raise ValueError("Predictor needs at least one model")
        self.members = [open_backend(p, opts.backend, opts.config, opts.threads, opts.precision, opts.device,
                                     opts.spin) for p in paths]
        check_members([m.metadata for m in self.members], paths)
        self.weights = ensemble_weights(opts.weights, len(self.members))
        self.runner = self.members[0]
        self.backend = self.runner.name
        self.metadata: dict[str, Any] = self.runner.metadata
        self.class_names: list[str] = list(self.metadata["class_names"])
        self.postprocess_spec = model_postprocess(self.metadata, opts.topk, opts.threshold)
        self.postprocess = build_postprocess(self.postprocess_spec)
        self.multilabel = self.postprocess.activation == "sigmoid"
        self.topk = self.postprocess_spec.get("topk", opts.topk or 5)
        self.threshold = self.postprocess_spec.get("threshold", opts.threshold)
        self.batch_size = opts.batch_size
        self.fast_decode_resize = opts.fast_decode_resize
        # Members that share their preprocessing share one transform and one batch tensor.
        self.transforms: dict[str, Any] = {}
        self.preprocess_ops: dict[str, list[dict[str, Any]]] = {}  # the op list of each transform
        self.member_keys = []
        for member in self.members:
            ops = opts.preprocess or member.metadata["preprocess"]
            key = json.dumps(ops, sort_keys=True)
            if key not in self.transforms:
                self.transforms[key] = build_preprocess(ops, opts.fast_decode_resize)
                self.preprocess_ops[key] = ops
            self.member_keys.append(key)

    def __repr__(self) -> str:
        models = "+".join(str(m.metadata.get("model")) for m in self.members)
        return (f"Predictor(model={models!r}, backend={self.backend!r}, classes={len(self.class_names)}, "
                f"input_size={self.metadata.get('input_size')})")

    def predict(self, inputs: Any, topk: int | None = None) -> list[dict[str, Any]]:
        """The post-processed result of each image (top-k classes by default), in input order.

        Args:
            inputs: a path, a folder (recursive, sorted), a glob pattern, a list file, a list of
                paths, encoded bytes, a HxWxC / HxW uint8 numpy array or a PIL image.
            topk: overrides the predictor's top-k for this call (a ``Topk`` post-process).

        Returns:
            One dict per image: ``filename`` and the post-process's keys: for ``Topk``
            ``class_ids``, ``scores`` (softmax, descending), ``label_names``; for a multi-label
            model the sigmoid scores of the classes at or above ``threshold``; for
            ``ThreshOutput`` one class and ``label_0``/``label_1``; for ``ScoreOutput`` ``scores``
            only (raw outputs). An image that cannot be read or decoded gets
            ``filename`` and ``error`` instead, and the other images are still predicted.

        Example:
            >>> Predictor("model.onnx").predict(np.zeros((64, 64, 3), np.uint8))[0]["filename"]  # doctest: +SKIP
            '<array>'
        """
        return [result for batch in self.predict_batches(inputs, topk) for result in batch]

    def predict_batches(self, inputs: Any, topk: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """:meth:`predict`, one list of results per batch of ``batch_size`` images, as they are done.

        Example:
            >>> for results in Predictor("m.onnx").predict_batches("big_folder/"): ...  # doctest: +SKIP
        """
        items = collect_inputs(inputs)
        for start in range(0, len(items), self.batch_size):
            chunk = items[start:start + self.batch_size]
            yield self.results_for(chunk, [self.preprocess(item) for item in chunk], topk)

    def preprocess(self, item: ImageInput) -> dict[str, torch.Tensor] | str:
        """The model input(s) of one image: a CHW tensor per distinct preprocessing, or the
        reason it cannot be read or decoded (a string).

        Example:
            >>> Predictor("m.onnx").preprocess(ImageInput("a.png", Path("a.png")))  # doctest: +SKIP
        """
        try:
            data = load_input(item)
            return {key: preprocess_image(tf, data) for key, tf in self.transforms.items()}
        except UNREADABLE as exc:
            return unreadable_reason(exc)

    def results_for(self, items: Sequence[ImageInput], inputs: Sequence[dict[str, torch.Tensor] | str],
                    topk: int | None = None) -> list[dict[str, Any]]:
        """Results of images already preprocessed by :meth:`preprocess` (same order).

        Example:
            >>> p.results_for(items, [p.preprocess(i) for i in items])  # doctest: +SKIP
        """
        postprocess = self.postprocess
        if topk and isinstance(postprocess, POSTPROCESSES["Topk"]):
            postprocess = POSTPROCESSES["Topk"](topk=topk)
        results: list[dict[str, Any] | None] = [None] * len(items)
        good = [i for i, x in enumerate(inputs) if not isinstance(x, str)]
        for i, x in enumerate(inputs):
            if isinstance(x, str):
                results[i] = {"filename": items[i].filename, "error": x}
        if good:
            batches = {}
            for key in self.transforms:
                tensors = [inputs[i][key] for i in good]  # type: ignore[index]
                _check_same_shape(tensors, [items[i] for i in good])
                batches[key] = np.ascontiguousarray(torch.stack(tensors).numpy(), dtype=np.float32)
            probs = fuse_probabilities([self._scores(m.logits(batches[key]))
                                        for m, key in zip(self.members, self.member_keys)], self.weights)
            for i, row in zip(good, probs):
                results[i] = {"filename": items[i].filename, **postprocess(row, self.class_names)}
        return results  # type: ignore[return-value]

    def predict_logits(self, batch: torch.Tensor | np.ndarray) -> np.ndarray:
        """Raw logits ``[N, class_num]`` of an already preprocessed float32 NCHW batch (one model).

        Example:
            >>> Predictor("model.onnx").predict_logits(torch.zeros(2, 3, 224, 224)).shape  # doctest: +SKIP
            (2, 1000)
        """
        if len(self.members) > 1:
            raise ValueError("an ensemble has no single logits; use predict_probabilities")
        return self.runner.logits(_as_array(batch))

    def predict_probabilities(self, batch: torch.Tensor | np.ndarray) -> np.ndarray:
        """Fused scores ``[N, class_num]`` (softmax; sigmoid for multi-label; raw outputs for
        ``ScoreOutput``) of a batch
        preprocessed the way every member expects.

        Example:
            >>> Predictor(["a.onnx", "b.onnx"]).predict_probabilities(x).sum(axis=1)  # doctest: +SKIP
            array([1., 1.], dtype=float32)
        """
        if len(self.transforms) > 1:
            raise ValueError("the ensemble's models preprocess differently; use predict() on images")
        batch = _as_array(batch)
        return fuse_probabilities([self._scores(m.logits(batch)) for m in self.members], self.weights)

    def _scores(self, logits: np.ndarray) -> np.ndarray:
        activation = self.postprocess.activation
        if activation == "identity":
            return np.asarray(logits, dtype=np.float32)
        return sigmoid(logits) if activation == "sigmoid" else softmax(logits)


def model_postprocess(metadata: dict[str, Any], topk: int | None = None,
                      threshold: float | None = None) -> dict[str, Any]:
    """The post-process spec a model runs: its metadata's ``postprocess`` (``Topk`` with the
    metadata's ``topk`` in files from before it), a multi-label model's ``Topk`` turned into
    ``MultiLabelThreshOutput``, with ``topk`` / ``threshold`` set where given.

    Example:
        >>> model_postprocess({"topk": 3})
        {'name': 'Topk', 'topk': 3}
        >>> model_postprocess({"multilabel": True, "postprocess": {"name": "Topk", "topk": 5}})
        {'name': 'MultiLabelThreshOutput', 'threshold': 0.5}
        >>> model_postprocess({"postprocess": {"name": "ThreshOutput", "threshold": 0.9}}, threshold=0.7)
        {'name': 'ThreshOutput', 'threshold': 0.7}
    """
    spec = dict(metadata.get("postprocess") or {"name": "Topk", "topk": metadata.get("topk") or 5})
    if metadata.get("multilabel") and spec["name"] == "Topk":
        spec = {"name": "MultiLabelThreshOutput", "threshold": 0.5}
    if topk is not None and spec["name"] == "Topk":
        spec["topk"] = topk
    if threshold is not None and "threshold" in spec:
        spec["threshold"] = float(threshold)
    return spec


def _as_array(batch: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(batch, torch.Tensor):
        batch = batch.detach().cpu().numpy()
    return np.ascontiguousarray(batch, dtype=np.float32)


def _check_same_shape(tensors: list[torch.Tensor], items: list[ImageInput]) -> None:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"preprocessing gave images of different sizes {sorted(shapes)} "
                         f"(e.g. '{items[0].filename}'); the ops need a CropImage or a fixed "
                         "ResizeImage size to batch them")
