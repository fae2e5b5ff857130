"""Runtimes behind ``Predictor``: each turns a float32 NCHW batch into logits and carries metadata.

=============  =====================================  =========================================
backend        runs                                   precision
=============  =====================================  =========================================
onnxruntime    ``.onnx`` (CPU; CUDA / TensorRT EPs)   fp32, int8 (a quantised file); fp16 on GPU
openvino       ``.xml`` IR or ``.onnx``               fp32, bf16 (CPU hint), int8
torch          ``.pt2`` program, or weights + config  fp32, bf16 (autocast)
=============  =====================================  =========================================

Every backend reads the same ``torchclas`` metadata (:mod:`.metadata`); onnxruntime sessions come
from the one factory :func:`.sessions.onnxruntime_session`. The runtimes (onnxruntime, openvino)
are imported when a backend is opened, not with this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import Config
from ..configure import config_from_dict, load_config
from ..models import resolve_weights_path
from ..models.deploy import build_inference_model, checkpoint_class_num
from ..models.layout import has_conv_weights
from .metadata import build_metadata, parse_metadata, read_onnx_metadata, read_openvino_metadata, read_pt2_metadata
from .sessions import DEVICES, onnxruntime_providers, onnxruntime_session, openvino_config

__all__ = ["BACKENDS", "DEVICES", "PRECISIONS", "OnnxBackend", "OpenVinoBackend", "TorchBackend",
           "open_backend", "default_backend", "as_config", "numpy_logits", "onnxruntime_providers"]

BACKENDS = ("onnxruntime", "openvino", "torch")
PRECISIONS = ("fp32", "bf16", "int8", "fp16")


def _check_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: '{path}'")


class OnnxBackend:
    """An exported ONNX model on onnxruntime: all graph optimisations, sequential execution.

    Args:
        path: the ``.onnx`` file written by ``torchclas export``.
        threads: intra-op threads (None: onnxruntime's default, one per core); inter-op is 1.
        device: ``cpu``, ``cuda`` or ``tensorrt`` (execution providers; GPU packages only).
        precision: None or the file's own; ``fp16`` runs TensorRT in fp16 (``device="tensorrt"``).
        spin: idle intra-op threads spin-wait for the next pass (onnxruntime's default). On a quiet
            2-core machine that cut batch-1 latency by a quarter to a third (PPLCNet_x1_0 2.9 -> 2.1
            ms, MobileNetV3_large 6.0 -> 4.0); with other processes on the cores, spinning threads
            steal the time the next pass needs, and ``False`` (threads sleep) was ~2x faster.

    Example:
        >>> OnnxBackend("inference/model.onnx").logits(np.zeros((1, 3, 224, 224), np.float32)).shape  # doctest: +SKIP
        (1, 1000)
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None, device: str = "cpu",
                 precision: str | None = None, spin: bool = True):
        path = Path(path)
        _check_file(path, "ONNX")
        if precision == "fp16" and device != "tensorrt":
            raise ValueError("precision fp16 needs device='tensorrt' on onnxruntime")
        self.session = onnxruntime_session(path, threads, device, fp16=precision == "fp16", spin=spin)
        self.metadata = parse_metadata(self.session.get_modelmeta().custom_metadata_map, path)
        if (precision or self.metadata.get("precision")) == "bf16":
            raise ValueError(f"{path}: onnxruntime has no bf16 CPU kernels; run bf16 with backend='openvino' "
                             "or backend='torch' (or pass precision='fp32')")
        self.input_name = self.session.get_inputs()[0].name
        self.path = path

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw logits ``[N, class_num]`` of a float32 NCHW batch."""
        return self.session.run(None, {self.input_name: batch})[0]


class OpenVinoBackend:
    """An OpenVINO IR (``.xml``) or ONNX file compiled by OpenVINO for the CPU.

    Args:
        path: ``.xml`` from ``torchclas export --format openvino``, or an exported ``.onnx``.
        threads: ``INFERENCE_NUM_THREADS`` (None: OpenVINO's default).
        precision: ``fp32`` or ``bf16`` (``INFERENCE_PRECISION_HINT``; bf16 needs AVX-512 bf16 or
            AMX); None: the file's metadata precision. An INT8 file runs its quantised ops.

    Example:
        >>> OpenVinoBackend("model.xml", precision="bf16").metadata["model"]  # doctest: +SKIP
        'ResNet18'
    """

    name = "openvino"

    def __init__(self, path: str | Path, threads: int | None = None, precision: str | None = None):
        try:
            import openvino as ov
        except ImportError:
            raise RuntimeError("backend 'openvino' needs the openvino package: pip install openvino") from None
        path = Path(path)
        _check_file(path, "OpenVINO/ONNX")
        core = ov.Core()
        try:
            graph = core.read_model(str(path))
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses of its own
            raise ValueError(f"{path}: not a loadable OpenVINO or ONNX model ({exc})") from None
        self.metadata = read_openvino_metadata(graph, path) if path.suffix == ".xml" else read_onnx_metadata(path)
        self.precision = precision or self.metadata.get("precision", "fp32")
        if self.precision == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            raise RuntimeError("this CPU has no bf16 support (AVX-512 bf16 / AMX); use precision fp32")
        self.compiled = core.compile_model(graph, "CPU", openvino_config(self.precision, threads))
        self.request = self.compiled.create_infer_request()
        self.path = path

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw logits ``[N, class_num]`` of a float32 NCHW batch."""
        return np.array(self.request.infer({0: batch})[0], dtype=np.float32, copy=True)


class TorchBackend:
    """torch, on the CPU or a CUDA GPU: a ``torch.export`` program (``.pt2``) or weights plus
    their config.

    Args:
        path: a ``.pt2`` file, or weights (``.safetensors`` with or without the extension).
        config: a ``Config``, a YAML path or a config dict: needed for weights, unused for ``.pt2``.
        threads: sets ``torch.set_num_threads`` (process-wide) when given.
        precision: ``fp32`` or ``bf16``, and on a GPU ``fp16`` (``torch.autocast``); None: fp32.
        device: ``cpu`` or ``cuda``.

    Example:
        >>> TorchBackend("output/best_model", "configs/ResNet18.yaml").metadata["model"]  # doctest: +SKIP
        'ResNet18'
    """

    name = "torch"

    def __init__(self, path: str | Path, config: Config | str | Path | dict | None = None,
                 threads: int | None = None, precision: str | None = None, device: str = "cpu"):
        self.device, self.precision = _torch_device(device), precision or "fp32"
        allowed = ("fp32", "bf16", "fp16") if self.device.type == "cuda" else ("fp32", "bf16")
        if self.precision not in allowed:
            raise ValueError(f"backend 'torch' on {device} runs {' or '.join(allowed)}, not '{self.precision}'")
        if Path(path).suffix == ".pt2":
            self.path = Path(path)
            self.metadata = read_pt2_metadata(self.path)
            self.model = torch.export.load(str(self.path)).module()
        else:
            if config is None:
                raise ValueError(f"{path}: a weights file needs config= (a Config or YAML path) "
                                 "for the model and preprocessing; or pass an exported .onnx/.pt2 file")
            self.path = resolve_weights_path(path)
            cfg = as_config(config)
            class_num = checkpoint_class_num(cfg, self.path)
            self.model = build_inference_model(cfg, self.path, class_num=class_num)
            self.metadata = build_metadata(cfg, class_num=class_num)
        self.model = self.model.to(self.device)
        if threads:
            torch.set_num_threads(int(threads))
        # NHWC for conv nets, as in training: MobileNetV3_large batch 16, 1 thread: 49 -> 67 img/s
        # a .pt2 program has no Conv2d modules left: count its 4-D weights instead
        self.channels_last = has_conv_weights(self.model)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw logits ``[N, class_num]`` of a float32 NCHW batch."""
        x = torch.from_numpy(batch).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
        with torch.inference_mode(), torch.autocast(self.device.type, dtype, enabled=self.precision != "fp32"):
            return numpy_logits(self.model(x))


def _torch_device(device: str) -> torch.device:
    """``cpu`` or ``cuda`` as a torch device; ``cuda`` without a GPU is an error."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"backend 'torch' runs on 'cpu' or 'cuda', not '{device}'")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda': torch sees no CUDA GPU here")
    return torch.device(device)


def numpy_logits(output: Any) -> np.ndarray:
    """A float32 numpy array from a backend's first output (torch tensor or array).

    Example:
        >>> numpy_logits(torch.ones(1, 2)).dtype
        dtype('float32')
    """
    if isinstance(output, torch.Tensor):
        output = output.detach().float().cpu().numpy()
    return np.asarray(output, dtype=np.float32)


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


def default_backend(model_path: str | Path, precision: str | None = None) -> str:
    """The backend ``Predictor`` picks for a file: ``.xml`` openvino, ``.pt2`` and weights torch,
    ``.onnx`` onnxruntime, except for two kinds it runs slower than openvino: bf16 (asked for,
    or the file's precision), which onnxruntime has no CPU kernels for, and INT8 files that
    NNCF quantised, whose quantised Conv inputs only openvino fuses into int8 kernels.

    Example:
        >>> default_backend("m.xml"), default_backend("m.onnx", "bf16"), default_backend("m.pt2")
        ('openvino', 'openvino', 'torch')
    """
    suffix = Path(model_path).suffix.lower()
    if suffix == ".xml":
        return "openvino"
    if suffix == ".onnx":
        meta: dict[str, Any] = {}
        if precision in (None, "int8") and Path(model_path).is_file():  # the file decides
            try:
                meta = read_onnx_metadata(Path(model_path))
            except ValueError:
                pass  # not a torchclas file: onnxruntime says so when it opens it
        precision = precision or meta.get("precision")
        nncf_int8 = precision == "int8" and meta.get("quantizer") == "nncf"
        return "openvino" if precision == "bf16" or nncf_int8 else "onnxruntime"
    return "torch"


_RUNS = {"onnxruntime": (".onnx",), "openvino": (".xml", ".onnx"), "torch": (".pt2", "weights")}


def open_backend(model_path: str | Path, backend: str | None = None, config: Any = None,
                 threads: int | None = None, precision: str | None = None,
                 device: str = "cpu", spin: bool = True) -> OnnxBackend | OpenVinoBackend | TorchBackend:
    """Open ``model_path`` on ``backend`` (None: :func:`default_backend`); ``spin`` is
    onnxruntime's (see `OnnxBackend`).

    Raises:
        ValueError for an unknown backend or precision, a backend that cannot run this file, or
        weights given without a config.

    Example:
        >>> open_backend("model.onnx").name  # doctest: +SKIP
        'onnxruntime'
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}'; valid: {', '.join(BACKENDS)}")
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; valid: {', '.join(PRECISIONS)}")
    backend = backend or default_backend(model_path, precision)
    suffix = Path(model_path).suffix.lower()
    kind = suffix if suffix in (".onnx", ".xml", ".pt2") else "weights"
    if kind not in _RUNS[backend]:
        runs = " or ".join("a weights file with config=" if k == "weights" else f"a {k} file" for k in _RUNS[backend])
        raise ValueError(f"{model_path}: backend '{backend}' cannot run a {kind} file; it runs {runs}"
                         + (" (export one with `torchclas export`)" if kind == "weights" else ""))
    if device != "cpu" and (backend == "openvino" or (device == "tensorrt" and backend == "torch")):
        runs = "onnxruntime" if device == "tensorrt" else "onnxruntime or torch"
        raise ValueError(f"device '{device}' runs on backend {runs}, not '{backend}'")
    if backend == "onnxruntime":
        return OnnxBackend(model_path, threads, device, precision, spin)
    if backend == "openvino":
        return OpenVinoBackend(model_path, threads, precision)
    return TorchBackend(model_path, config, threads, precision, device)
