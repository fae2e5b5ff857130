"""The typed config: PaddleClas section and key names, validated before any work starts.

Every section forbids unknown keys, so a typo fails with its nearest valid spelling. Keys that
PaddleClas configs carry but torchclas does not implement yet are declared with
``not_yet(...)``: they load, and ``unimplemented_keys`` reports them by name when set.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Config", "GlobalConfig", "ArchConfig", "LossConfig", "OptimizerConfig", "LRConfig",
    "RegularizerConfig", "DatasetConfig", "SamplerConfig", "LoaderConfig", "SplitConfig",
    "DataLoaderConfig", "InferConfig", "PostProcessConfig", "MetricConfig", "not_yet",
]

OpList = Optional[list[dict[str, Any]]]
_NOT_YET = {"torchclas_not_yet": True}


def not_yet(default: Any = None) -> Any:
    """A field PaddleClas configs carry that torchclas accepts but does not implement yet."""
    return Field(default, json_schema_extra=_NOT_YET)


class Section(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)


class GlobalConfig(Section):
    """``Global``: run-wide settings (output folder, epochs, checkpoints, device, seed)."""

    checkpoints: Optional[str] = None
    pretrained_model: Optional[str] = None
    output_dir: str = "./output/"
    device: Literal["auto", "cpu", "gpu", "cuda"] = "auto"
    class_num: Optional[int] = Field(None, ge=1)
    save_interval: int = Field(1, ge=1)
    eval_during_train: bool = True
    eval_interval: int = Field(1, ge=1)
    epochs: int = Field(1, ge=1)
    print_batch_step: int = Field(10, ge=1)
    image_shape: list[int] = Field(default_factory=lambda: [3, 224, 224])
    save_inference_dir: str = "./inference"
    seed: Optional[int] = 42
    strict_data: bool = False
    num_threads: Optional[int] = Field(None, ge=1)
    channels_last: bool = False
    use_visualdl: bool = not_yet(False)
    to_static: bool = not_yet(False)
    use_dali: bool = not_yet(False)
    eval_mode: Optional[str] = not_yet(None)
    use_multilabel: bool = not_yet(False)


class ArchConfig(BaseModel):
    """``Arch``: the model name; other keys go to the model builder as keyword arguments."""

    model_config = ConfigDict(extra="allow")

    name: str
    class_num: Optional[int] = Field(None, ge=1)
    pretrained: bool | str = False

    @property
    def builder_kwargs(self) -> dict[str, Any]:
        """Keys beyond name/class_num/pretrained, passed to the model builder."""
        return dict(self.model_extra or {})


class LossConfig(Section):
    """``Loss``: lists of ``{LossName: {params}}`` for training and evaluation."""

    Train: OpList = None
    Eval: OpList = None


class LRConfig(Section):
    """``Optimizer.lr``: schedule name, base LR and warmup; stepped per iteration by default."""

    name: Literal["Cosine", "Piecewise", "Constant"] = "Cosine"
    learning_rate: float = Field(0.1, gt=0)
    warmup_epoch: float = Field(0, ge=0)
    warmup_start_lr: float = Field(0.0, ge=0)
    eta_min: float = Field(0.0, ge=0)
    decay_epochs: Optional[list[float]] = None
    values: Optional[list[float]] = None
    by_epoch: bool = False
    last_epoch: int = not_yet(-1)


class RegularizerConfig(Section):
    """``Optimizer.regularizer``: L2 weight decay, coupled into the gradient as in Paddle."""

    name: Literal["L2"] = "L2"
    coeff: float = Field(0.0, ge=0)


class OptimizerConfig(Section):
    """``Optimizer``: SGD with momentum (PaddleClas ``Momentum``), LR schedule, L2 decay."""

    name: Literal["Momentum", "SGD"] = "Momentum"
    momentum: float = Field(0.9, ge=0, lt=1)
    use_nesterov: bool = False
    lr: LRConfig = Field(default_factory=LRConfig)
    regularizer: Optional[RegularizerConfig] = None
    multi_precision: bool = not_yet(False)
    no_weight_decay_name: Optional[str] = not_yet(None)
    one_dim_param_no_weight_decay: bool = not_yet(False)


class DatasetConfig(Section):
    """``DataLoader.<split>.dataset``: a file list or an image folder, plus transforms."""

    name: str = "ImageNetDataset"
    image_root: str = "./"
    cls_label_path: Optional[str] = None
    delimiter: Optional[str] = None
    transform_ops: OpList = None
    batch_transform_ops: OpList = not_yet(None)
    relabel: bool = not_yet(False)


class SamplerConfig(Section):
    """``DataLoader.<split>.sampler``: per-process batch size, shuffling, last partial batch."""

    name: str = "DistributedBatchSampler"
    batch_size: int = Field(64, ge=1)
    drop_last: bool = False
    shuffle: bool = False


class LoaderConfig(Section):
    """``DataLoader.<split>.loader``: worker processes and their prefetching."""

    num_workers: int = Field(0, ge=0)
    use_shared_memory: bool = True
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


class PostProcessConfig(Section):
    """``Infer.PostProcess``: top-k and the ``id name`` label file for class names."""

    name: Literal["Topk"] = "Topk"
    topk: int = Field(5, ge=1)
    class_id_map_file: Optional[str] = None


class InferConfig(Section):
    """``Infer``: images to classify, batch size, preprocessing and post-processing."""

    infer_imgs: Optional[str] = None
    batch_size: int = Field(10, ge=1)
    transforms: OpList = None
    PostProcess: PostProcessConfig = Field(default_factory=PostProcessConfig)


class MetricConfig(Section):
    """``Metric``: lists of ``{TopkAcc: {topk: [1, 5]}}`` for training and evaluation."""

    Train: OpList = None
    Eval: OpList = None


class Config(Section):
    """A whole torchclas/PaddleClas config."""

    Global: GlobalConfig = Field(default_factory=GlobalConfig)
    Arch: ArchConfig
    Loss: LossConfig = Field(default_factory=LossConfig)
    Optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    DataLoader: DataLoaderConfig = Field(default_factory=DataLoaderConfig)
    Infer: InferConfig = Field(default_factory=InferConfig)
    Metric: MetricConfig = Field(default_factory=MetricConfig)
    AMP: Optional[dict[str, Any]] = not_yet(None)
    EMA: Optional[dict[str, Any]] = not_yet(None)

    @field_validator("AMP", "EMA")
    @classmethod
    def _enabled_only(cls, value: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        # PaddleClas writes `AMP: {use_amp: False, ...}`; only an enabled section is worth reporting.
        if value is not None and value.get("use_amp", True) is False:
            return None
        return value

    @property
    def class_num(self) -> int:
        """Number of classes: ``Arch.class_num``, else ``Global.class_num``, else 1000."""
        return self.Arch.class_num or self.Global.class_num or 1000
