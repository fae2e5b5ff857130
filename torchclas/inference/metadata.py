"""What an exported model carries: class names, preprocessing, input size and model facts.

Every export format stores the same JSON object under the key ``torchclas`` (ONNX
``metadata_props``, a ``.pt2`` extra file, OpenVINO ``rt_info``), so a predictor needs no config
and its preprocessing cannot drift from evaluation's. This module builds that object from a
config (:func:`build_metadata`: what ``torchclas export`` writes, and what the torch backend
uses for weights plus config) and reads it back from each format (``read_*_metadata``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import Config
from ..data.datasets import read_label_list
from ..data.pipeline import describe_preprocess

__all__ = ["METADATA_KEY", "FORMAT_VERSION", "MULTILABEL_LOSSES", "PT2_METADATA_FILE", "preprocess_ops",
           "class_names", "is_multilabel", "build_metadata", "parse_metadata", "read_onnx_metadata",
           "read_pt2_metadata", "read_openvino_metadata"]

METADATA_KEY = "torchclas"
FORMAT_VERSION = 1
MULTILABEL_LOSSES = ("MultiLabelLoss", "AsymmetricLoss")
PT2_METADATA_FILE = "torchclas.json"  # the extra file of a ``.pt2`` archive that holds the metadata


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


def class_names(cfg: Config, class_num: int | None = None) -> list[str]:
    """Class names indexed by class id.

    Read from ``Infer.PostProcess.class_id_map_file`` ("id name" lines, split at
    ``Infer.PostProcess.delimiter`` when set) when set, else the ids as strings.

    Args:
        cfg: a validated config.
        class_num: the model's number of classes (default ``cfg.class_num``); an export passes
            the checkpoint's.

    Raises:
        ValueError when the file does not hold exactly ``class_num`` names.

    Example:
        >>> from torchclas.configure import config_from_dict
        >>> class_names(config_from_dict({"Arch": {"name": "ResNet18", "class_num": 2}}))
        ['0', '1']
    """
    class_num = class_num or cfg.class_num
    post = cfg.Infer.PostProcess
    if not post.class_id_map_file:
        return [str(i) for i in range(class_num)]
    path = post.class_id_map_file
    names = read_label_list(path, post.delimiter)
    if len(names) != class_num:
        raise ValueError(f"Infer.PostProcess.class_id_map_file '{path}' has {len(names)} names "
                         f"but the model has class_num={class_num}")
    return names


def is_multilabel(cfg: Config) -> bool:
    """Whether the model was trained multi-label: a ``Loss.Train`` entry is a sigmoid loss
    (``MultiLabelLoss``, ``AsymmetricLoss``), so scores are per-class sigmoids, not a softmax.

    Example:
        >>> from torchclas.config import parse_config  # shape only: MultiLabelLoss is not built yet
        >>> is_multilabel(parse_config({"Arch": {"name": "ResNet18"},
        ...                             "Loss": {"Train": [{"MultiLabelLoss": {"weight": 1.0}}]}}))
        True
        >>> is_multilabel(parse_config({"Arch": {"name": "ResNet18"}}))
        False
    """
    entries = cfg.Loss.Train or []
    return any(next(iter(entry), None) in MULTILABEL_LOSSES for entry in entries if isinstance(entry, dict))


def build_metadata(cfg: Config, class_num: int | None = None, reparameterized: bool = False,
                   precision: str = "fp32") -> dict[str, Any]:
    """The ``torchclas`` metadata of an export: model, classes, preprocessing and post-process.

    ``postprocess`` is ``Infer.PostProcess`` as ``{"name": ..., key: value}``
    (``PostProcessConfig.spec()``), so the exported model answers as ``torchclas infer -c
    CONFIG`` does; ``topk`` stays for readers of files from before it.

    Args:
        cfg: a validated config.
        class_num: the model's classes (default ``cfg.class_num``; an export passes the checkpoint's).
        reparameterized: whether train-time branches were folded before export.
        precision: ``fp32``, ``bf16`` or ``int8``: how the stored graph is meant to run.

    Example:
        >>> build_metadata(cfg)["input_size"]  # doctest: +SKIP
        [3, 224, 224]
    """
    class_num = class_num or cfg.class_num
    ops = preprocess_ops(cfg)
    info = describe_preprocess(ops)
    return {
        "format_version": FORMAT_VERSION,
        "model": cfg.Arch.name,
        "class_num": class_num,
        "class_names": class_names(cfg, class_num),
        "preprocess": ops,
        "input_size": info["input_size"] or list(cfg.Global.image_shape),
        "layout": "NCHW",
        "channel_order": "RGB",  # DecodeImage always yields RGB; arrays are taken as RGB
        "mean": info["mean"],
        "std": info["std"],
        "scale": info["scale"],
        "resize_short": info["resize_short"],
        "resize": info["resize"],
        "crop": info["crop"],
        "topk": cfg.Infer.PostProcess.topk,
        "postprocess": cfg.Infer.PostProcess.spec(),
        "multilabel": is_multilabel(cfg) or cfg.Infer.PostProcess.postprocess_name == "MultiLabelThreshOutput",
        "reparameterized": reparameterized,
        "precision": precision,
        "torchclas_version": _version(),
    }


def parse_metadata(props: dict[str, str], path: str | Path) -> dict[str, Any]:
    """Read the ``torchclas`` entry of a model's metadata properties.

    Args:
        props: the model's ``metadata_props`` as a dict (or onnxruntime's ``custom_metadata_map``).
        path: the file, for error messages.

    Example:
        >>> parse_metadata({"torchclas": '{"format_version": 1}'}, "m.onnx")
        {'format_version': 1}
    """
    if METADATA_KEY not in props:
        raise ValueError(f"{path}: model has no '{METADATA_KEY}' metadata; export it with "
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
    import onnx

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


def read_pt2_metadata(path: str | Path) -> dict[str, Any]:
    """The ``torchclas`` metadata of a ``.pt2`` file written by ``torchclas export --format torch-export``.

    Raises:
        FileNotFoundError when ``path`` is missing; ValueError when it is not a ``.pt2`` archive
        or lacks torchclas metadata.

    Example:
        >>> read_pt2_metadata("model.pt2")["model"]  # doctest: +SKIP
        'ResNet18'
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"torch.export file not found: '{path}'")
    try:
        with zipfile.ZipFile(path) as archive:
            entry = next((n for n in archive.namelist() if n.endswith(f"extra/{PT2_METADATA_FILE}")), None)
            text = archive.read(entry).decode("utf-8") if entry else None
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not a torch.export .pt2 archive") from None
    return parse_metadata({} if text is None else {METADATA_KEY: text}, path)


def read_openvino_metadata(graph: Any, path: str | Path) -> dict[str, Any]:
    """The ``torchclas`` metadata of an OpenVINO model (``ov.Model``) read from ``path``.

    Example:
        >>> read_openvino_metadata(ov.Core().read_model("model.xml"), "model.xml")["model"]  # doctest: +SKIP
        'ResNet18'
    """
    props = {METADATA_KEY: graph.get_rt_info(METADATA_KEY).astype(str)} if graph.has_rt_info(METADATA_KEY) else {}
    return parse_metadata(props, path)


def _version() -> str:
    from ..utils.version import __version__

    return __version__
