"""The decoder interface (data/decode/decoder.py): one ``Decoder`` per split, whichever decoder."""

from __future__ import annotations

import pytest
import torch

from torchclas.config.schema import LoaderConfig
from torchclas.data.decode.dct_scaled import DecodeRandCropImage
from torchclas.data.decode.decoder import build_decoder
from torchclas.data.decode.on_device import DeviceDecode
from torchclas.data.transforms import DecodeImage

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")

OPS = [{"DecodeImage": None}, {"RandCropImage": {"size": 16}}, {"RandFlipImage": None}]


def test_full_dct_scaled_and_on_device_decoders():
    full = build_decoder(OPS, LoaderConfig(fast_decode=False))
    assert not full.on_device and type(full.transform.transforms[0]) is DecodeImage
    scaled = build_decoder(OPS, LoaderConfig())  # fast_decode is on by default
    assert not scaled.on_device and isinstance(scaled.transform.transforms[0], DecodeRandCropImage)
    device = build_decoder(OPS, LoaderConfig(decode_on_device=True))
    assert device.on_device and isinstance(device.transform, DeviceDecode)
    assert device.finish == device.transform.finish


def test_a_decoded_batch_passes_finish_unchanged():
    decoder = build_decoder(OPS, LoaderConfig(decode_on_device=True))
    batch = (torch.zeros(2, 3, 16, 16, dtype=torch.uint8), torch.tensor([0, 1]), [])
    assert decoder.finish(batch, torch.device("cpu")) is batch
