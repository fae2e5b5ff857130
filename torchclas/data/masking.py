"""PaddleClas masking augmentations: RandomErasing, Cutout, GridMask, HideAndSeek.

PaddleClas configs put them after ``NormalizeImage``, on float images; they work on uint8
images too. Fill values are in the image's own units: 0 after normalisation is the data set's
mean colour, 0 on a uint8 image is black. Each op draws its parameters in ``make_params`` (torch's
per-sample generator) and applies them in ``transform``, the torchvision v2 split.

Example:
    >>> op = Cutout(n_holes=1, length=8)
    >>> (op(torch.ones(3, 32, 32)) == 0).sum().item() <= 3 * 8 * 8
    True
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from .augment import number
from .transforms import _floats, _is_number

__all__ = ["RandomErasing", "Cutout", "GridMask", "HideAndSeek", "grid_mask"]

HIDE_AND_SEEK_GRID_SIZES = (0, 16, 32, 44, 56)  # PaddleClas's, in pixels of a 224-px image


def _image(flat_inputs: list[Any]) -> torch.Tensor:
    return next(i for i in flat_inputs if isinstance(i, torch.Tensor))


def _randint(low: int, high: int) -> int:
    """Uniform integer in [low, high) from torch's default generator."""
    return int(torch.randint(low, high, ()))


def _uniform(low: float, high: float) -> float:
    return float(torch.empty(()).uniform_(low, high))


def _int_at_least(value: Any, op: str, key: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{op}: {key} must be an integer >= {low}, got {value!r}")
    return value


def _channel_fill(values: tuple[float, ...], channels: int, op: str) -> torch.Tensor:
    """Per-channel fill [C, 1, 1]; one value (or all equal) fills every channel, a gray image takes the first."""
    if len(set(values)) == 1:
        values = values[:1]
    if len(values) not in (1, channels) and channels != 1:
        raise ValueError(f"{op}: {len(values)} different fill values for a {channels}-channel image")
    fill = torch.tensor(values[:channels] if channels == 1 else values, dtype=torch.float32)
    return fill.expand(channels).reshape(channels, 1, 1)


def _paint(inpt: torch.Tensor, mask: torch.Tensor, fill: torch.Tensor | float) -> torch.Tensor:
    """A copy of ``inpt`` with pixels where ``mask`` [H, W] is True set to ``fill`` (scalar or [C, 1, 1])."""
    fill = torch.as_tensor(fill, dtype=torch.float32)
    if not inpt.dtype.is_floating_point:
        fill = fill.round().clamp(0, 255)
    fill = fill.to(inpt.dtype).expand(inpt.shape[-3:]) if fill.ndim else fill.to(inpt.dtype)
    return torch.where(mask, fill, inpt.as_subclass(torch.Tensor)).as_subclass(type(inpt))


class RandomErasing(v2.Transform):
    """Erase one random rectangle with probability ``EPSILON`` (Zhong et al. 2017), as PaddleClas does.

    Up to ``attempt`` times: draw an area fraction in [sl, sh] and an aspect in [r1, 1/r1]
    (log-uniform when ``use_log_aspect``); the first rectangle that fits inside the image is filled.

    Args:
        EPSILON: probability of erasing (default 0.5).
        sl, sh: area range as fractions of the image (default 0.02, 0.4).
        r1: aspect (h / w) range [r1, 1/r1] (default 0.3).
        mean: fill of ``mode: const``, per channel (default 0: the mean colour after NormalizeImage).
        attempt: tries to find a fitting rectangle (default 100).
        use_log_aspect: draw the aspect log-uniformly (timm's choice).
        mode: 'const' (mean), 'rand' (one normal colour per image) or 'pixel' (normal noise per pixel);
            on uint8 images 'rand' and 'pixel' draw uniform 0..255 instead.

    Example:
        >>> RandomErasing(EPSILON=1.0)(torch.ones(3, 32, 32)).eq(0).any().item()
        True
    """

    def __init__(self, EPSILON=0.5, sl=0.02, sh=0.4, r1=0.3, mean=(0.0, 0.0, 0.0), attempt=100,
                 use_log_aspect=False, mode="const"):
        super().__init__()
        op = "RandomErasing"
        self.EPSILON = number(EPSILON, op, "EPSILON", 0, 1)
        self.sl, self.sh = number(sl, op, "sl", 0, 1), number(sh, op, "sh", 0, 1)
        if self.sl > self.sh:
            raise ValueError(f"RandomErasing: sl ({self.sl}) must not exceed sh ({self.sh})")
        r1 = number(r1, op, "r1", 0)
        if r1 == 0:
            raise ValueError("RandomErasing: r1 must be > 0")
        self.aspect = (min(r1, 1 / r1), max(r1, 1 / r1))
        self.mean = (float(mean),) if _is_number(mean) else _floats(mean, (0.0,), op, "mean")
        self.attempt = _int_at_least(attempt, op, "attempt", 1)
        self.use_log_aspect = bool(use_log_aspect)
        if mode not in ("const", "rand", "pixel"):
            raise ValueError(f"RandomErasing: mode must be 'const', 'rand' or 'pixel', got {mode!r}")
        self.mode = mode

    def _aspect(self) -> float:
        low, high = self.aspect
        if self.use_log_aspect:
            return math.exp(_uniform(math.log(low), math.log(high)))
        return _uniform(low, high)

    def _fill(self, image: torch.Tensor, h: int, w: int) -> torch.Tensor:
        channels = image.shape[-3]
        if self.mode == "const":
            return _channel_fill(self.mean, channels, "RandomErasing")
        shape = (channels, 1, 1) if self.mode == "rand" else (channels, h, w)
        if image.dtype.is_floating_point:
            return torch.randn(shape)
        return torch.randint(0, 256, shape).float()

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if float(torch.rand(())) >= self.EPSILON:
            return {"box": None}
        image = _image(flat_inputs)
        height, width = image.shape[-2:]
        for _ in range(self.attempt):
            target = _uniform(self.sl, self.sh) * height * width
            aspect = self._aspect()
            h, w = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if h < height and w < width:
                top, left = _randint(0, height - h + 1), _randint(0, width - w + 1)
                return {"box": (top, left, h, w), "fill": self._fill(image, h, w)}
        return {"box": None}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params["box"] is None:
            return inpt
        top, left, h, w = params["box"]
        fill = params["fill"]
        if not inpt.dtype.is_floating_point:
            fill = fill.round().clamp(0, 255)
        out = inpt.clone()
        out[..., top:top + h, left:left + w] = fill.to(inpt.dtype)
        return out


class Cutout(v2.Transform):
    """Zero ``n_holes`` squares of side ``length`` at random centres, clipped at the borders (DeVries 2017).

    Args:
        n_holes: number of squares (default 1).
        length: side in pixels (default 112).
        fill_value: value of the squares, a number or one per channel (default 0); None or
            'none' paints each square a random colour 0..255.

    Example:
        >>> Cutout(n_holes=2, length=16)(torch.ones(1, 28, 28)).shape
        torch.Size([1, 28, 28])
    """

    def __init__(self, n_holes=1, length=112, fill_value=(0, 0, 0)):
        super().__init__()
        self.n_holes = _int_at_least(n_holes, "Cutout", "n_holes", 0)
        self.length = _int_at_least(length, "Cutout", "length", 1)
        if fill_value is None or fill_value == "none":
            self.fill_value = None
        else:
            self.fill_value = ((float(fill_value),) if _is_number(fill_value)
                               else _floats(fill_value, (0.0,), "Cutout", "fill_value"))

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        image = _image(flat_inputs)
        height, width = image.shape[-2:]
        boxes, fills = [], []
        for _ in range(self.n_holes):
            y, x = _randint(0, height), _randint(0, width)
            top, left = y - self.length // 2, x - self.length // 2
            boxes.append((max(top, 0), min(top + self.length, height), max(left, 0), min(left + self.length, width)))
            if self.fill_value is None:
                fills.append(torch.randint(0, 256, (image.shape[-3], 1, 1)).float())
            else:
                fills.append(_channel_fill(self.fill_value, image.shape[-3], "Cutout"))
        return {"boxes": boxes, "fills": fills}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        out = inpt
        rows, cols = torch.arange(inpt.shape[-2])[:, None], torch.arange(inpt.shape[-1])
        for (y1, y2, x1, x2), fill in zip(params["boxes"], params["fills"]):
            mask = (rows >= y1) & (rows < y2) & (cols >= x1) & (cols < x2)
            out = _paint(out, mask, fill)
        return out


def grid_mask(height: int, width: int, d: int, hidden: int, start: tuple[int, int], angle: float = 0.0,
              mode: int = 0) -> torch.Tensor:
    """GridMask's hidden pixels as a bool [height, width] tensor (True = hidden).

    Every ``d`` rows and columns a band of ``hidden`` rows and one of ``hidden`` columns are
    hidden (mode 0); mode 1 hides the rest instead. As in PaddleClas the grid is drawn 1.5 times
    larger with its bands starting at ``start`` (row, col), rotated by ``angle`` degrees and
    centre-cropped.

    Example:
        >>> grid_mask(4, 4, d=2, hidden=1, start=(0, 0)).int().tolist()
        [[0, 1, 0, 1], [1, 1, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1]]
    """
    big_h, big_w = int(1.5 * height), int(1.5 * width)
    rows = (torch.arange(big_h) - start[0]) % d < hidden
    cols = (torch.arange(big_w) - start[1]) % d < hidden
    mask = rows[:, None] | cols[None, :]
    if angle:
        mask = F.rotate(mask[None].to(torch.uint8), angle, InterpolationMode.NEAREST, fill=0)[0].bool()
    top, left = (big_h - height) // 2, (big_w - width) // 2
    mask = mask[top:top + height, left:left + width]
    return ~mask if mode == 1 else mask


class GridMask(v2.Transform):
    """Hide a regular grid of bands (Chen et al. 2020), PaddleClas parameters.

    With probability ``prob``: draw the period d in [d1, d2), hide ``round(d * ratio)`` rows and
    columns of each period at a random offset, optionally rotate the grid by up to ``rotate``
    degrees. Mode 0 hides about ``1 - (1 - ratio)**2`` of the image, mode 1 about ``(1 - ratio)**2``.
    When d2 exceeds the image's shorter side s, d1 and d2 scale by s / d2 (PaddleClas's 96..224
    defaults become 12..28 on a 28-px image). Unlike PaddleClas, ``prob`` is constant (PaddleClas
    ramps it from 0 over 240 epochs through module globals).

    Args:
        d1, d2: period range in pixels (default 96, 224). rotate: angle range, integer >= 1
            (1 = no rotation). ratio: hidden share of each period (default 0.5). mode: 0 or 1.
        prob: probability of masking an image (default 1).

    Example:
        >>> out = GridMask(d1=8, d2=16)(torch.ones(3, 32, 32))
        >>> 0.5 < (out == 0).float().mean().item() < 1.0
        True
    """

    def __init__(self, d1=96, d2=224, rotate=1, ratio=0.5, mode=0, prob=1.0):
        super().__init__()
        self.d1 = _int_at_least(d1, "GridMask", "d1", 1)
        self.d2 = _int_at_least(d2, "GridMask", "d2", self.d1)
        self.rotate = _int_at_least(rotate, "GridMask", "rotate", 1)
        self.ratio = number(ratio, "GridMask", "ratio", 0, 1)
        if isinstance(mode, bool) or mode not in (0, 1):
            raise ValueError(f"GridMask: mode must be 0 or 1, got {mode!r}")
        self.mode = mode
        self.prob = number(prob, "GridMask", "prob", 0, 1)

    def period_range(self, height: int, width: int) -> tuple[int, int]:
        """(d1, d2) for an image of this size, scaled down when d2 exceeds its shorter side."""
        short = min(height, width)
        if self.d2 <= short:
            return self.d1, self.d2
        scale = short / self.d2
        return max(1, round(self.d1 * scale)), short

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if float(torch.rand(())) >= self.prob:
            return {"mask": None}
        height, width = _image(flat_inputs).shape[-2:]
        d1, d2 = self.period_range(height, width)
        d = _randint(d1, d2) if d2 > d1 else d1
        start = (_randint(0, d), _randint(0, d))
        angle = _randint(0, self.rotate)
        hidden = int(d * self.ratio + 0.5)
        return {"mask": grid_mask(height, width, d, hidden, start, angle, self.mode)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return inpt if params["mask"] is None else _paint(inpt, params["mask"], 0.0)


class HideAndSeek(v2.Transform):
    """Split the image into square patches and hide each with probability ``hide_prob`` (Singh & Lee 2017).

    The patch side is drawn from ``grid_sizes`` per image (0 = hide nothing). PaddleClas's sizes
    [0, 16, 32, 44, 56] are for 224-px images: by default, on an image whose shorter side s is
    below 224 they scale by s / 224 (2, 4, 6, 7 px on a 28-px image). Sizes given explicitly
    are used as they are; patches at the right and bottom borders are clipped.

    Args:
        grid_sizes: candidate patch sides in pixels (default PaddleClas's, scaled as above).
        hide_prob: probability of hiding each patch (default 0.5).

    Example:
        >>> HideAndSeek()(torch.ones(1, 28, 28)).shape
        torch.Size([1, 28, 28])
    """

    def __init__(self, grid_sizes=None, hide_prob=0.5):
        super().__init__()
        if grid_sizes is not None and (
                not isinstance(grid_sizes, (list, tuple)) or not grid_sizes
                or not all(isinstance(g, int) and not isinstance(g, bool) and g >= 0 for g in grid_sizes)):
            raise ValueError(f"HideAndSeek: grid_sizes must be a list of integers >= 0, got {grid_sizes!r}")
        self.grid_sizes = None if grid_sizes is None else tuple(grid_sizes)
        self.hide_prob = number(hide_prob, "HideAndSeek", "hide_prob", 0, 1)

    def sizes_for(self, height: int, width: int) -> tuple[int, ...]:
        """The candidate patch sides used on an image of this size."""
        if self.grid_sizes is not None:
            return self.grid_sizes
        scale = min(1.0, min(height, width) / 224)
        return tuple(max(1, round(g * scale)) if g else 0 for g in HIDE_AND_SEEK_GRID_SIZES)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = _image(flat_inputs).shape[-2:]
        sizes = self.sizes_for(height, width)
        grid = sizes[_randint(0, len(sizes))]
        if grid == 0:
            return {"mask": None, "grid": 0}
        hide = torch.rand(math.ceil(height / grid), math.ceil(width / grid)) < self.hide_prob
        mask = hide.repeat_interleave(grid, 0).repeat_interleave(grid, 1)[:height, :width]
        return {"mask": mask, "grid": grid}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return inpt if params["mask"] is None else _paint(inpt, params["mask"], 0.0)
