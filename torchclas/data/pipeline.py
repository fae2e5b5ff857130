"""PaddleClas op lists → one transform: validate (``check_ops``), build (``build_transforms``),
and summarise for export metadata (``describe_preprocess``)."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from torchvision.transforms import v2

from ..config.entries import signature_params
from . import augment, masking
from .jpeg_crop import fuse_decode_crop
from .transforms import (BATCH_OP_NAMES, NOT_YET_IMPLEMENTED_OPS, TRANSFORMS, CropImage, DecodeImage,
                         NormalizeImage, RandCropImage, ResizeImage)

# Modules whose ops register themselves in TRANSFORMS on import (batch_ops.py imports this module,
# so the DataLoader and the config check import it themselves).
OP_MODULES = (augment, masking)

__all__ = ["check_ops", "build_ops", "build_transforms", "split_late_normalize", "describe_preprocess"]

logger = logging.getLogger(__name__)


def _iter_ops(ops: Any, where: str, batch: bool = False) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (location, op name, params) for each op of a YAML op list, checking its shape.

    ``batch`` selects which kind the list holds: per-image ops or batch ops (``BATCH_OP_NAMES``).
    """
    if ops is None:
        return
    if not isinstance(ops, (list, tuple)):
        raise ValueError(f"{where}: expected a list of ops, got {type(ops).__name__} {ops!r}")
    known = sorted(n for n in set(TRANSFORMS) | NOT_YET_IMPLEMENTED_OPS if (n in BATCH_OP_NAMES) == batch)
    for index, entry in enumerate(ops):
        here = f"{where}[{index}]"
        if isinstance(entry, str):
            name, params = entry, None
        elif isinstance(entry, dict) and len(entry) == 1:
            (name, params), = entry.items()
        else:
            raise ValueError(f"{here}: each op must be a single-key mapping such as "
                             f"{{'ResizeImage': {{'resize_short': 256}}}}, got {entry!r}")
        if name not in TRANSFORMS and name not in NOT_YET_IMPLEMENTED_OPS:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"{here}: unknown op '{name}'{hint}; known ops: {', '.join(known)}")
        if (name in BATCH_OP_NAMES) != batch:
            right = "dataset.batch_transform_ops" if name in BATCH_OP_NAMES else "dataset.transform_ops"
            kind = "a batch op" if name in BATCH_OP_NAMES else "a per-image op"
            raise ValueError(f"{here}: '{name}' is {kind}; list it under {right}")
        if params is not None and not isinstance(params, dict):
            raise ValueError(f"{here}: parameters of '{name}' must be a mapping, got {params!r}")
        yield here, name, dict(params or {})


def _make_op(here: str, name: str, params: dict[str, Any], **fixed: Any) -> Callable:
    """Construct op `name`, turning bad parameter names or values into a ValueError at `here`.

    ``fixed`` are arguments that do not come from the config (a batch op's ``class_num``);
    the config's own value wins when it sets one.
    """
    cls = TRANSFORMS[name]
    accepted, required, takes_any = signature_params(cls)
    for key in params:
        if key not in accepted and not takes_any:
            close = difflib.get_close_matches(str(key), accepted, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"{here}: {name} has no parameter '{key}'{hint}; "
                             f"accepted: {', '.join(accepted) or 'none'}")
    missing = [key for key in required if key not in params and key not in fixed]
    if missing:
        raise ValueError(f"{here}: {name} needs parameter '{missing[0]}'; accepted: {', '.join(accepted)}")
    try:
        return cls(**{**fixed, **params})
    except (TypeError, ValueError) as err:
        message = str(err) if str(err).startswith(name) else f"{name}: {err}"
        raise ValueError(f"{here}: {message}") from err


def check_ops(ops: Any, where: str) -> list[str]:
    """Validate a YAML op list by constructing every implemented op.

    Args:
        ops: list of single-key mappings, e.g. ``[{"DecodeImage": {"to_rgb": True}}, {"ToCHWImage": None}]``.
        where: config location used in error messages, e.g. "DataLoader.Train.dataset.transform_ops".

    Returns:
        Names of ops that PaddleClas has but we do not implement yet (in order, once each).

    Raises:
        ValueError naming `where`, the index, the op and the closest valid op or parameter name.

    Example:
        >>> check_ops([{"RandFlipImg": None}], "transform_ops")
        Traceback (most recent call last):
        ValueError: transform_ops[0]: unknown op 'RandFlipImg' (did you mean 'RandFlipImage'?); known ops: ...
    """
    skipped: list[str] = []
    for here, name, params in _iter_ops(ops, where):
        if name in TRANSFORMS:
            _make_op(here, name, params)
        elif name not in skipped:
            skipped.append(name)
    return skipped


def build_transforms(ops: Any, where: str = "transform_ops", fast_decode: bool = False,
                     fast_decode_resize: bool = False) -> Callable:
    """Build one callable from a YAML op list; None or [] gives the identity.

    Ops in NOT_YET_IMPLEMENTED_OPS are skipped with a warning naming them. ``fast_decode`` fuses a
    ``DecodeImage`` followed by a ``RandCropImage`` into one op that decodes JPEGs at a reduced
    DCT scale when the crop allows (`jpeg_crop.DecodeRandCropImage`; within a stated tolerance);
    ``fast_decode_resize`` does the same for a ``DecodeImage`` followed by a ``ResizeImage``
    (`jpeg_crop.DecodeResizeImage`).

    Example:
        >>> tf = build_transforms([{"DecodeImage": None}, {"ResizeImage": {"size": 224}},
        ...                        {"NormalizeImage": None}, {"ToCHWImage": None}])
        >>> tf(png_bytes).shape  # doctest: +SKIP
        torch.Size([3, 224, 224])
    """
    built = build_ops(ops, where)
    if fast_decode or fast_decode_resize:
        built = fuse_decode_crop(built, crop=fast_decode, resize=fast_decode_resize)
    return v2.Compose(built) if built else v2.Identity()


def build_ops(ops: Any, where: str = "transform_ops") -> list[Callable]:
    """The ops of a YAML op list, constructed, in order; those in NOT_YET_IMPLEMENTED_OPS are
    left out with a warning naming them."""
    built, skipped = [], []
    for here, name, params in _iter_ops(ops, where):
        if name in TRANSFORMS:
            built.append(_make_op(here, name, params))
        else:
            skipped.append(name)
    if skipped:
        logger.warning("%s: skipping ops not implemented yet: %s", where, ", ".join(skipped))
    return built


def split_late_normalize(ops: Any, where: str = "transform_ops") -> tuple[Any, Callable | None]:
    """Split a trailing ``NormalizeImage`` (``ToCHWImage`` after it aside) off an op list.

    The per-image ops then end on uint8 images, a quarter of the bytes a loader worker sends as
    float32, and the returned ``NormalizeImage`` runs once per batch where the batch lands (on
    the GPU when there is one); it computes exactly what it computed per image. Returns
    ``(ops, None)`` when the list does not end that way (an op after NormalizeImage needs floats).

    Example:
        >>> head, normalize = split_late_normalize([{"DecodeImage": None}, {"NormalizeImage": None},
        ...                                        {"ToCHWImage": None}])
        >>> head, type(normalize).__name__
        ([{'DecodeImage': None}], 'NormalizeImage')
    """
    parsed = list(_iter_ops(ops, where))
    tail = len(parsed)
    while tail and parsed[tail - 1][1] == "ToCHWImage":
        tail -= 1
    if not tail or parsed[tail - 1][1] != "NormalizeImage":
        return ops, None
    here, name, params = parsed[tail - 1]
    return list(ops[: tail - 1]), _make_op(here, name, params)


def describe_preprocess(ops: Any) -> dict[str, Any]:
    """Summarise an eval op list for export metadata; None where it cannot be told.

    Returns:
        ``{"input_size": [C, H, W], "resize_short": int, "resize": [h, w], "crop": [h, w],
        "mean": [...], "std": [...], "scale": float, "channels": int}``

    Example:
        >>> ops = [{"ResizeImage": {"resize_short": 256}}, {"CropImage": {"size": 224}}]
        >>> describe_preprocess(ops)["input_size"]
        [3, 224, 224]
    """
    info: dict[str, Any] = {"input_size": None, "resize_short": None, "resize": None, "crop": None,
                            "mean": None, "std": None, "scale": None, "channels": 3}
    for here, name, params in _iter_ops(ops, "preprocess"):
        if name not in TRANSFORMS:
            continue
        op = _make_op(here, name, params)
        if isinstance(op, DecodeImage):
            info["channels"] = op.channel_num
        elif isinstance(op, ResizeImage):
            info["resize_short"] = op.resize_short
            info["resize"] = None if op.size is None else list(op.size)
        elif isinstance(op, (CropImage, RandCropImage)):
            info["crop"] = list(op.size)
        elif isinstance(op, NormalizeImage):
            info.update(mean=list(op.mean), std=list(op.std), scale=op.scale)
            if op.channel_num == 4:
                info["channels"] = 4
    final = info["crop"] or info["resize"]
    info["input_size"] = [info["channels"], *final] if final else None
    return info
