"""The typed config: PaddleClas section and key names, validated before any work starts.

Every section forbids unknown keys, so a typo fails with its nearest valid spelling. Keys that
PaddleClas configs carry but torchclas does not implement yet are declared with
``not_yet(...)``: they load, and ``unimplemented_keys`` reports them by name when set. Keys that
PaddleClas configs carry but that have no effect here by design are declared with ``ignored(...)``
and reported by ``ignored_keys`` whenever a config sets them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .schema_base import Section, ignored, not_yet
from .schema_infer import InferConfig, PostProcessConfig
from .schema_optim import LookaheadConfig, LRConfig, OptimizerConfig, RegularizerConfig

__all__ = [
    "Config", "GlobalConfig", "ArchConfig", "LossConfig", "OptimizerConfig", "LRConfig",
    "RegularizerConfig", "LookaheadConfig", "DatasetConfig", "SamplerConfig", "LoaderConfig", "SplitConfig",
    "DataLoaderConfig", "InferConfig", "PostProcessConfig", "MetricConfig", "AMPConfig", "EMAConfig",
    "not_yet",
]

OpList = Optional[list[dict[str, Any]]]


class GlobalConfig(Section):
    """``Global``: run-wide settings (output folder, epochs, checkpoints, device, seed).

    ``checkpoints`` resumes from a checkpoint path, or with ``auto`` from the newest complete
    one in the run folder. ``save_steps`` also commits ``latest`` every that many optimizer
    steps inside an epoch. A NaN/Inf loss skips its step; after ``nan_patience`` such steps in
    a row the run rolls back to its last checkpoint with the LR times ``nan_lr_factor``, at
    most ``nan_max_rollbacks`` times, then stops with an error.

    ``precision`` (``auto``: bf16 where the hardware runs it faster, see
    ``engine/fast_defaults.py``) applies when there is no ``AMP`` section; ``channels_last:
    auto`` turns it on for convolutional nets; ``cudnn_benchmark`` lets cuDNN time its
    convolution algorithms for each new input shape on a GPU; ``deterministic`` makes a GPU run
    repeat bit for bit (deterministic kernels, no benchmarking; slower). ``use_dali`` (PaddleClas's GPU
    decoding switch) sets ``loader.decode_on_device`` for both splits. ``use_visualdl``
    (PaddleClas's VisualDL switch) or ``tensorboard`` write TensorBoard event files to the run folder.

    Evaluation runs every ``eval_interval`` epochs from epoch ``start_eval_epoch`` on (and always
    after the last epoch). ``to_static`` (Paddle's graph capture) means ``compile: true``.
    ``train_mode: progressive`` trains in 4 stages of growing image size, RandAugment magnitude
    and dropout (``engine/progressive.py``). ``eval_mode`` other than ``classification`` and the
    retrieval keys ``feature_normalize``/``feature_binarize`` belong to retrieval (not yet).
    """

    checkpoints: Optional[str] = None
    pretrained_model: Optional[str] = None
    output_dir: str = "./output/"
    device: Literal["auto", "cpu", "gpu", "cuda"] = "auto"
    class_num: Optional[int] = Field(None, ge=1)
    save_interval: int = Field(1, ge=1)
    save_steps: Optional[int] = Field(None, ge=1)
    nan_patience: int = Field(5, ge=1)
    nan_lr_factor: float = Field(0.5, gt=0, lt=1)
    nan_max_rollbacks: int = Field(3, ge=0)
    eval_during_train: bool = True
    eval_interval: int = Field(1, ge=1)
    start_eval_epoch: int = Field(0, ge=0)
    epochs: int = Field(1, ge=1)
    print_batch_step: int = Field(10, ge=1)
    image_shape: list[int] = Field(default_factory=lambda: [3, 224, 224])
    image_channel: Optional[int] = ignored(None, "a YAML anchor PaddleClas configs copy into image_shape[0] and "
                                                 "Arch.input_image_channel; those keys take effect")
    save_inference_dir: str = ignored("./inference", "`torchclas export --out PATH` names the exported file")
    seed: Optional[int] = 42
    strict_data: bool = False
    num_threads: Optional[int] = Field(None, ge=1)
    channels_last: bool | Literal["auto"] = "auto"
    cudnn_benchmark: bool = True
    deterministic: bool = False
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    accum_steps: int = Field(1, ge=1)
    update_freq: Optional[int] = Field(None, ge=1)
    """PaddleClas's name for ``accum_steps`` (loss divided by it, one optimizer and LR step per group)."""
    auto_scale_lr: bool = False
    compile: bool | str = False
    to_static: bool = False
    sync_bn: bool = False
    use_visualdl: bool = False
    tensorboard: bool = False
    use_dali: bool = False
    eval_mode: Literal["classification", "retrieval", "adaface"] = not_yet("classification")
    train_mode: Optional[Literal["progressive"]] = None
    feature_normalize: bool = not_yet(True)
    feature_binarize: Optional[Literal["round", "sign"]] = not_yet(None)
    use_multilabel: bool = not_yet(False)

    @model_validator(mode="before")
    @classmethod
    def _update_freq_is_accum_steps(cls, data: Any) -> Any:
        """``update_freq`` (PaddleClas) sets ``accum_steps``; both set must agree."""
        if not isinstance(data, dict) or data.get("update_freq") is None:
            return data
        freq, accum = data["update_freq"], data.get("accum_steps")
        if accum is not None and accum != freq:
            raise ValueError(f"Global.update_freq ({freq}) and Global.accum_steps ({accum}) are the same setting "
                             "(batches per optimizer step); set one, or both to the same value")
        return {**data, "accum_steps": freq}


class ArchConfig(BaseModel):
    """``Arch``: the model name; other keys go to the model builder as keyword arguments.

    ``pretrained``: ``True`` loads PaddleClas's official ImageNet weights (SSLD ones with
    ``use_ssld``), downloaded once into ``$TORCHCLAS_HOME``; a string is a weights file or URL.

    ``input_image_channel`` (PaddleClas's ResNet / SE_ResNeXt key) is the first conv's input
    channels, passed as ``in_chans``: 4 with ``NormalizeImage.channel_num: 4``, which appends a zero
    channel. ``data_format: NHWC`` turns channels_last on when ``Global.channels_last`` is ``auto``.
    """

    model_config = ConfigDict(extra="allow")

    name: str
    class_num: Optional[int] = Field(None, ge=1)
    pretrained: bool | str = False
    use_ssld: bool = False
    input_image_channel: int = Field(3, ge=1)
    data_format: Literal["NCHW", "NHWC"] = "NCHW"
    use_sync_bn: bool = False
    """PaddleClas's SyncBatchNorm switch: BatchNorm over all processes under multi-GPU DDP, as
    ``Global.sync_bn``; a single process keeps plain BN, and off CUDA it is ignored with a warning
    (as PaddleClas ignores it off GPU). The engine applies it, so it is not a builder argument."""
    lr_mult_list: Optional[list[float]] = None
    """One LR multiplier per stage (PPLCNet: 6, ResNet/ResNet_vd and PPHGNetV2: 5); the optimizer's
    param groups apply it (``models.lr_mult``), so it is not a builder argument."""

    @field_validator("lr_mult_list", mode="before")
    @classmethod
    def _list_from_text(cls, value: Any) -> Any:
        # PaddleClas eval()s a string here ("[0.0, 0.4, ...]"); read it as a literal, never eval.
        if isinstance(value, str):
            import ast

            try:
                return list(ast.literal_eval(value))
            except (ValueError, SyntaxError, TypeError):
                raise ValueError(f"not a list of numbers: {value!r}") from None
        return value

    @property
    def builder_kwargs(self) -> dict[str, Any]:
        """Keys beyond name/class_num/pretrained/use_ssld/lr_mult_list/use_sync_bn, passed to the
        model builder (``input_image_channel`` other than 3 as ``in_chans``)."""
        extra = dict(self.model_extra or {})
        if self.input_image_channel != 3:
            extra["in_chans"] = self.input_image_channel
        return extra


class LossConfig(Section):
    """``Loss``: lists of ``{LossName: {params}}`` for training and evaluation."""

    Train: OpList = None
    Eval: OpList = None


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


class MetricConfig(Section):
    """``Metric``: lists of ``{TopkAcc: {topk: [1, 5]}}`` for training and evaluation."""

    Train: OpList = None
    Eval: OpList = None


class AMPConfig(Section):
    """``AMP``: mixed precision. ``O1`` autocasts ops; ``O2`` also keeps the model in the low dtype.

    ``dtype: auto`` is bfloat16 on CPU and float16 on GPU; float16 uses dynamic loss scaling
    starting at ``scale_loss`` (a fixed scale when ``use_dynamic_loss_scaling`` is false).
    ``custom_black_list`` (Paddle's ``auto_cast`` argument): layers kept in float32 under autocast,
    by Paddle op name; unset, ``depthwise_conv2d`` on CPU in bfloat16 (oneDNN's bfloat16 depthwise
    backward is slower than float32's), nothing elsewhere.
    """

    use_amp: bool = True
    level: Literal["O1", "O2"] = "O1"
    dtype: Literal["auto", "bfloat16", "float16"] = "auto"
    scale_loss: float = Field(65536.0, gt=0)
    use_dynamic_loss_scaling: bool = True
    use_fp16_test: bool = False
    use_promote: bool = not_yet(False)
    custom_black_list: Optional[list[Literal["depthwise_conv2d", "conv2d"]]] = None


class EMAConfig(Section):
    """``EMA``: an exponential moving average of the weights, used for evaluation and ``best_model``.

    After optimizer step ``n`` (1, 2, ...) ``ema = d * ema + (1 - d) * weights`` (buffers too), with
    ``d = decay``, or with ``warmup`` ``d = min(decay, (1 + n) / (10 + n))`` so that the random
    initial weights are forgotten within a short run (TensorFlow's ``num_updates`` rule).
    """

    decay: float = Field(0.9999, gt=0, lt=1)
    warmup: bool = True


class Config(Section):
    """A whole torchclas/PaddleClas config."""

    Global: GlobalConfig = Field(default_factory=GlobalConfig)
    Arch: ArchConfig
    Loss: LossConfig = Field(default_factory=LossConfig)
    Optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    DataLoader: DataLoaderConfig = Field(default_factory=DataLoaderConfig)
    Infer: InferConfig = Field(default_factory=InferConfig)
    Metric: MetricConfig = Field(default_factory=MetricConfig)
    AMP: Optional[AMPConfig] = None
    EMA: Optional[EMAConfig] = None

    @model_validator(mode="after")
    def _dali_decodes_on_device(self) -> "Config":
        """``Global.use_dali`` (PaddleClas's GPU decoding switch) turns on
        ``loader.decode_on_device`` for both splits: nvJPEG through torchvision, not DALI."""
        if self.Global.use_dali:
            for split in (self.DataLoader.Train, self.DataLoader.Eval):
                if split is not None and not split.loader.decode_on_device:
                    split.loader.decode_on_device = True
        return self

    @property
    def class_num(self) -> int:
        """Number of classes: ``Arch.class_num``, else ``Global.class_num``, else 1000."""
        return self.Arch.class_num or self.Global.class_num or 1000
