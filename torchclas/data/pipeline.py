"""PaddleClas op lists → ops: validate (``check_ops``, ``check_batch_ops``), build
(``build_transforms``, ``build_batch_ops``), split the late ``NormalizeImage`` off
(``split_late_normalize``) and summarise for export metadata (``describe_preprocess``).

The names each list may use are the tables of `registry` (``TRANSFORMS``, ``BATCH_OPS``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from torchvision.transforms import v2

from .batch_ops import BatchOps
from .decode.dct_scaled import fuse_decode_crop
from .label_ops import is_label_op
from .op_lists import iter_ops, make_op
from .registry import BATCH_OPS, TRANSFORMS
from .transforms import CropImage, DecodeImage, NormalizeImage, RandCropImage, ResizeImage

__all__ = ["check_ops", "build_ops", "build_transforms", "split_late_normalize", "describe_preprocess",
           "check_batch_ops", "build_batch_ops", "label_keys", "LabelCompose"]

logger = logging.getLogger(__name__)


def _image_ops(ops: Any, where: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(location, op name, params)`` of each op of a per-image op list (``iter_ops``)."""
    return iter_ops(ops, where, TRANSFORMS, BATCH_OPS, "dataset.batch_transform_ops")


def _make_op(here: str, name: str, params: dict[str, Any]) -> Callable:
    return make_op(TRANSFORMS, here, name, params)


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
    for here, name, params in _image_ops(ops, where):
        if name in TRANSFORMS:
            _make_op(here, name, params)
        elif name not in skipped:
            skipped.append(name)
    return skipped


def build_transforms(ops: Any, where: str = "transform_ops", fast_decode: bool = False,
                     fast_decode_resize: bool = False, labels: bool = True) -> Callable:
    """Build one callable from a YAML op list; None or [] gives the identity.

    A list holding label ops (`label_ops`) gives a `LabelCompose`: ``(image, labels)`` for a
    ``CustomLabelDataset``, or, with ``labels=False``, the image alone, the labels dropped as
    PaddleClas drops them for any other dataset (and for inference).

    Ops in ``TRANSFORMS.not_yet`` are skipped with a warning naming them. ``fast_decode`` fuses a
    ``DecodeImage`` followed by a ``RandCropImage`` into one op that decodes JPEGs at a reduced
    DCT scale when the crop allows (`decode.dct_scaled.DecodeRandCropImage`; within a stated tolerance);
    ``fast_decode_resize`` does the same for a ``DecodeImage`` followed by a ``ResizeImage``
    (`decode.dct_scaled.DecodeResizeImage`).

    Example:
        >>> tf = build_transforms([{"DecodeImage": None}, {"ResizeImage": {"size": 224}},
        ...                        {"NormalizeImage": None}, {"ToCHWImage": None}])
        >>> tf(png_bytes).shape  # doctest: +SKIP
        torch.Size([3, 224, 224])
    """
    built = build_ops(ops, where)
    if fast_decode or fast_decode_resize:
        built = fuse_decode_crop(built, crop=fast_decode, resize=fast_decode_resize)
    if any(is_label_op(op) for op in built):
        return LabelCompose(built, labels=labels)
    return v2.Compose(built) if built else v2.Identity()


class LabelCompose(v2.Compose):
    """The ops of a list holding label ops (`label_ops`): returns ``(image, labels)``, ``labels``
    the merged ``{key: label}`` dicts of its label ops; each op gets the image alone. With
    ``labels=False`` it returns the image alone (PaddleClas's ``format_data`` on a bare image).

    Example:
        >>> import torch
        >>> from torchclas.data.label_ops import RandomRot90
        >>> image, labels = LabelCompose([RandomRot90()])(torch.zeros(3, 2, 2))
        >>> sorted(labels)
        ['random_rot90_orientation']
        >>> LabelCompose([RandomRot90()], labels=False)(torch.zeros(3, 2, 2)).shape
        torch.Size([3, 2, 2])
    """

    def __init__(self, transforms: list[Callable], labels: bool = True):
        super().__init__(transforms)
        self.labels = labels
        self.makes_label = [is_label_op(op) for op in self.transforms]  # per op, once: forward runs per image

    def forward(self, *inputs: Any) -> Any:
        image, labels = inputs[0] if len(inputs) == 1 else inputs, {}
        for op, makes_label in zip(self.transforms, self.makes_label):
            image = op(image)
            if makes_label:
                image, made = image
                labels.update(made)
        return (image, labels) if self.labels else image


def label_keys(ops: Any, where: str = "transform_ops") -> list[str]:
    """The label keys the label ops of a YAML op list make (``LABEL_KEY``s, in order), for
    ``CustomLabelDataset``'s ``label_key``; nothing is constructed.

    Example:
        >>> label_keys([{"DecodeImage": None}, {"BlurImage": None}])
        ['blur_image']
    """
    return [TRANSFORMS[name].LABEL_KEY for _, name, _ in _image_ops(ops, where)
            if name in TRANSFORMS and hasattr(TRANSFORMS[name], "LABEL_KEY")]


def build_ops(ops: Any, where: str = "transform_ops") -> list[Callable]:
    """The ops of a YAML op list, constructed, in order; those in ``TRANSFORMS.not_yet`` are
    left out with a warning naming them."""
    built, skipped = [], []
    for here, name, params in _image_ops(ops, where):
        if name in TRANSFORMS:
            built.append(_make_op(here, name, params))
        else:
            skipped.append(name)
    if skipped:
        logger.warning("%s: skipping ops not implemented yet: %s", where, ", ".join(skipped))
    return built


def split_late_normalize(ops: Any, where: str = "transform_ops") -> tuple[Any, Callable | None]:
    """Split a trailing ``NormalizeImage`` off an op list; ``ToCHWImage`` after it is dropped, and
    ops after it that commute with it (their class sets ``COMMUTES_WITH_NORMALIZE = True``:
    ``RandomRot90``, which only moves pixels) stay, now running before it.

    The per-image ops then end on uint8 images, a quarter of the bytes a loader worker sends as
    float32, and the returned ``NormalizeImage`` runs once per batch where the batch lands (on
    the GPU when there is one); it computes exactly what it computed per image. Returns
    ``(ops, None)`` when the list does not end that way (an op after NormalizeImage needs floats)
    or an op before it makes float images (its class sets ``FLOAT_OUTPUT = True``).

    Example:
        >>> head, normalize = split_late_normalize([{"DecodeImage": None}, {"NormalizeImage": None},
        ...                                        {"ToCHWImage": None}, {"RandomRot90": None}])
        >>> head, type(normalize).__name__
        ([{'DecodeImage': None}, {'RandomRot90': None}], 'NormalizeImage')
    """
    parsed = list(_image_ops(ops, where))
    tail = len(parsed)
    while tail and _moves_pixels_only(parsed[tail - 1][1]):
        tail -= 1
    if not tail or parsed[tail - 1][1] != "NormalizeImage":
        return ops, None
    if any(getattr(TRANSFORMS[name], "FLOAT_OUTPUT", False) for _, name, _ in parsed[:tail - 1] if name in TRANSFORMS):
        return ops, None  # an op before it makes float images (PCALighting, ...): normalise per image
    here, name, params = parsed[tail - 1]
    after = [op for op, (_, name_after, _) in zip(ops[tail:], parsed[tail:]) if name_after != "ToCHWImage"]
    return [*ops[: tail - 1], *after], _make_op(here, name, params)


def _moves_pixels_only(name: str) -> bool:
    """Whether op ``name`` may run before a per-channel ``NormalizeImage`` to the same result."""
    return name == "ToCHWImage" or getattr(TRANSFORMS.get(name), "COMMUTES_WITH_NORMALIZE", False)


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
    for here, name, params in _image_ops(ops, "preprocess"):
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


def _batch_ops(ops: Any, where: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(location, op name, params)`` of each op of a ``batch_transform_ops`` list."""
    return iter_ops(ops, where, BATCH_OPS, TRANSFORMS, "dataset.transform_ops")


def check_batch_ops(ops: Any, where: str, class_num: int | None) -> list[str]:
    """Validate a ``batch_transform_ops`` list by constructing its ops; returns not-yet-implemented names.

    Raises:
        ValueError naming ``where``, the index, the op and the closest valid op or parameter.

    Example:
        >>> check_batch_ops([{"MixupOperator": {"alpa": 0.2}}], "batch_transform_ops", 10)
        Traceback (most recent call last):
        ValueError: batch_transform_ops[0]: MixupOperator has no parameter 'alpa' (did you mean 'alpha'?); accepted: class_num, alpha
    """
    skipped: list[str] = []
    for here, name, params in _batch_ops(ops, where):
        if name in BATCH_OPS:
            make_op(BATCH_OPS, here, name, params, class_num=class_num)
        elif name not in skipped:
            skipped.append(name)
    return skipped


def build_batch_ops(ops: Any, class_num: int | None, where: str = "batch_transform_ops") -> BatchOps | None:
    """The batch ops of a ``batch_transform_ops`` list, or None when it has none to run.

    Ops not implemented yet are skipped with a warning naming them.

    Raises:
        ValueError when the list has ops but ``class_num`` is None, naming what to pass.

    Example:
        >>> build_batch_ops([{"CutmixOperator": {"alpha": 1.0}}], class_num=10)  # doctest: +ELLIPSIS
        <torchclas.data.batch_ops.BatchOps object at ...>
    """
    entries = list(_batch_ops(ops, where))
    if entries and class_num is None:
        raise ValueError(f"{where}: batch ops turn labels into [N, class_num] targets and need the number "
                         "of classes: call build_dataloader(..., class_num=cfg.class_num)")
    built = [make_op(BATCH_OPS, here, name, params, class_num=class_num) for here, name, params in entries
             if name in BATCH_OPS]
    skipped = [name for _, name, _ in entries if name not in BATCH_OPS]
    if skipped:
        logger.warning("%s: skipping batch ops not implemented yet: %s", where, ", ".join(skipped))
    return BatchOps(built, class_num) if built else None
