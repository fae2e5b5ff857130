"""PaddleClas's RandAugment variants (``ppcls/data/preprocess/ops/randaugment.py``) on
torchvision.transforms.v2 functionals: ``RandAugmentV2`` (EfficientNetV2), ``RandAugmentV3``
(MobileViTV2) and ``RandAugmentV4`` (ML-Decoder). ``RandAugment`` itself is in `augment`.

Each variant is a table of PaddleClas's op names -> (function, strength); every call draws the
ops, their signs and their strengths from torch's per-sample generator. They run on uint8 CHW
images, before ``NormalizeImage``. Tensor affine kernels have no bicubic filter, so a bicubic
shear/rotate runs bilinear.

Example:
    >>> img = torch.full((3, 16, 16), 100, dtype=torch.uint8)
    >>> RandAugmentV3(num_layers=2, magnitude=3)(img).shape
    torch.Size([3, 16, 16])
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from .augment import _fills, number, require_uint8
from .transforms import _interpolation

__all__ = ["RandAugmentV2", "RandAugmentV3", "RandAugmentV4", "solarize_add", "cutout"]

Op = Callable[[torch.Tensor, float], torch.Tensor]


def _sign() -> int:
    """-1 or 1, each with probability 1/2 (PaddleClas's ``random.choice([-1, 1])``)."""
    return 1 if float(torch.rand(())) < 0.5 else -1


def _affine_mode(mode: InterpolationMode) -> InterpolationMode:
    return InterpolationMode.BILINEAR if mode == InterpolationMode.BICUBIC else mode


def solarize_add(img: torch.Tensor, add: int, thresh: int = 128) -> torch.Tensor:
    """Add ``add`` to the pixels below ``thresh`` (clipped at 255), as PaddleClas's ``solarize_add``.

    Example:
        >>> solarize_add(torch.tensor([[[10, 200]]], dtype=torch.uint8), 50).tolist()
        [[[60, 200]]]
    """
    raised = (img.to(torch.int16) + int(add)).clamp(0, 255).to(img.dtype)
    return torch.where(img < thresh, raised, img)


def cutout(img: torch.Tensor, pad_size: int, replace: float = 0) -> torch.Tensor:
    """Fill a square of half-side ``pad_size`` around a uniform centre (which may lie on the
    border, so the square can be cut) with ``replace``, as PaddleClas's ``cutout``.

    Example:
        >>> int((cutout(torch.ones(1, 8, 8, dtype=torch.uint8), 2) == 0).sum()) <= 16
        True
    """
    height, width = img.shape[-2:]
    cy, cx = int(torch.randint(0, height + 1, ())), int(torch.randint(0, width + 1, ()))
    out = img.clone()
    out[..., max(0, cy - pad_size):min(height, cy + pad_size), max(0, cx - pad_size):min(width, cx + pad_size)] = \
        int(round(replace))
    return out


class _Ops:
    """PaddleClas's op functions for one variant's fill, filters and conventions."""

    def __init__(self, fill: list[float], shear_mode: InterpolationMode, translate_mode: InterpolationMode,
                 rotate_mode: InterpolationMode, rotate_fill: list[float], rotate_signed: bool,
                 translate_pixels: bool, enhance_delta: bool, cutout_fill: float = 0.0):
        self.fill, self.rotate_fill = fill, rotate_fill
        self.shear_mode, self.translate_mode = _affine_mode(shear_mode), _affine_mode(translate_mode)
        self.rotate_mode, self.rotate_signed = _affine_mode(rotate_mode), rotate_signed
        self.translate_pixels, self.enhance_delta, self.cutout_fill = translate_pixels, enhance_delta, cutout_fill

    def _fill_for(self, img: torch.Tensor, fill: list[float]) -> list[float]:
        return fill if img.shape[-3] == len(fill) else [sum(fill) / len(fill)] * img.shape[-3]

    def _affine(self, img: torch.Tensor, translate: list[float], shear: list[float],
                mode: InterpolationMode) -> torch.Tensor:
        # center [0, 0]: PIL's affine transform is about the top-left corner
        return F.affine(img, angle=0.0, translate=translate, scale=1.0, shear=shear, interpolation=mode,
                        fill=self._fill_for(img, self.fill), center=[0, 0])

    def _factor(self, magnitude: float) -> float:
        return max(0.0, 1 + magnitude * _sign()) if self.enhance_delta else magnitude

    def table(self) -> dict[str, Op]:
        """PaddleClas op name -> ``f(image, strength)``."""
        def shear(axis: int) -> Op:
            def run(img, m):
                angle = math.degrees(math.atan(m * _sign()))
                return self._affine(img, [0, 0], [angle, 0] if axis == 0 else [0, angle], self.shear_mode)
            return run

        def translate(axis: int) -> Op:
            def run(img, m):
                pixels = m if self.translate_pixels else m * img.shape[-1 - axis]
                shift = pixels * _sign()
                return self._affine(img, [shift, 0] if axis == 0 else [0, shift], [0, 0], self.translate_mode)
            return run

        def rotate(img, m):
            angle = m * _sign() if self.rotate_signed else m
            return F.rotate(img, angle, interpolation=self.rotate_mode, fill=self._fill_for(img, self.rotate_fill))

        def solarize(img, m):
            return img if m > 255 else F.solarize(img, float(m))

        return {
            "shearX": shear(0), "shearY": shear(1), "translateX": translate(0), "translateY": translate(1),
            "rotate": rotate,
            "color": lambda img, m: F.adjust_saturation(img, self._factor(m)),
            "posterize": lambda img, m: F.posterize(img, int(min(8, max(0, m)))),
            "solarize": solarize,
            "solarize_add": lambda img, m: solarize_add(img, int(m)),
            "contrast": lambda img, m: F.adjust_contrast(img, self._factor(m)),
            "sharpness": lambda img, m: F.adjust_sharpness(img, self._factor(m)),
            "brightness": lambda img, m: F.adjust_brightness(img, self._factor(m)),
            "autocontrast": lambda img, _: F.autocontrast(img),
            "equalize": lambda img, _: F.equalize(img),
            "invert": lambda img, _: F.invert(img),
            "cutout": lambda img, m: cutout(img, int(m), self.cutout_fill),
        }


def _layers_and_magnitude(op: str, num_layers: Any, magnitude: Any) -> tuple[int, float]:
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
        raise ValueError(f"{op}: num_layers must be an integer >= 0, got {num_layers!r}")
    return num_layers, number(magnitude, op, "magnitude", 0)


class _LayeredRandAugment(v2.Transform):
    """``num_layers`` times: one op drawn uniformly from ``self.levels`` at its fixed strength."""

    name = ""
    levels: dict[str, float]
    ops: dict[str, Op]
    num_layers: int

    def forward(self, inpt: Any) -> Any:
        require_uint8(inpt, self.name)
        out = inpt.as_subclass(torch.Tensor)
        names = list(self.levels)
        for _ in range(self.num_layers):
            name = names[int(torch.randint(len(names), ()))]
            out = self.ops[name](out, self.levels[name])
        return tv_tensors.Image(out) if isinstance(inpt, tv_tensors.Image) else out


class RandAugmentV2(_LayeredRandAugment):
    """PaddleClas's RandAugment for EfficientNetV2: ``num_layers`` ops from 16 (adds
    ``solarize_add`` and ``cutout``), strengths from ``magnitude`` / 10.

    Differs from ``RandAugment``: colour/contrast/sharpness/brightness use the factor
    ``1.8 * m/10 + 0.1`` itself; translate moves ``100 * m/10`` pixels; shear, translate and
    rotate are nearest-neighbour; rotate (fill 128) takes a random sign.

    Args:
        num_layers: ops per image (default 2). magnitude: strength, a number >= 0 (default 5).
        progress_magnitude: per-stage magnitudes of PaddleClas's progressive training
            (``Global.train_mode: progressive``), kept as ``progress_magnitude``.
        fillcolor: value of uncovered pixels (default 128 gray), and cutout's fill (its first value).

    Example:
        >>> RandAugmentV2(magnitude=5).levels["translateX"]
        50.0
    """

    name = "RandAugmentV2"

    def __init__(self, num_layers=2, magnitude=5, progress_magnitude=None, fillcolor=(128, 128, 128)):
        super().__init__()
        self.num_layers, self.magnitude = _layers_and_magnitude(self.name, num_layers, magnitude)
        if progress_magnitude is not None and (not isinstance(progress_magnitude, (list, tuple))
                                               or not progress_magnitude):
            raise ValueError(f"{self.name}: progress_magnitude must be a list of magnitudes, "
                             f"got {progress_magnitude!r}")
        self.progress_magnitude = (None if progress_magnitude is None else
                                   [number(m, self.name, "progress_magnitude", 0) for m in progress_magnitude])
        color, _ = _fills(fillcolor, self.name)
        level = self.magnitude / 10
        self.levels = {
            "shearX": 0.3 * level, "shearY": 0.3 * level, "translateX": 100.0 * level, "translateY": 100.0 * level,
            "rotate": 30 * level, "color": 1.8 * level + 0.1, "posterize": int(4.0 * level),
            "solarize": int(256.0 * level), "solarize_add": int(110.0 * level), "contrast": 1.8 * level + 0.1,
            "sharpness": 1.8 * level + 0.1, "brightness": 1.8 * level + 0.1, "autocontrast": 0, "equalize": 0,
            "invert": 0, "cutout": int(40 * level)}
        nearest = InterpolationMode.NEAREST
        self.ops = _Ops(color, nearest, nearest, nearest, [128.0] * 3, rotate_signed=True, translate_pixels=True,
                        enhance_delta=False, cutout_fill=color[0]).table()


class RandAugmentV3(_LayeredRandAugment):
    """PaddleClas's RandAugment for MobileViTV2: ``num_layers`` ops from 14 at ``magnitude`` / 10.

    Differs from ``RandAugment``: posterize keeps ``8 - int(4 * m/10)`` bits, solarize's threshold is
    ``255 * (1 - m/10)``, rotate takes a random sign, shear/translate/rotate use ``interpolation``
    (bicubic runs bilinear) and ``fillcolor`` (default black).

    Example:
        >>> RandAugmentV3(magnitude=5).levels["posterize"]
        6
    """

    name = "RandAugmentV3"

    def __init__(self, num_layers=2, magnitude=3, fillcolor=(0, 0, 0), interpolation="bicubic"):
        super().__init__()
        self.num_layers, self.magnitude = _layers_and_magnitude(self.name, num_layers, magnitude)
        color, _ = _fills(fillcolor, self.name)
        mode = _interpolation(interpolation, self.name)
        level = self.magnitude / 10
        self.levels = {
            "shearX": 0.3 * level, "shearY": 0.3 * level, "translateX": 150.0 / 331.0 * level,
            "translateY": 150.0 / 331.0 * level, "rotate": 30 * level, "color": 0.9 * level,
            "posterize": 8 - int(4.0 * level), "solarize": 255.0 * (1 - level), "contrast": 0.9 * level,
            "sharpness": 0.9 * level, "brightness": 0.9 * level, "autocontrast": 0, "equalize": 0, "invert": 0}
        self.ops = _Ops(color, mode, mode, mode, color, rotate_signed=True, translate_pixels=False,
                        enhance_delta=True).table()


# RandAugmentV4 (ML-Decoder): strength of each op at magnitude index 0..9
_V4_RANGES = {
    "shearX": np.linspace(0, 0.3, 10), "shearY": np.linspace(0, 0.3, 10),
    "translateX": np.linspace(0, 150 / 331, 10), "translateY": np.linspace(0, 150 / 331, 10),
    "rotate": np.linspace(0, 30, 10), "color": np.linspace(0.0, 0.9, 10),
    "posterize": np.round(np.linspace(8, 4, 10), 0), "solarize": np.linspace(256, 0, 10),
    "contrast": np.linspace(0.0, 0.9, 10), "sharpness": np.linspace(0.0, 0.9, 10),
    "brightness": np.linspace(0.0, 0.9, 10), "autocontrast": [0] * 10, "equalize": [0] * 10, "invert": [0] * 10,
    "cutout": np.round(np.linspace(0, 20, 10), 0)}


class RandAugmentV4(v2.Transform):
    """PaddleClas's RandAugment for ML-Decoder: two ops, each drawn from 15 ops x magnitude index
    1..9 and each applied with probability 0.5 (PaddleClas's ``SubPolicyV2`` pairs). No parameters.

    Example:
        >>> RandAugmentV4()(torch.zeros(3, 8, 8, dtype=torch.uint8)).dtype
        torch.uint8
    """

    name = "RandAugmentV4"
    PROB = 0.5

    def __init__(self):
        super().__init__()
        nearest, bicubic = InterpolationMode.NEAREST, InterpolationMode.BICUBIC
        self.ops = _Ops([128.0] * 3, bicubic, nearest, nearest, [128.0] * 3, rotate_signed=False,
                        translate_pixels=False, enhance_delta=True).table()
        self.choices = [(name, float(_V4_RANGES[name][index])) for name in _V4_RANGES for index in range(1, 10)]

    def forward(self, inpt: Any) -> Any:
        require_uint8(inpt, self.name)
        out = inpt.as_subclass(torch.Tensor)
        first, second = (self.choices[int(torch.randint(len(self.choices), ()))] for _ in range(2))
        for name, strength in (first, second):
            if float(torch.rand(())) < self.PROB:
                out = self.ops[name](out, strength)
        return tv_tensors.Image(out) if isinstance(inpt, tv_tensors.Image) else out
