"""Every LR schedule against its closed form; warmup, by_epoch, resume, ReduceOnPlateau, the plot, errors."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from torchclas.config import ConfigError
from torchclas.configure import config_from_dict
from torchclas.config.schema import LRConfig, OptimizerConfig
from torchclas.optim import LRScheduler, build_lr_scheduler, build_optimizer, lr_at_step, plot_lr_curve


def curve(cfg: LRConfig, epochs: int, spe: int) -> list[float]:
    return [lr_at_step(cfg, s, epochs, spe) for s in range(epochs * spe)]


def scheduler_for(cfg: LRConfig, epochs: int = 4, spe: int = 5) -> tuple[torch.optim.Optimizer, LRScheduler]:
    optimizer = build_optimizer(OptimizerConfig(lr=cfg), nn.Linear(2, 2))
    return optimizer, build_lr_scheduler(cfg, optimizer, epochs, spe)


# ------------------------------------------------------------------ closed forms

@pytest.mark.parametrize("name", ["Linear", "Polynomial"])
def test_polynomial(name):
    cfg = LRConfig(name=name, learning_rate=0.4, end_lr=0.04, power=2)
    epochs, spe = 5, 4  # 20 steps
    expected = [(0.4 - 0.04) * (1 - s / 20) ** 2 + 0.04 for s in range(20)]
    assert curve(cfg, epochs, spe) == pytest.approx(expected)
    assert lr_at_step(cfg, 20, epochs, spe) == pytest.approx(0.04)
    assert lr_at_step(cfg, 33, epochs, spe) == pytest.approx(0.04)  # stays at end_lr


def test_linear_defaults_decay_to_zero_after_warmup():
    cfg = LRConfig(name="Linear", learning_rate=0.3, warmup_epoch=1)
    epochs, spe = 4, 5  # 5 warmup steps, then 15 linear steps
    assert curve(cfg, epochs, spe)[:5] == pytest.approx([0.3 * s / 5 for s in range(5)])
    assert curve(cfg, epochs, spe)[5:] == pytest.approx([0.3 * (1 - (s - 5) / 15) for s in range(5, 20)])


def test_polynomial_cycle_restarts_the_decay_span():
    cfg = LRConfig(name="Polynomial", learning_rate=1.0, end_lr=0.0, power=1.0, cycle=True)
    # Paddle PolynomialDecay(cycle=True): T grows to T * ceil(t / T) past the end.
    assert lr_at_step(cfg, 10, 2, 5) == pytest.approx(0.0)
    assert lr_at_step(cfg, 15, 2, 5) == pytest.approx(1 - 15 / 20)


def test_exponential_per_step_and_by_epoch():
    cfg = LRConfig(name="Exponential", learning_rate=0.2, gamma=0.9)
    assert curve(cfg, 3, 4) == pytest.approx([0.2 * 0.9 ** (s / 4) for s in range(12)])
    stairs = LRConfig(name="Exponential", learning_rate=0.2, gamma=0.9, by_epoch=True)
    assert curve(stairs, 3, 4) == pytest.approx([0.2 * 0.9 ** (s // 4) for s in range(12)])


def test_exponential_starts_after_warmup():
    cfg = LRConfig(name="Exponential", learning_rate=0.2, gamma=0.5, warmup_epoch=1, warmup_start_lr=0.1)
    assert curve(cfg, 3, 2) == pytest.approx([0.1, 0.15, 0.2, 0.2 * 0.5 ** 0.5, 0.1, 0.2 * 0.5 ** 1.5])


def test_exponential_warmup_is_paddleclas_2_staircase():
    cfg = LRConfig(name="ExponentialWarmup", learning_rate=0.1)  # warmup 5 epochs, 0.97 every 2.4 epochs
    assert cfg.warmup_epoch == 5
    spe = 10  # 50 warmup steps, decay every 24 steps
    assert lr_at_step(cfg, 25, 30, spe) == pytest.approx(0.1 * 25 / 50)
    for step in (50, 60, 73, 74, 97, 98, 200):
        assert lr_at_step(cfg, step, 30, spe) == pytest.approx(0.1 * 0.97 ** ((step - 50) // 24)), step


def test_cosine_warmup_is_cosine_with_five_warmup_epochs():
    old = LRConfig(name="CosineWarmup", learning_rate=0.2)
    assert old.warmup_epoch == 5
    assert curve(old, 8, 3) == pytest.approx(curve(LRConfig(learning_rate=0.2, warmup_epoch=5), 8, 3))
    assert LRConfig(name="CosineWarmup", warmup_epoch=1).warmup_epoch == 1


def test_step_decays_every_step_size_epochs_after_warmup():
    cfg = LRConfig(name="Step", learning_rate=0.8, step_size=2, gamma=0.5, warmup_epoch=1)
    spe = 3  # 3 warmup steps, then x0.5 every 6 steps
    values = curve(cfg, 7, spe)
    assert values[:3] == pytest.approx([0.0, 0.8 / 3, 1.6 / 3])
    assert values[3:] == pytest.approx([0.8 * 0.5 ** ((s - 3) // 6) for s in range(3, 21)])


def test_step_size_in_steps_truncates_like_paddleclas():
    cfg = LRConfig(name="Step", learning_rate=1.0, step_size=1.5)  # int(1.5 * 3) = 4 steps
    assert curve(cfg, 3, 3) == pytest.approx([1.0] * 4 + [0.1] * 4 + [0.01])


def test_multistep_milestones_are_epochs_of_the_run():
    cfg = LRConfig(name="MultiStepDecay", learning_rate=0.5, milestones=[2, 4])
    assert curve(cfg, 5, 5) == pytest.approx([0.5] * 10 + [0.05] * 10 + [0.005] * 5)
    warm = LRConfig(name="MultiStepDecay", learning_rate=0.5, milestones=[2, 4], gamma=0.2, warmup_epoch=1)
    values = curve(warm, 5, 5)
    assert values[:5] == pytest.approx([0.1 * s for s in range(5)])
    assert values[5:] == pytest.approx([0.5] * 5 + [0.1] * 10 + [0.02] * 5)


def test_multistep_by_epoch_moves_at_epoch_starts():
    cfg = LRConfig(name="MultiStepDecay", learning_rate=1.0, milestones=[1.5], by_epoch=True)
    assert curve(cfg, 3, 4) == pytest.approx([1.0] * 8 + [0.1] * 4)  # milestone step 6, floored to epochs


def one_cycle(step: int, top: float, low: float, end: float, up_end: float, last: float) -> float:
    """Paddle OneCycleLR (two phases, cos) written out."""
    if step <= up_end:
        return top + (low - top) / 2 * (math.cos(math.pi * step / up_end) + 1)
    fraction = min((step - up_end) / (last - up_end), 1.0)
    return end + (top - end) / 2 * (math.cos(math.pi * fraction) + 1)


def test_one_cycle_two_phases():
    cfg = LRConfig(name="OneCycleLR", max_learning_rate=0.1)  # divide 25, end 1e-10, phase 0.3
    epochs, spe = 2, 10  # T = 20: up to step 0.3 * 20 - 1 = 5, down to step 19
    values = curve(cfg, epochs, spe)
    assert values == pytest.approx([one_cycle(s, 0.1, 0.004, 1e-10, 5, 19) for s in range(20)])
    assert values[0] == pytest.approx(0.004) and values[5] == pytest.approx(0.1)
    assert values[12] == pytest.approx((0.1 + 1e-10) / 2) and values[19] == pytest.approx(1e-10)
    assert lr_at_step(cfg, 25, epochs, spe) == pytest.approx(1e-10)


def test_one_cycle_linear_three_phases():
    cfg = LRConfig(name="OneCycleLR", max_learning_rate=1.0, divide_factor=10, end_learning_rate=0.01,
                   phase_pct=0.25, anneal_strategy="linear", three_phase=True)
    # T = 20: 0.1 -> 1.0 over steps 0..4, 1.0 -> 0.1 over 4..8, 0.1 -> 0.01 over 8..19
    values = curve(cfg, 2, 10)
    assert values[:5] == pytest.approx([0.1 + 0.9 * s / 4 for s in range(5)])
    assert values[4:9] == pytest.approx([1.0 - 0.9 * (s - 4) / 4 for s in range(4, 9)])
    assert values[8:] == pytest.approx([0.1 - 0.09 * (s - 8) / 11 for s in range(8, 20)])


def test_one_cycle_after_warmup_rises_from_its_start():
    cfg = LRConfig(name="OneCycleLR", max_learning_rate=0.1, warmup_epoch=1)
    values = curve(cfg, 2, 10)  # 10 warmup steps to 0.004, then the cycle over 10 steps (up to step 2)
    assert values[:10] == pytest.approx([0.004 * s / 10 for s in range(10)])
    assert values[10:] == pytest.approx([one_cycle(s, 0.1, 0.004, 1e-10, 2, 9) for s in range(10)])


@pytest.mark.parametrize("name", ["Constant", "ConstLR", "ReduceOnPlateau"])
def test_flat_schedules(name):
    cfg = LRConfig(name=name, learning_rate=0.3, warmup_epoch=1)
    assert curve(cfg, 3, 2) == pytest.approx([0.0, 0.15] + [0.3] * 4)


# ------------------------------------------------------------------ scheduler: resume, groups

RESUMABLE = [
    LRConfig(name="Cosine", learning_rate=0.2, warmup_epoch=1, eta_min=0.01),
    LRConfig(name="Linear", learning_rate=0.2, end_lr=0.02, by_epoch=True),
    LRConfig(name="Exponential", learning_rate=0.2, gamma=0.7),
    LRConfig(name="Step", learning_rate=0.2, step_size=1),
    LRConfig(name="MultiStepDecay", learning_rate=0.2, milestones=[1, 3]),
    LRConfig(name="Piecewise", decay_epochs=[2], values=[0.2, 0.02]),
    LRConfig(name="OneCycleLR", max_learning_rate=0.2, phase_pct=0.4),
    LRConfig(name="ExponentialWarmup", learning_rate=0.2, warmup_epoch=1, decay_epochs=0.5),
]


@pytest.mark.parametrize("cfg", RESUMABLE, ids=lambda c: c.name)
def test_state_dict_round_trip_continues_the_curve(cfg):
    epochs, spe = 4, 5
    optimizer, scheduler = scheduler_for(cfg, epochs, spe)
    seen = []
    for _ in range(7):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx(curve(cfg, epochs, spe)[:7])
    saved = scheduler.state_dict()
    optimizer2, scheduler2 = scheduler_for(cfg, epochs, spe)
    scheduler2.load_state_dict(saved)
    assert scheduler2.last_step == scheduler2.last_epoch == 7
    assert optimizer2.param_groups[0]["lr"] == pytest.approx(lr_at_step(cfg, 7, epochs, spe))
    scheduler.step()
    scheduler2.step()
    assert scheduler2.get_last_lr() == pytest.approx(scheduler.get_last_lr())
    assert scheduler2.get_last_lr()[0] == pytest.approx(lr_at_step(cfg, 8, epochs, spe))


def test_loads_the_lambdalr_state_of_older_checkpoints():
    cfg = LRConfig(name="Cosine", learning_rate=0.2)
    optimizer, scheduler = scheduler_for(cfg)
    scheduler.load_state_dict({"base_lrs": [0.2], "last_epoch": 6, "_step_count": 7, "lr_lambdas": [None]})
    assert scheduler.last_step == 6
    assert optimizer.param_groups[0]["lr"] == pytest.approx(lr_at_step(cfg, 6, 4, 5))


def test_lr_scale_of_each_group_multiplies_the_schedule():
    cfg = LRConfig(name="Step", learning_rate=0.4, step_size=1, gamma=0.5)
    head, stem = nn.Linear(2, 2), nn.Linear(2, 2)
    optimizer = torch.optim.SGD([{"params": head.parameters(), "lr_scale": 1.0},
                                 {"params": stem.parameters(), "lr_scale": 0.25}], lr=1.0)
    scheduler = build_lr_scheduler(cfg, optimizer, epochs=3, steps_per_epoch=2)
    assert scheduler.get_last_lr() == pytest.approx([0.4, 0.1])
    for _ in range(2):
        scheduler.step()
    assert scheduler.get_last_lr() == pytest.approx([0.2, 0.05])


def test_epoch_end_is_ignored_by_other_schedules():
    cfg = LRConfig(name="Cosine", learning_rate=0.2)
    optimizer, scheduler = scheduler_for(cfg)
    for metric in (1.0, 2.0, 3.0, 4.0):
        scheduler.epoch_end(metric)
    assert scheduler.get_last_lr() == pytest.approx([0.2])


# ------------------------------------------------------------------ ReduceOnPlateau

def plateau(**keys) -> tuple[torch.optim.Optimizer, LRScheduler]:
    return scheduler_for(LRConfig(name="ReduceOnPlateau", learning_rate=0.1, **keys))


def test_plateau_reduces_after_patience_bad_epochs():
    optimizer, scheduler = plateau(patience=2, factor=0.5)
    lrs = []
    for loss in [1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.99]:
        scheduler.epoch_end(loss)
        lrs.append(optimizer.param_groups[0]["lr"])
    # best 0.9 at epoch 2; epochs 3, 4 are tolerated (patience 2), the 3rd bad one (epoch 5) halves;
    # the count restarts: 3 more bad epochs (6, 7, 8) halve again.
    assert lrs == pytest.approx([0.1] * 4 + [0.05] * 3 + [0.025])


def test_plateau_mode_max_threshold_cooldown_and_min_lr():
    optimizer, scheduler = plateau(mode="max", patience=0, factor=0.1, threshold=0.1, cooldown=1,
                                   min_lr=0.002)
    lrs = []
    for top1 in [0.5, 0.54, 0.9, 0.91, 0.2, 0.3]:
        scheduler.epoch_end(top1)
        lrs.append(optimizer.param_groups[0]["lr"])
    # 0.54 < 0.5 * 1.1: bad -> 0.01; 0.9: cooldown, ignored; 0.91 > 0.5 * 1.1: new best;
    # 0.2: bad -> max(0.001, min_lr 0.002); 0.3: cooldown.
    assert lrs == pytest.approx([0.1, 0.01, 0.01, 0.01, 0.002, 0.002])
    assert scheduler.best == pytest.approx(0.91)


def test_plateau_abs_threshold_and_none_metric():
    optimizer, scheduler = plateau(patience=0, threshold=0.05, threshold_mode="abs")
    scheduler.epoch_end(1.0)
    scheduler.epoch_end(None)  # no metric: nothing happens
    scheduler.epoch_end(0.96)  # not 0.05 lower: bad
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


def test_plateau_keeps_warmup_and_resumes_its_state():
    cfg = LRConfig(name="ReduceOnPlateau", learning_rate=0.1, warmup_epoch=1, patience=0, factor=0.5)
    optimizer, scheduler = scheduler_for(cfg, epochs=4, spe=4)
    assert optimizer.param_groups[0]["lr"] == 0.0
    for _ in range(4):
        scheduler.step()
    scheduler.epoch_end(1.0)
    scheduler.epoch_end(2.0)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)
    optimizer2, scheduler2 = scheduler_for(cfg, epochs=4, spe=4)
    scheduler2.load_state_dict(scheduler.state_dict())
    assert optimizer2.param_groups[0]["lr"] == pytest.approx(0.05)
    scheduler.epoch_end(3.0)
    scheduler2.epoch_end(3.0)
    assert scheduler.get_last_lr() == pytest.approx([0.025])
    assert scheduler2.get_last_lr() == pytest.approx([0.025])


# ------------------------------------------------------------------ plot

@pytest.mark.parametrize("cfg", [
    LRConfig(name="Cosine", learning_rate=0.1, warmup_epoch=2),
    LRConfig(name="ReduceOnPlateau", learning_rate=0.1, warmup_epoch=1),
], ids=lambda c: c.name)
def test_plot_lr_curve_writes_a_png(tmp_path, cfg):
    path = plot_lr_curve(cfg, epochs=10, steps_per_epoch=7, path=tmp_path / "run" / "lr.png")
    assert path == tmp_path / "run" / "lr.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


# ------------------------------------------------------------------ config errors name the key

def _error(lr: dict) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"Arch": {"name": "ResNet18"}, "Optimizer": {"lr": lr}})
    return str(info.value)


@pytest.mark.parametrize("lr, message", [
    ({"name": "Cosine", "gamma": 0.1}, "'Optimizer.lr.gamma' is not a key of Cosine (Cosine takes: eta_min)"),
    ({"name": "Step", "eta_min": 0.1, "step_size": 2}, "'Optimizer.lr.eta_min' is not a key of Step"),
    ({"name": "ReduceOnPlateau", "milestones": [3]},
     "'Optimizer.lr.milestones' is not a key of ReduceOnPlateau"),
    ({"name": "Step"}, "Step needs 'Optimizer.lr.step_size'"),
    ({"name": "Exponential"}, "Exponential needs 'Optimizer.lr.gamma'"),
    ({"name": "MultiStepDecay", "milestones": [30, 10]}, "'Optimizer.lr.milestones' must increase"),
    ({"name": "OneCycleLR", "max_learning_rate": 0.1, "three_phase": True, "phase_pct": 0.6},
     "phase_pct' < 0.5"),
    ({"name": "ExponentialWarmup", "decay_epochs": [1, 2]}, "'Optimizer.lr.decay_epochs' must be one number"),
    ({"name": "Piecewise", "decay_epochs": 2, "values": [0.1]}, "'Optimizer.lr.decay_epochs' must be a list"),
    ({"name": "OneCycle"}, "(did you mean 'OneCycleLR'?)"),
    ({"name": "ReduceOnPlateau", "mode": "maximum"}, "Optimizer.lr.mode: invalid value 'maximum'"),
])
def test_config_errors_name_the_key(lr, message):
    assert message in _error(lr)


def test_every_schedule_key_has_a_field_and_defaults_resolve():
    from torchclas.config.schema_optim import LR_SCHEDULE_KEYS

    for name, keys in LR_SCHEDULE_KEYS.items():
        for key in keys:
            assert key in LRConfig.model_fields, (name, key)
    assert LRConfig(name="Step", step_size=3).param("gamma") == 0.1
    assert LRConfig(name="OneCycleLR", max_learning_rate=1.0).param("end_learning_rate") == 1e-10
    with pytest.raises(ValidationError):
        LRConfig(name="Cosine", factor=0.5)


DUMPED = RESUMABLE + [LRConfig(name="CosineWarmup"), LRConfig(name="ReduceOnPlateau", mode="max")]


@pytest.mark.parametrize("cfg", DUMPED, ids=lambda c: c.name)
def test_a_dumped_schedule_validates_back_unchanged(cfg):
    # what save_config writes (every key, the unused ones as null) must load again
    assert LRConfig.model_validate(cfg.model_dump(mode="json")) == cfg
