"""Preprocessing from a model's metadata: its op list, decoding first, as one callable.

The op list is the one stored at export (``metadata["preprocess"]``: the config's eval ops), so
``Predictor``, ``predict-folder`` workers and the export's own precision checks all prepare an
image exactly as evaluation did.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..data.pipeline import build_transforms

__all__ = ["with_decode", "build_preprocess", "preprocess_image"]


def with_decode(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``ops`` with a ``DecodeImage`` first: paths and bytes need it, arrays pass through it.

    Example:
        >>> with_decode([{"ToCHWImage": None}])
        [{'DecodeImage': None}, {'ToCHWImage': None}]
    """
    first = ops[0] if ops else None
    name = next(iter(first), None) if isinstance(first, dict) else first
    return list(ops) if name == "DecodeImage" else [{"DecodeImage": None}, *ops]


def build_preprocess(ops: list[dict[str, Any]], fast_decode_resize: bool = False) -> Callable[[Any], Any]:
    """The transform of an op list (a model's ``metadata["preprocess"]``), decoding first.

    Apply it with :func:`preprocess_image`. It pickles (``predict-folder`` builds it in worker
    processes too).

    Args:
        ops: a PaddleClas op list; a ``DecodeImage`` is put first when missing (:func:`with_decode`).
        fast_decode_resize: decode large JPEGs at a reduced DCT scale before a ``ResizeImage``
            (``data.jpeg_crop.DecodeResizeImage``); off, the result equals evaluation's exactly.

    Example:
        >>> transform = build_preprocess(predictor.metadata["preprocess"])  # doctest: +SKIP
        >>> preprocess_image(transform, open("cat.jpg", "rb").read()).shape  # doctest: +SKIP
        torch.Size([3, 224, 224])
    """
    return build_transforms(with_decode(ops), "preprocess", fast_decode_resize=fast_decode_resize, labels=False)


def preprocess_image(transform: Callable[[Any], Any], image: Any) -> torch.Tensor:
    """The CHW float tensor ``transform`` (:func:`build_preprocess`) makes of ``image``: encoded
    bytes, a uint8 array or a PIL image, as a plain ``torch.Tensor``.

    Raises:
        OSError, ValueError or SyntaxError (some broken PNGs) when the image cannot be decoded.

    Example:
        >>> transform = build_preprocess([{"ToCHWImage": None}])
        >>> preprocess_image(transform, np.zeros((4, 4, 3), np.uint8)).shape  # doctest: +SKIP
        torch.Size([3, 4, 4])
    """
    return torch.as_tensor(transform(image)).as_subclass(torch.Tensor)
