"""PaddleClas's padding and cropping ops beyond the basic ones of `transforms`: ``Pad``,
``Padv2``, ``CropWithPadding``, ``RandomCropImage``, ``RandCropImageV2``, ``CropImageAtRatio`` and
``RandomRotation`` (``ppcls/data/preprocess/ops/operators.py``), on torchvision.transforms.v2.

Sizes follow PaddleClas: an int, or ``[w, h]`` (width first). Images stay uint8 CHW, except
``Padv2``'s output, which is float32 as in PaddleClas (its default fill 127.5 is no byte value).

Example:
    >>> Pad(padding=2, fill=9)(torch.zeros(3, 4, 4, dtype=torch.uint8)).shape
    torch.Size([3, 8, 8])
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from .augment import number
from .transforms import _floats, _interpolation, _is_number, _number_range, _positive_int, _size_hw

__all__ = ["Pad", "Padv2", "CropWithPadding", "RandomCropImage", "RandCropImageV2", "CropImageAtRatio",
           "RandomRotation"]


def _fill_value(fill: Any, op: str, key: str = "fill") -> float | list[float]:
    """A number or a per-channel list of numbers."""
    if _is_number(fill):
        return float(fill)
    return list(_floats(fill, (0.0,), op, key))


def _no_bicubic(mode: InterpolationMode) -> InterpolationMode:
    """Tensor rotate/affine kernels have no bicubic filter: bilinear stands in."""
    return InterpolationMode.BILINEAR if mode == InterpolationMode.BICUBIC else mode


class Pad(v2.Pad):
    """Pad every side by ``padding`` pixels (``torchvision.transforms.v2.Pad``).

    Args:
        padding: int (all sides), [left/right, top/bottom] or [left, top, right, bottom].
        fill: value of the new pixels, a number or one per channel (default 0).
        padding_mode: 'constant' (default), 'edge', 'reflect' or 'symmetric'. PaddleClas ignores
            this key (it always pads with ``fill``); here it is honoured.
        backend: 'pil' or 'cv2', accepted for PaddleClas configs.

    Example:
        >>> Pad(padding=[1, 2], fill=7)(torch.zeros(1, 3, 3, dtype=torch.uint8))[0, 0].tolist()
        [7, 7, 7, 7, 7]
    """

    def __init__(self, padding, fill=0, padding_mode="constant", backend="pil"):
        values = [padding] if isinstance(padding, int) else padding
        if (not isinstance(values, (list, tuple)) or len(values) not in (1, 2, 4)
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)):
            raise ValueError(f"Pad: padding must be an int >= 0 or a list of 2 or 4 of them, got {padding!r}")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"Pad: padding_mode must be 'constant', 'edge', 'reflect' or 'symmetric', "
                             f"got {padding_mode!r}")
        if backend not in ("pil", "cv2"):
            raise ValueError(f"Pad: backend must be 'pil' or 'cv2', got {backend!r}")
        super().__init__(list(values) if len(values) > 1 else values[0], fill=_fill_value(fill, "Pad"),
                         padding_mode=padding_mode)


class Padv2(v2.Transform):
    """Pad to ``size`` ([w, h]) or, without it, up to multiples of ``size_divisor``, on a float32
    canvas of ``fill_value`` (PaddleClas's ``Padv2``).

    Args:
        size: int or [w, h], at least the image's size; None pads to multiples of ``size_divisor``.
        size_divisor: default 32.
        pad_mode: where the image sits: 0 top-left (default), 1 centre, 2 bottom-right,
            -1 at ``offsets`` [x, y].
        fill_value: canvas colour, one value per channel (default 127.5 each).

    Example:
        >>> out = Padv2(size=[6, 4], pad_mode=1, fill_value=[1, 2, 3])(torch.zeros(3, 2, 2, dtype=torch.uint8))
        >>> out.shape, out.dtype, out[:, 0, 0].tolist(), out[0, 1:3, 2:4].tolist()
        (torch.Size([3, 4, 6]), torch.float32, [1.0, 2.0, 3.0], [[0.0, 0.0], [0.0, 0.0]])
    """

    FLOAT_OUTPUT = True  # makes float images: NormalizeImage after it runs per image

    def __init__(self, size=None, size_divisor=32, pad_mode=0, offsets=None, fill_value=(127.5, 127.5, 127.5)):
        super().__init__()
        self.size = None if size is None else _size_hw(size, "Padv2")
        self.size_divisor = _positive_int(size_divisor, "Padv2", "size_divisor")
        if isinstance(pad_mode, bool) or pad_mode not in (-1, 0, 1, 2):
            raise ValueError(f"Padv2: pad_mode must be -1, 0, 1 or 2, got {pad_mode!r}")
        if pad_mode == -1 and (not isinstance(offsets, (list, tuple)) or len(offsets) != 2
                               or not all(isinstance(v, int) and v >= 0 for v in offsets)):
            raise ValueError(f"Padv2: pad_mode -1 needs offsets [x, y] of integers >= 0, got {offsets!r}")
        self.pad_mode, self.offsets = pad_mode, offsets
        self.fill_value = _floats(fill_value, (127.5,), "Padv2", "fill_value")

    def _target(self, height: int, width: int) -> tuple[int, int]:
        if self.size is None:
            div = self.size_divisor
            return -(-height // div) * div, -(-width // div) * div
        if height > self.size[0] or width > self.size[1]:
            raise ValueError(f"Padv2: the image ({width}x{height}) is larger than size "
                             f"[{self.size[1]}, {self.size[0]}] ([w, h])")
        return self.size

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        image = inpt.as_subclass(torch.Tensor)
        channels, height, width = image.shape[-3:]
        out_h, out_w = self._target(height, width)
        y, x = {-1: tuple(reversed(self.offsets or (0, 0))), 0: (0, 0),
                1: ((out_h - height) // 2, (out_w - width) // 2), 2: (out_h - height, out_w - width)}[self.pad_mode]
        if y + height > out_h or x + width > out_w:
            raise ValueError(f"Padv2: offsets {self.offsets} put the {width}x{height} image outside "
                             f"the {out_w}x{out_h} canvas")
        fill = self.fill_value if len(self.fill_value) == channels else [sum(self.fill_value) / len(self.fill_value)]
        canvas = torch.tensor(fill, dtype=torch.float32).view(-1, 1, 1).expand(channels, out_h, out_w).clone()
        canvas[:, y:y + height, x:x + width] = image.to(torch.float32)
        return tv_tensors.Image(canvas) if isinstance(inpt, tv_tensors.Image) else canvas


class CropWithPadding(v2.Transform):
    """With probability ``prob``: keep a random-resized-crop box of the image in place and set
    every pixel outside it to ``padding_num`` (the output keeps the input's size).

    The box is drawn as ``RandomResizedCrop`` draws it (``scale``, ``ratio``); ``size`` and
    ``interpolation`` are accepted (PaddleClas passes them to its RandomResizedCrop parent)
    but nothing is resized.

    Example:
        >>> out = CropWithPadding(prob=1, padding_num=5, scale=[0.25, 0.25], ratio=[1, 1])(
        ...     torch.zeros(1, 8, 8, dtype=torch.uint8))
        >>> int((out == 0).sum()), int((out == 5).sum())
        (16, 48)
    """

    def __init__(self, prob=1, padding_num=0, size=224, scale=(0.08, 1.0), ratio=(3.0 / 4, 4.0 / 3),
                 interpolation="bilinear", key=None):
        super().__init__()
        self.prob = number(prob, "CropWithPadding", "prob", 0)
        self.padding_num = number(padding_num, "CropWithPadding", "padding_num", 0, 255)
        self.box = v2.RandomResizedCrop(_size_hw(size, "CropWithPadding"),
                                        scale=_number_range(scale, (0.08, 1.0), "CropWithPadding", "scale"),
                                        ratio=_number_range(ratio, (0.75, 4 / 3), "CropWithPadding", "ratio"),
                                        interpolation=_interpolation(interpolation, "CropWithPadding"))

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if float(torch.rand(())) >= self.prob:
            return {"skip": True}
        return self.box.make_params(flat_inputs)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params.get("skip"):
            return inpt
        top, left, height, width = params["top"], params["left"], params["height"], params["width"]
        image = inpt.as_subclass(torch.Tensor)
        keep = torch.zeros(image.shape[-2:], dtype=torch.bool, device=image.device)
        keep[top:top + height, left:left + width] = True
        out = torch.where(keep, image, torch.tensor(self.padding_num).to(image.dtype))
        return tv_tensors.Image(out) if isinstance(inpt, tv_tensors.Image) else out


class RandomCropImage(v2.RandomCrop):
    """A crop of ``size`` ([w, h]) at a uniform position, not resized (``v2.RandomCrop``).

    Raises ValueError when the image is smaller than ``size``.

    Example:
        >>> RandomCropImage(size=[4, 2])(torch.zeros(3, 6, 6, dtype=torch.uint8)).shape
        torch.Size([3, 2, 4])
    """

    def __init__(self, size):
        super().__init__(_size_hw(size, type(self).__name__))


class RandCropImageV2(RandomCropImage):
    """PaddleClas's other name for `RandomCropImage`: a crop of ``size`` ([w, h]) at a uniform
    position, not resized. (PaddleClas's can draw one position past the edge and return a crop one
    pixel short; here every crop has ``size``.)"""


class CropImageAtRatio(v2.Transform):
    """Centre square of ``size / (size + pad)`` of the shorter side, resized to ``size`` x ``size``
    (EfficientNetV2's eval crop).

    Example:
        >>> CropImageAtRatio(size=8, pad=2)(torch.zeros(3, 20, 30, dtype=torch.uint8)).shape
        torch.Size([3, 8, 8])
    """

    def __init__(self, size, pad, interpolation="bilinear"):
        super().__init__()
        self.size = _positive_int(size, "CropImageAtRatio", "size")
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
            raise ValueError(f"CropImageAtRatio: pad must be an integer >= 0, got {pad!r}")
        self.ratio = self.size / (self.size + pad)
        self.interpolation = _interpolation(interpolation, "CropImageAtRatio")

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        height, width = inpt.shape[-2:]
        side = max(1, int(self.ratio * min(height, width)))
        top, left = (height - side) // 2, (width - side) // 2
        return self._call_kernel(F.resized_crop, inpt, top, left, side, side, [self.size, self.size],
                                 interpolation=self.interpolation, antialias=True)


class RandomRotation(v2.Transform):
    """With probability ``prob`` (default 0.5), rotate by an angle drawn from ``degrees``
    (``v2.RandomRotation``; PaddleClas wraps paddle.vision's RandomRotation the same way).

    Args:
        degrees: number d (angle in [-d, d]) or [min, max], counter-clockwise.
        interpolation: 'nearest' (default) or 'bilinear' ('bicubic' runs bilinear).
        expand: grow the output to hold the whole rotated image. center: [x, y] (default the centre).
        fill: value of uncovered pixels, a number or one per channel (default 0).
        keys: accepted for PaddleClas configs.

    Example:
        >>> img = torch.zeros(1, 5, 5, dtype=torch.uint8); img[0, 0, 2] = 255
        >>> RandomRotation(degrees=[90, 90], prob=1)(img)[0, 2, 0].item()
        255
    """

    def __init__(self, degrees, prob=0.5, interpolation="nearest", expand=False, center=None, fill=0, keys=None):
        super().__init__()
        self.prob = number(prob, "RandomRotation", "prob", 0)
        if _is_number(degrees):
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees must be >= 0 when a single number, got {degrees!r}")
        elif not (isinstance(degrees, (list, tuple)) and len(degrees) == 2 and all(map(_is_number, degrees))
                  and degrees[0] <= degrees[1]):
            raise ValueError(f"RandomRotation: degrees must be a number or [min, max], got {degrees!r}")
        if center is not None and not (isinstance(center, (list, tuple)) and len(center) == 2
                                       and all(map(_is_number, center))):
            raise ValueError(f"RandomRotation: center must be [x, y], got {center!r}")
        self.rotate = v2.RandomRotation(degrees, interpolation=_no_bicubic(_interpolation(interpolation,
                                                                                          "RandomRotation")),
                                        expand=bool(expand), center=None if center is None else list(center),
                                        fill=_fill_value(fill, "RandomRotation"))

    def forward(self, inpt: Any) -> Any:
        return self.rotate(inpt) if float(torch.rand(())) < self.prob else inpt
