"""Decoding for ``DecodeImage``: encoded bytes or decoded arrays → uint8 CHW ``tv_tensors.Image``.

torchvision.io decodes JPEG/PNG/WebP/GIF (EXIF orientation applied); PIL takes every other
format and what libjpeg/libpng reject. Gray, RGBA, palette, CMYK and 16-bit images all end as
uint8 with the requested number of channels.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

import numpy as np
import torch
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as F

__all__ = ["ImageDecodeError", "decode_bytes", "as_encoded", "to_uint8_image"]

# torchvision 0.29 warns on every decode/encode call that these move to TorchCodec; they still
# work, and a warning per image would drown real ones. Revisit when torchvision removes them.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision",
                        category=DeprecationWarning)


class ImageDecodeError(ValueError):
    """Raised by `DecodeImage` when the input is not a readable image; the message is the reason."""


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


def decode_bytes(raw: torch.Tensor, channels: int) -> tv_tensors.Image:
    """Decode a 1-D uint8 tensor of file bytes; raises ``ImageDecodeError`` with the reason."""
    if raw.numel() == 0:
        raise ImageDecodeError("empty input (0 bytes)")
    mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
    try:
        img = decode_image(raw, mode=mode, apply_exif_orientation=True)
    except (RuntimeError, ValueError) as tv_err:
        # torchvision prefixes "function, /path/file.cpp:line, " to its messages ("operator()" too)
        tv_reason = re.sub(r"^[^,\n]*, \S+\.\w+:\d+, ", "", str(tv_err)).strip()
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


def as_encoded(inpt: Any) -> torch.Tensor | None:
    """The input as a 1-D uint8 tensor when it is encoded bytes, else None."""
    if isinstance(inpt, (bytes, bytearray, memoryview)):
        data = bytearray(inpt)  # a writable copy: torch.frombuffer warns on read-only buffers
        return torch.frombuffer(data, dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8)
    if isinstance(inpt, np.ndarray) and inpt.ndim == 1 and inpt.dtype == np.uint8:
        return torch.from_numpy(inpt.copy())
    if isinstance(inpt, torch.Tensor) and inpt.ndim == 1 and inpt.dtype == torch.uint8:
        return inpt.contiguous().cpu()
    return None


def to_uint8_image(inpt: Any, channels: int) -> tv_tensors.Image:
    """A PIL image, HxW(xC) uint8 array or CHW tensor as a uint8 CHW image of ``channels``."""
    if isinstance(inpt, PILImage.Image):
        return _pil_to_image(inpt, channels)
    if isinstance(inpt, np.ndarray) and inpt.ndim in (2, 3):
        array = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return _finish(torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1), channels)
    if isinstance(inpt, torch.Tensor) and inpt.ndim in (2, 3):
        return _finish(inpt.unsqueeze(0) if inpt.ndim == 2 else inpt.as_subclass(torch.Tensor), channels)
    shape = f" of shape {tuple(inpt.shape)}" if hasattr(inpt, "shape") else ""
    raise ImageDecodeError(f"DecodeImage cannot read a {type(inpt).__name__}{shape}")
