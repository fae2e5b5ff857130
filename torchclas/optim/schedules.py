"""LR schedules of PaddleClas as pure functions of the iteration, and the scheduler that applies them.

``lr_at_step(cfg, step, epochs, steps_per_epoch)`` is the whole schedule: warmup, then the decay
named by ``Optimizer.lr.name``. ``LRScheduler`` only counts steps and writes that value into the
optimizer's param groups, so resuming needs nothing but the step count (and, for
``ReduceOnPlateau``, its plateau state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ..config.registry import Registry
from ..config.schema import LRConfig

__all__ = ["SCHEDULES", "LRScheduler", "build_lr_scheduler", "decay_start_lr", "lr_at_step"]


@dataclass(frozen=True)
class Progress:
    """Where a step lies: ``step`` (floored to its epoch with ``by_epoch``), ``since`` the end of
    warmup, the ``span`` of the decay (run length minus warmup) and ``steps_per_epoch``."""

    step: int
    since: int
    span: int
    steps_per_epoch: int


def _constant(cfg: LRConfig, p: Progress) -> float:
    return cfg.learning_rate


def _cosine(cfg: LRConfig, p: Progress) -> float:
    eta_min = cfg.param("eta_min")
    progress = min(p.since / p.span, 1.0)
    return eta_min + 0.5 * (cfg.learning_rate - eta_min) * (1 + math.cos(math.pi * progress))


def _polynomial(cfg: LRConfig, p: Progress) -> float:
    # Paddle PolynomialDecay: (lr - end_lr) * (1 - t / T) ** power + end_lr; cycle restarts T.
    end_lr, since, span = cfg.param("end_lr"), p.since, p.span
    if cfg.param("cycle"):
        span *= max(math.ceil(since / span), 1)
    else:
        since = min(since, span)
    return (cfg.learning_rate - end_lr) * (1 - since / span) ** cfg.param("power") + end_lr


def _exponential(cfg: LRConfig, p: Progress) -> float:
    return cfg.learning_rate * cfg.param("gamma") ** (p.since / p.steps_per_epoch)


def _exponential_warmup(cfg: LRConfig, p: Progress) -> float:
    # PaddleClas 2.0: decay_rate once every decay_epochs epochs after warmup (staircase).
    every = max(round(cfg.param("decay_epochs") * p.steps_per_epoch), 1)
    return cfg.learning_rate * cfg.param("decay_rate") ** (p.since // every)


def _step(cfg: LRConfig, p: Progress) -> float:
    every = max(int(cfg.param("step_size") * p.steps_per_epoch), 1)
    return cfg.learning_rate * cfg.param("gamma") ** (p.since // every)


def _piecewise(cfg: LRConfig, p: Progress) -> float:
    boundaries = [round(e * p.steps_per_epoch) for e in cfg.decay_epochs or []]
    return (cfg.values or [cfg.learning_rate])[sum(p.step >= b for b in boundaries)]


def _multi_step(cfg: LRConfig, p: Progress) -> float:
    passed = sum(p.step >= round(m * p.steps_per_epoch) for m in cfg.milestones or [])
    return cfg.learning_rate * cfg.param("gamma") ** passed


def _one_cycle(cfg: LRConfig, p: Progress) -> float:
    # Paddle OneCycleLR over the steps after warmup: phase ends at phase_pct * T - 1 (and
    # 2 * phase_pct * T - 2 with three_phase) and T - 1; values clamp after the last step.
    top, end = cfg.param("max_learning_rate"), cfg.param("end_learning_rate")
    low, pct, total = top / cfg.param("divide_factor"), cfg.param("phase_pct"), p.span
    phases = [(pct * total - 1, low, top), (total - 1, top, end)]
    if cfg.param("three_phase"):
        phases = [(pct * total - 1, low, top), (2 * pct * total - 2, top, low), (total - 1, low, end)]
    start = 0.0
    for index, (stop, first, last) in enumerate(phases):
        if p.since <= stop or index == len(phases) - 1:
            fraction = min((p.since - start) / (stop - start), 1.0) if stop > start else 1.0
            if cfg.param("anneal_strategy") == "linear":
                return first + (last - first) * fraction
            return last + (first - last) / 2 * (math.cos(math.pi * fraction) + 1)
        start = stop
    raise AssertionError("unreachable")


def _cyclic(cfg: LRConfig, p: Progress) -> float:
    # Paddle CyclicLR (PyTorch's rule) over the scheduler steps after warmup: up from
    # base_learning_rate to max_learning_rate in step_size_up steps, down in step_size_down;
    # triangular2 halves the amplitude every cycle, exp_range scales it by exp_gamma ** steps.
    # Without scale_fn (a YAML cannot give one) the mode picks the scale and its argument.
    base, top = cfg.param("base_learning_rate"), cfg.param("max_learning_rate")
    up = cfg.param("step_size_up")
    size = up + (cfg.param("step_size_down") or up)
    steps = p.since // p.steps_per_epoch if cfg.by_epoch else p.since
    cycle = 1 + steps // size
    where = 1.0 + steps / size - cycle
    rising = up / size
    height = where / rising if where <= rising else (1 - where) / (1 - rising)
    mode = cfg.param("mode")
    scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (cycle - 1),
             "exp_range": cfg.param("exp_gamma") ** steps}[mode]
    return base + (top - base) * height * scale


SCHEDULES: Registry[Callable[[LRConfig, Progress], float]] = Registry("LR schedule", {
    "Constant": _constant, "ConstLR": _constant, "ReduceOnPlateau": _constant,
    "Cosine": _cosine, "CosineWarmup": _cosine, "Linear": _polynomial, "Polynomial": _polynomial,
    "Exponential": _exponential, "ExponentialWarmup": _exponential_warmup, "Step": _step,
    "Piecewise": _piecewise, "MultiStepDecay": _multi_step, "OneCycleLR": _one_cycle, "Cyclic": _cyclic,
})
"""Decay functions by ``Optimizer.lr.name`` (ReduceOnPlateau's curve before any reduction)."""


def decay_start_lr(cfg: LRConfig) -> float:
    """Where the decay starts, which warmup rises to: ``learning_rate``, Piecewise's ``values[0]``,
    OneCycleLR's ``max_learning_rate / divide_factor`` or Cyclic's ``base_learning_rate``."""
    if cfg.name == "Piecewise" and cfg.values:
        return cfg.values[0]
    if cfg.name == "Cyclic":
        return cfg.param("base_learning_rate")
    if cfg.name == "OneCycleLR":
        return cfg.param("max_learning_rate") / cfg.param("divide_factor")
    return cfg.learning_rate


def lr_at_step(cfg: LRConfig, step: int, epochs: int, steps_per_epoch: int) -> float:
    """The learning rate at iteration ``step`` (0-based) of a run of ``epochs`` epochs.

    Warmup rises linearly from ``warmup_start_lr`` to where the decay starts (``learning_rate``;
    ``values[0]`` for Piecewise; ``max_learning_rate / divide_factor`` for OneCycleLR;
    ``base_learning_rate`` for Cyclic) over
    ``round(warmup_epoch * steps_per_epoch)`` steps. Decays that run over time (Cosine, Linear,
    Exponential, Step, OneCycleLR, Cyclic) start at the end of warmup and end with the run; epoch
    boundaries that a config names (Piecewise ``decay_epochs``, MultiStepDecay ``milestones``)
    count from the start of the run. With ``by_epoch`` the decay (not the warmup) moves once per
    epoch (and Cyclic's step sizes count epochs, as Paddle's scheduler then steps once an epoch).

    Example:
        >>> lr_at_step(LRConfig(name="Step", learning_rate=0.1, step_size=2), 25, 10, 10)
        0.010000000000000002
    """
    warmup_steps = round(cfg.warmup_epoch * steps_per_epoch)
    if step < warmup_steps:
        peak = decay_start_lr(cfg)
        return cfg.warmup_start_lr + (peak - cfg.warmup_start_lr) * step / warmup_steps
    if cfg.by_epoch:
        step = (step // steps_per_epoch) * steps_per_epoch
    progress = Progress(step=step, since=max(step - warmup_steps, 0),
                        span=max(epochs * steps_per_epoch - warmup_steps, 1), steps_per_epoch=steps_per_epoch)
    return SCHEDULES[cfg.name](cfg, progress)


class LRScheduler:
    """Sets every param group's ``lr`` to ``lr_at_step(step) * group["lr_scale"]``.

    Call ``step()`` after every optimizer step and ``epoch_end(metric)`` after every epoch
    (only ReduceOnPlateau uses the metric). ``state_dict()``/``load_state_dict()`` resume it.

    Args:
        cfg: the ``Optimizer.lr`` section.
        optimizer: any optimizer with ``param_groups`` (torch, LARS, Lookahead).
        epochs: epochs of the whole run.
        steps_per_epoch: optimizer steps per epoch.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(4, 2).parameters(), lr=0.1)
        >>> scheduler = LRScheduler(LRConfig(name="Step", learning_rate=0.1, step_size=2), optimizer,
        ...                         epochs=10, steps_per_epoch=100)
        >>> for _ in range(200):
        ...     optimizer.step(); scheduler.step()
        >>> round(optimizer.param_groups[0]["lr"], 6)
        0.01
    """

    def __init__(self, cfg: LRConfig, optimizer: Any, epochs: int, steps_per_epoch: int) -> None:
        self.cfg, self.optimizer = cfg, optimizer
        self.epochs, self.steps_per_epoch = epochs, max(steps_per_epoch, 1)
        self.last_step = 0
        self.scale = 1.0  # lowered by a NaN rollback (Global.nan_lr_factor)
        plateau = cfg.name == "ReduceOnPlateau"
        self.level: float | None = cfg.learning_rate if plateau else None
        self.best: float | None = None
        self.bad_epochs = 0
        self.cooldown_left = 0
        self._apply()

    @property
    def last_epoch(self) -> int:
        """``last_step`` under torch's scheduler name (torch counts ``step()`` calls there too)."""
        return self.last_step

    def current_lr(self) -> float:
        """The base LR (before per-group ``lr_scale``) at the current step."""
        lr = lr_at_step(self.cfg, self.last_step, self.epochs, self.steps_per_epoch)
        return self.scale * (lr if self.level is None else min(lr, self.level))

    def _apply(self) -> None:
        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)

    def step(self) -> None:
        """Advance one iteration; call after ``optimizer.step()``."""
        self.last_step += 1
        self._apply()

    def epoch_end(self, metric: float | None = None) -> None:
        """End of an epoch: ReduceOnPlateau compares ``metric`` with the best so far.

        Paddle's rule: an epoch that does not beat the best by ``threshold`` is bad; after
        more than ``patience`` bad epochs in a row the level drops to
        ``max(level * factor, min_lr)``, then ``cooldown`` epochs are ignored. ``mode: min``
        wants a falling metric (loss), ``max`` a rising one (top-1). Other schedules ignore it.
        """
        if self.level is None or metric is None:
            return
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
        else:
            if self.best is None or self._is_better(metric, self.best):
                self.best, self.bad_epochs = float(metric), 0
            else:
                self.bad_epochs += 1
            if self.bad_epochs > self.cfg.param("patience"):
                self.cooldown_left, self.bad_epochs = self.cfg.param("cooldown"), 0
                lower = max(self.level * self.cfg.param("factor"), self.cfg.param("min_lr"))
                if self.level - lower > self.cfg.param("epsilon"):
                    self.level = lower
        self._apply()

    def _is_better(self, metric: float, best: float) -> bool:
        threshold = self.cfg.param("threshold")
        margin = best * threshold if self.cfg.param("threshold_mode") == "rel" else threshold
        if self.cfg.param("mode") == "min":
            return metric < best - margin
        return metric > best + margin

    def set_scale(self, scale: float) -> None:
        """Multiply the whole schedule by ``scale`` from now on (a NaN rollback lowers it)."""
        self.scale = float(scale)
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The LR of each param group, as torch schedulers report it."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Step count, LR scale and plateau state (plain numbers, loadable with ``weights_only=True``)."""
        return {"last_step": self.last_step, "scale": self.scale, "level": self.level, "best": self.best,
                "bad_epochs": self.bad_epochs, "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` (or a torch ``LambdaLR`` state of older checkpoints)."""
        if "last_step" not in state:  # LambdaLR: last_epoch counts its steps
            state = {"last_step": state["last_epoch"]}
        self.last_step = int(state["last_step"])
        for key in ("scale", "level", "best", "bad_epochs", "cooldown_left"):
            if key in state:
                setattr(self, key, state[key])
        self._apply()


def build_lr_scheduler(cfg: LRConfig, optimizer: Any, epochs: int, steps_per_epoch: int) -> LRScheduler:
    """The per-iteration ``LRScheduler`` of ``Optimizer.lr`` for a run of ``epochs`` epochs.

    Example:
        >>> import torch
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(4, 2).parameters(), lr=0.1)
        >>> scheduler = build_lr_scheduler(LRConfig(name="Cosine", learning_rate=0.1), optimizer, 10, 100)
    """
    return LRScheduler(cfg, optimizer, epochs, steps_per_epoch)
