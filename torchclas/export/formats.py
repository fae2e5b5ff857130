"""Export formats beyond ONNX: ``torch.export`` programs (``.pt2``) and OpenVINO IR (``.xml``).

Each carries the same ``torchclas`` metadata as the ONNX export
(:mod:`torchclas.inference.metadata`, which also reads it back) and is checked against the
torch model on a random batch before it is kept.

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

import torch
from torch import nn

from ..inference.backends import OpenVinoBackend
from ..inference.metadata import METADATA_KEY, PT2_METADATA_FILE
from ..utils.files import atomic_write
from .onnx_export import MIN_OPSET, check_against_torch, example_batch, torch_to_onnx

__all__ = ["MAX_BATCH", "export_torch_program", "export_openvino", "onnx_to_openvino"]

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
            got = OpenVinoBackend(xml, precision="fp32").logits(example.numpy())
            diff = check_against_torch(model, example, got, out, atol)
        os.replace(xml.with_suffix(".bin"), out.with_suffix(".bin"))
        os.replace(xml, out)
    return diff
