"""How each runtime is opened: the one onnxruntime session factory and OpenVINO's compile properties.

Everything that runs an ONNX file on onnxruntime (the predictor's backend, the export's checks,
the INT8 calibration trials, ``torchclas benchmark``) opens it with :func:`onnxruntime_session`,
so they all run the same graph optimisations and thread settings. onnxruntime is imported only
when a session is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DEVICES", "onnxruntime_providers", "onnxruntime_session", "openvino_config"]

DEVICES = ("cpu", "cuda", "tensorrt")


def onnxruntime_providers(device: str, fp16: bool = False) -> list[Any]:
    """onnxruntime execution providers for ``device`` (``cpu``, ``cuda``, ``tensorrt``), CPU last.

    Raises:
        RuntimeError when this onnxruntime build lacks the provider (e.g. no GPU package).

    Example:
        >>> onnxruntime_providers("cpu")
        ['CPUExecutionProvider']
    """
    import onnxruntime as ort

    if device not in DEVICES:
        raise ValueError(f"unknown device '{device}'; valid: {', '.join(DEVICES)}")
    wanted = {"cpu": [], "cuda": ["CUDAExecutionProvider"],
              "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider"]}[device]
    available = ort.get_available_providers()
    missing = [p for p in wanted if p not in available]
    if missing:
        raise RuntimeError(f"onnxruntime has no {missing[0]} here (available: {', '.join(available)}); "
                           "install onnxruntime-gpu on a machine with a GPU")
    providers: list[Any] = []
    for name in wanted:
        if name == "TensorrtExecutionProvider":
            providers.append((name, {"trt_fp16_enable": fp16, "trt_engine_cache_enable": True}))
        else:
            providers.append(name)
    return providers + ["CPUExecutionProvider"]


def onnxruntime_session(path: str | Path, threads: int | None = None, device: str = "cpu", fp16: bool = False,
                        spin: bool = True) -> Any:
    """An ``onnxruntime.InferenceSession`` on ``path``: all graph optimisations, sequential
    execution, one inter-op thread.

    Args:
        path: an ONNX file.
        threads: intra-op threads (None: onnxruntime's default, one per core).
        device: ``cpu``, ``cuda`` or ``tensorrt`` (:func:`onnxruntime_providers`).
        fp16: TensorRT builds fp16 engines (``device="tensorrt"``).
        spin: idle intra-op threads spin-wait for the next pass (onnxruntime's default); False
            lets them sleep, which is faster when other processes share the cores.

    Raises:
        ValueError naming ``path`` when onnxruntime cannot load it; RuntimeError for a missing
        execution provider.

    Example:
        >>> onnxruntime_session("m.onnx", threads=1).get_inputs()[0].name  # doctest: +SKIP
        'x'
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    if threads:
        options.intra_op_num_threads = int(threads)
    providers = onnxruntime_providers(device, fp16=fp16)
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own pybind types
        raise ValueError(f"{path}: not a loadable ONNX model ({exc})") from None


def openvino_config(precision: str, threads: int | None = None, latency: bool = True) -> dict[str, Any]:
    """OpenVINO CPU compile properties for ``precision`` (``fp32``/``bf16``/``int8``).

    OpenVINO runs CPU models in bf16 by default where the CPU has AMX or AVX-512 bf16, so fp32
    is asked for explicitly; an INT8 model keeps its quantised ops and runs the rest in fp32.

    Example:
        >>> openvino_config("bf16", 2)["INFERENCE_PRECISION_HINT"]
        'bf16'
    """
    hint = {"fp32": "f32", "int8": "f32", "bf16": "bf16"}.get(precision)
    if hint is None:
        raise ValueError(f"unknown precision '{precision}'; valid: fp32, bf16, int8")
    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": hint,
                              "PERFORMANCE_HINT": "LATENCY" if latency else "THROUGHPUT"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    return config
