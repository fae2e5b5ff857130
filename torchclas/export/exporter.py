"""``export_model``: one checkpoint to one deployable file, in a format and a precision.

The files are first written to a hidden folder beside ``out``, checked (logits against torch;
for bf16/INT8 the top-1 agreement on an eval list, run by the inference core's own backend)
and only then moved into place, so a refused export leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..config import Config
from ..config.paths import check_config_paths
from ..inference.backends import open_backend
from ..inference.metadata import build_metadata
from ..models import create_model
from ..models.deploy import build_inference_model, checkpoint_class_num, has_train_time_branches
from .formats import export_openvino, export_torch_program, onnx_to_openvino
from .onnx_export import export_onnx_file, write_onnx_metadata
from .options import FORMATS, SUFFIXES, ExportOptions, export_options
from .precision import check_drop, eval_images, quantize_onnx_int8, top1_agreement

__all__ = ["FORMATS", "SUFFIXES", "export_model"]


def export_model(cfg: Config, out: str | Path, options: ExportOptions | None = None, **kwargs: Any) -> dict[str, Any]:
    """Export ``Global.pretrained_model`` in ``options.format`` and ``options.precision``, with metadata.

    ``class_num`` is the checkpoint's; the model is re-parameterised where it has train-time
    branches; the fp32 graph's logits are compared with torch's on a random batch of 2.

    Args:
        cfg: a validated config; ``Global.pretrained_model`` names the weights.
        out: the file to write (``.onnx``, ``.pt2`` or ``.xml``, matching the format).
        options: format, precision and checks (:class:`~.options.ExportOptions`; default its defaults).
        **kwargs: any :class:`~.options.ExportOptions` field, set on top of ``options``
            (``export_model(cfg, "m.xml", format="openvino")``).

    Returns:
        ``{"path", "format", "precision", "max_abs_diff", "input_size", "class_num",
        "reparameterized", "agreement", "int8"}`` (``agreement``: :func:`.precision.top1_agreement`'s
        report, or None in fp32; ``int8``: :func:`.precision.quantize_onnx_int8`'s report, or None).

    Example:
        >>> export_model(cfg, "m.onnx", precision="int8", calibration="data/train")["agreement"]["agreement"]  # doctest: +SKIP
        99.7
    """
    if isinstance(options, str):
        raise TypeError(f"export_model's third argument is an ExportOptions; pass format={options!r} by keyword")
    opts = export_options(options, **kwargs)
    out = Path(out)
    opts.validate(cfg, out)
    check_config_paths(cfg, "export")
    weights = cfg.Global.pretrained_model
    class_num = checkpoint_class_num(cfg, weights)
    with torch.device("meta"):
        branched = has_train_time_branches(create_model(cfg.Arch.name, class_num, **cfg.Arch.builder_kwargs))
    model = build_inference_model(cfg, weights, class_num=None)
    meta = build_metadata(cfg, class_num=class_num, reparameterized=branched, precision=opts.precision)
    if opts.multilabel is not None:
        meta["multilabel"] = bool(opts.multilabel)
    if opts.precision == "int8":
        meta["quantizer"] = opts.int8_quantizer  # NNCF's graphs run fastest on openvino: the predictor picks it
    out.parent.mkdir(parents=True, exist_ok=True)
    report = quantized = None
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as folder:
        staged = Path(folder) / out.name
        if opts.precision == "int8":
            diff, quantized = _export_int8(model, meta, staged, opts)
        elif opts.format == "onnx":
            diff = export_onnx_file(model, meta, staged, opts.opset, opts.check, opts.atol)
        elif opts.format == "torch-export":
            diff = export_torch_program(model, meta, staged, opts.check, opts.atol)
        else:
            diff = export_openvino(model, meta, staged, opts.opset, opts.check, opts.atol)
        if opts.precision != "fp32":
            runner = open_backend(staged, precision=opts.precision, threads=None)
            paths, labels = eval_images(cfg, opts.eval_list, opts.eval_size)
            report = top1_agreement(model, runner.logits, paths, labels, meta)
            check_drop(report, opts.precision, opts.max_drop, out)
        if opts.format == "openvino":
            os.replace(staged.with_suffix(".bin"), out.with_suffix(".bin"))
        os.replace(staged, out)
    return {"path": str(out), "format": opts.format, "precision": opts.precision, "max_abs_diff": diff,
            "input_size": meta["input_size"], "class_num": class_num, "reparameterized": branched,
            "agreement": report, "int8": quantized}


def _export_int8(model: torch.nn.Module, meta: dict[str, Any], staged: Path,
                 opts: ExportOptions) -> tuple[float | None, dict[str, Any]]:
    """Export fp32 ONNX beside ``staged``, quantise it, write ``staged`` (ONNX or OpenVINO IR)."""
    fp32 = staged.parent / "fp32.onnx"
    diff = export_onnx_file(model, meta, fp32, opts.opset, opts.check, opts.atol)
    int8 = staged if opts.format == "onnx" else staged.parent / "int8.onnx"
    quantized = quantize_onnx_int8(fp32, int8, opts.calibration, meta, opts.calibration_size, opts.calibration_method,
                                   opts.int8_target, opts.int8_max_float_blocks, opts.int8_quantizer, opts.int8_check,
                                   opts.int8_check_size)
    if opts.format == "onnx":
        write_onnx_metadata(int8, meta)
    else:
        onnx_to_openvino(int8, meta, staged)
    return diff, quantized
