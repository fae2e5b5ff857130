"""Export a trained model to ONNX with its preprocessing and class names stored inside.

The ONNX file carries everything a deployment needs under the ``metadata_props`` key
``torchclas`` (JSON): the eval transform ops, input size, mean/std, class names and top-k,
so ``Predictor("model.onnx")`` needs no config and cannot drift from evaluation.

The exporter is torch's TorchScript-based one (``torch.onnx.export(..., dynamo=False)``): it
needs no package beyond torch and onnx. The dynamo exporter (torch's default since 2.9) would
need ``onnxscript``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from .config import Config
from .data.datasets import read_label_list
from .data.pipeline import describe_preprocess
from .engine.checkpoint import atomic_write
from .models import create_model, load_pretrained
from .models.reparam import reparameterize_model

__all__ = ["METADATA_KEY", "FORMAT_VERSION", "preprocess_ops", "class_names", "build_inference_model",
           "build_metadata", "export_onnx", "read_onnx_metadata", "parse_metadata"]

METADATA_KEY = "torchclas"
FORMAT_VERSION = 1
MIN_OPSET = 17


def preprocess_ops(cfg: Config) -> list[dict[str, Any]]:
    """The eval preprocessing of a config, as a PaddleClas op list.

    ``DataLoader.Eval.dataset.transform_ops`` when set, else ``Infer.transforms``.

    Args:
        cfg: a validated config.

    Raises:
        ValueError when neither list is set.

    Example:
        >>> preprocess_ops(cfg)[1]  # doctest: +SKIP
        {'ResizeImage': {'resize_short': 256}}
    """
    evaluation = cfg.DataLoader.Eval
    if evaluation is not None and evaluation.dataset.transform_ops:
        return list(evaluation.dataset.transform_ops)
    if cfg.Infer.transforms:
        return list(cfg.Infer.transforms)
    raise ValueError("config has no preprocessing: set DataLoader.Eval.dataset.transform_ops "
                     "or Infer.transforms")


def class_names(cfg: Config) -> list[str]:
    """Class names indexed by class id.

    Read from ``Infer.PostProcess.class_id_map_file`` ("id name" lines) when set, else the ids
    as strings.

    Args:
        cfg: a validated config.

    Raises:
        ValueError when the file does not hold exactly ``cfg.class_num`` names.

    Example:
        >>> from torchclas.config import config_from_dict
        >>> class_names(config_from_dict({"Arch": {"name": "ResNet18", "class_num": 2}}))
        ['0', '1']
    """
    path = cfg.Infer.PostProcess.class_id_map_file
    if not path:
        return [str(i) for i in range(cfg.class_num)]
    names = read_label_list(path)
    if len(names) != cfg.class_num:
        raise ValueError(f"Infer.PostProcess.class_id_map_file '{path}' has {len(names)} names "
                         f"but the model has class_num={cfg.class_num}")
    return names


def build_inference_model(cfg: Config, weights: str | Path | None = None) -> nn.Module:
    """Build ``cfg.Arch`` in eval mode with ``weights`` (default ``Global.pretrained_model``).

    Unlike training, the weights must fit exactly: a classifier of another size is an error,
    not a silently re-initialised head. Train-time branches (RepVGG, ACB, ...) are folded into
    single convs (:func:`~torchclas.models.reparam.reparameterize_model`): same logits, fewer ops.

    Args:
        cfg: a validated config.
        weights: a weights path with or without ``.safetensors``.

    Example:
        >>> model = build_inference_model(cfg, "output/ResNet18/best_model")  # doctest: +SKIP
    """
    weights = weights or cfg.Global.pretrained_model
    if not weights:
        raise ValueError("no weights to load: pass -o Global.pretrained_model=path/to/best_model")
    model = create_model(cfg.Arch.name, cfg.class_num, **cfg.Arch.builder_kwargs)
    load_pretrained(model, weights, strict_shapes=True)
    return reparameterize_model(model.eval())


def build_metadata(cfg: Config) -> dict[str, Any]:
    """The ``torchclas`` metadata of an export: model, classes, preprocessing and top-k.

    Args:
        cfg: a validated config.

    Example:
        >>> build_metadata(cfg)["input_size"]  # doctest: +SKIP
        [3, 224, 224]
    """
    ops = preprocess_ops(cfg)
    info = describe_preprocess(ops)
    return {
        "format_version": FORMAT_VERSION,
        "model": cfg.Arch.name,
        "class_num": cfg.class_num,
        "class_names": class_names(cfg),
        "preprocess": ops,
        "input_size": info["input_size"] or list(cfg.Global.image_shape),
        "mean": info["mean"],
        "std": info["std"],
        "resize_short": info["resize_short"],
        "crop": info["crop"],
        "topk": cfg.Infer.PostProcess.topk,
        "multilabel": False,
        "torchclas_version": _version(),
    }


def export_onnx(cfg: Config, out: str | Path, opset: int = MIN_OPSET, check: bool = True,
                atol: float = 1e-4) -> dict[str, Any]:
    """Export ``Global.pretrained_model`` to ONNX, with metadata, written atomically.

    The graph has input ``x`` (float32 NCHW, dynamic batch) and output ``logits``.

    Args:
        cfg: a validated config; ``Global.pretrained_model`` names the weights.
        out: the ``.onnx`` file to write.
        opset: ONNX opset, at least 17.
        check: run onnxruntime on a random batch of 2 and compare with torch; the file is only
            written when the largest difference is at most ``atol``.
        atol: the largest logit difference accepted by ``check``, per unit of the largest
            absolute logit (so 1e-4 absolute for logits within [-1, 1]).

    Returns:
        ``{"path", "max_abs_diff" (None without check), "input_size", "class_num"}``.

    Example:
        >>> cfg = load_config("configs/ResNet18.yaml", ["Global.pretrained_model=output/best_model"])  # doctest: +SKIP
        >>> export_onnx(cfg, "inference/model.onnx")["max_abs_diff"] < 1e-4  # doctest: +SKIP
        True
    """
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old; torchclas exports opset >= {MIN_OPSET}")
    if not cfg.Global.pretrained_model:
        raise ValueError("export needs weights: pass -o Global.pretrained_model=path/to/best_model")
    model = build_inference_model(cfg)
    meta = build_metadata(cfg)
    example = torch.randn(2, *meta["input_size"], generator=torch.Generator().manual_seed(0))
    result: dict[str, Any] = {"path": str(out), "max_abs_diff": None,
                              "input_size": meta["input_size"], "class_num": meta["class_num"]}

    def write(tmp: str) -> None:
        _torch_export(model, example, tmp, opset)
        proto = onnx.load(tmp)
        onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(meta)})
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
        if check:
            result["max_abs_diff"] = _compare_with_onnxruntime(model, example, tmp, out, atol)

    atomic_write(out, write)
    return result


def _torch_export(model: nn.Module, example: torch.Tensor, path: str, opset: int) -> None:
    with warnings.catch_warnings():
        # torch 2.9+ flags the TorchScript exporter as legacy; it is the one that needs no onnxscript.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(model, (example,), path, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=opset, dynamo=False)


def _compare_with_onnxruntime(model: nn.Module, example: torch.Tensor, path: str,
                              out: str | Path, atol: float) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"x": example.numpy()})[0]
    with torch.no_grad():
        want = model(example).numpy()
    diff = float(np.abs(got - want).max())
    # float32 rounding grows with the logits' size: the bound is atol per unit of the largest logit.
    bound = atol * max(1.0, float(np.abs(want).max()))
    if not diff <= bound:
        raise RuntimeError(f"{out}: onnxruntime logits differ from torch by {diff:.3g} (> {bound:.3g}); "
                           "the file was not written")
    return diff


def parse_metadata(props: dict[str, str], path: str | Path) -> dict[str, Any]:
    """Read the ``torchclas`` entry of an ONNX model's metadata properties.

    Args:
        props: the model's ``metadata_props`` as a dict (or onnxruntime's ``custom_metadata_map``).
        path: the file, for error messages.

    Example:
        >>> parse_metadata({"torchclas": '{"format_version": 1}'}, "m.onnx")
        {'format_version': 1}
    """
    if METADATA_KEY not in props:
        raise ValueError(f"{path}: ONNX model has no '{METADATA_KEY}' metadata; export it with "
                         f"`torchclas export` (keys found: {sorted(props) or 'none'})")
    try:
        meta = json.loads(props[METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: '{METADATA_KEY}' metadata is not valid JSON: {exc}") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: torchclas metadata format_version {version!r} is not supported "
                         f"(this torchclas reads {FORMAT_VERSION})")
    return meta


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The ``torchclas`` metadata stored in an exported ONNX file.

    Raises:
        FileNotFoundError when ``path`` is missing; ValueError when it is not ONNX or lacks
        torchclas metadata.

    Example:
        >>> read_onnx_metadata("inference/model.onnx")["class_names"][:2]  # doctest: +SKIP
        ['cat', 'dog']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: '{path}'")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types on garbage
        raise ValueError(f"{path}: not an ONNX model ({type(exc).__name__}: {exc})") from None
    if not proto.graph.node:
        raise ValueError(f"{path}: not an ONNX model (no graph)")
    return parse_metadata({p.key: p.value for p in proto.metadata_props}, path)


def _version() -> str | None:
    import torchclas

    version = getattr(torchclas, "__version__", None)
    if version is None:
        from importlib.metadata import PackageNotFoundError, version as dist_version

        try:
            version = dist_version("torchclas")
        except PackageNotFoundError:
            return None
    return str(version)
