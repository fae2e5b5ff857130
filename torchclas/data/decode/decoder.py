"""`Decoder`: how one split turns file bytes into images (full, DCT-scaled or on the device), and
`build_decoder`, which picks it from ``DataLoader.<split>.loader``."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch

from ...config.schema import LoaderConfig
from ..pipeline import build_ops, build_transforms
from .on_device import DeviceDecode

__all__ = ["Decoder", "build_decoder"]

Batch = tuple[Any, torch.Tensor, list[tuple[str, str]]]


class Decoder(NamedTuple):
    """One split's decoding, whichever decoder it uses.

    Attributes:
        transform: what the loader workers run on each file's bytes (the op list, fused for the
            DCT-scaled decoder; `on_device.DeviceDecode` for the on-device one).
        finish: ``finish(batch, device) -> batch``, run by the loader on each batch where it
            lands (decoding there); None when the workers send decoded images.
    """

    transform: Callable[[Any], Any]
    finish: Callable[[Batch, torch.device], Batch] | None = None

    @property
    def on_device(self) -> bool:
        """Whether the workers send encoded JPEGs (`on_device.EncodedBatch`) left to ``finish``."""
        return self.finish is not None


def build_decoder(ops: Any, loader: LoaderConfig, strict: bool = False,
                  where: str = "dataset.transform_ops", labels: bool = True) -> Decoder:
    """The decoder of a per-image op list under a split's ``loader`` switches.

    ``decode_on_device`` gives the on-device decoder (``ops`` must suit it, see
    `on_device.DeviceDecode`; ``strict``: a JPEG no decoder reads stops the run); otherwise
    ``fast_decode`` / ``fast_decode_resize`` fuse ``DecodeImage`` with the op after it into the
    DCT-scaled decoder where the list allows, and the rest is the full decoder. With label ops
    in ``ops`` the transform gives ``(image, labels)``, or with ``labels=False`` the image alone
    (`pipeline.LabelCompose`); the on-device decoder refuses label ops.

    Example:
        >>> ops = [{"DecodeImage": None}, {"RandCropImage": {"size": 224}}]
        >>> build_decoder(ops, LoaderConfig(decode_on_device=True)).on_device
        True
    """
    if loader.decode_on_device:
        device_decode = DeviceDecode(build_ops(ops, where), strict=strict)
        return Decoder(device_decode, device_decode.finish)
    return Decoder(build_transforms(ops, where, fast_decode=loader.fast_decode,
                                    fast_decode_resize=loader.fast_decode_resize, labels=labels))
