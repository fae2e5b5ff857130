"""PaddleClas preprocessing ops, re-created on torchvision.transforms.v2.

A PaddleClas config lists its ops as single-key mappings::

    transform_ops:
      - DecodeImage: {to_rgb: True, channel_first: False}
      - ResizeImage: {resize_short: 256}
      - CropImage: {size: 224}
      - NormalizeImage: {scale: 1.0/255.0, mean: [0.485, 0.456, 0.406],
                         std: [0.229, 0.224, 0.225], order: ''}
      - ToCHWImage:

`build_transforms` turns such a list into one callable. Images are uint8 CHW
`tv_tensors.Image` from `DecodeImage` until `NormalizeImage` makes them float32, so
resizing and cropping run on bytes, not floats.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import io
import logging
import operator
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

logger = logging.getLogger(__name__)

# torchvision 0.29 warns on every decode/encode call that these move to TorchCodec; they still
# work, and a warning per image would drown real ones. Revisit when torchvision removes them.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision",
                        category=DeprecationWarning)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

TRANSFORMS: dict[str, type] = {}

# Op names PaddleClas knows (ppcls/data/preprocess/__init__.py) that we do not build yet.
NOT_YET_IMPLEMENTED_OPS: frozenset[str] = frozenset({
    "AutoAugment", "RandAugment", "TimmAutoAugment", "AugMix", "ColorJitter",
    "RandomErasing", "Cutout", "GridMask", "HideAndSeek",
    "Pad", "Padv2", "CropWithPadding", "RandomCropImage", "RandCropImageV2",
    "RandomRotation", "RandomInterpolationAugment", "RandomHorizontalFlip",
    "ToTensor", "Normalize",
    "MixupOperator", "CutmixOperator", "FmixOperator", "OpSampler", "MixupCutmixHybrid",
})


class ImageDecodeError(ValueError):
    """Raised by `DecodeImage` when the input is not a readable image; the message is the reason."""


def register_transform(name: str) -> Callable[[type], type]:
    """Class decorator that adds an op to `TRANSFORMS` under its PaddleClas name.

    Example:
        >>> @register_transform("MyOp")
        ... class MyOp(v2.Transform): ...
    """
    def add(cls: type) -> type:
        TRANSFORMS[name] = cls
        return cls
    return add


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
_SCALE_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub,
                    ast.Mult: operator.mul, ast.Div: operator.truediv}


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


def _arithmetic(node: ast.AST, text: str) -> float:
    if isinstance(node, ast.Constant) and _is_number(node.value):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        value = _arithmetic(node.operand, text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _SCALE_OPERATORS:
        return _SCALE_OPERATORS[type(node.op)](_arithmetic(node.left, text), _arithmetic(node.right, text))
    raise ValueError(f"NormalizeImage: scale {text!r} is not plain arithmetic (numbers and + - * / only)")


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
    try:
        return float(_arithmetic(ast.parse(value.strip(), mode="eval").body, value))
    except (SyntaxError, ZeroDivisionError) as err:
        raise ValueError(f"NormalizeImage: cannot read scale {value!r}: {err}") from None


def _floats(value: Any, default: tuple[float, ...], op: str, key: str) -> tuple[float, ...]:
    if value is None:
        return default
    if not isinstance(value, (list, tuple)) or not value or not all(_is_number(v) for v in value):
        raise ValueError(f"{op}: {key} must be a list of numbers, got {value!r}")
    return tuple(float(v) for v in value)


# ---------------------------------------------------------------- decoding

def _match_channels(img: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 CHW with 1-4 channels -> `channels` channels (alpha dropped, gray repeated)."""
    if img.shape[0] in (2, 4):
        img = img[:-1]
    if img.shape[0] == channels:
        return img
    if img.shape[0] == 1:
        return img.repeat(channels, 1, 1)
    if img.shape[0] == 3 and channels == 1:
        return F.rgb_to_grayscale(img)
    raise ImageDecodeError(f"cannot turn a {img.shape[0]}-channel image into {channels} channels")


def _finish(img: torch.Tensor, channels: int) -> tv_tensors.Image:
    if img.dtype != torch.uint8:
        if img.is_floating_point():
            raise ImageDecodeError(f"expected an 8- or 16-bit integer image, got dtype {img.dtype}")
        img = F.to_dtype(img, torch.uint8, scale=True)
    return tv_tensors.Image(_match_channels(img, channels))


def _pil_to_image(img: PILImage.Image, channels: int) -> tv_tensors.Image:
    img = ImageOps.exif_transpose(img)
    if img.mode.startswith("I") or img.mode == "F":
        # 16/32-bit integer or float images: PIL's convert("L") clips instead of scaling.
        array = np.asarray(img).astype(np.float64)
        if img.mode.startswith("I"):
            array = array / 256.0
        img = PILImage.fromarray(array.clip(0, 255).astype(np.uint8))
    return tv_tensors.Image(F.pil_to_tensor(img.convert("L" if channels == 1 else "RGB")))


def _decode_with_pil(data: bytes, channels: int) -> tv_tensors.Image:
    with PILImage.open(io.BytesIO(data)) as img:
        img.load()
        return _pil_to_image(img, channels)


def _decode_bytes(raw: torch.Tensor, channels: int) -> tv_tensors.Image:
    if raw.numel() == 0:
        raise ImageDecodeError("empty input (0 bytes)")
    mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
    try:
        img = decode_image(raw, mode=mode, apply_exif_orientation=True)
    except (RuntimeError, ValueError) as tv_err:
        # torchvision prefixes "function, /path/file.cpp:line, " to its messages
        tv_reason = re.sub(r"^\w+, \S+:\d+, ", "", str(tv_err)).strip()
        try:  # BMP, TIFF, ... and anything libjpeg/libpng reject
            return _decode_with_pil(raw.numpy().tobytes(), channels)
        except UnidentifiedImageError:
            reason = "not a recognised image format"
        except Exception as pil_err:  # noqa: BLE001 - PIL raises many types on bad bytes
            useless = tv_reason.lower().startswith("internal error")
            reason = f"{pil_err}" if useless else f"{tv_reason} (PIL: {pil_err})"
        raise ImageDecodeError(reason) from None
    if img.ndim == 4:  # animated GIF: keep the first frame
        img = img[0]
    return _finish(img, channels)


def _as_encoded(inpt: Any) -> torch.Tensor | None:
    """The input as a 1-D uint8 tensor when it is encoded bytes, else None."""
    if isinstance(inpt, (bytes, bytearray, memoryview)):
        data = bytearray(inpt)  # a writable copy: torch.frombuffer warns on read-only buffers
        return torch.frombuffer(data, dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8)
    if isinstance(inpt, np.ndarray) and inpt.ndim == 1 and inpt.dtype == np.uint8:
        return torch.from_numpy(inpt.copy())
    if isinstance(inpt, torch.Tensor) and inpt.ndim == 1 and inpt.dtype == torch.uint8:
        return inpt.contiguous().cpu()
    return None


def _decoded_to_image(inpt: Any, channels: int) -> tv_tensors.Image:
    if isinstance(inpt, PILImage.Image):
        return _pil_to_image(inpt, channels)
    if isinstance(inpt, np.ndarray) and inpt.ndim in (2, 3):
        array = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return _finish(torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1), channels)
    if isinstance(inpt, torch.Tensor) and inpt.ndim in (2, 3):
        return _finish(inpt.unsqueeze(0) if inpt.ndim == 2 else inpt.as_subclass(torch.Tensor), channels)
    shape = f" of shape {tuple(inpt.shape)}" if hasattr(inpt, "shape") else ""
    raise ImageDecodeError(f"DecodeImage cannot read a {type(inpt).__name__}{shape}")


@register_transform("DecodeImage")
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
        raw = _as_encoded(inpt)
        if raw is not None:
            return _decode_bytes(raw, self.channel_num)
        return _decoded_to_image(inpt, self.channel_num)


# ---------------------------------------------------------------- geometry

@register_transform("ResizeImage")
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


@register_transform("RandCropImage")
class RandCropImage(v2.RandomResizedCrop):
    """Random area/aspect crop resized to `size` (torchvision RandomResizedCrop).

    Args:
        size: int or [w, h]. scale: area range, default [0.08, 1.0].
        ratio: aspect range, default [3/4, 4/3]. interpolation: as in `ResizeImage`.
        use_log_aspect, backend: accepted for PaddleClas configs; aspect is always drawn log-uniform.
    """

    def __init__(self, size, scale=None, ratio=None, interpolation=None, use_log_aspect=False, backend=None):
        super().__init__(
            _size_hw(size, "RandCropImage"),
            scale=_number_range(scale, (0.08, 1.0), "RandCropImage", "scale"),
            ratio=_number_range(ratio, (3.0 / 4.0, 4.0 / 3.0), "RandCropImage", "ratio"),
            interpolation=_interpolation(interpolation, "RandCropImage"),
            antialias=True,
        )


@register_transform("RandFlipImage")
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


@register_transform("CropImage")
class CropImage(v2.CenterCrop):
    """Center crop. Args: size: int or [w, h] (width first, as in PaddleClas)."""

    def __init__(self, size):
        super().__init__(_size_hw(size, "CropImage"))


# ---------------------------------------------------------------- value ops

@register_transform("NormalizeImage")
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

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, PILImage.Image):
            inpt = tv_tensors.Image(F.pil_to_tensor(inpt))
        channels = inpt.shape[-3]
        if len(self.mean) not in (1, channels):
            raise ValueError(
                f"NormalizeImage: the image has {channels} channel(s) but mean/std have {len(self.mean)} "
                f"values {list(self.mean)}; decode with DecodeImage channel_num={len(self.mean)} "
                f"or give {channels} mean/std values")
        out = F.normalize(inpt.as_subclass(torch.Tensor).to(torch.float32) * self.scale, self.mean, self.std)
        if self.channel_num == 4 and channels == 3:
            out = torch.cat([out, out.new_zeros(out.shape[:-3] + (1,) + out.shape[-2:])], dim=-3)
        out = out.to(self.dtype)
        return tv_tensors.Image(out) if isinstance(inpt, tv_tensors.Image) else out


@register_transform("ToCHWImage")
class ToCHWImage(v2.Identity):
    """Identity: our tensors are CHW already. Kept so PaddleClas configs run unchanged."""


# ---------------------------------------------------------------- building from config

def _iter_ops(ops: Any, where: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (location, op name, params) for each op of a YAML op list, checking its shape."""
    if ops is None:
        return
    if not isinstance(ops, (list, tuple)):
        raise ValueError(f"{where}: expected a list of ops, got {type(ops).__name__} {ops!r}")
    known = sorted(set(TRANSFORMS) | NOT_YET_IMPLEMENTED_OPS)
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
            hint = f" (did you mean '{close[0]}'?)" if close else f"; known ops: {', '.join(known)}"
            raise ValueError(f"{here}: unknown op '{name}'{hint}")
        if params is not None and not isinstance(params, dict):
            raise ValueError(f"{here}: parameters of '{name}' must be a mapping, got {params!r}")
        yield here, name, dict(params or {})


def _make_op(here: str, name: str, params: dict[str, Any]) -> Callable:
    """Construct op `name`, turning bad parameter names or values into a ValueError at `here`."""
    cls = TRANSFORMS[name]
    signature = inspect.signature(cls)
    accepted = [p.name for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for key in params:
        if key not in accepted and not takes_any:
            close = difflib.get_close_matches(str(key), accepted, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"{here}: {name} has no parameter '{key}'{hint}; "
                             f"accepted: {', '.join(accepted) or 'none'}")
    missing = [p.name for p in signature.parameters.values()
               if p.default is p.empty and p.kind is not p.VAR_KEYWORD
               and p.kind is not p.VAR_POSITIONAL and p.name not in params]
    if missing:
        raise ValueError(f"{here}: {name} needs parameter '{missing[0]}'; accepted: {', '.join(accepted)}")
    try:
        return cls(**params)
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
        ValueError: transform_ops[0]: unknown op 'RandFlipImg' (did you mean 'RandFlipImage'?)
    """
    skipped: list[str] = []
    for here, name, params in _iter_ops(ops, where):
        if name in TRANSFORMS:
            _make_op(here, name, params)
        elif name not in skipped:
            skipped.append(name)
    return skipped


def build_transforms(ops: Any, where: str = "transform_ops") -> Callable:
    """Build one callable from a YAML op list; None or [] gives the identity.

    Ops in NOT_YET_IMPLEMENTED_OPS are skipped with a warning naming them.

    Example:
        >>> tf = build_transforms([{"DecodeImage": None}, {"ResizeImage": {"size": 224}},
        ...                        {"NormalizeImage": None}, {"ToCHWImage": None}])
        >>> tf(png_bytes).shape  # doctest: +SKIP
        torch.Size([3, 224, 224])
    """
    built, skipped = [], []
    for here, name, params in _iter_ops(ops, where):
        if name in TRANSFORMS:
            built.append(_make_op(here, name, params))
        else:
            skipped.append(name)
    if skipped:
        logger.warning("%s: skipping ops not implemented yet: %s", where, ", ".join(skipped))
    return v2.Compose(built) if built else v2.Identity()


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
