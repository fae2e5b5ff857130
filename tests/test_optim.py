"""LR schedules against their closed forms; the optimizer's L2 decay against a hand computation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from torchclas.config.schema import LRConfig, OptimizerConfig, RegularizerConfig
from torchclas.optim import build_lr_scheduler, build_optimizer, lr_at_step


def cosine(step: int, lr: float, eta_min: float, warmup_steps: int, total_steps: int) -> float:
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return eta_min + 0.5 * (lr - eta_min) * (1 + math.cos(math.pi * progress))


# ------------------------------------------------------------------ Cosine

def test_cosine_without_warmup():
    cfg = LRConfig(name="Cosine", learning_rate=0.4)
    epochs, spe = 5, 10
    assert lr_at_step(cfg, 0, epochs, spe) == pytest.approx(0.4)
    assert lr_at_step(cfg, 25, epochs, spe) == pytest.approx(0.2)  # half way: cos(pi/2) = 0
    for step in (1, 7, 13, 31, 49):
        assert lr_at_step(cfg, step, epochs, spe) == pytest.approx(cosine(step, 0.4, 0.0, 0, 50), abs=1e-12)
    last = lr_at_step(cfg, 49, epochs, spe)
    assert last == pytest.approx(0.2 * (1 + math.cos(math.pi * 49 / 50)))
    assert 0 < last < 0.001
    assert lr_at_step(cfg, 50, epochs, spe) == pytest.approx(0.0, abs=1e-15)
    assert lr_at_step(cfg, 80, epochs, spe) == pytest.approx(0.0, abs=1e-15)  # clamped after the end


def test_cosine_is_monotone_decreasing():
    cfg = LRConfig(name="Cosine", learning_rate=0.1)
    values = [lr_at_step(cfg, s, 3, 7) for s in range(21)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_cosine_with_warmup():
    cfg = LRConfig(name="Cosine", learning_rate=0.2, warmup_epoch=2, warmup_start_lr=0.02)
    epochs, spe = 6, 5  # 10 warmup steps, 20 cosine steps
    assert lr_at_step(cfg, 0, epochs, spe) == pytest.approx(0.02)
    assert lr_at_step(cfg, 5, epochs, spe) == pytest.approx(0.02 + 0.18 * 5 / 10)
    assert lr_at_step(cfg, 9, epochs, spe) == pytest.approx(0.02 + 0.18 * 9 / 10)
    assert lr_at_step(cfg, 10, epochs, spe) == pytest.approx(0.2)  # end of warmup = peak
    assert lr_at_step(cfg, 20, epochs, spe) == pytest.approx(0.1)  # middle of the cosine part
    for step in range(10, 30):
        assert lr_at_step(cfg, step, epochs, spe) == pytest.approx(cosine(step, 0.2, 0.0, 10, 30), abs=1e-12)
    assert lr_at_step(cfg, 29, epochs, spe) == pytest.approx(0.1 * (1 + math.cos(math.pi * 19 / 20)))


def test_warmup_fractional_epochs_round_to_steps():
    cfg = LRConfig(name="Cosine", learning_rate=1.0, warmup_epoch=0.5)
    # round(0.5 * 7) = 4 warmup steps
    assert [lr_at_step(cfg, s, 2, 7) for s in range(4)] == pytest.approx([0, 0.25, 0.5, 0.75])
    assert lr_at_step(cfg, 4, 2, 7) == pytest.approx(1.0)


def test_cosine_eta_min():
    cfg = LRConfig(name="Cosine", learning_rate=0.5, eta_min=0.1)
    assert lr_at_step(cfg, 0, 4, 5) == pytest.approx(0.5)
    assert lr_at_step(cfg, 10, 4, 5) == pytest.approx(0.3)
    assert lr_at_step(cfg, 13, 4, 5) == pytest.approx(cosine(13, 0.5, 0.1, 0, 20))
    assert lr_at_step(cfg, 20, 4, 5) == pytest.approx(0.1)
    assert min(lr_at_step(cfg, s, 4, 5) for s in range(20)) > 0.1


def test_cosine_by_epoch_holds_within_epoch():
    cfg = LRConfig(name="Cosine", learning_rate=0.3, by_epoch=True)
    epochs, spe = 4, 6
    for epoch in range(epochs):
        expected = 0.15 * (1 + math.cos(math.pi * epoch / epochs))
        values = [lr_at_step(cfg, epoch * spe + i, epochs, spe) for i in range(spe)]
        assert values == pytest.approx([expected] * spe)


def test_by_epoch_warmup_still_moves_per_step():
    cfg = LRConfig(name="Cosine", learning_rate=0.4, warmup_epoch=1, by_epoch=True)
    epochs, spe = 3, 4
    assert [lr_at_step(cfg, s, epochs, spe) for s in range(4)] == pytest.approx([0, 0.1, 0.2, 0.3])
    # after warmup: epoch 1 starts the cosine over 2 epochs, held for the whole epoch
    assert [lr_at_step(cfg, s, epochs, spe) for s in range(4, 8)] == pytest.approx([0.4] * 4)
    assert [lr_at_step(cfg, s, epochs, spe) for s in range(8, 12)] == pytest.approx([0.2] * 4)


# ------------------------------------------------------------------ Piecewise / Constant

def test_piecewise_boundaries():
    cfg = LRConfig(name="Piecewise", decay_epochs=[2, 3.5], values=[0.1, 0.01, 0.001])
    spe = 4  # boundaries at steps 8 and 14
    values = [lr_at_step(cfg, s, 5, spe) for s in range(20)]
    assert values == pytest.approx([0.1] * 8 + [0.01] * 6 + [0.001] * 6)


def test_piecewise_by_epoch():
    cfg = LRConfig(name="Piecewise", decay_epochs=[1.5], values=[1.0, 0.5], by_epoch=True)
    # boundary at step 6; by_epoch floors the step to its epoch start (0, 4, 8)
    assert [lr_at_step(cfg, s, 3, 4) for s in range(12)] == pytest.approx([1.0] * 8 + [0.5] * 4)


def test_piecewise_warmup_ends_at_first_value():
    # PaddleClas Piecewise warms up to values[0] (its LinearWarmup end_lr), not to learning_rate.
    cfg = LRConfig(name="Piecewise", learning_rate=0.8, warmup_epoch=1, decay_epochs=[2],
                   values=[0.4, 0.04])
    assert [lr_at_step(cfg, s, 3, 4) for s in range(12)] == pytest.approx(
        [0.0, 0.1, 0.2, 0.3] + [0.4] * 4 + [0.04] * 4)


def test_constant():
    cfg = LRConfig(name="Constant", learning_rate=0.07)
    assert {lr_at_step(cfg, s, 3, 5) for s in range(15)} == {0.07}
    warm = LRConfig(name="Constant", learning_rate=0.08, warmup_epoch=1)
    assert [lr_at_step(warm, s, 3, 4) for s in range(6)] == pytest.approx([0, 0.02, 0.04, 0.06, 0.08, 0.08])


# ------------------------------------------------------------------ scheduler drives the optimizer

@pytest.mark.parametrize("lr", [
    LRConfig(name="Cosine", learning_rate=0.2, warmup_epoch=1, warmup_start_lr=0.01, eta_min=0.001),
    LRConfig(name="Piecewise", learning_rate=0.3, decay_epochs=[1, 2], values=[0.3, 0.03, 0.003]),
    LRConfig(name="Cosine", learning_rate=0.1, by_epoch=True),
])
def test_scheduler_follows_lr_at_step_over_a_run(lr):
    model = nn.Linear(3, 2)
    optimizer = build_optimizer(OptimizerConfig(lr=lr), model)
    epochs, spe = 3, 5
    scheduler = build_lr_scheduler(lr, optimizer, epochs, spe)
    seen = []
    for _ in range(epochs * spe):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [lr_at_step(lr, s, epochs, spe) for s in range(epochs * spe)]
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert seen[0] == pytest.approx(lr_at_step(lr, 0, epochs, spe))


def test_scheduler_state_dict_resumes_at_the_same_lr():
    lr = LRConfig(name="Cosine", learning_rate=0.2, warmup_epoch=1)
    model = nn.Linear(3, 2)
    opt = build_optimizer(OptimizerConfig(lr=lr), model)
    sched = build_lr_scheduler(lr, opt, 4, 3)
    for _ in range(5):
        opt.step()
        sched.step()
    opt2 = build_optimizer(OptimizerConfig(lr=lr), model)
    sched2 = build_lr_scheduler(lr, opt2, 4, 3)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    assert opt2.param_groups[0]["lr"] == pytest.approx(lr_at_step(lr, 5, 4, 3))
    sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(lr_at_step(lr, 6, 4, 3))


# ------------------------------------------------------------------ optimizer

def _one_step(cfg: OptimizerConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    w0 = model.weight.detach().clone()
    optimizer = build_optimizer(cfg, model)
    x = torch.randn(2, 4)
    model(x).pow(2).sum().backward()
    grad = model.weight.grad.detach().clone()
    optimizer.step()
    return w0, grad, model.weight.detach(), optimizer


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_l2_regularizer_step_matches_hand_computation(momentum):
    cfg = OptimizerConfig(momentum=momentum, lr=LRConfig(learning_rate=0.1),
                          regularizer=RegularizerConfig(name="L2", coeff=0.01))
    w0, g, w1, optimizer = _one_step(cfg)
    # first step: the momentum buffer is the (decayed) gradient itself
    assert torch.allclose(w1, w0 - 0.1 * (g + 0.01 * w0), atol=1e-7)
    group = optimizer.param_groups[0]
    assert group["weight_decay"] == 0.01 and group["momentum"] == momentum and group["nesterov"] is False


def test_no_regularizer_means_no_decay():
    w0, g, w1, optimizer = _one_step(OptimizerConfig(lr=LRConfig(learning_rate=0.5)))
    assert optimizer.param_groups[0]["weight_decay"] == 0.0
    assert torch.allclose(w1, w0 - 0.5 * g, atol=1e-7)


def test_nesterov_flag():
    cfg = OptimizerConfig(momentum=0.9, use_nesterov=True, lr=LRConfig(learning_rate=0.1),
                          regularizer=RegularizerConfig(coeff=0.01))
    w0, g, w1, optimizer = _one_step(cfg)
    assert optimizer.param_groups[0]["nesterov"] is True
    d = g + 0.01 * w0
    assert torch.allclose(w1, w0 - 0.1 * (d + 0.9 * d), atol=1e-7)  # nesterov: g + m * buf, buf = g


def test_nesterov_ignored_without_momentum():
    cfg = OptimizerConfig(momentum=0.0, use_nesterov=True, lr=LRConfig(learning_rate=0.1))
    _, _, _, optimizer = _one_step(cfg)
    assert optimizer.param_groups[0]["nesterov"] is False


def test_frozen_parameters_are_left_out():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[0].requires_grad_(False)
    optimizer = build_optimizer(OptimizerConfig(), model)
    params = optimizer.param_groups[0]["params"]
    assert len(params) == 2 and all(p.requires_grad for p in params)
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_registries_hold_exactly_the_names_the_schema_accepts():
    """The schema's ``Literal`` choices and the registries' names cannot drift apart."""
    from typing import get_args

    from torchclas.config.schema_optim import LRConfig, OptimizerConfig
    from torchclas.optim import OPTIMIZERS, SCHEDULES

    assert set(get_args(OptimizerConfig.model_fields["name"].annotation)) == set(OPTIMIZERS)
    assert set(get_args(LRConfig.model_fields["name"].annotation)) == set(SCHEDULES)
    with pytest.raises(KeyError, match="unknown optimizer 'Adamw' \\(did you mean 'AdamW'\\?\\)"):
        OPTIMIZERS["Adamw"]
