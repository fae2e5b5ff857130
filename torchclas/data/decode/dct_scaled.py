"""The DCT-scaled decoder: ``DecodeImage`` + ``RandCropImage`` (or ``ResizeImage``) in one step
for JPEGs, decoding only as much as the next op needs.

A training crop is usually much smaller than the photo it comes from, and then resized down to
224. libjpeg-turbo can decode a JPEG directly at 1/2, 1/4 or 1/8 of its size by dropping DCT
coefficients, which skips most of the inverse DCT, upsampling and colour conversion. So the crop
box is drawn on the size in the JPEG header first (the same random draws as ``RandCropImage``
makes on the decoded image) and the image is decoded at the smallest such scale that still
leaves the crop at least the output size; the crop is then resized from there.

The result is not bit-identical to decoding at full size, for two reasons: the crop box is
rounded to the scaled pixel grid (it moves by at most ``scale / 2`` source pixels, under half an
output pixel), and a DCT-domain downscale is a box filter where the antialiased resize is a
triangle one. Tolerance, in grey levels (0-255) of mean absolute difference per crop: 1.8 on
average (worst of 40 crops 5.7) on a 1024x768 photograph at 224, and below 4 on a synthetic
image full of edges and texture (``tests/test_jpeg_crop.py``). Where the crop is under twice the
output size nothing is downscaled, and the result equals the exact ops'. Anything this path does
not take (not a JPEG, CMYK, an EXIF rotation, a decoder warning) goes through the exact ops, with
the same crop box.

An eval or inference ``ResizeImage`` after ``DecodeImage`` can be fused the same way
(`DecodeResizeImage`, opt-in): a large photo is decoded at the DCT scale that leaves it at
least twice the resized size, then resized as before.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ..transforms import DecodeImage, RandCropImage, ResizeImage
from .jpeg import DCT_SCALES, decode_scaled, jpeg_header

__all__ = ["DecodeRandCropImage", "DecodeResizeImage", "fuse_decode_crop"]


class DecodeRandCropImage(v2.Transform):
    """``crop(decode(x))``, decoding JPEG bytes at a reduced DCT scale when the crop allows.

    Built by `fuse_decode_crop` from a ``DecodeImage`` directly followed by a ``RandCropImage``
    (``DataLoader.*.loader.fast_decode``, on by default). Output: a uint8 CHW ``tv_tensors.Image``
    of the crop's size, as the two ops give, within the tolerance in the module docstring.
    """

    def __init__(self, decode: DecodeImage, crop: RandCropImage):
        super().__init__()
        self.decode, self.crop = decode, crop
        self.colorspace = "GRAY" if decode.channel_num == 1 else "RGB"

    def forward(self, inpt: Any) -> tv_tensors.Image:
        header = jpeg_header(inpt)
        if header is None:
            return self.crop(self.decode(inpt))
        height, width = header
        params = self.crop.make_params([torch.empty(()).expand(1, height, width)])
        scale = self._scale(params)
        image = decode_scaled(inpt, self.colorspace, height, width, scale)
        if image is None:  # libjpeg warned or failed: the exact path decides (and names why)
            return self._resized_crop(self.decode(inpt), params, 1.0, 1.0)
        return self._resized_crop(image, params, image.shape[1] / height, image.shape[2] / width)

    def _scale(self, params: dict[str, int]) -> int:
        """The largest power-of-two DCT downscale that keeps the crop box ≥ the output size."""
        out_h, out_w = self.crop.size
        for scale in DCT_SCALES:
            if params["height"] >= out_h * scale and params["width"] >= out_w * scale:
                return scale
        return 1

    def _resized_crop(self, image: torch.Tensor, params: dict[str, int], fy: float, fx: float) -> tv_tensors.Image:
        top, left = round(params["top"] * fy), round(params["left"] * fx)
        bottom = min(round((params["top"] + params["height"]) * fy), image.shape[1])
        right = min(round((params["left"] + params["width"]) * fx), image.shape[2])
        interpolation = params.get("interpolation", self.crop.interpolation)  # drawn per image: 'random'
        out = F.resized_crop_image(image.as_subclass(torch.Tensor), top, left, bottom - top, right - left,
                                   list(self.crop.size), interpolation=interpolation, antialias=True)
        return tv_tensors.Image(out)


class DecodeResizeImage(v2.Transform):
    """``resize(decode(x))``, decoding JPEG bytes at a reduced DCT scale that still leaves the
    image at least twice the output size in each direction (an eval or inference resize).

    Built by `fuse_decode_crop` with ``resize=True`` from a ``DecodeImage`` directly followed by
    a ``ResizeImage`` (``loader.fast_decode_resize``, ``Predictor(fast_decode_resize=True)``;
    off by default, so that eval and inference stay exact). The output has exactly the exact
    ops' size. Measured on a 4032x3024 photograph at ``resize_short: 256``: 0.30 grey levels of
    mean absolute difference (max 3), decode + resize 82 -> 37 ms. An image under four times the
    output size is not downscaled and goes through the exact ops, as does anything
    `jpeg_header` does not take.
    """

    def __init__(self, decode: DecodeImage, resize: ResizeImage):
        super().__init__()
        self.decode, self.resize = decode, resize
        self.colorspace = "GRAY" if decode.channel_num == 1 else "RGB"

    def forward(self, inpt: Any) -> tv_tensors.Image:
        header = jpeg_header(inpt)
        if header is not None:
            size = self.resize.target_size(*header)
            scale = next((s for s in DCT_SCALES if header[0] >= 2 * s * size[0] and header[1] >= 2 * s * size[1]), 1)
            image = decode_scaled(inpt, self.colorspace, *header, scale) if scale > 1 else None
            if image is not None:
                return tv_tensors.Image(F.resize_image(image, size, interpolation=self.resize.interpolation,
                                                       antialias=True))
        return self.resize(self.decode(inpt))


def fuse_decode_crop(ops: list, crop: bool = True, resize: bool = False) -> list:
    """``ops`` with, when ``crop``, each ``DecodeImage`` directly followed by a ``RandCropImage``
    made one `DecodeRandCropImage` and, when ``resize``, each followed by a ``ResizeImage`` made
    one `DecodeResizeImage`; every other op is kept as it is."""
    fused: list = []
    for op in ops:
        if crop and isinstance(op, RandCropImage) and fused and type(fused[-1]) is DecodeImage:
            fused.append(DecodeRandCropImage(fused.pop(), op))
        elif resize and isinstance(op, ResizeImage) and fused and type(fused[-1]) is DecodeImage:
            fused.append(DecodeResizeImage(fused.pop(), op))
        else:
            fused.append(op)
    return fused
