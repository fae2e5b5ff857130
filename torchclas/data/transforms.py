"""PaddleClas preprocessing ops, re-created on torchvision.transforms.v2.

A PaddleClas config lists its ops as single-key mappings::

    transform_ops:
      - DecodeImage: {to_rgb: True, channel_first: False}
      - ResizeImage: {resize_short: 256}
      - CropImage: {size: 224}
      - NormalizeImage: {scale: 1.0/255.0, mean: [0.485, 0.456, 0.406],
                         std: [0.229, 0.224, 0.225], order: ''}
      - ToCHWImage:

`pipeline.build_transforms` turns such a list into one callable; the names a list may use are
the table `registry.TRANSFORMS`. Images are uint8 CHW
`tv_tensors.Image` from `DecodeImage` until `NormalizeImage` makes them float32, so
resizing and cropping run on bytes, not floats.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from ..config.loader import parse_arithmetic
from .decode.image import ImageDecodeError, as_encoded, decode_bytes, to_uint8_image  # noqa: F401 (re-export)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# ---------------------------------------------------------------- parameter parsing

_INTERPOLATIONS = {
    "nearest": InterpolationMode.NEAREST,
    "bilinear": InterpolationMode.BILINEAR,
    "linear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "cubic": InterpolationMode.BICUBIC,
    # Tensor kernels have no area/box/hamming/lanczos filters; antialiased bilinear
    # (a triangle filter over the source footprint) and bicubic are the nearest match.
    "area": InterpolationMode.BILINEAR,
    "box": InterpolationMode.BILINEAR,
    "hamming": InterpolationMode.BILINEAR,
    "lanczos": InterpolationMode.BICUBIC,
}
_CV2_INTERPOLATION_CODES = {0: "nearest", 1: "bilinear", 2: "bicubic", 3: "area", 4: "lanczos"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_int(value: Any, op: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{op}: {key} must be a positive integer, got {value!r}")
    return value


def _size_hw(size: Any, op: str) -> tuple[int, int]:
    """PaddleClas size (int, or [w, h] -- width first) -> torchvision (h, w)."""
    if isinstance(size, (list, tuple)) and len(size) == 2:
        width, height = (_positive_int(v, op, "size") for v in size)
        return height, width
    side = _positive_int(size, op, "size (an int or [w, h])")
    return side, side


def _number_range(value: Any, default: tuple[float, float], op: str, key: str) -> tuple[float, float]:
    if value is None:
        return default
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(_is_number(v) and v > 0 for v in value) or value[0] > value[1]):
        raise ValueError(f"{op}: {key} must be [min, max] of positive numbers, got {value!r}")
    return float(value[0]), float(value[1])


def _interpolation(name: Any, op: str) -> InterpolationMode:
    """PaddleClas / cv2 interpolation name (or cv2 integer code) -> InterpolationMode."""
    if name is None:
        return InterpolationMode.BILINEAR
    if isinstance(name, int) and not isinstance(name, bool):
        name = _CV2_INTERPOLATION_CODES.get(name, name)
    if isinstance(name, str) and name.lower() in _INTERPOLATIONS:
        return _INTERPOLATIONS[name.lower()]
    raise ValueError(f"{op}: unknown interpolation {name!r}; valid: {', '.join(_INTERPOLATIONS)}")


def parse_scale(value: Any) -> float:
    """Read NormalizeImage's `scale`: a number, None (1/255) or a string like "1.0/255.0".

    Strings are parsed with `ast` and only numbers and + - * / are allowed; nothing is evaluated.

    Example:
        >>> parse_scale("1.0/255.0") == 1 / 255
        True
    """
    if value is None:
        return 1.0 / 255.0
    if _is_number(value):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"NormalizeImage: scale must be a number or a string such as '1.0/255.0', "
                         f"got {value!r}")
    number = parse_arithmetic(value)
    if number is None:
        raise ValueError(f"NormalizeImage: scale {value!r} is not plain arithmetic (numbers and + - * / only)")
    return float(number)


def _floats(value: Any, default: tuple[float, ...], op: str, key: str) -> tuple[float, ...]:
    if value is None:
        return default
    if not isinstance(value, (list, tuple)) or not value or not all(_is_number(v) for v in value):
        raise ValueError(f"{op}: {key} must be a list of numbers, got {value!r}")
    return tuple(float(v) for v in value)


class DecodeImage(v2.Transform):
    """Decode image bytes into a uint8 CHW RGB (or gray) `tv_tensors.Image`.

    Decodes with `torchvision.io.decode_image` (EXIF orientation applied) and falls back to
    PIL for formats it lacks (BMP, TIFF, ...). Gray, RGBA, palette, CMYK and 16-bit images all
    become uint8 with `channel_num` channels. Already-decoded input is accepted too: a PIL
    image, an HxWxC / HxW uint8 numpy array (RGB order) or a CHW uint8 tensor.

    Args:
        to_rgb, channel_first, backend, to_np: accepted for PaddleClas configs; ignored, because
            the output is always RGB, channel-first, and a tensor.
        channel_num: 3 (RGB) or 1 (gray).

    Raises:
        ImageDecodeError (a ValueError) with the reason when the input is not an image.

    Example:
        >>> DecodeImage()(open("cat.jpg", "rb").read()).shape  # doctest: +SKIP
        torch.Size([3, 375, 500])
    """

    def __init__(self, to_rgb=True, channel_first=False, backend=None, to_np=None, channel_num=3):
        super().__init__()
        if channel_num not in (1, 3) or isinstance(channel_num, bool):
            raise ValueError(f"DecodeImage: channel_num must be 1 or 3, got {channel_num!r}")
        self.channel_num = channel_num

    def forward(self, inpt: Any) -> tv_tensors.Image:  # v2's pytree dispatch does not know bytes
        raw = as_encoded(inpt)
        if raw is not None:
            return decode_bytes(raw, self.channel_num)
        return to_uint8_image(inpt, self.channel_num)


# ---------------------------------------------------------------- geometry

class ResizeImage(v2.Transform):
    """Resize to a fixed size or so that the short side is `resize_short` (antialiased).

    The long side is rounded as PaddleClas does (``round(long * resize_short / short)``),
    so eval sizes match PaddleClas exactly.

    Args:
        size: int (square) or [w, h] -- width first, as in PaddleClas.
        resize_short: target length of the shorter side. Give exactly one of size / resize_short.
        interpolation: 'bilinear' (default), 'bicubic', 'nearest', 'area', 'lanczos', 'box',
            'hamming' or a cv2 code; area/box/hamming run as antialiased bilinear, lanczos as bicubic.
        backend, return_numpy: accepted for PaddleClas configs; ignored.

    Example:
        >>> ResizeImage(resize_short=256)(img).shape  # 3x375x500 -> 3x256x341  # doctest: +SKIP
    """

    def __init__(self, size=None, resize_short=None, interpolation=None, backend=None, return_numpy=None):
        super().__init__()
        if (size is None) == (resize_short is None):
            raise ValueError("ResizeImage: give exactly one of size or resize_short, "
                             f"got size={size!r}, resize_short={resize_short!r}")
        self.size = None if size is None else _size_hw(size, "ResizeImage")
        self.resize_short = (None if resize_short is None
                             else _positive_int(resize_short, "ResizeImage", "resize_short"))
        self.interpolation = _interpolation(interpolation, "ResizeImage")

    def target_size(self, height: int, width: int) -> list[int]:
        """The [h, w] an input of `height` x `width` is resized to."""
        if self.size is not None:
            return list(self.size)
        percent = self.resize_short / min(height, width)
        return [int(round(height * percent)), int(round(width * percent))]

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"size": self.target_size(*v2.query_size(flat_inputs))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._call_kernel(F.resize, inpt, params["size"], interpolation=self.interpolation,
                                 antialias=True)


class RandCropImage(v2.RandomResizedCrop):
    """Random area/aspect crop resized to `size` (torchvision RandomResizedCrop).

    Args:
        size: int or [w, h]. scale: area range, default [0.08, 1.0].
        ratio: aspect range, default [3/4, 4/3]. interpolation: as in `ResizeImage`.
        use_log_aspect, backend: accepted for PaddleClas configs; aspect is always drawn log-uniform.
        progress_size: the ``size`` of each stage of ``Global.train_mode: progressive`` (the
            engine rebuilds the op with them; the op itself crops at ``size``).
    """

    def __init__(self, size, scale=None, ratio=None, interpolation=None, use_log_aspect=False, backend=None,
                 progress_size=None):
        if progress_size is not None:
            if not isinstance(progress_size, (list, tuple)) or not progress_size:
                raise ValueError(f"RandCropImage: progress_size must be a list of sizes, got {progress_size!r}")
            for stage_size in progress_size:
                _size_hw(stage_size, "RandCropImage")
        super().__init__(
            _size_hw(size, "RandCropImage"),
            scale=_number_range(scale, (0.08, 1.0), "RandCropImage", "scale"),
            ratio=_number_range(ratio, (3.0 / 4.0, 4.0 / 3.0), "RandCropImage", "ratio"),
            interpolation=_interpolation(interpolation, "RandCropImage"),
            antialias=True,
        )


class RandFlipImage(v2.Transform):
    """Flip with probability 0.5: flip_code 1 horizontal, 0 vertical, -1 both (cv2 codes)."""

    def __init__(self, flip_code=1):
        super().__init__()
        if isinstance(flip_code, bool) or flip_code not in (-1, 0, 1):
            raise ValueError(f"RandFlipImage: flip_code must be 1, 0 or -1, got {flip_code!r}")
        self.flip_code = flip_code

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"flip": bool(torch.rand(()) < 0.5)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not params["flip"]:
            return inpt
        if self.flip_code in (1, -1):
            inpt = self._call_kernel(F.horizontal_flip, inpt)
        if self.flip_code in (0, -1):
            inpt = self._call_kernel(F.vertical_flip, inpt)
        return inpt


class CropImage(v2.CenterCrop):
    """Center crop. Args: size: int or [w, h] (width first, as in PaddleClas)."""

    def __init__(self, size):
        super().__init__(_size_hw(size, "CropImage"))


# ---------------------------------------------------------------- value ops

class NormalizeImage(v2.Transform):
    """uint8 image -> float32 ``(x * scale - mean) / std`` per channel.

    Args:
        scale: number or arithmetic string such as "1.0/255.0" (default 1/255).
        mean, std: per-channel lists (default ImageNet); their length must match the image's
            channels (or be 1).
        order: 'chw' / 'hwc' / '' accepted for PaddleClas configs; tensors here are always CHW.
        output_fp16: return float16 instead of float32.
        channel_num: 3, 1, or 4 -- 4 appends a zero channel to a 3-channel image, like PaddleClas.

    Example:
        >>> NormalizeImage(scale="1.0/255.0")(img).dtype  # doctest: +SKIP
        torch.float32
    """

    def __init__(self, scale=None, mean=None, std=None, order="chw", output_fp16=False, channel_num=3):
        super().__init__()
        self.scale = parse_scale(scale)
        self.mean = _floats(mean, IMAGENET_MEAN, "NormalizeImage", "mean")
        self.std = _floats(std, IMAGENET_STD, "NormalizeImage", "std")
        if len(self.mean) != len(self.std) or 0.0 in self.std:
            raise ValueError(f"NormalizeImage: mean {list(self.mean)} and std {list(self.std)} "
                             "must have the same length and std no zero")
        if order not in ("chw", "hwc", ""):
            raise ValueError(f"NormalizeImage: order must be 'chw', 'hwc' or '', got {order!r}")
        if isinstance(channel_num, bool) or channel_num not in (1, 3, 4):
            raise ValueError(f"NormalizeImage: channel_num must be 1, 3 or 4, got {channel_num!r}")
        self.channel_num = channel_num
        self.dtype = torch.float16 if output_fp16 else torch.float32
        # x * (scale / std) - mean / std, applied in place on the float copy: two passes over the
        # batch instead of F.normalize's four; differs from it by float rounding only (<1e-6).
        self._gain = torch.tensor([self.scale / s for s in self.std]).view(-1, 1, 1)
        self._shift = torch.tensor([-m / s for m, s in zip(self.mean, self.std)]).view(-1, 1, 1)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        channels = inpt.shape[-3]
        if len(self.mean) not in (1, channels):
            raise ValueError(
                f"NormalizeImage: the image has {channels} channel(s) but mean/std have {len(self.mean)} "
                f"values {list(self.mean)}; decode with DecodeImage channel_num={len(self.mean)} "
                f"or give {channels} mean/std values")
        out = inpt.as_subclass(torch.Tensor).to(torch.float32, copy=True)
        out = out.mul_(self._gain.to(out.device)).add_(self._shift.to(out.device))
        if self.channel_num == 4 and channels == 3:
            out = torch.cat([out, out.new_zeros(out.shape[:-3] + (1,) + out.shape[-2:])], dim=-3)
        out = out.to(self.dtype)
        return tv_tensors.Image(out) if isinstance(inpt, tv_tensors.Image) else out


class ToCHWImage(v2.Identity):
    """Identity: our tensors are CHW already. Kept so PaddleClas configs run unchanged."""
