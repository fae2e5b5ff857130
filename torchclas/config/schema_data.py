"""The ``DataLoader`` section: each split's dataset, sampler and loader keys, as PaddleClas names them."""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .schema_base import OpList, Section, ignored, not_yet

__all__ = ["DatasetConfig", "SamplerConfig", "LoaderConfig", "SplitConfig", "DataLoaderConfig"]

class DatasetConfig(Section):
    """``DataLoader.<split>.dataset``: a file list or an image folder, plus transforms.

    ``FILE_LIST_NAMES`` read ``cls_label_path`` ("path label" lines under ``image_root``);
    ``FOLDER_NAMES`` take the sorted sub-folders of ``image_root`` as the classes.
    ``MultiScaleDataset`` is a file list whose crops take each batch's size from
    ``MultiScaleSampler``. ``CustomLabelDataset`` lists images only (``sample_list_path``; with
    ``delimiter``, the first field of each line) and takes each label from the key ``label_key``
    that an op of ``transform_ops`` returns (e.g. ``RandomRot90``'s ``random_rot90_orientation``).
    """

    FILE_LIST_NAMES: ClassVar[tuple[str, ...]] = ("ImageNetDataset", "CommonDataset", "FileListDataset")
    FOLDER_NAMES: ClassVar[tuple[str, ...]] = ("ImageFolder", "ImageFolderDataset")
    OTHER_NAMES: ClassVar[tuple[str, ...]] = ("MultiScaleDataset", "CustomLabelDataset")
    NOT_YET_IMPLEMENTED: ClassVar[tuple[str, ...]] = (
        "MultiLabelDataset", "LogoDataset", "CompCars", "VeriWild", "ICartoonDataset", "MixDataset",
        "PersonDataset", "Market1501", "MSMT17", "DeepFashion", "VehicleAttribute")

    name: str = "ImageNetDataset"
    image_root: str = "./"
    cls_label_path: Optional[str] = None
    sample_list_path: Optional[str] = None
    label_key: Optional[str] = None
    delimiter: Optional[str] = None
    transform_ops: OpList = None
    batch_transform_ops: OpList = None
    relabel: bool = not_yet(False)

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str) -> str:
        from .errors import closest

        valid = cls.FILE_LIST_NAMES + cls.FOLDER_NAMES + cls.OTHER_NAMES
        if name in cls.NOT_YET_IMPLEMENTED:
            raise ValueError(f"'{name}' is a PaddleClas dataset not implemented in torchclas yet; "
                             f"available: {', '.join(valid)}")
        if name not in valid:
            raise ValueError(f"unknown dataset '{name}'{closest(name, valid)}; available: {', '.join(valid)}")
        return name

    @model_validator(mode="after")
    def _custom_label_keys(self) -> "DatasetConfig":
        """``sample_list_path`` and ``label_key`` belong to ``CustomLabelDataset``, which needs both."""
        custom = self.name == "CustomLabelDataset"
        for key in ("sample_list_path", "label_key"):
            if custom and getattr(self, key) is None:
                raise ValueError(f"CustomLabelDataset needs {key}")
            if not custom and getattr(self, key) is not None:
                raise ValueError(f"{key} is a key of CustomLabelDataset, not {self.name}")
        if custom and self.cls_label_path is not None:
            raise ValueError("CustomLabelDataset lists its images in sample_list_path, not cls_label_path "
                             "(its labels come from transform_ops)")
        return self


class SamplerConfig(Section):
    """``DataLoader.<split>.sampler``: per-process batch size, shuffling, last partial batch.

    ``ClassBalancedSampler`` draws every class equally often; ``WeightedSampler`` draws a sample
    of class ``c`` with weight ``class_weights[c]`` (``auto``: 1/count, balanced). Both draw
    ``num_samples`` (default: the dataset size) samples with replacement per epoch.
    ``MultiScaleSampler`` (with ``MultiScaleDataset``) gives each batch one of ``scales`` (ints,
    or ``[w, h]``; rounded down to multiples of ``divided_factor`` when ``is_training``) and
    ``first_bs * area(scales[0]) / area`` images; ``batch_size`` has no effect there, and
    ``shuffle`` defaults to true, as in PaddleClas. ``RASampler`` (repeated augmentation, DeiT)
    repeats each image ``num_repeats`` times, spread over the processes.
    """

    NAMES: ClassVar[tuple[str, ...]] = (
        "DistributedBatchSampler", "BatchSampler", "ClassBalancedSampler", "WeightedSampler", "MultiScaleSampler",
        "RASampler")
    NOT_YET_IMPLEMENTED: ClassVar[tuple[str, ...]] = (
        "PKSampler", "DistributedRandomIdentitySampler", "MixSampler")
    MULTI_SCALE_KEYS: ClassVar[tuple[str, ...]] = ("scales", "first_bs", "divided_factor", "is_training")

    name: str = "DistributedBatchSampler"
    batch_size: int = Field(64, ge=1)
    drop_last: bool = False
    shuffle: bool = False
    class_weights: Any = Field(None, validate_default=True)
    num_samples: Optional[int] = Field(None, ge=1)
    scales: Optional[list[Any]] = None
    first_bs: Optional[int] = Field(None, ge=1)
    divided_factor: int = Field(32, ge=1)
    is_training: bool = True
    num_repeats: int = Field(3, ge=1)

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str) -> str:
        from .errors import closest

        if name in cls.NOT_YET_IMPLEMENTED:
            raise ValueError(f"'{name}' is a PaddleClas sampler not implemented in torchclas yet; "
                             f"available: {', '.join(cls.NAMES)}")
        if name not in cls.NAMES:
            raise ValueError(f"unknown sampler '{name}'{closest(name, cls.NAMES)}; available: {', '.join(cls.NAMES)}")
        return name

    @field_validator("class_weights")
    @classmethod
    def _check_class_weights(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.data.get("name")
        if value is None:
            if name == "WeightedSampler":
                raise ValueError("WeightedSampler needs class_weights: one weight per class, or auto")
            return value
        if name is not None and name != "WeightedSampler":
            raise ValueError(f"class_weights is a key of WeightedSampler, not {name}")
        if value == "auto":
            return value
        if (not isinstance(value, list) or not value
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)):
            raise ValueError("expected auto or a list of numbers, one per class")
        if any(not v >= 0 or v == float("inf") for v in value) or not any(v > 0 for v in value):
            raise ValueError("weights must be finite, >= 0 and not all 0")
        return [float(v) for v in value]

    @field_validator("scales")
    @classmethod
    def _check_scales(cls, value: Optional[list[Any]]) -> Optional[list[Any]]:
        if value is None:
            return value
        pairs = [isinstance(v, list) and len(v) == 2 and all(_positive_int(x) for x in v) for v in value]
        if not value or not (all(pairs) or all(_positive_int(v) for v in value)):
            raise ValueError("expected a list of sizes: ints (square) or [width, height] pairs, all positive")
        return value

    @model_validator(mode="after")
    def _sampler_keys(self) -> "SamplerConfig":
        """Keys of ``MultiScaleSampler`` / ``RASampler`` set to other than their defaults are
        errors under another sampler (a saved config writes the defaults out)."""
        if self.name == "MultiScaleSampler" and (self.scales is None or self.first_bs is None):
            raise ValueError("MultiScaleSampler needs scales and first_bs")
        owners = {key: "MultiScaleSampler" for key in self.MULTI_SCALE_KEYS}
        owners["num_repeats"] = "RASampler"
        for key, owner in owners.items():
            if owner != self.name and getattr(self, key) != type(self).model_fields[key].default:
                raise ValueError(f"{key} is a key of {owners[key]}, not {self.name}")
        return self

    @field_validator("num_samples")
    @classmethod
    def _weighted_only(cls, value: Optional[int], info: ValidationInfo) -> Optional[int]:
        name = info.data.get("name")
        if value is not None and name is not None and name not in ("ClassBalancedSampler", "WeightedSampler"):
            raise ValueError(f"num_samples is a key of ClassBalancedSampler and WeightedSampler, not {name}")
        return value


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class LoaderConfig(Section):
    """``DataLoader.<split>.loader``: worker processes and their prefetching.

    ``late_normalize``: when ``transform_ops`` end with ``NormalizeImage`` (and there are no
    batch ops: they mix normalised images in the workers, so with them the workers normalise,
    and the log says so), workers send uint8 images and the batch is normalised where it lands.
    ``fast_decode``: a ``DecodeImage`` directly followed by ``RandCropImage`` decodes JPEGs at
    1/2, 1/4 or 1/8 scale when the crop stays at least the output size (``data.decode.dct_scaled``).
    ``fast_decode_resize``: the same for a ``DecodeImage`` followed by ``ResizeImage``, at the
    scale that leaves at least twice the resized size; off by default, so eval stays exact.
    ``decode_on_device``: workers send JPEG bytes, and the batch is decoded and cropped on the
    training device (nvJPEG on a GPU; ``data.decode.on_device``).
    """

    num_workers: int = Field(0, ge=0)
    late_normalize: bool = True
    fast_decode: bool = True
    fast_decode_resize: bool = False
    decode_on_device: bool = False
    use_shared_memory: bool = ignored(True, "torch DataLoader workers always pass batches in shared memory")
    persistent_workers: bool = True
    prefetch_factor: Optional[int] = Field(None, ge=1)


class SplitConfig(Section):
    """One split (``Train`` or ``Eval``) of ``DataLoader``."""

    dataset: DatasetConfig
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    loader: LoaderConfig = Field(default_factory=LoaderConfig)


class DataLoaderConfig(Section):
    """``DataLoader``: the ``Train`` and ``Eval`` splits."""

    Train: Optional[SplitConfig] = None
    Eval: Optional[SplitConfig] = None
