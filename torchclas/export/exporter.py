"""``export_model``: one checkpoint to one deployable file, in a format and a precision.

The files are first written to a hidden folder beside ``out``, checked (logits against torch;
for bf16/INT8 the top-1 agreement on an eval list) and only then moved into place, so a
refused export leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..config import Config
from ..config.paths import check_config_paths
from ..models import create_model
from .formats import export_openvino, export_torch_program, onnx_to_openvino
from .metadata import build_metadata
from .model import build_inference_model, checkpoint_class_num, has_train_time_branches
from .onnx_export import MIN_OPSET, export_onnx_file, write_onnx_metadata
from .precision import PRECISIONS, check_drop, cpu_has_bf16, eval_images, quantize_onnx_int8, top1_agreement
from .quantizers import check_quantizer

__all__ = ["FORMATS", "SUFFIXES", "export_model"]

FORMATS = ("onnx", "torch-export", "openvino")
SUFFIXES = {"onnx": ".onnx", "torch-export": ".pt2", "openvino": ".xml"}


def _validate(cfg: Config, out: Path, format: str, precision: str, opset: int, calibration: Any,
              quantizer: str, method: str, check: Any = None) -> None:
    if format not in FORMATS:
        raise ValueError(f"unknown export format '{format}'; valid: {', '.join(FORMATS)}")
    if out.suffix.lower() != SUFFIXES[format]:
        raise ValueError(f"--format {format} writes a {SUFFIXES[format]} file; got --out '{out}'")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; valid: {', '.join(PRECISIONS)}")
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old; torchclas exports opset >= {MIN_OPSET}")
    if not cfg.Global.pretrained_model:
        raise ValueError("export needs weights: pass -o Global.pretrained_model=path/to/best_model")
    if precision == "int8" and format == "torch-export":
        raise ValueError("--precision int8 is exported as onnx or openvino (static quantisation), not torch-export")
    if precision == "int8" and calibration is None:
        raise ValueError("--precision int8 needs --calibration DIR: a folder of images to calibrate on")
    if precision == "int8":
        check_quantizer(quantizer, method)
        for what, folder in (("calibration", calibration), ("int8 check", check)):
            if folder is not None and not Path(folder).is_dir():
                raise FileNotFoundError(f"{what} folder not found: '{folder}'")
    if precision == "bf16" and not cpu_has_bf16():
        raise RuntimeError("--precision bf16: this CPU has no AVX-512 bf16 or AMX; export fp32 or int8")


def export_model(cfg: Config, out: str | Path, format: str = "onnx", precision: str = "fp32",
                 opset: int = MIN_OPSET, check: bool = True, atol: float = 1e-4, multilabel: bool | None = None,
                 calibration: str | Path | None = None, calibration_size: int = 128,
                 calibration_method: str = "auto", int8_target: float | None = 99.0,
                 int8_max_float_blocks: int | None = None, int8_quantizer: str = "nncf",
                 int8_check: str | Path | None = None, int8_check_size: int | None = None,
                 eval_list: str | Path | None = None, eval_size: int = 1000, max_drop: float = 1.0) -> dict[str, Any]:
    """Export ``Global.pretrained_model`` in ``format`` and ``precision``, with metadata.

    ``class_num`` is the checkpoint's; the model is re-parameterised where it has train-time
    branches; the fp32 graph's logits are compared with torch's on a random batch of 2.

    Args:
        cfg: a validated config; ``Global.pretrained_model`` names the weights.
        out: the file to write (``.onnx``, ``.pt2`` or ``.xml``, matching ``format``).
        format: ``onnx``, ``torch-export`` or ``openvino``.
        precision: ``fp32``; ``bf16`` (run in bf16 by OpenVINO / torch); ``int8`` (static
            quantisation, ``onnx`` or ``openvino``).
        opset: ONNX opset (``onnx`` and ``openvino``), at least 17.
        check: compare the fp32 graph with torch; fail above ``atol`` per unit of the largest logit.
        atol: see ``check``.
        multilabel: store the model as multi-label; None: from ``Loss.Train``.
        calibration: image folder for INT8 calibration.
        calibration_size: at most this many calibration images.
        calibration_method: INT8 activation ranges: ``auto`` (the quantiser's own), ``minmax-mean``,
            ``minmax``, ``percentile`` or ``entropy`` (onnxruntime only).
        int8_target: keep the INT8 blocks that hurt most in fp32 until top-1 agrees with fp32 on
            this % of the check images (``int8_check``); 0 or None quantises every block.
        int8_max_float_blocks: keep at most this many blocks in fp32 (None: a quarter of them).
        int8_quantizer: ``nncf`` (default) or ``onnxruntime`` (:mod:`.quantizers`).
        int8_check: folder of held-out images (not the eval list) the fallback checks top-1
            agreement on (None: the calibration folder).
        int8_check_size: at most this many check images (None: ``calibration_size``).
        eval_list: ``path [label]`` list for the bf16/INT8 agreement (default ``DataLoader.Eval``'s).
        eval_size: at most this many eval images.
        max_drop: refuse a bf16/INT8 export whose top-1 drops more than this many points.

    Returns:
        ``{"path", "format", "precision", "max_abs_diff", "input_size", "class_num",
        "reparameterized", "agreement", "int8"}`` (``agreement``: :func:`.precision.top1_agreement`'s
        report, or None in fp32; ``int8``: :func:`.precision.quantize_onnx_int8`'s report, or None).

    Example:
        >>> export_model(cfg, "m.onnx", precision="int8", calibration="data/train")["agreement"]["agreement"]  # doctest: +SKIP
        99.7
    """
    out = Path(out)
    _validate(cfg, out, format, precision, opset, calibration, int8_quantizer, calibration_method, int8_check)
    check_config_paths(cfg, "export")
    weights = cfg.Global.pretrained_model
    class_num = checkpoint_class_num(cfg, weights)
    with torch.device("meta"):
        branched = has_train_time_branches(create_model(cfg.Arch.name, class_num, **cfg.Arch.builder_kwargs))
    model = build_inference_model(cfg, weights, class_num=None)
    meta = build_metadata(cfg, class_num=class_num, reparameterized=branched, precision=precision)
    if multilabel is not None:
        meta["multilabel"] = bool(multilabel)
    if precision == "int8":
        meta["quantizer"] = int8_quantizer  # NNCF's graphs run fastest on openvino: the predictor picks it
    out.parent.mkdir(parents=True, exist_ok=True)
    report = quantized = None
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as folder:
        staged = Path(folder) / out.name
        if precision == "int8":
            fp32 = Path(folder) / "fp32.onnx"
            diff = export_onnx_file(model, meta, fp32, opset, check, atol)
            int8 = staged if format == "onnx" else Path(folder) / "int8.onnx"
            quantized = quantize_onnx_int8(fp32, int8, calibration, meta, calibration_size, calibration_method,
                                           int8_target, int8_max_float_blocks, int8_quantizer, int8_check,
                                           int8_check_size)
            if format == "onnx":
                write_onnx_metadata(int8, meta)
            else:
                onnx_to_openvino(int8, meta, staged)
        elif format == "onnx":
            diff = export_onnx_file(model, meta, staged, opset, check, atol)
        elif format == "torch-export":
            diff = export_torch_program(model, meta, staged, check, atol)
        else:
            diff = export_openvino(model, meta, staged, opset, check, atol)
        if precision != "fp32":
            from ..inference.backends import open_backend

            runner = open_backend(staged, precision=precision, threads=None)
            paths, labels = eval_images(cfg, eval_list, eval_size)
            report = top1_agreement(model, runner.logits, paths, labels, meta)
            check_drop(report, precision, max_drop, out)
        if format == "openvino":
            os.replace(staged.with_suffix(".bin"), out.with_suffix(".bin"))
        os.replace(staged, out)
    return {"path": str(out), "format": format, "precision": precision, "max_abs_diff": diff,
            "input_size": meta["input_size"], "class_num": class_num, "reparameterized": branched,
            "agreement": report, "int8": quantized}
