"""Reduced precision for deployment: bf16 inference and static INT8 post-training quantisation.

- ``bf16``: the exported graph stays fp32 and is marked ``precision: bf16``; the runtime runs
  it in bf16 (OpenVINO's ``INFERENCE_PRECISION_HINT``, torch autocast). Needs a CPU with
  AVX-512 bf16 or AMX (or a GPU).
- ``int8``: static post-training quantisation to a QDQ graph by NNCF (default) or
  onnxruntime (:mod:`.quantizers`), calibrated on images of a folder, preprocessed by the
  model's own ops. Where the quantised model's top-1 agrees with fp32 on fewer than
  ``target_agreement`` % of the check images (a held-out folder's, or by default the
  calibration images), the blocks that quantise worst stay fp32 (:mod:`.int8_fallback`). The
  INT8 ONNX runs on OpenVINO (its int8 kernels; the predictor's default for it) and
  onnxruntime, and ``--format openvino`` converts the same file.

Either way the export is compared with the fp32 torch model on an eval list: the top-1
agreement (and accuracy, when the list has labels) is reported, and an export whose top-1
drops more than ``max_drop`` points is refused.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..config import Config
from ..inference.inputs import list_images
from ..inference.preprocess import build_preprocess, preprocess_image
from ..inference.sessions import onnxruntime_session
from ..utils.hardware import cpu_has_bf16
from .quantizers import CALIBRATION_METHODS, QUANTIZERS, build_quantizer, check_quantizer

__all__ = ["PRECISIONS", "CALIBRATION_METHODS", "QUANTIZERS", "cpu_has_bf16", "quantize_onnx_int8", "eval_images",
           "top1_agreement", "check_drop"]

log = logging.getLogger("torchclas")

PRECISIONS = ("fp32", "bf16", "int8")
CALIBRATION_BATCH = 16  # images per calibration batch; minmax-mean averages the batches' extremes


def _preprocessor(meta: dict[str, Any]) -> Callable[[Path], np.ndarray]:
    transform = build_preprocess(meta["preprocess"])
    return lambda path: np.asarray(preprocess_image(transform, Path(path).read_bytes()), dtype=np.float32)


def _batches(paths: list[Path], meta: dict[str, Any], batch_size: int = CALIBRATION_BATCH):
    prepare = _preprocessor(meta)
    for start in range(0, len(paths), batch_size):
        yield np.stack([prepare(p) for p in paths[start:start + batch_size]])


def _spread_images(folder: str | Path, size: int, what: str = "calibration") -> list[Path]:
    """At most ``size`` images of ``folder``, evenly spread over its sorted listing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder not found: '{folder}'")
    images = list_images(folder)
    if not images:
        raise ValueError(f"{what} folder '{folder}' has no images")
    step = max(1, len(images) // size)
    return images[::step][:size]


def _session_logits(path: Path, batches: list[np.ndarray]) -> np.ndarray:
    session = onnxruntime_session(path, threads=torch.get_num_threads())  # as many as torch uses (bench: 1)
    return np.concatenate([session.run(None, {"x": batch})[0] for batch in batches])


def quantize_onnx_int8(fp32_path: str | Path, int8_path: str | Path, calibration: str | Path,
                       meta: dict[str, Any], calibration_size: int = 128, method: str = "auto",
                       target_agreement: float | None = 99.0, max_float_blocks: int | None = None,
                       quantizer: str = "nncf", check: str | Path | None = None,
                       check_size: int | None = None) -> dict[str, Any]:
    """Write a static-INT8 (QDQ) copy of an fp32 ONNX file, calibrated on a folder's images.

    With ``target_agreement``, blocks whose quantisation hurts most (the logit error on the
    calibration images) are kept in fp32 until the top-1 agrees with fp32 on that % of the check
    images (:mod:`.int8_fallback`).

    Args:
        fp32_path: the fp32 ONNX export.
        int8_path: where to write the quantised model.
        calibration: a folder of images (recursive), e.g. a few hundred training images.
        meta: the export metadata; its preprocessing prepares the calibration images.
        calibration_size: at most this many images (evenly spread over the sorted folder).
        method: activation ranges from ``auto`` (the quantiser's own), ``minmax-mean`` (the mean
            over batches of 16 images of each batch's extremes), ``minmax`` (the extremes over all
            images), ``percentile`` or ``entropy`` (KL divergence; onnxruntime only).
        target_agreement: top-1 agreement (%) with fp32 on the check images that the fallback
            aims for; None quantises every block.
        max_float_blocks: keep at most this many blocks in fp32 (None: a quarter of them).
        quantizer: ``nncf`` or ``onnxruntime`` (:mod:`.quantizers`).
        check: a folder of images the model was not trained on (not the eval list) that the
            fallback checks the agreement on; None: the calibration folder. On training images
            a model's margins are wider, so INT8 agrees with fp32 more often there than on new ones.
        check_size: at most this many check images (evenly spread over ``check``); None: as many
            as ``calibration_size`` (so by default the check images are the calibration images).
            More images make the check less noisy: a top-1 count on 256 images moves in steps of
            0.4 %.

    Returns:
        ``{"images": calibration images used, "float_blocks": blocks kept in fp32,
        "check_images": images the agreement was checked on and "check_agreement": the %
        of them whose top-1 agrees (both None without a target)}``.

    Raises:
        FileNotFoundError for a missing folder; ValueError when a folder holds no images, a size
        is below 1, or the quantiser or method is unknown.

    Example:
        >>> quantize_onnx_int8("m.onnx", "m.int8.onnx", "data/train", meta)["images"]  # doctest: +SKIP
        128
    """
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .int8_fallback import (choose_float_blocks, logit_error_to, name_unnamed_nodes, node_blocks,
                                top1_agreement_with)

    check_quantizer(quantizer, method)
    if target_agreement is not None and not 0 <= target_agreement <= 100:
        raise ValueError(f"--int8-target must be a top-1 agreement in [0, 100] %, got {target_agreement}")
    for option, size in (("--calibration-size", calibration_size), ("--int8-check-size", check_size)):
        if size is not None and size < 1:
            raise ValueError(f"{option} must be at least 1 image, got {size}")
    target_agreement = target_agreement or None  # 0: quantise every block
    images = _spread_images(calibration, calibration_size)
    batches = list(_batches(images, meta))
    if target_agreement is None or (check is None and check_size is None):
        check_batches = batches
    else:  # read before any quantising, so a bad check folder fails fast
        check_batches = list(_batches(_spread_images(check or calibration, check_size or calibration_size,
                                                     "int8 check" if check else "calibration"), meta))
    int8_path = Path(int8_path)
    int8_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{int8_path.stem}.", suffix=".calib", dir=int8_path.parent))
    try:
        prepared = work / "prep.onnx"
        if quantizer == "onnxruntime":  # its own preparation: batch norms folded, HardSwish split in two
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            proto = onnx.load(str(prepared))
        else:  # NNCF takes the graph as exported: split, a HardSwish's Mul gets quantisers OpenVINO cannot fuse
            proto = onnx.load(str(fp32_path))
        name_unnamed_nodes(proto)
        onnx.save(proto, str(prepared))
        quantize = build_quantizer(quantizer, prepared, batches, method, work / "ranges.json")
        blocks, chosen, agreement, checked = node_blocks(proto), [], None, None
        if target_agreement is not None:
            checked = sum(len(batch) for batch in check_batches)
            reference = _session_logits(prepared, batches)
            error = logit_error_to(reference)
            agrees = top1_agreement_with(
                reference if check_batches is batches else _session_logits(prepared, check_batches))
            chosen, agreement = choose_float_blocks(
                blocks, lambda exclude: quantize(work / "trial.onnx", exclude, trial=True),
                lambda path: error(_session_logits(path, batches)),
                lambda path: agrees(_session_logits(path, check_batches)),
                target_agreement, max_float_blocks)
        quantize(int8_path, [n for b in chosen for n in blocks[b]])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"images": len(images), "float_blocks": chosen, "check_images": checked,
            "check_agreement": agreement}


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
