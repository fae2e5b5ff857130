"""The op names a config may use: ``TRANSFORMS`` (per-image ops of ``dataset.transform_ops``) and
``BATCH_OPS`` (``dataset.batch_transform_ops``), each an explicit table of the op classes.

A new op is a class in `transforms`, `augment`, `masking` or `batch_ops` plus one line here.
Names PaddleClas has that torchclas does not build yet are each table's ``not_yet``: a config
naming them is accepted, and the op skipped with a warning.

Example:
    >>> TRANSFORMS["ResizeImage"].__name__, "MixupOperator" in BATCH_OPS
    ('ResizeImage', True)
"""

from __future__ import annotations

from ..config.registry import Registry
from .augment import AugMix, AutoAugment, ColorJitter, RandAugment, TimmAutoAugment
from .batch_ops import CutmixOperator, MixupOperator, OpSampler
from .fmix import FmixOperator
from .masking import Cutout, GridMask, HideAndSeek, RandomErasing
from .mix_hybrid import MixupCutmixHybrid
from .transforms import (CropImage, DecodeImage, NormalizeImage, RandCropImage, RandFlipImage, ResizeImage,
                         ToCHWImage)

__all__ = ["TRANSFORMS", "BATCH_OPS", "NOT_YET_IMPLEMENTED_OPS"]

TRANSFORMS: Registry[type] = Registry("per-image op", {
    # transforms.py: decoding, geometry, normalisation
    "DecodeImage": DecodeImage,
    "ResizeImage": ResizeImage,
    "RandCropImage": RandCropImage,
    "RandFlipImage": RandFlipImage,
    "CropImage": CropImage,
    "NormalizeImage": NormalizeImage,
    "ToCHWImage": ToCHWImage,
    # augment.py: automatic and colour augmentations
    "AutoAugment": AutoAugment,
    "RandAugment": RandAugment,
    "AugMix": AugMix,
    "TimmAutoAugment": TimmAutoAugment,
    "ColorJitter": ColorJitter,
    # masking.py
    "RandomErasing": RandomErasing,
    "Cutout": Cutout,
    "GridMask": GridMask,
    "HideAndSeek": HideAndSeek,
}, not_yet={  # PaddleClas ppcls/data/preprocess/__init__.py
    "Pad", "Padv2", "CropWithPadding", "RandomCropImage", "RandCropImageV2",
    "RandomRotation", "RandomInterpolationAugment", "RandomHorizontalFlip",
    "ToTensor", "Normalize",
})

# batch_ops.py; PaddleClas batch_ops/batch_operators.py
BATCH_OPS: Registry[type] = Registry("batch op", {
    "MixupOperator": MixupOperator,
    "CutmixOperator": CutmixOperator,
    "OpSampler": OpSampler,
    "FmixOperator": FmixOperator,  # fmix.py
    "MixupCutmixHybrid": MixupCutmixHybrid,  # mix_hybrid.py
})

# Every PaddleClas op name torchclas accepts but does not build yet (config checks report them).
NOT_YET_IMPLEMENTED_OPS: frozenset[str] = TRANSFORMS.not_yet | BATCH_OPS.not_yet
