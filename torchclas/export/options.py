"""``ExportOptions``: what ``torchclas export`` writes (format, precision) and how it checks it.

Each field is one ``torchclas export`` flag and one keyword of :func:`~.exporter.export_model`
(``--calibration-size`` is ``calibration_size``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..config import Config
from ..utils.hardware import cpu_has_bf16
from .onnx_export import MIN_OPSET
from .precision import PRECISIONS
from .quantizers import check_quantizer

__all__ = ["FORMATS", "SUFFIXES", "ExportOptions", "export_options"]

FORMATS = ("onnx", "torch-export", "openvino")
SUFFIXES = {"onnx": ".onnx", "torch-export": ".pt2", "openvino": ".xml"}


@dataclass
class ExportOptions:
    """How to export a checkpoint: the file's format and precision, and the checks it must pass.

    Args:
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

    Example:
        >>> ExportOptions(precision="int8", calibration="data/train").int8_quantizer
        'nncf'
    """

    format: str = "onnx"
    precision: str = "fp32"
    opset: int = MIN_OPSET
    check: bool = True
    atol: float = 1e-4
    multilabel: bool | None = None
    calibration: str | Path | None = None
    calibration_size: int = 128
    calibration_method: str = "auto"
    int8_target: float | None = 99.0
    int8_max_float_blocks: int | None = None
    int8_quantizer: str = "nncf"
    int8_check: str | Path | None = None
    int8_check_size: int | None = None
    eval_list: str | Path | None = None
    eval_size: int = 1000
    max_drop: float = 1.0

    def validate(self, cfg: Config, out: Path) -> None:
        """Fail before any work when these options cannot export ``cfg`` to ``out``.

        Raises:
            ValueError for an unknown format, precision, quantiser or method, a suffix that does
            not match the format, an old opset, missing weights or calibration folder;
            FileNotFoundError for a missing calibration or check folder; RuntimeError for bf16 on
            a CPU without bf16.

        Example:
            >>> ExportOptions(format="tflite").validate(cfg, Path("m.tflite"))  # doctest: +SKIP
            Traceback (most recent call last):
            ValueError: unknown export format 'tflite'; valid: onnx, torch-export, openvino
        """
        format, precision = self.format, self.precision
        if format not in FORMATS:
            raise ValueError(f"unknown export format '{format}'; valid: {', '.join(FORMATS)}")
        if out.suffix.lower() != SUFFIXES[format]:
            raise ValueError(f"--format {format} writes a {SUFFIXES[format]} file; got --out '{out}'")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision '{precision}'; valid: {', '.join(PRECISIONS)}")
        if self.opset < MIN_OPSET:
            raise ValueError(f"opset {self.opset} is too old; torchclas exports opset >= {MIN_OPSET}")
        if not cfg.Global.pretrained_model:
            raise ValueError("export needs weights: pass -o Global.pretrained_model=path/to/best_model")
        if precision == "int8":
            self._validate_int8(format)
        if precision == "bf16" and not cpu_has_bf16():
            raise RuntimeError("--precision bf16: this CPU has no AVX-512 bf16 or AMX; export fp32 or int8")

    def _validate_int8(self, format: str) -> None:
        if format == "torch-export":
            raise ValueError("--precision int8 is exported as onnx or openvino (static quantisation), not torch-export")
        if self.calibration is None:
            raise ValueError("--precision int8 needs --calibration DIR: a folder of images to calibrate on")
        check_quantizer(self.int8_quantizer, self.calibration_method)
        for what, folder in (("calibration", self.calibration), ("int8 check", self.int8_check)):
            if folder is not None and not Path(folder).is_dir():
                raise FileNotFoundError(f"{what} folder not found: '{folder}'")


def export_options(options: ExportOptions | None = None, **overrides: Any) -> ExportOptions:
    """``options`` (default :class:`ExportOptions`) with ``overrides`` set.

    Raises:
        TypeError naming an unknown option and the valid ones.

    Example:
        >>> export_options(format="openvino", opset=18).opset
        18
    """
    valid = [f.name for f in fields(ExportOptions)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise TypeError(f"unknown export option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    return replace(options or ExportOptions(), **overrides)
