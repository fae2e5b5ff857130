"""Reduced precision for deployment: bf16 inference and static INT8 post-training quantisation.

- ``bf16``: the exported graph stays fp32 and is marked ``precision: bf16``; the runtime runs
  it in bf16 (OpenVINO's ``INFERENCE_PRECISION_HINT``, torch autocast). Needs a CPU with
  AVX-512 bf16 or AMX (or a GPU).
- ``int8``: onnxruntime's static quantisation (QDQ, per-channel signed weights, unsigned
  activations, MinMax / percentile / entropy ranges) calibrated on images of a folder, preprocessed by the model's
  own ops. The INT8 ONNX runs on onnxruntime and OpenVINO alike (OpenVINO reads QDQ as
  FakeQuantize), so ``--format openvino`` converts the same file.

Either way the export is compared with the fp32 torch model on an eval list: the top-1
agreement (and accuracy, when the list has labels) is reported, and an export whose top-1
drops more than ``max_drop`` points is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..config import Config
from ..data.pipeline import build_transforms
from ..engine.fast_defaults import BF16_FLAGS, cpu_flags

__all__ = ["PRECISIONS", "CALIBRATION_METHODS", "cpu_has_bf16", "quantize_onnx_int8", "eval_images", "top1_agreement",
           "check_drop"]

log = logging.getLogger("torchclas")

PRECISIONS = ("fp32", "bf16", "int8")
CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 bf16 or AMX), read from /proc/cpuinfo.

    Example:
        >>> isinstance(cpu_has_bf16(), bool)
        True
    """
    return bool(cpu_flags() & BF16_FLAGS)


def _preprocessor(meta: dict[str, Any]) -> Callable[[Path], np.ndarray]:
    from ..inference.predictor import _with_decode

    transform = build_transforms(_with_decode(meta["preprocess"]), "preprocess")
    return lambda path: np.asarray(torch.as_tensor(transform(Path(path).read_bytes())), dtype=np.float32)


def _batches(paths: list[Path], meta: dict[str, Any], batch_size: int = 16):
    prepare = _preprocessor(meta)
    for start in range(0, len(paths), batch_size):
        yield np.stack([prepare(p) for p in paths[start:start + batch_size]])


def quantize_onnx_int8(fp32_path: str | Path, int8_path: str | Path, calibration: str | Path,
                       meta: dict[str, Any], calibration_size: int = 128, method: str = "minmax") -> int:
    """Write a static-INT8 (QDQ) copy of an fp32 ONNX file, calibrated on a folder's images.

    Args:
        fp32_path: the fp32 ONNX export.
        int8_path: where to write the quantised model.
        calibration: a folder of images (recursive), e.g. a few hundred training images.
        meta: the export metadata; its preprocessing prepares the calibration images.
        calibration_size: at most this many images (evenly spread over the sorted folder).
        method: activation ranges from ``minmax`` (the observed extremes), ``percentile``
            (99.999th percentile: ignores rare outliers) or ``entropy`` (KL divergence).

    Returns:
        The number of calibration images used.

    Raises:
        ValueError when the folder holds no images.

    Example:
        >>> quantize_onnx_int8("m.onnx", "m.int8.onnx", "data/train", meta)  # doctest: +SKIP
        128
    """
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from ..inference.inputs import list_images

    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown calibration method '{method}'; valid: {', '.join(CALIBRATION_METHODS)}")
    folder = Path(calibration)
    if not folder.is_dir():
        raise FileNotFoundError(f"calibration folder not found: '{folder}'")
    images = list_images(folder)
    if not images:
        raise ValueError(f"calibration folder '{folder}' has no images")
    step = max(1, len(images) // calibration_size)
    images = images[::step][:calibration_size]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(_batches(images, meta))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {"x": batch}

    prepared = Path(int8_path).with_suffix(".prep.onnx")
    try:
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(int8_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method={"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                                          "entropy": CalibrationMethod.Entropy}[method])
    finally:
        prepared.unlink(missing_ok=True)
    return len(images)


def eval_images(cfg: Config, eval_list: str | Path | None = None, limit: int | None = 1000) -> tuple[list[Path], list[int] | None]:
    """The images (and labels, when every line has one) to measure agreement on.

    ``eval_list`` is a ``path [label]`` file relative to its own folder; without it the
    config's ``DataLoader.Eval`` list (relative to ``image_root``).

    Raises:
        ValueError when neither is given.

    Example:
        >>> eval_images(cfg, "data/fashion_mnist/val_list.txt", limit=2)[1]  # doctest: +SKIP
        [9, 2]
    """
    if eval_list is not None:
        listing, root = Path(eval_list), Path(eval_list).parent
    else:
        evaluation = cfg.DataLoader.Eval
        if evaluation is None or not evaluation.dataset.cls_label_path:
            raise ValueError("measuring a reduced precision needs an eval list: pass --eval-list FILE or set "
                             "DataLoader.Eval.dataset.cls_label_path")
        listing, root = Path(evaluation.dataset.cls_label_path), Path(evaluation.dataset.image_root)
    if not listing.is_file():
        raise FileNotFoundError(f"eval list not found: '{listing}'")
    lines = [line.split() for line in listing.read_text(encoding="utf-8-sig").splitlines()
             if line.strip() and not line.startswith("#")]
    if not lines:
        raise ValueError(f"eval list '{listing}' names no images")
    if limit:
        lines = lines[:limit]
    paths = [root / parts[0] for parts in lines]
    labelled = all(len(parts) > 1 and parts[1].lstrip("-").isdigit() for parts in lines)
    return paths, [int(parts[1]) for parts in lines] if labelled else None


def top1_agreement(reference: nn.Module, run: Callable[[np.ndarray], np.ndarray], paths: list[Path],
                   labels: list[int] | None, meta: dict[str, Any]) -> dict[str, Any]:
    """Top-1 of the fp32 ``reference`` and of ``run`` (the reduced-precision export) on ``paths``.

    Returns:
        ``{"images", "agreement" (% of images with the same top-1), "top1_fp32", "top1" (% correct,
        None without labels), "drop" (points: top1_fp32 - top1, or 100 - agreement)}``.

    Example:
        >>> top1_agreement(model, backend.logits, paths, labels, meta)["agreement"]  # doctest: +SKIP
        99.6
    """
    ours, theirs = [], []
    for batch in _batches(paths, meta):
        with torch.no_grad():
            ours.append(reference(torch.from_numpy(batch)).argmax(1).numpy())
        theirs.append(np.asarray(run(batch)).argmax(1))
    a, b = np.concatenate(ours), np.concatenate(theirs)
    result: dict[str, Any] = {"images": int(a.size), "agreement": 100.0 * float((a == b).mean()),
                              "top1_fp32": None, "top1": None}
    if labels is not None:
        y = np.asarray(labels)
        result["top1_fp32"], result["top1"] = 100.0 * float((a == y).mean()), 100.0 * float((b == y).mean())
        result["drop"] = result["top1_fp32"] - result["top1"]
    else:
        result["drop"] = 100.0 - result["agreement"]
    return result


def check_drop(report: dict[str, Any], precision: str, max_drop: float, out: str | Path) -> None:
    """Refuse an export whose top-1 drops more than ``max_drop`` points, saying by how much.

    Raises:
        RuntimeError naming the file, the drop and the limit.

    Example:
        >>> check_drop({"drop": 0.4, "agreement": 99.5}, "int8", 1.0, "m.onnx")
    """
    if report["drop"] > max_drop:
        what = (f"top-1 {report['top1']:.2f}% vs {report['top1_fp32']:.2f}% in fp32" if report.get("top1") is not None
                else f"top-1 agrees with fp32 on {report['agreement']:.2f}% of images")
        raise RuntimeError(f"{out}: {precision} drops top-1 by {report['drop']:.2f} points ({what}, "
                           f"{report['images']} images), more than --max-drop {max_drop}; the file was not written")
