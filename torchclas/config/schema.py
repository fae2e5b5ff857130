"""The typed config: PaddleClas section and key names, validated before any work starts.

Every section forbids unknown keys, so a typo fails with its nearest valid spelling. Keys that
PaddleClas configs carry but torchclas does not implement yet are declared with
``not_yet(...)``: they load, and ``unimplemented_keys`` reports them by name when set.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Optional

from pydantic import (AliasChoices, BaseModel, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)

__all__ = [
    "Config", "GlobalConfig", "ArchConfig", "LossConfig", "OptimizerConfig", "LRConfig",
    "RegularizerConfig", "LookaheadConfig", "DatasetConfig", "SamplerConfig", "LoaderConfig", "SplitConfig",
    "DataLoaderConfig", "InferConfig", "PostProcessConfig", "MetricConfig", "AMPConfig", "EMAConfig",
    "not_yet",
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
    accum_steps: int = Field(1, ge=1)
    auto_scale_lr: bool = False
    compile: bool | str = False
    to_static: bool = False
    sync_bn: bool = False
    use_visualdl: bool = not_yet(False)
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


REQUIRED = "<required>"
"""Marks a schedule or optimizer key that has no default."""

_COSINE = {"eta_min": 0.0}
_POLYNOMIAL = {"end_lr": 0.0, "power": 1.0, "cycle": False}
# The keys each ``Optimizer.lr.name`` takes beyond name/learning_rate/warmup_epoch/
# warmup_start_lr/by_epoch/last_epoch, with their defaults (PaddleClas learning_rate.py names).
LR_SCHEDULE_KEYS: dict[str, dict[str, Any]] = {
    "Constant": {}, "ConstLR": {}, "Cosine": _COSINE, "CosineWarmup": _COSINE,
    "Piecewise": {"decay_epochs": None, "values": None},  # config/__init__.py checks the pair
    "MultiStepDecay": {"milestones": REQUIRED, "gamma": 0.1},
    "Step": {"step_size": REQUIRED, "gamma": 0.1},
    "Linear": _POLYNOMIAL, "Polynomial": _POLYNOMIAL,
    "Exponential": {"gamma": REQUIRED},
    "ExponentialWarmup": {"decay_rate": 0.97, "decay_epochs": 2.4},
    "OneCycleLR": {"max_learning_rate": REQUIRED, "divide_factor": 25.0, "end_learning_rate": 1e-10,
                   "phase_pct": 0.3, "anneal_strategy": "cos", "three_phase": False},
    "ReduceOnPlateau": {"mode": "min", "factor": 0.1, "patience": 10, "threshold": 1e-4,
                        "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.0, "epsilon": 1e-8},
}
_LARS = {"momentum": 0.9, "lars_coeff": 0.001, "lars_weight_decay": 0.0005, "epsilon": 0.0,
         "exclude_from_weight_decay": []}
# The keys each ``Optimizer.name`` takes, with their defaults (Paddle's names and defaults).
OPTIMIZER_KEYS: dict[str, dict[str, Any]] = {
    "Momentum": {"momentum": 0.9, "use_nesterov": False, "weight_decay": 0.0},
    "SGD": {"weight_decay": 0.0},
    "Adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.0},
    "AdamW": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.01},
    "RMSProp": {"rho": 0.95, "momentum": 0.0, "epsilon": 1e-6, "centered": False, "weight_decay": 0.0},
    "LARS": _LARS, "LarsMomentum": _LARS,
}


def _check_keys(section: BaseModel, where: str, owner: str, table: dict[str, dict[str, Any]]) -> None:
    """Raise naming a key set in ``section`` that ``owner`` does not take, or a required one missing."""
    takes = table[owner]
    for key in sorted({k for keys in table.values() for k in keys} - set(takes)):
        if getattr(section, key) is not None:
            raise ValueError(f"'{where}.{key}' is not a key of {owner} "
                             f"({owner} takes: {', '.join(takes) or 'no extra keys'})")
    for key, default in takes.items():
        if default is REQUIRED and getattr(section, key) is None:
            raise ValueError(f"{owner} needs '{where}.{key}'")


class LRConfig(Section):
    """``Optimizer.lr``: schedule name, base LR, warmup and the schedule's own keys.

    Stepped per iteration by default (``by_epoch: true`` moves the decay once per epoch).
    ``LR_SCHEDULE_KEYS`` lists each schedule's keys and defaults; a key the schedule does not
    take is an error naming it. ``param(key)`` reads a key with its schedule default.
    """

    name: Literal["Constant", "ConstLR", "Cosine", "CosineWarmup", "Piecewise", "MultiStepDecay",
                  "Step", "Linear", "Polynomial", "Exponential", "ExponentialWarmup", "OneCycleLR",
                  "ReduceOnPlateau"] = "Cosine"
    learning_rate: float = Field(0.1, gt=0)
    warmup_epoch: float = Field(0, ge=0)
    warmup_start_lr: float = Field(0.0, ge=0)
    eta_min: Optional[float] = Field(None, ge=0)
    decay_epochs: Optional[list[float] | float] = None
    values: Optional[list[float]] = None
    by_epoch: bool = False
    last_epoch: int = not_yet(-1)
    milestones: Optional[list[float]] = None
    gamma: Optional[float] = Field(None, gt=0)
    step_size: Optional[float] = Field(None, gt=0)
    end_lr: Optional[float] = Field(None, ge=0)
    power: Optional[float] = Field(None, gt=0)
    cycle: Optional[bool] = None
    decay_rate: Optional[float] = Field(None, gt=0)
    max_learning_rate: Optional[float] = Field(None, gt=0)
    divide_factor: Optional[float] = Field(None, gt=0)
    end_learning_rate: Optional[float] = Field(None, ge=0)
    phase_pct: Optional[float] = Field(None, ge=0, le=1)
    anneal_strategy: Optional[Literal["cos", "linear"]] = None
    three_phase: Optional[bool] = None
    mode: Optional[Literal["min", "max"]] = None
    factor: Optional[float] = Field(None, gt=0, lt=1)
    patience: Optional[int] = Field(None, ge=0)
    threshold: Optional[float] = Field(None, ge=0)
    threshold_mode: Optional[Literal["rel", "abs"]] = None
    cooldown: Optional[int] = Field(None, ge=0)
    min_lr: Optional[float] = Field(None, ge=0)
    epsilon: Optional[float] = Field(None, ge=0)

    def param(self, key: str) -> Any:
        """The value of ``key``, or the chosen schedule's default for it."""
        value = getattr(self, key)
        return LR_SCHEDULE_KEYS[self.name].get(key) if value is None else value

    @model_validator(mode="before")
    @classmethod
    def _warmup_names_warm_up(cls, data: Any) -> Any:
        # PaddleClas 2.0's CosineWarmup/ExponentialWarmup warm up for 5 epochs unless told otherwise.
        if isinstance(data, dict) and data.get("name") in ("CosineWarmup", "ExponentialWarmup"):
            return {"warmup_epoch": 5, **data}
        return data

    @model_validator(mode="after")
    def _keys_fit_schedule(self) -> LRConfig:
        _check_keys(self, "Optimizer.lr", self.name, LR_SCHEDULE_KEYS)
        listed = isinstance(self.decay_epochs, list)
        if self.decay_epochs is not None and listed != (self.name == "Piecewise"):
            kind = "a list of epochs" if self.name == "Piecewise" else "one number of epochs"
            raise ValueError(f"'Optimizer.lr.decay_epochs' must be {kind} for {self.name}")
        if self.milestones is not None and sorted(set(self.milestones)) != self.milestones:
            raise ValueError(f"'Optimizer.lr.milestones' must increase, got {self.milestones}")
        if self.name == "OneCycleLR" and self.param("three_phase") and self.param("phase_pct") >= 0.5:
            raise ValueError("OneCycleLR with three_phase needs 'Optimizer.lr.phase_pct' < 0.5")
        return self


class RegularizerConfig(Section):
    """``Optimizer.regularizer``: L2 weight decay, coupled into the gradient as in Paddle."""

    name: Literal["L2"] = "L2"
    coeff: float = Field(0.0, ge=0)


class LookaheadConfig(Section):
    """``Optimizer.lookahead``: every ``k`` steps, slow weights move ``alpha`` of the way to the fast ones."""

    k: int = Field(5, ge=1)
    alpha: float = Field(0.5, gt=0, le=1)


class OptimizerConfig(Section):
    """``Optimizer``: the optimizer (PaddleClas names), its LR schedule, weight decay and param groups.

    ``OPTIMIZER_KEYS`` lists each optimizer's keys and defaults; a key the optimizer does not
    take is an error naming it. ``param(key)`` reads a key with its optimizer default.
    """

    name: Literal["Momentum", "SGD", "Adam", "AdamW", "RMSProp", "LARS", "LarsMomentum"] = "Momentum"
    momentum: Optional[float] = Field(None, ge=0, lt=1)
    use_nesterov: Optional[bool] = None
    lr: LRConfig = Field(default_factory=LRConfig)
    regularizer: Optional[RegularizerConfig] = None
    multi_precision: bool = not_yet(False)
    no_weight_decay_name: Optional[str] = None
    one_dim_param_no_weight_decay: bool = False
    weight_decay: Optional[float] = Field(None, ge=0)
    beta1: Optional[float] = Field(None, ge=0, lt=1)
    beta2: Optional[float] = Field(None, ge=0, lt=1)
    epsilon: Optional[float] = Field(None, ge=0)
    rho: Optional[float] = Field(None, ge=0, lt=1)
    centered: Optional[bool] = None
    lars_coeff: Optional[float] = Field(None, gt=0)
    lars_weight_decay: Optional[float] = Field(None, ge=0)
    exclude_from_weight_decay: Optional[list[str]] = None
    layerwise_decay: Optional[float] = Field(
        None, gt=0, le=1, validation_alias=AliasChoices("layerwise_decay", "layerwise_lr_decay"))
    freeze_params: Optional[list[str]] = None
    freeze_stages: Optional[int] = Field(None, ge=0)
    lookahead: Optional[LookaheadConfig] = None

    def param(self, key: str) -> Any:
        """The value of ``key``, or the chosen optimizer's default for it."""
        value = getattr(self, key)
        return OPTIMIZER_KEYS[self.name].get(key) if value is None else value

    @field_validator("freeze_params")
    @classmethod
    def _patterns_compile(cls, patterns: Optional[list[str]]) -> Optional[list[str]]:
        for pattern in patterns or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {pattern!r} ({exc})") from None
        return patterns

    @model_validator(mode="after")
    def _keys_fit_optimizer(self) -> OptimizerConfig:
        _check_keys(self, "Optimizer", self.name, OPTIMIZER_KEYS)
        if self.regularizer is not None:
            own = {"AdamW": "weight_decay", "LARS": "lars_weight_decay", "LarsMomentum": "lars_weight_decay"}
            if self.name in own:
                raise ValueError(f"{self.name} decays with 'Optimizer.{own[self.name]}'; "
                                 "remove 'Optimizer.regularizer'")
            if self.weight_decay is not None:
                raise ValueError("set 'Optimizer.regularizer' or 'Optimizer.weight_decay', not both")
        return self


class DatasetConfig(Section):
    """``DataLoader.<split>.dataset``: a file list or an image folder, plus transforms."""

    name: str = "ImageNetDataset"
    image_root: str = "./"
    cls_label_path: Optional[str] = None
    delimiter: Optional[str] = None
    transform_ops: OpList = None
    batch_transform_ops: OpList = None
    relabel: bool = not_yet(False)


class SamplerConfig(Section):
    """``DataLoader.<split>.sampler``: per-process batch size, shuffling, last partial batch.

    ``ClassBalancedSampler`` draws every class equally often; ``WeightedSampler`` draws a sample
    of class ``c`` with weight ``class_weights[c]`` (``auto``: 1/count, balanced). Both draw
    ``num_samples`` (default: the dataset size) samples with replacement per epoch.
    """

    NAMES: ClassVar[tuple[str, ...]] = (
        "DistributedBatchSampler", "BatchSampler", "ClassBalancedSampler", "WeightedSampler")
    NOT_YET_IMPLEMENTED: ClassVar[tuple[str, ...]] = (
        "PKSampler", "DistributedRandomIdentitySampler", "MultiScaleSampler", "RASampler", "MixSampler")

    name: str = "DistributedBatchSampler"
    batch_size: int = Field(64, ge=1)
    drop_last: bool = False
    shuffle: bool = False
    class_weights: Any = Field(None, validate_default=True)
    num_samples: Optional[int] = Field(None, ge=1)

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

    @field_validator("num_samples")
    @classmethod
    def _weighted_only(cls, value: Optional[int], info: ValidationInfo) -> Optional[int]:
        name = info.data.get("name")
        if value is not None and name is not None and name not in ("ClassBalancedSampler", "WeightedSampler"):
            raise ValueError(f"num_samples is a key of ClassBalancedSampler and WeightedSampler, not {name}")
        return value


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


class AMPConfig(Section):
    """``AMP``: mixed precision. ``O1`` autocasts ops; ``O2`` also keeps the model in the low dtype.

    ``dtype: auto`` is bfloat16 on CPU and float16 on GPU; float16 uses dynamic loss scaling
    starting at ``scale_loss`` (a fixed scale when ``use_dynamic_loss_scaling`` is false).
    """

    use_amp: bool = True
    level: Literal["O1", "O2"] = "O1"
    dtype: Literal["auto", "bfloat16", "float16"] = "auto"
    scale_loss: float = Field(65536.0, gt=0)
    use_dynamic_loss_scaling: bool = True
    use_fp16_test: bool = False
    use_promote: bool = not_yet(False)


class EMAConfig(Section):
    """``EMA``: an exponential moving average of the weights, used for evaluation and ``best_model``.

    After every optimizer step ``ema = decay * ema + (1 - decay) * weights`` (buffers too).
    """

    decay: float = Field(0.9999, gt=0, lt=1)


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

    @property
    def class_num(self) -> int:
        """Number of classes: ``Arch.class_num``, else ``Global.class_num``, else 1000."""
        return self.Arch.class_num or self.Global.class_num or 1000
