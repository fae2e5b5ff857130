"""Optimizers against torch.optim and hand computations; param groups, per-layer LR, freezing, Lookahead."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from pydantic import ValidationError
from timm.models.resnet import BasicBlock, ResNet
from torch import nn

from torchclas.config import ConfigError
from torchclas.configure import config_from_dict
from torchclas.config.schema import LRConfig, OptimizerConfig
from torchclas.optim import LARS, Lookahead, build_lr_scheduler, build_optimizer, freeze_parameters


def opt_cfg(**keys) -> OptimizerConfig:
    keys.setdefault("lr", {"name": "Constant", "learning_rate": 0.1})
    return OptimizerConfig.model_validate(keys)


def linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(4, 3)


def run(model: nn.Module, optimizer, steps: int = 3) -> None:
    torch.manual_seed(1)
    for _ in range(steps):
        optimizer.zero_grad()
        model(torch.randn(5, 4)).pow(2).sum().backward()
        optimizer.step()


def tiny_resnet() -> ResNet:
    torch.manual_seed(0)
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=3)


# ------------------------------------------------------------------ each optimizer == torch.optim

@pytest.mark.parametrize("keys, reference", [
    ({"name": "SGD", "regularizer": {"coeff": 0.01}},
     lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01)),
    ({"name": "Momentum", "momentum": 0.8, "use_nesterov": True, "weight_decay": 0.02},
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.02)),
    ({"name": "Adam", "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "regularizer": {"coeff": 0.01}},
     lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01)),
    ({"name": "AdamW", "weight_decay": 0.05},
     lambda p: torch.optim.AdamW(p, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)),
    ({"name": "AdamW"}, lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.01)),  # Paddle's default 0.01
    ({"name": "RMSProp", "rho": 0.9, "momentum": 0.5, "epsilon": 1e-6, "centered": True},
     lambda p: torch.optim.RMSprop(p, lr=0.1, alpha=0.9, eps=1e-6, momentum=0.5, centered=True)),
    ({"name": "RMSProp"}, lambda p: torch.optim.RMSprop(p, lr=0.1, alpha=0.95, eps=1e-6, momentum=0.0)),
], ids=["SGD", "Momentum", "Adam", "AdamW", "AdamW-default", "RMSProp", "RMSProp-default"])
def test_optimizer_matches_torch(keys, reference):
    model, twin = linear(), linear()
    run(model, build_optimizer(opt_cfg(**keys), model))
    run(twin, reference(twin.parameters()))
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Adam", "AdamW"])
def test_fused_by_default_where_torch_has_it_and_same_steps(name):
    model, twin = linear(), linear()
    fused, plain = build_optimizer(opt_cfg(name=name), model), build_optimizer(opt_cfg(name=name, fused=False), twin)
    assert fused.defaults["fused"] is True and not plain.defaults.get("fused")
    run(model, fused)
    run(twin, plain)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_fused_is_refused_where_torch_has_none():
    assert not build_optimizer(opt_cfg(name="RMSProp"), linear()).defaults.get("fused")
    with pytest.raises(ValidationError, match="no fused RMSProp"):
        opt_cfg(name="RMSProp", fused=True)
    model = linear().to("meta")
    with pytest.raises(ValueError, match="no fused Momentum for parameters on meta"):
        build_optimizer(opt_cfg(name="Momentum", fused=True), model)
    assert not build_optimizer(opt_cfg(name="Momentum"), model).defaults.get("fused")


def test_rmsprop_momentum_defaults_to_paddles_zero():
    optimizer = build_optimizer(opt_cfg(name="RMSProp"), linear())
    assert optimizer.param_groups[0]["momentum"] == 0.0 and optimizer.param_groups[0]["alpha"] == 0.95


# ------------------------------------------------------------------ LARS

def test_lars_step_is_papers_trust_ratio_with_momentum():
    model = linear()
    w0, b0 = model.weight.detach().clone(), model.bias.detach().clone()
    optimizer = build_optimizer(opt_cfg(name="LARS", momentum=0.9, lars_coeff=0.01, lars_weight_decay=0.001,
                                        epsilon=1e-9, exclude_from_weight_decay=["bias"]), model)
    assert isinstance(optimizer, LARS)
    grads = []
    for _ in range(2):
        run(model, optimizer, steps=1)
        grads.append((model.weight.grad.clone(), model.bias.grad.clone()))
    lr, coeff, wd, mu, eps = 0.1, 0.01, 0.001, 0.9, 1e-9

    def local_lr(p, g):
        return lr * coeff * p.norm() / (g.norm() + wd * p.norm() + eps)

    (g1, gb1), (g2, gb2) = grads
    v1 = local_lr(w0, g1) * (g1 + wd * w0)
    w1 = w0 - v1
    v2 = mu * v1 + local_lr(w1, g2) * (g2 + wd * w1)
    assert torch.allclose(model.weight, w1 - v2, atol=1e-7)
    # the excluded bias gets no decay and no trust ratio: plain momentum SGD
    vb1 = lr * gb1
    assert torch.allclose(model.bias, b0 - vb1 - (mu * vb1 + lr * gb2), atol=1e-7)


def test_lars_zero_gradient_falls_back_to_lr():
    param = nn.Parameter(torch.ones(3))
    optimizer = LARS([param], lr=0.5, momentum=0.0, weight_decay=0.1)
    param.grad = torch.zeros(3)
    optimizer.step()
    assert torch.allclose(param, torch.full((3,), 1 - 0.5 * 0.1))  # local_lr = lr, decay still applied


# ------------------------------------------------------------------ Lookahead

def test_lookahead_slow_weights_follow_the_formula():
    model = nn.Linear(3, 1, bias=False)
    c = torch.tensor([[1.0, -2.0, 0.5]])
    optimizer = build_optimizer(opt_cfg(name="SGD", lookahead={"k": 2, "alpha": 0.5}), model)
    assert isinstance(optimizer, Lookahead)
    with torch.no_grad():  # weights loaded after building (pretrained, resume) are the slow start
        model.weight.copy_(torch.tensor([[0.3, 0.2, -0.1]]))
    w0 = model.weight.detach().clone()
    seen = []
    for _ in range(5):
        optimizer.zero_grad()
        (model.weight * c).sum().backward()  # gradient c whatever the weights
        optimizer.step()
        seen.append(model.weight.detach().clone())
    # fast: w - 0.1 c per step; every 2nd step: slow += 0.5 (fast - slow), fast = slow
    lr = 0.1
    slow1 = w0 + 0.5 * ((w0 - 2 * lr * c) - w0)
    slow2 = slow1 + 0.5 * ((slow1 - 2 * lr * c) - slow1)
    expected = [w0 - lr * c, slow1, slow1 - lr * c, slow2, slow2 - lr * c]
    for got, want in zip(seen, expected):
        assert torch.allclose(got, want, atol=1e-7)


def test_lookahead_resumes_through_a_weights_only_checkpoint():
    cfg = opt_cfg(name="Momentum", lookahead={"k": 3, "alpha": 0.6})
    model = linear()
    optimizer = build_optimizer(cfg, model)
    scheduler = build_lr_scheduler(cfg.lr, optimizer, epochs=2, steps_per_epoch=4)
    run(model, optimizer, steps=4)
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    model2 = copy.deepcopy(model)
    optimizer2 = build_optimizer(cfg, model2)
    optimizer2.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    assert optimizer2.steps == 4 and scheduler.get_last_lr() == [0.1]
    run(model, optimizer, steps=2)
    run(model2, optimizer2, steps=2)  # the 6th step synchronises from the restored slow weights
    assert torch.allclose(model.weight, model2.weight) and optimizer2.steps == 6


# ------------------------------------------------------------------ weight decay groups

def decay_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def decay_of(optimizer) -> dict[int, float]:
    return {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}


def test_no_weight_decay_name_and_one_dim_params():
    model = decay_model()
    by_name = decay_of(build_optimizer(opt_cfg(regularizer={"coeff": 0.5}, no_weight_decay_name="bias 1."),
                                       model))
    expected = {"0.weight": 0.5, "0.bias": 0.0, "1.weight": 0.0, "1.bias": 0.0,
                "2.weight": 0.5, "2.bias": 0.0}
    assert {n: by_name[id(p)] for n, p in model.named_parameters()} == expected
    cfg = opt_cfg(regularizer={"coeff": 0.5}, one_dim_param_no_weight_decay=True)
    one_dim = decay_of(build_optimizer(cfg, model))
    assert {n: one_dim[id(p)] for n, p in model.named_parameters()} == expected


def test_no_decay_group_is_not_decayed_by_a_step():
    model = decay_model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = opt_cfg(name="SGD", regularizer={"coeff": 0.5}, one_dim_param_no_weight_decay=True)
    optimizer = build_optimizer(cfg, model)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for name, p in model.named_parameters():
        factor = 1.0 if p.ndim == 1 else 1 - 0.1 * 0.5
        assert torch.allclose(p, before[name] * factor), name


def test_adamw_weight_decay_is_decoupled_per_group():
    model = decay_model()
    optimizer = build_optimizer(opt_cfg(name="AdamW", weight_decay=0.05, no_weight_decay_name="bias"), model)
    assert sorted(g["weight_decay"] for g in optimizer.param_groups) == [0.0, 0.05]


# ------------------------------------------------------------------ per-layer LR

def test_layerwise_decay_from_head_to_stem_on_a_timm_resnet():
    model = tiny_resnet()  # group_matcher blocks: stem 0, layer1.0 .. layer4.0 = 1..4, fc 5
    cfg = opt_cfg(name="AdamW", layerwise_decay=0.5, lr={"name": "Constant", "learning_rate": 0.08})
    optimizer = build_optimizer(cfg, model)
    build_lr_scheduler(cfg.lr, optimizer, epochs=1, steps_per_epoch=1)
    lr_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    names = dict(model.named_parameters())
    assert lr_of[id(names["fc.weight"])] == pytest.approx(0.08)
    assert lr_of[id(names["layer4.0.conv1.weight"])] == pytest.approx(0.08 * 0.5)
    assert lr_of[id(names["layer1.0.conv1.weight"])] == pytest.approx(0.08 * 0.5 ** 4)
    assert lr_of[id(names["conv1.weight"])] == pytest.approx(0.08 * 0.5 ** 5)
    assert lr_of[id(names["bn1.bias"])] == lr_of[id(names["conv1.weight"])]


def test_layerwise_decay_follows_module_order_without_group_matcher():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.Linear(2, 2))
    optimizer = build_optimizer(OptimizerConfig.model_validate({"layerwise_lr_decay": 0.1}), model)
    scales = {id(p): g["lr_scale"] for g in optimizer.param_groups for p in g["params"]}
    assert [scales[id(p)] for p in model.parameters()] == pytest.approx([1e-3] * 2 + [0.1] * 2 + [1.0] * 2)


# ------------------------------------------------------------------ freezing

def test_freeze_params_leaves_matching_weights_unchanged():
    model = decay_model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = build_optimizer(opt_cfg(freeze_params=["0\\."]), model)
    in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
    optimizer.zero_grad()
    model(torch.randn(6, 3)).pow(2).sum().backward()
    optimizer.step()
    for name, param in model.named_parameters():
        frozen = name.startswith("0.")
        assert param.requires_grad is not frozen and (id(param) in in_optimizer) is not frozen, name
        assert torch.equal(param, before[name]) is frozen, name


def test_freeze_stages_freezes_stem_and_first_stages():
    model = tiny_resnet()
    frozen = freeze_parameters(model, OptimizerConfig(freeze_stages=2))
    assert {n.split(".")[0] for n in frozen} == {"conv1", "bn1", "layer1", "layer2"}
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"layer3", "layer4", "fc"}
    stem_only = tiny_resnet()
    assert {n.split(".")[0] for n in freeze_parameters(stem_only, OptimizerConfig(freeze_stages=0))} == {
        "conv1", "bn1"}


@pytest.mark.parametrize("model, keys, message", [
    (tiny_resnet, {"freeze_stages": 5}, "Optimizer.freeze_stages: 5, but ResNet has 4 stages"),
    (decay_model, {"freeze_stages": 1}, "Sequential has no group_matcher()"),
    (tiny_resnet, {"freeze_params": ["layr1"]},
     "'layr1' matches no parameter of ResNet (did you mean 'layer1'?)"),
    (decay_model, {"freeze_params": [".*"]}, "every parameter of Sequential is frozen"),
])
def test_freezing_errors_say_what_is_valid(model, keys, message):
    with pytest.raises(ValueError) as info:
        build_optimizer(OptimizerConfig.model_validate(keys), model())
    assert message in str(info.value)


# ------------------------------------------------------------------ config errors name the key

def _error(optimizer: dict) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"Arch": {"name": "ResNet18"}, "Optimizer": optimizer})
    return str(info.value)


@pytest.mark.parametrize("keys, message", [
    ({"name": "RMSprop"}, "Optimizer.name: invalid value 'RMSprop'"),
    ({"name": "RMSprop"}, "(did you mean 'RMSProp'?)"),
    ({"name": "Momentum", "beta1": 0.9}, "'Optimizer.beta1' is not a key of Momentum"),
    ({"name": "SGD", "momentum": 0.9}, "'Optimizer.momentum' is not a key of SGD (SGD takes: weight_decay)"),
    ({"name": "AdamW", "regularizer": {"coeff": 1e-4}}, "AdamW decays with 'Optimizer.weight_decay'"),
    ({"name": "LARS", "regularizer": {"coeff": 1e-4}}, "LARS decays with 'Optimizer.lars_weight_decay'"),
    ({"weight_decay": 1e-4, "regularizer": {"coeff": 1e-4}}, "not both"),
    ({"freeze_params": ["layer[1"]}, "Optimizer.freeze_params: invalid value ['layer[1']"),
    ({"layerwise_decay": 1.5}, "Optimizer.layerwise_decay: invalid value 1.5"),
    ({"lookahead": {"k": 0}}, "Optimizer.lookahead.k: invalid value 0"),
    ({"lookahead": {"steps": 5}}, "unknown key 'Optimizer.lookahead.steps'"),
])
def test_config_errors_name_the_key(keys, message):
    assert message in _error(keys)


def test_config_round_trips_through_its_dump():
    cfg = OptimizerConfig.model_validate({"name": "LARS", "layerwise_lr_decay": 0.7, "freeze_stages": 1,
                                          "lookahead": {"k": 4}, "lr": {"name": "Step", "step_size": 3}})
    assert OptimizerConfig.model_validate(cfg.model_dump()) == cfg
    assert cfg.layerwise_decay == 0.7 and cfg.param("lars_coeff") == 0.001
    with pytest.raises(ValidationError):
        LRConfig(name="Step", step_size=3, eta_min=0.1)
