"""The static INT8 quantisers behind ``--int8-quantizer``: NNCF (the default) and onnxruntime.

Each turns an fp32 graph into a QDQ ONNX file, calibrated on batches of preprocessed images,
and leaves the nodes it is told to exclude in fp32, so the accuracy-aware fallback
(:mod:`.int8_fallback`) can call it again: onnxruntime quantises again without them; NNCF
quantises again only for the file it writes, and answers the fallback's trials by bypassing
those nodes' quantisers in its fully quantised graph (`int8_fallback.keep_float`).

onnxruntime quantises the graph its ``quant_pre_process`` prepared (batch norms folded,
HardSwish split into HardSigmoid and Mul); NNCF the graph as exported, which it folds itself.

- ``nncf``: NNCF's post-training quantisation, mixed preset: per-channel symmetric int8
  weights, asymmetric 8-bit activations, one quantiser on the input of each Conv/Gemm/MatMul
  (and wherever else OpenVINO's int8 patterns want one), then fast bias correction; it leaves
  squeeze-excite gates in float. The activation after a convolution (HardSwish, ...) stays in
  float between the conv and the next quantiser, which is what OpenVINO's CPU plugin fuses
  into its int8 kernels. On the hardswish nets (PP-LCNet, MobileNetV3) this keeps top-1 agreement with
  fp32 1.6-6.4 points higher than onnxruntime's placement, and OpenVINO runs it at 1.7-1.8x
  the batch-16 throughput of onnxruntime's file on onnxruntime (docs/export.md).
- ``onnxruntime``: onnxruntime's ``quantize_static`` (QDQ, per-channel int8 weights, uint8
  activations). It also quantises every Conv's output and both inputs of the Mul that a
  HardSwish is decomposed into, so a hardswish net is rounded three times per layer; ReLU
  nets lose nothing by it and run its int8 kernels (QLinearConv) on onnxruntime.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["QUANTIZERS", "CALIBRATION_METHODS", "check_quantizer", "build_quantizer"]

QUANTIZERS = ("nncf", "onnxruntime")
CALIBRATION_METHODS = ("auto", "minmax-mean", "minmax", "percentile", "entropy")
_NNCF_METHODS = ("auto", "minmax-mean", "minmax", "percentile")

Quantize = Callable[..., Path]  # quantize(out, exclude, trial=False) -> out


def check_quantizer(quantizer: str, method: str) -> None:
    """Raise a ValueError naming the value when ``quantizer`` or its calibration ``method`` is unknown.

    Example:
        >>> check_quantizer("onnxruntime", "entropy")
    """
    if quantizer not in QUANTIZERS:
        raise ValueError(f"unknown INT8 quantizer '{quantizer}'; valid: {', '.join(QUANTIZERS)}")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown calibration method '{method}'; valid: {', '.join(CALIBRATION_METHODS)}")
    if quantizer == "nncf" and method not in _NNCF_METHODS:
        raise ValueError(f"calibration method '{method}' is onnxruntime's; with --int8-quantizer nncf use "
                         f"{', '.join(_NNCF_METHODS)} (or --int8-quantizer onnxruntime)")


def build_quantizer(quantizer: str, prepared: Path, batches: list[np.ndarray], method: str, cache: Path) -> Quantize:
    """``quantize(out, exclude, trial=False) -> out``: ``prepared`` quantised by ``quantizer``,
    ``exclude``'s nodes left fp32. With ``trial`` (a fallback trial, only measured) NNCF's answer
    is the fully quantised graph with those nodes' quantisers bypassed (`int8_fallback.keep_float`)
    instead of a new NNCF run: the fallback's search took 16 s instead of 49 s on PPLCNet_x1_0 and
    34 s instead of 129 s on MobileNetV3_large_x1_0 (1 thread, 256 calibration images), choosing
    the same blocks, with the same agreement.

    Args:
        quantizer: ``nncf`` or ``onnxruntime``.
        prepared: the fp32 ONNX file (for onnxruntime: after its ``quant_pre_process``).
        batches: calibration batches, float32 NCHW, fed to the graph's input ``x``.
        method: activation ranges: ``auto`` (the quantiser's own: NNCF's preset estimator,
            onnxruntime's ``minmax-mean``), ``minmax-mean``, ``minmax``, ``percentile`` or
            ``entropy`` (onnxruntime only).
        cache: a file onnxruntime may keep the calibrated ranges in between calls.

    Raises:
        ValueError for an unknown quantiser or method, or a method the quantiser lacks.

    Example:
        >>> quantize = build_quantizer("nncf", Path("prep.onnx"), batches, "auto", Path("r.json"))  # doctest: +SKIP
        >>> quantize(Path("m.int8.onnx"), ["/blocks/blocks.5/Conv"])  # doctest: +SKIP
    """
    check_quantizer(quantizer, method)
    if quantizer == "nncf":
        return _nncf_quantizer(prepared, batches, method)
    return _onnxruntime_quantizer(prepared, batches, "minmax-mean" if method == "auto" else method, cache)


def _nncf_quantizer(prepared: Path, batches: list[np.ndarray], method: str) -> Quantize:
    import nncf
    import onnx
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    from .int8_fallback import keep_float

    estimators = {"auto": None, "minmax-mean": RangeEstimatorParametersSet.MEAN_MINMAX,
                  "minmax": RangeEstimatorParametersSet.MINMAX, "percentile": RangeEstimatorParametersSet.MEAN_QUANTILE}
    advanced = AdvancedQuantizationParameters(activations_range_estimator_params=estimators[method])
    nncf.set_log_level(logging.ERROR)  # its INFO lines are not ours to print
    model, dataset = onnx.load(str(prepared)), nncf.Dataset([{"x": batch} for batch in batches])
    images = sum(len(batch) for batch in batches)

    def run_nncf(exclude: list[str]) -> onnx.ModelProto:
        graph = onnx.ModelProto()
        graph.CopyFrom(model)
        # its progress bars (rich, on stdout) are not ours to draw either
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            return nncf.quantize(graph, dataset, preset=nncf.QuantizationPreset.MIXED, subset_size=images,
                                 ignored_scope=nncf.IgnoredScope(names=exclude, validate=False),
                                 advanced_parameters=advanced)

    full: list[onnx.ModelProto] = []

    def quantize(out: Path, exclude: list[str], trial: bool = False) -> Path:
        if not full:
            full.append(run_nncf([]))
        if not exclude:
            quantized = full[0]
        elif trial:  # the fully quantised graph with exclude's quantisers bypassed: no NNCF call
            quantized = keep_float(full[0], model, exclude)
        else:  # the file written: NNCF places and corrects around the fp32 blocks itself
            quantized = run_nncf(exclude)
        onnx.save(quantized, str(out))
        return out

    return quantize


def _onnxruntime_quantizer(prepared: Path, batches: list[np.ndarray], method: str, cache: Path) -> Quantize:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {"x": batch}

    # where onnxruntime can store the calibrated ranges, later quantisations skip the calibration run
    cached = {"calibration_cache_path": str(cache)} if "calibration_cache_path" in inspect.signature(
        quantize_static).parameters else {}
    ranges = {"minmax": CalibrationMethod.MinMax, "minmax-mean": CalibrationMethod.MinMax,
              "percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy}[method]
    # minmax-mean: each tensor's range is the mean over batches of the batch's min and max
    # (onnxruntime's CalibMovingAverage), which a few outlier images cannot stretch
    options = {"CalibMovingAverage": True} if method == "minmax-mean" else {}

    def quantize(out: Path, exclude: list[str], trial: bool = False) -> Path:
        quantize_static(str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=ranges,
                        nodes_to_exclude=exclude, extra_options=options, **cached)
        return out

    return quantize
