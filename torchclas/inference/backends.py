"""Runtimes behind ``Predictor``: each turns a float32 NCHW batch into logits and carries metadata.

``OnnxBackend`` runs an exported ``.onnx`` file on onnxruntime and reads its metadata from the
file; ``TorchBackend`` builds the model from a config and a weights file and derives the same
metadata from the config (``torchclas.export.build_metadata``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import Config, config_from_dict, load_config
from ..export import build_inference_model, build_metadata, parse_metadata
from ..models import resolve_weights_path

__all__ = ["BACKENDS", "OnnxBackend", "TorchBackend", "open_backend"]

BACKENDS = ("onnxruntime", "torch")


class OnnxBackend:
    """An exported ONNX model on onnxruntime's CPU provider.

    Args:
        path: the ``.onnx`` file written by ``export_onnx``.
        threads: onnxruntime intra-op threads (None: onnxruntime's default).

    Example:
        >>> OnnxBackend("inference/model.onnx").logits(np.zeros((1, 3, 224, 224), np.float32)).shape  # doctest: +SKIP
        (1, 1000)
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX file not found: '{path}'")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own pybind types
            raise ValueError(f"{path}: not a loadable ONNX model ({exc})") from None
        self.metadata = parse_metadata(self.session.get_modelmeta().custom_metadata_map, path)
        self.input_name = self.session.get_inputs()[0].name
        self.path = path

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw logits ``[N, class_num]`` of a float32 NCHW batch."""
        return self.session.run(None, {self.input_name: batch})[0]


class TorchBackend:
    """A model built from a config and loaded from a weights file, run by torch on the CPU.

    Args:
        weights: a weights file (``.safetensors`` with or without the extension).
        config: a ``Config``, a YAML path or a config dict; gives the model and preprocessing.
        threads: sets ``torch.set_num_threads`` (process-wide) when given.

    Example:
        >>> TorchBackend("output/best_model", "configs/ResNet18.yaml").metadata["model"]  # doctest: +SKIP
        'ResNet18'
    """

    name = "torch"

    def __init__(self, weights: str | Path, config: Config | str | Path | dict, threads: int | None = None):
        self.path = resolve_weights_path(weights)
        cfg = as_config(config)
        self.model = build_inference_model(cfg, self.path)
        self.metadata = build_metadata(cfg)
        if threads:
            torch.set_num_threads(int(threads))

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw logits ``[N, class_num]`` of a float32 NCHW batch."""
        with torch.inference_mode():
            return self.model(torch.from_numpy(batch)).float().numpy()


def as_config(config: Config | str | Path | dict) -> Config:
    """A ``Config`` from a ``Config``, a YAML path or a dict.

    Example:
        >>> as_config({"Arch": {"name": "ResNet18"}}).Arch.name
        'ResNet18'
    """
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return config_from_dict(config)
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise TypeError(f"config must be a Config, a YAML path or a dict, got {type(config).__name__}")


def open_backend(model_path: str | Path, backend: str | None, config: Any,
                 threads: int | None) -> OnnxBackend | TorchBackend:
    """Pick and open the backend for ``model_path``: onnxruntime for ``.onnx``, else torch.

    Raises:
        ValueError for an unknown backend, a backend that cannot run this file, or weights
        given without a config.

    Example:
        >>> open_backend("model.onnx", None, None, None).name  # doctest: +SKIP
        'onnxruntime'
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}'; valid: {', '.join(BACKENDS)}")
    is_onnx = Path(model_path).suffix.lower() == ".onnx"
    if is_onnx:
        if backend == "torch":
            raise ValueError(f"{model_path}: backend 'torch' cannot run an ONNX file; use "
                             "backend='onnxruntime', or pass the .safetensors weights with config=")
        return OnnxBackend(model_path, threads)
    if backend == "onnxruntime":
        raise ValueError(f"{model_path}: backend 'onnxruntime' needs an .onnx file; export one "
                         "with `torchclas export`, or use backend='torch' with config=")
    if config is None:
        raise ValueError(f"{model_path}: a weights file needs config= (a Config or YAML path) "
                         "for the model and preprocessing; or pass an exported .onnx file")
    return TorchBackend(model_path, config, threads)
