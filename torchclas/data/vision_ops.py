"""The paddle.vision.transforms ops PaddleClas exposes under their own names (``ToTensor``,
``Normalize``, ``RandomHorizontalFlip``, ``RandomResizedCrop``, ``CenterCrop``, ``Resize``) and its
``RandomGrayscale``, on torchvision.transforms.v2.

Unlike PaddleClas's own ops, paddle.vision sizes are ``(h, w)`` (height first), and an int
``Resize`` size is the shorter side. ``keys`` (paddle.vision's multi-input selector) is accepted.

Example:
    >>> ToTensor()(torch.full((3, 2, 2), 255, dtype=torch.uint8)).max().item()
    1.0
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from .augment import number
from .transforms import _floats, _interpolation, _is_number, _number_range, _positive_int

__all__ = ["ToTensor", "Normalize", "RandomHorizontalFlip", "RandomResizedCrop", "CenterCrop", "Resize",
           "RandomGrayscale"]


def _size_hw_paddle(size: Any, op: str) -> list[int]:
    """paddle.vision size: int or (h, w)."""
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return [_positive_int(v, op, "size") for v in size]
    side = _positive_int(size, op, "size (an int or [h, w])")
    return [side, side]


def _chw_only(data_format: Any, op: str) -> None:
    if data_format != "CHW":
        raise ValueError(f"{op}: data_format must be 'CHW' (torchclas images are channel-first), got {data_format!r}")


def _as_output(inpt: Any, out: torch.Tensor) -> Any:
    return tv_tensors.Image(out) if isinstance(inpt, tv_tensors.Image) else out


class ToTensor(v2.Transform):
    """uint8 image -> float32 in [0, 1] (divided by 255); a float image is returned as float32 unchanged.

    Args:
        data_format: 'CHW' (the only layout here). keys: accepted for PaddleClas configs.
    """

    FLOAT_OUTPUT = True  # makes float images: NormalizeImage after it runs per image

    def __init__(self, data_format="CHW", keys=None):
        super().__init__()
        _chw_only(data_format, "ToTensor")

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        image = inpt.as_subclass(torch.Tensor)
        out = image.to(torch.float32) / 255.0 if image.dtype == torch.uint8 else image.to(torch.float32)
        return _as_output(inpt, out)


class Normalize(v2.Transform):
    """float32 ``(x - mean) / std`` per channel, in the image's own units (after ``ToTensor``: [0, 1];
    on a uint8 image: 0..255, as paddle.vision's Normalize).

    Args:
        mean, std: a number or one per channel (defaults 0 and 1).
        to_rgb: reverse the channel order first, as paddle.vision does (it is for BGR images;
            torchclas decodes RGB, so this turns RGB into BGR).
        data_format: 'CHW'. keys: accepted.

    Example:
        >>> Normalize(mean=[1, 2], std=2)(torch.tensor([[[3.0]], [[6.0]]])).flatten().tolist()
        [1.0, 2.0]
    """

    FLOAT_OUTPUT = True  # makes float images: NormalizeImage after it runs per image

    def __init__(self, mean=0.0, std=1.0, data_format="CHW", to_rgb=False, keys=None):
        super().__init__()
        _chw_only(data_format, "Normalize")
        self.mean = (float(mean),) if _is_number(mean) else _floats(mean, (0.0,), "Normalize", "mean")
        self.std = (float(std),) if _is_number(std) else _floats(std, (1.0,), "Normalize", "std")
        if 0.0 in self.std:
            raise ValueError(f"Normalize: std must not be 0, got {list(self.std)}")
        self.to_rgb = bool(to_rgb)
        self._mean = torch.tensor(self.mean).view(-1, 1, 1)  # built once: transform runs per image
        self._std = torch.tensor(self.std).view(-1, 1, 1)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        image = inpt.as_subclass(torch.Tensor).to(torch.float32)
        channels = image.shape[-3]
        for key, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise ValueError(f"Normalize: {key} has {len(values)} values but the image {channels} channels")
        if self.to_rgb:
            image = image.flip(-3)
        return _as_output(inpt, (image - self._mean) / self._std)


class RandomHorizontalFlip(v2.RandomHorizontalFlip):
    """Mirror left-right with probability ``prob`` (default 0.5). keys: accepted."""

    def __init__(self, prob=0.5, keys=None):
        super().__init__(p=number(prob, "RandomHorizontalFlip", "prob", 0, 1))


class RandomResizedCrop(v2.RandomResizedCrop):
    """paddle.vision's RandomResizedCrop: a random area/aspect box resized to ``size`` ((h, w)).

    Args:
        size: int or [h, w]. scale: default [0.08, 1]. ratio: default [3/4, 4/3].
        interpolation: 'bilinear' (default), 'bicubic', 'nearest', ... keys: accepted.
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4, 4.0 / 3), interpolation="bilinear", keys=None):
        super().__init__(_size_hw_paddle(size, "RandomResizedCrop"),
                         scale=_number_range(scale, (0.08, 1.0), "RandomResizedCrop", "scale"),
                         ratio=_number_range(ratio, (0.75, 4 / 3), "RandomResizedCrop", "ratio"),
                         interpolation=_interpolation(interpolation, "RandomResizedCrop"), antialias=True)


class CenterCrop(v2.CenterCrop):
    """paddle.vision's CenterCrop: the centre ``size`` ((h, w) or an int) of the image. keys: accepted.

    Example:
        >>> CenterCrop([2, 4])(torch.zeros(3, 6, 6, dtype=torch.uint8)).shape
        torch.Size([3, 2, 4])
    """

    def __init__(self, size, keys=None):
        super().__init__(_size_hw_paddle(size, "CenterCrop"))


class Resize(v2.Resize):
    """paddle.vision's Resize: an int matches the shorter side (aspect kept), (h, w) a fixed size.

    Example:
        >>> Resize(4)(torch.zeros(3, 8, 16, dtype=torch.uint8)).shape
        torch.Size([3, 4, 8])
    """

    def __init__(self, size, interpolation="bilinear", keys=None):
        target = ([_positive_int(size, "Resize", "size (an int or [h, w])")]
                  if not isinstance(size, (list, tuple)) else _size_hw_paddle(size, "Resize"))
        super().__init__(target, interpolation=_interpolation(interpolation, "Resize"), antialias=True)


class RandomGrayscale(v2.RandomGrayscale):
    """With probability ``p`` (default 0.1) make the image gray, keeping its channel count (r = g = b)."""

    def __init__(self, p=0.1):
        super().__init__(p=number(p, "RandomGrayscale", "p", 0, 1))
