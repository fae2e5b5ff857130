"""Export a checkpoint for deployment: ONNX (default), ``torch.export`` ``.pt2`` or OpenVINO IR.

    torchclas export -c CONFIG -o Global.pretrained_model=PATH --out model.onnx [--format onnx]

Every format stores the same metadata (:mod:`.metadata`) and is checked against the torch
model before it is kept (:func:`.onnx_export.check_against_torch`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..config import Config
from ..models import create_model
from .formats import export_openvino, export_torch_program, openvino_config, read_openvino_metadata, read_pt2_metadata
from .metadata import (FORMAT_VERSION, METADATA_KEY, build_metadata, class_names, is_multilabel, parse_metadata,
                       preprocess_ops, read_onnx_metadata)
from .model import build_inference_model, checkpoint_class_num, has_train_time_branches
from .onnx_export import MIN_OPSET, export_onnx_file, torch_to_onnx

__all__ = ["FORMATS", "METADATA_KEY", "FORMAT_VERSION", "MIN_OPSET", "export_model", "export_onnx",
           "preprocess_ops", "class_names", "is_multilabel", "build_inference_model", "checkpoint_class_num",
           "build_metadata", "read_onnx_metadata", "read_pt2_metadata", "read_openvino_metadata",
           "parse_metadata", "openvino_config", "torch_to_onnx"]

FORMATS = ("onnx", "torch-export", "openvino")
SUFFIXES = {"onnx": ".onnx", "torch-export": ".pt2", "openvino": ".xml"}


def export_model(cfg: Config, out: str | Path, format: str = "onnx", opset: int = MIN_OPSET,
                 check: bool = True, atol: float = 1e-4, multilabel: bool | None = None) -> dict[str, Any]:
    """Export ``Global.pretrained_model`` in ``format``, with metadata, written atomically.

    ``class_num`` is the checkpoint's; the model is re-parameterised where it has train-time
    branches; the written file's logits are compared with torch's on a random batch of 2.

    Args:
        cfg: a validated config; ``Global.pretrained_model`` names the weights.
        out: the file to write (``.onnx``, ``.pt2`` or ``.xml``, matching ``format``).
        format: ``onnx``, ``torch-export`` or ``openvino``.
        opset: ONNX opset (``onnx`` and ``openvino``), at least 17.
        check: compare with torch; the file is only written when the largest difference is at
            most ``atol`` per unit of the largest absolute logit.
        atol: see ``check``.
        multilabel: store the model as multi-label (sigmoid scores, thresholds); None: when
            ``Loss.Train`` is a sigmoid loss (:func:`.metadata.is_multilabel`).

    Returns:
        ``{"path", "format", "max_abs_diff" (None without check), "input_size", "class_num",
        "reparameterized"}``.

    Example:
        >>> export_model(cfg, "inference/model.pt2", format="torch-export")["class_num"]  # doctest: +SKIP
        10
    """
    if format not in FORMATS:
        raise ValueError(f"unknown export format '{format}'; valid: {', '.join(FORMATS)}")
    if Path(out).suffix.lower() != SUFFIXES[format]:
        raise ValueError(f"--format {format} writes a {SUFFIXES[format]} file; got --out '{out}'")
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old; torchclas exports opset >= {MIN_OPSET}")
    weights = cfg.Global.pretrained_model
    if not weights:
        raise ValueError("export needs weights: pass -o Global.pretrained_model=path/to/best_model")
    class_num = checkpoint_class_num(cfg, weights)
    with torch.device("meta"):
        branched = has_train_time_branches(create_model(cfg.Arch.name, class_num, **cfg.Arch.builder_kwargs))
    model = build_inference_model(cfg, weights, class_num=None)
    meta = build_metadata(cfg, class_num=class_num, reparameterized=branched)
    if multilabel is not None:
        meta["multilabel"] = bool(multilabel)
    if format == "onnx":
        diff = export_onnx_file(model, meta, out, opset, check, atol)
    elif format == "torch-export":
        diff = export_torch_program(model, meta, out, check, atol)
    else:
        diff = export_openvino(model, meta, out, opset, check, atol)
    return {"path": str(out), "format": format, "max_abs_diff": diff, "input_size": meta["input_size"],
            "class_num": class_num, "reparameterized": branched}


def export_onnx(cfg: Config, out: str | Path, opset: int = MIN_OPSET, check: bool = True,
                atol: float = 1e-4) -> dict[str, Any]:
    """:func:`export_model` with ``format="onnx"``.

    Example:
        >>> export_onnx(cfg, "inference/model.onnx")["max_abs_diff"] < 1e-4  # doctest: +SKIP
        True
    """
    return export_model(cfg, out, "onnx", opset, check, atol)
