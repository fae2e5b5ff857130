"""Export a checkpoint for deployment: ONNX (default), ``torch.export`` ``.pt2`` or OpenVINO IR.

    torchclas export -c CONFIG -o Global.pretrained_model=PATH --out model.onnx [--format onnx]
        [--precision fp32|bf16|int8 --calibration DIR --eval-list FILE --max-drop 1.0]

``export`` sits above the inference core (:mod:`torchclas.inference`): every format stores the
metadata built by :mod:`torchclas.inference.metadata`, and is checked with the inference
core's own sessions and backends before it is kept (:func:`.onnx_export.check_against_torch`).
What to write is one :class:`~.options.ExportOptions`. The model itself is built and folded by
:mod:`torchclas.models.deploy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import Config
from ..inference.metadata import (FORMAT_VERSION, METADATA_KEY, build_metadata, class_names, is_multilabel,
                                  parse_metadata, preprocess_ops, read_onnx_metadata, read_openvino_metadata,
                                  read_pt2_metadata)
from ..inference.sessions import openvino_config
from ..models.deploy import build_inference_model, checkpoint_class_num
from ..utils.hardware import cpu_has_bf16
from .exporter import export_model
from .formats import export_openvino, export_torch_program
from .onnx_export import MIN_OPSET, torch_to_onnx
from .options import FORMATS, ExportOptions, export_options

__all__ = ["FORMATS", "METADATA_KEY", "FORMAT_VERSION", "MIN_OPSET", "ExportOptions", "export_model",
           "export_onnx", "export_options", "preprocess_ops", "class_names", "is_multilabel",
           "build_inference_model", "checkpoint_class_num", "build_metadata", "read_onnx_metadata",
           "read_pt2_metadata", "read_openvino_metadata", "parse_metadata", "openvino_config", "torch_to_onnx",
           "cpu_has_bf16", "export_openvino", "export_torch_program"]


def export_onnx(cfg: Config, out: str | Path, opset: int = MIN_OPSET, check: bool = True,
                atol: float = 1e-4) -> dict[str, Any]:
    """:func:`export_model` with ``format="onnx"``.

    Example:
        >>> export_onnx(cfg, "inference/model.onnx")["max_abs_diff"] < 1e-4  # doctest: +SKIP
        True
    """
    return export_model(cfg, out, ExportOptions(format="onnx", opset=opset, check=check, atol=atol))
