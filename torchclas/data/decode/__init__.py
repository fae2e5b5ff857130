"""Image decoding: file bytes → uint8 CHW images, in three decoders behind one interface.

- full (`image`): ``decode_bytes``, what ``DecodeImage`` runs; torchvision for JPEG/PNG/WebP/GIF,
  PIL for the rest, any mode to uint8 RGB or gray, EXIF orientation applied.
- DCT-scaled (`dct_scaled`): ``DecodeImage`` + ``RandCropImage``/``ResizeImage`` fused into one
  JPEG decode at 1/2, 1/4 or 1/8 scale (``loader.fast_decode``, ``fast_decode_resize``).
- on the device (`on_device`): workers send JPEG bytes with each op's drawn parameters; the batch
  is decoded where it lands, nvJPEG on a GPU (``loader.decode_on_device``).

The interface is `decoder.Decoder`, built from a split's config by `decoder.build_decoder`: a
``transform`` the loader workers run on each file, and for the on-device decoder a ``finish`` the
loader runs on each batch, on its device. The two faster decoders take only what they can match
(`jpeg.jpeg_header`: a plain RGB or gray JPEG without an EXIF rotation, read by
`jpeg.exif_orientation`, the one EXIF reader of torchclas) and hand everything else to the full
decoder, with the same random draws.

Only the op-free modules (`image`, `jpeg`) are imported here, since ``transforms.DecodeImage``
builds on them; import the decoders from their modules.
"""

from .image import ImageDecodeError, as_encoded, decode_bytes, to_uint8_image
from .jpeg import decode_scaled, exif_orientation, jpeg_header

__all__ = ["ImageDecodeError", "as_encoded", "decode_bytes", "to_uint8_image", "decode_scaled",
           "exif_orientation", "jpeg_header"]
