"""The typed config: PaddleClas section and key names, validated before any work starts.

Every section forbids unknown keys, so a typo fails with its nearest valid spelling. Keys that
PaddleClas configs carry but torchclas does not implement yet are declared with
``not_yet(...)``: they load, and ``unimplemented_keys`` reports them by name when set. Keys that
PaddleClas configs carry but that have no effect here by design are declared with ``ignored(...)``
and reported by ``ignored_keys`` whenever a config sets them.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .schema_base import OpList, Section, ignored, not_yet
from .schema_data import DataLoaderConfig, DatasetConfig, LoaderConfig, SamplerConfig, SplitConfig
from .schema_infer import InferConfig, PostProcessConfig
from .schema_optim import LookaheadConfig, LRConfig, OptimizerConfig, RegularizerConfig

__all__ = [
    "Config", "GlobalConfig", "ArchConfig", "LossConfig", "OptimizerConfig", "LRConfig",
    "RegularizerConfig", "LookaheadConfig", "DatasetConfig", "SamplerConfig", "LoaderConfig", "SplitConfig",
    "DataLoaderConfig", "InferConfig", "PostProcessConfig", "MetricConfig", "AMPConfig", "EMAConfig",
    "not_yet",
]

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
