"""The on-device decoder: JPEGs decoded on the training device: loader workers send file bytes, the batch is decoded
where it lands (nvJPEG on a GPU, through ``torchvision.io.decode_jpeg(device=...)``).

With ``DataLoader.<split>.loader.decode_on_device: true`` a worker no longer decodes a JPEG. It
reads the size in the header, draws every op's parameters on an image of that size (the same
torch RNG draws the ops make on the decoded image, so the augmentation stream is unchanged) and
sends the bytes with those parameters (`EncodedImage`). `DeviceDecode.finish` then decodes the
batch's JPEGs in one call on the device and runs each op there with its drawn parameters; the
late ``NormalizeImage`` follows on the same device. The CPU workers are left with reading files.

It takes ``DecodeImage`` followed by any of ``RandCropImage``, ``ResizeImage``, ``CropImage`` and
``RandFlipImage`` (then ``NormalizeImage`` and ``ToCHWImage``): the ops whose output size follows
from their input size. Files it cannot defer (not a JPEG, CMYK, EXIF-rotated) are decoded by the
worker with the same ops, as without the key, and join the batch decoded. A JPEG the device
cannot decode is retried with the exact CPU decoder; when that fails too the image is skipped and
reported with its path and reason (or stops the run in strict mode), like a bad file in a worker.

On a CPU the result equals the worker path's exactly: the same libjpeg-turbo decode and the same
kernels (``tests/test_device_decode.py``). On a GPU, nvJPEG's inverse DCT and chroma upsampling
differ from libjpeg's by a few grey levels.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import torch
from torch.utils.data import Dataset
from torchvision.io import ImageReadMode, decode_jpeg

from ..datasets import BadImageError, BadSample
from ..transforms import CropImage, DecodeImage, RandCropImage, RandFlipImage, ResizeImage
from .image import ImageDecodeError, decode_bytes
from .jpeg import jpeg_header

__all__ = ["EncodedImage", "EncodedBatch", "DeviceDecode", "PathTaggedDataset", "collate_encoded"]

DEFERRABLE_OPS = (RandCropImage, ResizeImage, CropImage, RandFlipImage)


class EncodedImage(NamedTuple):
    """A JPEG a worker left to decode on the device: its bytes, one parameter dict per op
    after ``DecodeImage`` and the file's path (for error reports)."""

    data: torch.Tensor
    params: list[dict[str, Any]]
    path: str = ""


class EncodedBatch(NamedTuple):
    """A batch from a ``decode_on_device`` loader: each item an `EncodedImage`, or a uint8 CHW
    image a worker decoded itself (a file that could not be deferred)."""

    items: list[EncodedImage | torch.Tensor]


def _output_size(op: Any, height: int, width: int) -> tuple[int, int]:
    if isinstance(op, (RandCropImage, CropImage)):
        return op.size[0], op.size[1]
    if isinstance(op, ResizeImage):
        return tuple(op.target_size(height, width))
    return height, width


class DeviceDecode:
    """The worker side (``__call__``: file bytes → `EncodedImage`) and the device side
    (`finish`: a batch of them → images) of ``decode_on_device``.

    Args:
        ops: the built per-image ops, ``DecodeImage`` first, the rest in ``DEFERRABLE_OPS``.
        where: config location for the error raised on any other op.
        strict: a JPEG that fails on the device and on the CPU raises ``BadImageError``.
    """

    def __init__(self, ops: Sequence[Callable], where: str = "loader.decode_on_device", strict: bool = False):
        if not ops or type(ops[0]) is not DecodeImage:
            raise ValueError(f"{where}: transform_ops must start with DecodeImage to decode on the device")
        for op in ops[1:]:
            if not isinstance(op, DEFERRABLE_OPS):
                raise ValueError(f"{where}: {type(op).__name__} needs the decoded image in the loader worker; "
                                 f"decoding on the device takes {', '.join(t.__name__ for t in DEFERRABLE_OPS)} "
                                 f"(then NormalizeImage); remove the op or set decode_on_device: false")
        self.decode, self.ops, self.strict = ops[0], list(ops[1:]), strict
        self.mode = ImageReadMode.GRAY if self.decode.channel_num == 1 else ImageReadMode.RGB

    def __call__(self, inpt: Any) -> EncodedImage | torch.Tensor:
        header = jpeg_header(inpt)
        if header is None:  # the exact path, in the worker
            image = self.decode(inpt)
            for op in self.ops:
                image = op(image)
            return image.as_subclass(torch.Tensor)
        height, width = header
        params = []
        for op in self.ops:
            params.append(op.make_params([torch.empty(()).expand(self.decode.channel_num, height, width)]))
            height, width = _output_size(op, height, width)
        return EncodedImage(torch.frombuffer(bytearray(inpt), dtype=torch.uint8), params)

    def finish(self, batch: tuple[Any, torch.Tensor, list], device: torch.device
               ) -> tuple[torch.Tensor, torch.Tensor, list[tuple[str, str]]]:
        """``(images, labels, bad)`` of the loader → the same with the images decoded on
        ``device`` and every op run there: uint8 ``[N, C, H, W]``, images that failed left out
        of both tensors and added to ``bad``."""
        images, labels, bad = batch
        if not isinstance(images, EncodedBatch):
            return batch
        out, keep, bad = [], [], list(bad)
        for index, image in enumerate(self._decode_all(images.items, device)):
            if isinstance(image, torch.Tensor):
                out.append(image)
                keep.append(index)
            else:
                bad.append(image)
        if not out:
            return torch.empty(0), labels[:0], bad
        return torch.stack(out), labels[keep], bad

    def _decode_all(self, items: list, device: torch.device) -> list[torch.Tensor | tuple[str, str]]:
        jpegs = [i for i, item in enumerate(items) if isinstance(item, EncodedImage)]
        decoded = dict(zip(jpegs, self._decode_jpegs([items[i] for i in jpegs], device)))
        out: list[torch.Tensor | tuple[str, str]] = []
        for i, item in enumerate(items):
            if i not in decoded:
                out.append(item.to(device, non_blocking=True))
            elif isinstance(decoded[i], torch.Tensor):
                out.append(self._run_ops(decoded[i], item.params))
            else:
                out.append(decoded[i])
        return out

    def _decode_jpegs(self, jpegs: list[EncodedImage], device: torch.device) -> list[torch.Tensor | tuple[str, str]]:
        if not jpegs:
            return []
        try:
            return decode_jpeg([j.data for j in jpegs], mode=self.mode, device=device)
        except RuntimeError:  # one bad file fails the whole call: find it
            return [self._decode_one(j, device) for j in jpegs]

    def _decode_one(self, jpeg: EncodedImage, device: torch.device) -> torch.Tensor | tuple[str, str]:
        try:
            return decode_jpeg(jpeg.data, mode=self.mode, device=device)
        except RuntimeError:
            pass
        try:  # the worker path's decoder, which also names what is wrong
            return decode_bytes(jpeg.data, self.decode.channel_num).as_subclass(torch.Tensor).to(device)
        except ImageDecodeError as err:
            if self.strict:
                raise BadImageError(jpeg.path, str(err)) from err
            return jpeg.path, str(err)

    def _run_ops(self, image: torch.Tensor, params: list[dict[str, Any]]) -> torch.Tensor:
        for op, drawn in zip(self.ops, params):
            image = op.transform(image, drawn)
        return image


class PathTaggedDataset(Dataset):
    """An image dataset whose transform is a `DeviceDecode`, each `EncodedImage` tagged with its
    file's path (``dataset.samples``), for the reports of `DeviceDecode.finish`."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        sample = self.dataset[index]
        if isinstance(sample, BadSample) or not isinstance(sample[0], EncodedImage):
            return sample
        return sample[0]._replace(path=str(self.dataset.samples[index][0])), sample[1]


def collate_encoded(batch: Sequence[tuple[Any, int] | BadSample]
                    ) -> tuple[EncodedBatch, torch.Tensor, list[tuple[str, str]]]:
    """`collate_skip_bad` for a ``decode_on_device`` loader: the good samples as an
    `EncodedBatch` (nothing to stack yet), their labels, and the bad ones' ``(path, reason)``."""
    bad = [(s.path, s.reason) for s in batch if isinstance(s, BadSample)]
    good = [s for s in batch if not isinstance(s, BadSample)]
    labels = torch.tensor([int(label) for _, label in good], dtype=torch.int64)
    return EncodedBatch([image for image, _ in good]), labels, bad
