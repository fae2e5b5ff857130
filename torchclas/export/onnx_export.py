"""Export a trained model to ONNX with its preprocessing and class names stored inside.

The ONNX file carries everything a deployment needs under the ``metadata_props`` key
``torchclas`` (JSON, :mod:`torchclas.inference.metadata`), so ``Predictor("model.onnx")`` needs no config and
cannot drift from evaluation.

The exporter is torch's TorchScript-based one (``torch.onnx.export(..., dynamo=False)``): it
needs no package beyond torch and onnx, and gives the same graph for the zoo's CNNs.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..inference.metadata import METADATA_KEY
from ..inference.sessions import onnxruntime_session
from ..utils.files import atomic_write

__all__ = ["MIN_OPSET", "INPUT_NAME", "OUTPUT_NAME", "torch_to_onnx", "write_onnx_metadata",
           "check_against_torch", "example_batch", "run_onnx", "export_onnx_file"]

MIN_OPSET = 17
INPUT_NAME = "x"
OUTPUT_NAME = "logits"


def example_batch(input_size: list[int], batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A reproducible random float32 NCHW batch for tracing and checking an export.

    Example:
        >>> example_batch([3, 8, 8]).shape
        torch.Size([2, 3, 8, 8])
    """
    return torch.randn(batch, *input_size, generator=torch.Generator().manual_seed(seed))


def torch_to_onnx(model: nn.Module, example: torch.Tensor, path: str | Path, opset: int = MIN_OPSET) -> None:
    """Write ``model`` as ONNX: input ``x`` (float32 NCHW, dynamic batch), output ``logits``.

    Raises:
        ValueError for an opset below 17.

    Example:
        >>> torch_to_onnx(model, torch.zeros(1, 3, 224, 224), "m.onnx")  # doctest: +SKIP
    """
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old; torchclas exports opset >= {MIN_OPSET}")
    with warnings.catch_warnings():
        # torch 2.9+ flags the TorchScript exporter as legacy; it is the one that needs no onnxscript.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(model, (example,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                          opset_version=opset, dynamo=False)


def write_onnx_metadata(path: str | Path, meta: dict[str, Any]) -> None:
    """Store ``meta`` as the file's ``torchclas`` metadata (replacing any) and check the model.

    Example:
        >>> write_onnx_metadata("m.onnx", {"format_version": 1})  # doctest: +SKIP
    """
    import onnx

    proto = onnx.load(str(path))
    kept = {p.key: p.value for p in proto.metadata_props if p.key != METADATA_KEY}
    onnx.helper.set_model_props(proto, {**kept, METADATA_KEY: json.dumps(meta)})
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def check_against_torch(model: nn.Module, example: torch.Tensor, got: np.ndarray, out: str | Path,
                        atol: float = 1e-4) -> float:
    """The largest logit difference between an export's output ``got`` and torch's, checked.

    Raises:
        RuntimeError when the difference exceeds ``atol`` per unit of the largest absolute
        logit (so 1e-4 absolute for logits within [-1, 1]); ``out`` names the export.

    Example:
        >>> check_against_torch(model, x, session.run(None, {"x": x.numpy()})[0], "m.onnx")  # doctest: +SKIP
        3.1e-06
    """
    with torch.no_grad():
        want = model(example).float().numpy()
    diff = float(np.abs(np.asarray(got, np.float32) - want).max())
    # float32 rounding grows with the logits' size: the bound is atol per unit of the largest logit.
    bound = atol * max(1.0, float(np.abs(want).max()))
    if not diff <= bound:
        raise RuntimeError(f"{out}: exported logits differ from torch by {diff:.3g} (> {bound:.3g}); "
                           "the file was not written")
    return diff


def run_onnx(path: str | Path, batch: np.ndarray) -> np.ndarray:
    """Logits of ``batch`` from the ONNX file at ``path`` on onnxruntime's CPU provider
    (:func:`~torchclas.inference.sessions.onnxruntime_session`, its default threads).

    Example:
        >>> run_onnx("m.onnx", np.zeros((1, 3, 32, 32), np.float32)).shape  # doctest: +SKIP
        (1, 10)
    """
    session = onnxruntime_session(path)
    return session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(batch, np.float32)})[0]


def export_onnx_file(model: nn.Module, meta: dict[str, Any], out: str | Path, opset: int = MIN_OPSET,
                     check: bool = True, atol: float = 1e-4) -> float | None:
    """Write ``model`` with ``meta`` to ``out`` atomically; returns the checked max abs diff.

    Example:
        >>> export_onnx_file(model, meta, "m.onnx")  # doctest: +SKIP
        2.4e-06
    """
    example = example_batch(meta["input_size"])
    result: list[float | None] = [None]

    def write(tmp: str) -> None:
        torch_to_onnx(model, example, tmp, opset)
        write_onnx_metadata(tmp, meta)
        if check:
            result[0] = check_against_torch(model, example, run_onnx(tmp, example.numpy()), out, atol)

    atomic_write(out, write)
    return result[0]
