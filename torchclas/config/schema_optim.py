"""``Optimizer`` section: optimizer, LR schedule, weight decay, Lookahead, with the keys and
defaults of each PaddleClas optimizer and schedule (``OPTIMIZER_KEYS``, ``LR_SCHEDULE_KEYS``)."""

from __future__ import annotations

import re
from typing import Any, Literal, Optional

from pydantic import AliasChoices, Field, field_validator, model_validator

from .schema_base import REQUIRED, Section, check_keys, ignored, not_yet

__all__ = ["LRConfig", "RegularizerConfig", "LookaheadConfig", "OptimizerConfig", "LR_SCHEDULE_KEYS",
           "OPTIMIZER_KEYS", "FUSED_OPTIMIZERS", "REQUIRED"]


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
    "Cyclic": {"base_learning_rate": REQUIRED, "max_learning_rate": REQUIRED, "step_size_up": REQUIRED,
               "step_size_down": None, "mode": "triangular", "exp_gamma": 1.0, "scale_mode": "cycle"},
}
_MODES = {"ReduceOnPlateau": ("min", "max"), "Cyclic": ("triangular", "triangular2", "exp_range")}
_LARS = {"momentum": 0.9, "lars_coeff": 0.001, "lars_weight_decay": 0.0005, "epsilon": 0.0,
         "exclude_from_weight_decay": []}
FUSED_OPTIMIZERS = ("Momentum", "SGD", "Adam", "AdamW", "AdamWDL")
"""The optimizers torch has a fused (single-kernel) implementation of, on CPU and CUDA."""
# The keys each ``Optimizer.name`` takes, with their defaults (Paddle's names and defaults).
OPTIMIZER_KEYS: dict[str, dict[str, Any]] = {
    "Momentum": {"momentum": 0.9, "use_nesterov": False, "weight_decay": 0.0},
    "SGD": {"weight_decay": 0.0},
    "Adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.0},
    "AdamW": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.01, "filter_bias_and_bn": False},
    "AdamWDL": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.01, "filter_bias_and_bn": True},
    "RMSProp": {"rho": 0.95, "momentum": 0.0, "epsilon": 1e-6, "centered": False, "weight_decay": 0.0},
    "LARS": _LARS, "LarsMomentum": _LARS,
}


class LRConfig(Section):
    """``Optimizer.lr``: schedule name, base LR, warmup and the schedule's own keys.

    Stepped per iteration by default (``by_epoch: true`` moves the decay once per epoch).
    ``LR_SCHEDULE_KEYS`` lists each schedule's keys and defaults; a key the schedule does not
    take is an error naming it. ``param(key)`` reads a key with its schedule default.
    """

    name: Literal["Constant", "ConstLR", "Cosine", "CosineWarmup", "Piecewise", "MultiStepDecay",
                  "Step", "Linear", "Polynomial", "Exponential", "ExponentialWarmup", "OneCycleLR",
                  "ReduceOnPlateau", "Cyclic"] = "Cosine"
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
    mode: Optional[Literal["min", "max", "triangular", "triangular2", "exp_range"]] = None
    factor: Optional[float] = Field(None, gt=0, lt=1)
    patience: Optional[int] = Field(None, ge=0)
    threshold: Optional[float] = Field(None, ge=0)
    threshold_mode: Optional[Literal["rel", "abs"]] = None
    cooldown: Optional[int] = Field(None, ge=0)
    min_lr: Optional[float] = Field(None, ge=0)
    epsilon: Optional[float] = Field(None, ge=0)
    base_learning_rate: Optional[float] = Field(None, gt=0)
    step_size_up: Optional[int] = Field(None, ge=1)
    step_size_down: Optional[int] = Field(None, ge=1)
    exp_gamma: Optional[float] = Field(None, gt=0)
    scale_fn: None = None
    """Paddle's CyclicLR takes a Python function here; a YAML file cannot hold one (null only)."""
    scale_mode: Optional[Literal["cycle", "iterations"]] = None
    step_each_epoch: Optional[int] = ignored(
        None, "PaddleClas overwrites it with the train loader's optimizer steps per epoch; torchclas counts them too")
    verbose: bool = ignored(False, "Paddle prints every LR update; torchclas logs the LR each epoch and draws lr.png")

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
        check_keys(self, "Optimizer.lr", self.name, LR_SCHEDULE_KEYS)
        modes = _MODES.get(self.name, ())
        if self.mode is not None and self.mode not in modes:
            raise ValueError(f"'Optimizer.lr.mode' of {self.name} is one of {', '.join(modes)}, got '{self.mode}'")
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

    name: Literal["Momentum", "SGD", "Adam", "AdamW", "AdamWDL", "RMSProp", "LARS", "LarsMomentum"] = "Momentum"
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
    filter_bias_and_bn: Optional[bool] = None
    """AdamW/AdamWDL: no decay for 1-D parameters, ``*.bias`` and the model's ``no_weight_decay()`` names."""
    clip_norm: Optional[float] = Field(None, gt=0)
    """Paddle's ``ClipGradByNorm``: each gradient tensor whose L2 norm exceeds it is scaled down to it."""
    clip_grad: Any = ignored(None, "PaddleClas's AdamW takes clip_grad into **args and drops it, so it clips "
                                   "nothing there; Optimizer.clip_norm clips")
    freeze_params: Optional[list[str]] = None
    freeze_stages: Optional[int] = Field(None, ge=0)
    lookahead: Optional[LookaheadConfig] = None
    fused: Optional[bool] = None
    """torch's fused optimizer kernel: None (auto) where torch has one (SGD, Momentum, Adam, AdamW),
    True to require it, False for the multi-tensor (``foreach``) path."""

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
        check_keys(self, "Optimizer", self.name, OPTIMIZER_KEYS)
        if self.fused and self.name not in FUSED_OPTIMIZERS:
            raise ValueError(f"Optimizer.fused: torch has no fused {self.name}; fused kernels exist for "
                             f"{', '.join(FUSED_OPTIMIZERS)} (set fused: false or leave it unset)")
        if self.regularizer is not None:
            own = {"AdamW": "weight_decay", "AdamWDL": "weight_decay", "LARS": "lars_weight_decay", "LarsMomentum": "lars_weight_decay"}
            if self.name in own:
                raise ValueError(f"{self.name} decays with 'Optimizer.{own[self.name]}'; "
                                 "remove 'Optimizer.regularizer'")
            if self.weight_decay is not None:
                raise ValueError("set 'Optimizer.regularizer' or 'Optimizer.weight_decay', not both")
        return self
