"""Export formats beyond ONNX: ``torch.export`` programs (``.pt2``) and OpenVINO IR (``.xml``).

Each carries the same ``torchclas`` metadata as the ONNX export (:mod:`.metadata`) and is
checked against the torch model on a random batch before it is kept.

- ``torch-export``: ``torch.export.export`` with a dynamic batch dimension, saved with
  ``torch.export.save``; the metadata is the extra file ``torchclas.json``.
- ``openvino``: the ONNX graph converted by ``openvino.convert_model`` and saved in fp32
  (``model.xml`` + ``model.bin``); the metadata is ``rt_info["torchclas"]``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..utils.files import atomic_write
from .metadata import METADATA_KEY, parse_metadata
from .onnx_export import MIN_OPSET, check_against_torch, example_batch, torch_to_onnx

__all__ = ["PT2_METADATA_FILE", "export_torch_program", "read_pt2_metadata", "export_openvino",
           "read_openvino_metadata", "openvino_config", "onnx_to_openvino"]

PT2_METADATA_FILE = "torchclas.json"
MAX_BATCH = 4096


def export_torch_program(model: nn.Module, meta: dict[str, Any], out: str | Path, check: bool = True,
                         atol: float = 1e-4) -> float | None:
    """Write ``model`` as a ``torch.export`` program (``.pt2``, dynamic batch) with ``meta``.

    Returns:
        The largest logit difference between the saved program and ``model`` (None without check).

    Example:
        >>> export_torch_program(model, meta, "model.pt2")  # doctest: +SKIP
        0.0
    """
    example = example_batch(meta["input_size"])
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    result: list[float | None] = [None]

    def write(tmp: str) -> None:
        with torch.no_grad():
            program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
        torch.export.save(program, tmp, extra_files={PT2_METADATA_FILE: json.dumps(meta)})
        if check:
            loaded = torch.export.load(tmp).module()
            with torch.no_grad():
                got = loaded(example).numpy()
            result[0] = check_against_torch(model, example, got, out, atol)

    atomic_write(out, write)
    return result[0]


def read_pt2_metadata(path: str | Path) -> dict[str, Any]:
    """The ``torchclas`` metadata of a ``.pt2`` file written by :func:`export_torch_program`.

    Example:
        >>> read_pt2_metadata("model.pt2")["model"]  # doctest: +SKIP
        'ResNet18'
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"torch.export file not found: '{path}'")
    try:
        with zipfile.ZipFile(path) as archive:
            entry = next((n for n in archive.namelist() if n.endswith(f"extra/{PT2_METADATA_FILE}")), None)
            text = archive.read(entry).decode("utf-8") if entry else None
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not a torch.export .pt2 archive") from None
    return parse_metadata({} if text is None else {METADATA_KEY: text}, path)


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


def onnx_to_openvino(onnx_path: str | Path, meta: dict[str, Any], xml: str | Path) -> None:
    """Convert an ONNX file (fp32, or INT8 QDQ) to OpenVINO IR ``xml`` + ``.bin`` with ``meta``.

    Example:
        >>> onnx_to_openvino("m.onnx", meta, "m.xml")  # doctest: +SKIP
    """
    import openvino as ov

    graph = ov.convert_model(str(onnx_path))
    graph.set_rt_info(json.dumps(meta), METADATA_KEY)
    ov.save_model(graph, str(xml), compress_to_fp16=False)


def export_openvino(model: nn.Module, meta: dict[str, Any], out: str | Path, opset: int = MIN_OPSET,
                    check: bool = True, atol: float = 1e-4) -> float | None:
    """Write ``model`` as OpenVINO IR (``out`` ``.xml`` and its ``.bin``) with ``meta``, in fp32.

    Returns:
        The largest logit difference between OpenVINO (fp32 precision hint) and ``model``.

    Example:
        >>> export_openvino(model, meta, "model.xml")  # doctest: +SKIP
        1.9e-06
    """
    import openvino as ov

    out = Path(out)
    if out.suffix != ".xml":
        raise ValueError(f"--format openvino writes an .xml (+ .bin) file, got '{out}'")
    example = example_batch(meta["input_size"])
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as folder:
        onnx_path = Path(folder) / "model.onnx"
        torch_to_onnx(model, example, onnx_path, opset)
        xml = Path(folder) / out.name
        onnx_to_openvino(onnx_path, meta, xml)
        diff = None
        if check:
            compiled = ov.Core().compile_model(str(xml), "CPU", openvino_config("fp32"))
            diff = check_against_torch(model, example, compiled(example.numpy())[0], out, atol)
        os.replace(xml.with_suffix(".bin"), out.with_suffix(".bin"))
        os.replace(xml, out)
    return diff


def read_openvino_metadata(graph: Any, path: str | Path) -> dict[str, Any]:
    """The ``torchclas`` metadata of an OpenVINO model (``ov.Model``) read from ``path``.

    Example:
        >>> read_openvino_metadata(ov.Core().read_model("model.xml"), "model.xml")["model"]  # doctest: +SKIP
        'ResNet18'
    """
    props = {METADATA_KEY: graph.get_rt_info(METADATA_KEY).astype(str)} if graph.has_rt_info(METADATA_KEY) else {}
    return parse_metadata(props, path)


def numpy_logits(output: Any) -> np.ndarray:
    """A float32 numpy array from a backend's first output (torch tensor or array).

    Example:
        >>> numpy_logits(torch.ones(1, 2)).dtype
        dtype('float32')
    """
    if isinstance(output, torch.Tensor):
        output = output.detach().float().cpu().numpy()
    return np.asarray(output, dtype=np.float32)
