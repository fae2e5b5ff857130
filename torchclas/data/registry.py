"""The op names a config may use: ``TRANSFORMS`` (per-image ops of ``dataset.transform_ops``) and
``BATCH_OPS`` (``dataset.batch_transform_ops``), each an explicit table of the op classes.

A new op is a class in `transforms`, `geometry`, `vision_ops`, `augment`, `randaugment`,
`photometric`, `label_ops`, `masking` or `batch_ops` plus one line here.
Names PaddleClas has that torchclas does not build yet are each table's ``not_yet``: a config
naming them is accepted, and the op skipped with a warning.

Example:
    >>> TRANSFORMS["ResizeImage"].__name__, "MixupOperator" in BATCH_OPS
    ('ResizeImage', True)
"""

from __future__ import annotations

from ..config.registry import Registry
from .augment import AugMix, AutoAugment, ColorJitter, RandAugment, TimmAutoAugment
from .batch_ops import SAMPLED_OPS, OpSampler
from .geometry import CropImageAtRatio, CropWithPadding, Pad, Padv2, RandCropImageV2, RandomCropImage, RandomRotation
from .label_ops import BlurImage, RandomRot90
from .masking import Cutout, GridMask, HideAndSeek, RandomErasing
from .photometric import PCALighting, RandomInterpolationAugment
from .randaugment import RandAugmentV2, RandAugmentV3, RandAugmentV4
from .transforms import (CropImage, DecodeImage, NormalizeImage, RandCropImage, RandFlipImage, ResizeImage,
                         ToCHWImage)
from .vision_ops import (CenterCrop, Normalize, RandomGrayscale, RandomHorizontalFlip, RandomResizedCrop, Resize,
                         ToTensor)

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
    # geometry.py: padding, crops, rotation
    "Pad": Pad,
    "Padv2": Padv2,
    "CropWithPadding": CropWithPadding,
    "RandomCropImage": RandomCropImage,
    "RandCropImageV2": RandCropImageV2,
    "CropImageAtRatio": CropImageAtRatio,
    "RandomRotation": RandomRotation,
    # vision_ops.py: paddle.vision.transforms under PaddleClas's names
    "ToTensor": ToTensor,
    "Normalize": Normalize,
    "RandomHorizontalFlip": RandomHorizontalFlip,
    "RandomResizedCrop": RandomResizedCrop,
    "CenterCrop": CenterCrop,
    "Resize": Resize,
    "RandomGrayscale": RandomGrayscale,
    # augment.py: automatic and colour augmentations
    "AutoAugment": AutoAugment,
    "RandAugment": RandAugment,
    "AugMix": AugMix,
    "TimmAutoAugment": TimmAutoAugment,
    "ColorJitter": ColorJitter,
    # randaugment.py: PaddleClas's RandAugment variants
    "RandAugmentV2": RandAugmentV2,
    "RandAugmentV3": RandAugmentV3,
    "RandAugmentV4": RandAugmentV4,
    # photometric.py
    "PCALighting": PCALighting,
    "RandomInterpolationAugment": RandomInterpolationAugment,
    # label_ops.py: ops that make CustomLabelDataset's label, returning (image, {key: label})
    "BlurImage": BlurImage,
    "RandomRot90": RandomRot90,
    # masking.py
    "RandomErasing": RandomErasing,
    "Cutout": Cutout,
    "GridMask": GridMask,
    "HideAndSeek": HideAndSeek,
}, not_yet={  # PaddleClas ppcls/data/preprocess/__init__.py; used by its ssl/ configs only
    "RandomApply",
})

# PaddleClas batch_ops/batch_operators.py: the ops OpSampler picks from (batch_ops.SAMPLED_OPS:
# Mixup, Cutmix, FMix, MixupCutmixHybrid), and OpSampler itself.
BATCH_OPS: Registry[type] = Registry("batch op", {**SAMPLED_OPS, "OpSampler": OpSampler})

# Every PaddleClas op name torchclas accepts but does not build yet (config checks report them).
NOT_YET_IMPLEMENTED_OPS: frozenset[str] = TRANSFORMS.not_yet | BATCH_OPS.not_yet
